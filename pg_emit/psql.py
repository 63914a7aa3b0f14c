"""The tiny subset of psql that grantbridge's scripts use, so ``apply`` needs no psql binary.

Understood: ``\\set ON_ERROR_STOP on`` (always in effect here), ``\\connect "db"``, ``--``
comments, ``BEGIN;`` / ``COMMIT;`` (the caller manages transactions), and SQL statements ending
with ``;`` or psql's ``\\;`` (a statement inside a batch, see :mod:`pg_emit.script`) at the end
of a line, with single quotes, double quotes and dollar quotes respected.
Anything else starting with a backslash is refused: the scripts are grantbridge's own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from grantbridge.errors import InputError, Location

_DOLLAR = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")
_TRANSACTION = {"BEGIN", "COMMIT", "START TRANSACTION", "END"}
#: Where the quote state can change outside quotes: a quote, a dollar quote, a comment.
_SPECIAL = re.compile(r"['\"$]|--")


@dataclass(frozen=True)
class ScriptSection:
    """Statements to run in one transaction in ``database`` (None: where the script started)."""

    database: str | None
    statements: tuple[str, ...]


def _unquote_arg(arg: str, where: Location) -> str:
    if len(arg) >= 2 and arg[0] == arg[-1] == '"':
        return arg[1:-1].replace('""', '"')
    if not arg or '"' in arg or " " in arg:
        raise InputError(f"cannot read the psql argument {arg!r}", where)
    return arg


def _scan(text: str, state: tuple[str, str]) -> tuple[str, str]:
    """Advance the quote state over one line; state is (kind, dollar tag)."""
    kind, tag = state
    i = 0
    while i < len(text):
        if kind == "$":
            end = text.find(tag, i)
            if end < 0:
                return kind, tag
            i, kind, tag = end + len(tag), "", ""
            continue
        if kind in ("'", '"'):
            end = text.find(kind, i)
            if end < 0:
                return kind, tag
            i, kind = end + 1, ""
            continue
        special = _SPECIAL.search(text, i)  # in C: a statement's text is mostly names
        if special is None:
            return kind, tag
        i = special.start()
        ch = text[i]
        if ch == "-":
            return "", ""
        if ch in ("'", '"'):
            kind, i = ch, i + 1
            continue
        match = _DOLLAR.match(text, i)
        if match:
            kind, tag, i = "$", match.group(0), match.end()
            continue
        i += 1
    return kind, tag


def code_lines(text: str) -> Iterator[str]:
    """The lines of ``text`` that start outside quotes (a quoted name or literal spanning lines
    is not a line of code): where a command inside a PL/pgSQL body can begin."""
    state = ("", "")
    for line in text.splitlines():
        if state == ("", ""):
            yield line
        state = _scan(line, state)


def parse_script(text: str, origin: str) -> tuple[ScriptSection, ...]:
    """Split a grantbridge psql script into sections of statements.

    Raises:
        InputError: an unknown meta-command or an unterminated statement, with its line.
    """
    sections: list[ScriptSection] = []
    database: str | None = None
    current: list[str] = []
    pending: list[str] = []
    state = ("", "")
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not pending and state == ("", "") and stripped.startswith("\\"):
            command, _, arg = stripped.partition(" ")
            if command in ("\\connect", "\\c"):
                if current:
                    sections.append(ScriptSection(database, tuple(current)))
                    current = []
                database = _unquote_arg(arg.strip(), Location(origin, number))
            elif command != "\\set":
                raise InputError(f"unsupported psql command {command!r}", Location(origin, number))
            continue
        if not pending and (not stripped or stripped.startswith("--")):
            continue
        pending.append(line)
        state = _scan(line, state)
        if state == ("", "") and line.rstrip().endswith(";"):
            statement = "\n".join(pending).strip()[:-1].strip()
            statement = statement[:-1].rstrip() if statement.endswith("\\") else statement
            pending = []
            # only a short statement can be a transaction command (GRANTs run to many KB)
            word = " ".join(statement.upper().split()) if len(statement) < 40 else ""
            if word in ("COMMIT", "END") and current:
                sections.append(ScriptSection(database, tuple(current)))
                current = []
            elif word not in _TRANSACTION:
                current.append(statement)
    if pending:
        raise InputError("the script ends inside a statement", Location(origin, key="end"))
    if current:
        sections.append(ScriptSection(database, tuple(current)))
    return tuple(sections)
