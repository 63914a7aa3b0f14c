"""Reading script text: decoding, sqlcmd batches and variables, and sqlglot's T-SQL tokenizer.

``GO`` and sqlcmd's ``:setvar`` are line-level commands of the client (sqlcmd, SSMS), not T-SQL:
the client cuts the script into batches on lines holding only ``GO [n]`` and substitutes
``$(name)`` textually before the server sees a batch. So this module handles them line by line,
exactly as sqlcmd does, and hands each batch to sqlglot's T-SQL tokenizer once.

Substituting a variable can shift the columns of later tokens on the same line; line numbers are
never shifted (a value cannot contain a line break).
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from sqlglot.dialects.tsql import TSQL
from sqlglot.errors import TokenError
from sqlglot.tokenizer_core import Token, TokenType

from grantbridge.errors import ExtractError, Location

_TOKENIZER = TSQL.Tokenizer()

#: Token types that carry literal values, never names or keywords.
LITERALS = frozenset(
    {
        TokenType.STRING,
        TokenType.NATIONAL_STRING,
        TokenType.HEX_STRING,
        TokenType.NUMBER,
        TokenType.BIT_STRING,
        TokenType.BYTE_STRING,
    }
)
STRINGS = frozenset({TokenType.STRING, TokenType.NATIONAL_STRING})


@dataclass(frozen=True)
class Batch:
    """One batch: the text between ``GO`` lines, where it starts, and how often it runs."""

    text: str
    first_line: int  # 1-based line of the batch's first line in the file
    repeat: int = 1


def decode(data: bytes, origin: str) -> str:
    """Decode a script as SSMS writes them: UTF-16 LE/BE with BOM, UTF-8 with or without BOM."""
    if data.startswith(codecs.BOM_UTF16_LE) or data.startswith(codecs.BOM_UTF16_BE):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            # a cut-off file or a lone surrogate: report it, never a traceback (found by fuzzing)
            line = data[: exc.start].decode("utf-16", "replace").count("\n") + 1
            raise ExtractError(
                f"invalid UTF-16 ({exc.reason}): save the script again as Unicode",
                Location(origin, line),
            ) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ExtractError(
            "not UTF-8 and no UTF-16 byte-order mark: save the script as UTF-8 or Unicode",
            Location(origin, line),
        ) from None


def _go_count(line: str) -> int | None:
    """``n`` when the line is a ``GO [n]`` batch separator (comments after it allowed)."""
    words = line.split("--", 1)[0].split()
    if not words or words[0].upper() != "GO" or len(words) > 2:
        return None
    if len(words) == 1:
        return 1
    # str.isdigit() accepts '²', which int() refuses: sqlcmd counts are ASCII digits
    return int(words[1]) if words[1].isascii() and words[1].isdigit() else None


def _substitute(line: str, variables: Mapping[str, str], origin: str, number: int) -> str:
    """Replace each ``$(name)`` on one line; an unset variable is an error, as in sqlcmd."""
    out: list[str] = []
    start = 0
    while (found := line.find("$(", start)) >= 0:
        end = line.find(")", found)
        if end < 0:
            break
        name = line[found + 2 : end]
        value = _lookup(variables, name)
        if value is None:
            raise ExtractError(
                f"sqlcmd variable $({name}) is not set; pass --var {name}=VALUE or :setvar it",
                Location(origin, number, found + 1),
            )
        out.append(line[start:found])
        out.append(value)
        start = end + 1
    out.append(line[start:])
    return "".join(out)


def _lookup(variables: Mapping[str, str], name: str) -> str | None:
    # sqlcmd variable names are case-insensitive
    wanted = name.casefold()
    return next((v for k, v in variables.items() if k.casefold() == wanted), None)


def _setvar(line: str, variables: dict[str, str], origin: str, number: int) -> None:
    """Apply a ``:setvar NAME "value"`` line (values from the command line win, as in sqlcmd)."""
    parts = line.strip().split(None, 2)
    if len(parts) < 2:
        raise ExtractError(":setvar needs a variable name", Location(origin, number, 1))
    value = parts[2].strip() if len(parts) == 3 else ""
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    variables.setdefault(parts[1], value)


def split_batches(
    text: str, origin: str, variables: Mapping[str, str] | None = None
) -> Iterator[Batch]:
    """Cut a script into batches on ``GO`` lines, applying sqlcmd variables line by line.

    A ``GO`` inside a block comment is not a separator for SSMS either, but scripts that do
    this are rare; lines are treated as sqlcmd treats them (it does not parse comments).
    """
    known = dict(variables or {})
    lines: list[str] = []
    first = 1
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.lstrip()
        if stripped[:1] == ":":
            if stripped[:7].lower() == ":setvar":
                _setvar(stripped, known, origin, number)
            lines.append("")  # other sqlcmd commands (:on error, :r) have no security effect
            continue
        count = _go_count(raw)
        if count is not None:
            yield Batch("\n".join(lines), first, count)
            lines, first = [], number + 1
            continue
        lines.append(_substitute(raw, known, origin, number) if "$(" in raw else raw)
    if any(line.strip() for line in lines):
        yield Batch("\n".join(lines), first)


def tokenize(batch: Batch, origin: str) -> list[Token]:
    """Tokenize one batch with sqlglot's T-SQL tokenizer; a lexical error is an ExtractError."""
    try:
        return _TOKENIZER.tokenize(batch.text)
    except TokenError:
        # sqlglot's message quotes the surrounding text, which may hold a password: not shown
        raise ExtractError(
            "cannot read this batch: an unterminated string, [identifier] or comment",
            Location(origin, batch.first_line, 1),
        ) from None
