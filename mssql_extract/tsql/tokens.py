"""Reading script text: decoding, batches, and sqlglot's T-SQL tokenizer.

``sqlcmd.py`` cuts a script into batches (the client's part: ``GO``, ``:setvar``, ``:r``); each
batch is tokenized here once, by sqlglot's T-SQL tokenizer.
"""

from __future__ import annotations

import codecs
from bisect import bisect_right
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlglot.dialects.tsql import TSQL
from sqlglot.errors import TokenError
from sqlglot.tokenizer_core import Token, TokenType

from grantbridge.errors import ExtractError, Location


class _Tokenizer(TSQL.Tokenizer):
    """sqlglot's T-SQL tokenizer, without its "commands": after ``PRINT`` or ``END`` at the start
    of a statement it reads the rest of the text up to the next ``;`` as one string, which would
    hide the statements there (``PRINT 'x'`` and then ``GRANT …`` without a semicolon)."""

    COMMANDS: ClassVar[set[TokenType]] = set()


_TOKENIZER = _Tokenizer()

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


#: Where a run of a batch's lines comes from: (its first line in the batch, 1-based; the file's
#: origin; that line's number in the file). A batch has one, or more when ``:r`` included a file.
Segment = tuple[int, str, int]


@dataclass(frozen=True)
class Batch:
    """One batch: the text between ``GO`` lines, where its lines come from, how often it runs."""

    text: str
    segments: tuple[Segment, ...]
    repeat: int = 1
    column: int = 0  # added to columns on the batch's first line (dynamic SQL inside a literal)
    in_comment: bool = False  # the batch ends inside a /* */ comment (a GO line within one)
    cut: bool = False  # the batch starts after such a GO: in SQL Server, it fails to compile

    @classmethod
    def at(cls, text: str, origin: str, line: int, **kwargs: Any) -> Batch:
        """A batch whose lines all come from one file, starting at ``line``."""
        return cls(text, ((1, origin, line),), **kwargs)

    @property
    def origin(self) -> str:
        return self.segments[0][1]

    @property
    def first_line(self) -> int:
        return self.segments[0][2]

    def where(self, line: int) -> tuple[str, int]:
        """(origin, line in that file) of the batch's 1-based ``line``."""
        segments = self.segments
        found = segments[0] if len(segments) == 1 else segments[_segment(segments, line)]
        return found[1], found[2] + line - found[0]


def _segment(segments: tuple[Segment, ...], line: int) -> int:
    return bisect_right(segments, line, key=lambda segment: segment[0]) - 1


def decode(data: bytes, origin: str, encoding: str | None = None) -> str:
    """Decode a script as SSMS writes them: UTF-16 LE/BE with BOM, UTF-8 with or without BOM;
    without a byte-order mark, ``encoding`` when given (an ANSI script: ``cp1252``)."""
    if data.startswith(codecs.BOM_UTF16_LE) or data.startswith(codecs.BOM_UTF16_BE):
        return _decode(data, "UTF-16", origin, "save the script again as Unicode")
    if encoding is not None and not data.startswith(codecs.BOM_UTF8):
        return _decode(data, encoding, origin, "check --encoding")
    _refuse_utf16_without_bom(data, origin)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ExtractError(
            "not UTF-8 and no UTF-16 byte-order mark: save the script as UTF-8 or Unicode, or "
            "name its encoding (--encoding cp1252 for a Western European ANSI script)",
            Location(origin, line),
        ) from None


def _refuse_utf16_without_bom(data: bytes, origin: str) -> None:
    """UTF-16 text without a byte-order mark is valid UTF-8 when it is ASCII (a NUL byte beside
    each character): read so, every statement was skipped as unknown and extract succeeded
    with nothing in the snapshot. A script has no NUL bytes; a quarter of them is UTF-16."""
    if b"\x00" not in data or data.count(b"\x00") * 4 < len(data):
        return
    order = "le" if data.find(b"\x00") % 2 == 1 else "be"
    raise ExtractError(
        "NUL bytes between the characters: UTF-16 without a byte-order mark? Save the script "
        f"as UTF-8 or Unicode (with a byte-order mark), or name its encoding (--encoding "
        f"utf-16-{order})",
        Location(origin, 1),
    )


def _decode(data: bytes, encoding: str, origin: str, advice: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        # a cut-off file or a lone surrogate: report it, never a traceback (found by fuzzing)
        line = data[: exc.start].decode(encoding, "replace").count("\n") + 1
        raise ExtractError(
            f"invalid {encoding} ({exc.reason}): {advice}",
            Location(origin, line),
        ) from None


def tokenize(batch: Batch, origin: str) -> list[Token]:
    """Tokenize one batch with sqlglot's T-SQL tokenizer; a lexical error is an ExtractError."""
    if batch.cut:
        raise ExtractError(
            "this batch starts inside a /* */ comment that a GO line ended early: SQL Server "
            "would run none of it (not replayed)",
            Location(*batch.where(1), 1),
        )
    try:
        return _TOKENIZER.tokenize(batch.text)
    except TokenError:
        # sqlglot's message quotes the surrounding text, which may hold a password: not shown
        if batch.in_comment:  # the GO line after the batch's last line
            origin, line = batch.where(batch.text.count("\n") + 1)
            raise ExtractError(
                "a GO line inside a /* */ comment ends the batch there, so the comment is never "
                "closed (sqlcmd and SSMS split it too): delete that GO or put -- before it",
                Location(origin, line + 1, 1),
            ) from None
        raise ExtractError(
            "cannot read this batch: an unterminated string, [identifier] or comment",
            Location(*batch.where(1), 1),
        ) from None


def split_name(text: str) -> list[str]:
    """The parts of a multi-part name written in a string (``'[dbo].[a.b]'`` → dbo, a.b)."""
    try:
        tokens = _TOKENIZER.tokenize(text)
    except TokenError:
        return [text]
    return [t.text for t in tokens if t.token_type != TokenType.DOT] or [text]
