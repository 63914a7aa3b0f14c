"""T-SQL security scripts → ``SecuritySnapshot`` (DESIGN §2, source 3).

Reads what SSMS "Generate Scripts", SSDT projects, dbatools and sp_help_revlogin produce, and
hand-written setup scripts: batches split on ``GO``, each tokenized once by sqlglot's T-SQL
tokenizer, statements dispatched through ``StatementParser.STATEMENT`` and replayed in order
onto a ``Builder`` that freezes into the snapshot.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

from grantbridge.collector import collector_paused
from grantbridge.errors import ExtractError, Location
from mssql_extract.snapshot import SecuritySnapshot
from mssql_extract.tsql.replay import Builder
from mssql_extract.tsql.statements import StatementParser
from mssql_extract.tsql.tokens import decode, split_batches

__all__ = ["extract_scripts", "parse_text"]

#: File name endings read from a folder (an SSDT project holds .sql files among others).
SCRIPT_SUFFIXES = (".sql",)


def _replay(
    builder: Builder,
    text: str,
    origin: str,
    variables: Mapping[str, str] | None,
    include_definitions: bool,
    lenient: bool,
) -> None:
    builder.current = "master"  # each script is a new sqlcmd connection
    parser = StatementParser(
        builder, origin, include_definitions=include_definitions, lenient=lenient
    )
    for batch in split_batches(text, origin, variables):
        parser.parse_batch(batch)


def parse_text(
    text: str,
    origin: str = "<string>",
    *,
    variables: Mapping[str, str] | None = None,
    include_definitions: bool = False,
    lenient: bool = False,
) -> SecuritySnapshot:
    """Replay one script's text into a snapshot.

    Args:
        text: the script (already decoded).
        origin: how source references name it (a path as given, or ``<stdin>``).
        variables: sqlcmd variables for ``$(name)``; ``:setvar`` lines add defaults.
        include_definitions: keep module bodies (procedures, functions, views).
        lenient: record malformed statements as skipped errors instead of raising.

    Raises:
        ExtractError: a malformed security statement (file:line:col and its text), an unset
            sqlcmd variable, or an unreadable batch.
    """
    with collector_paused():
        builder = Builder()
        _replay(builder, text, origin, variables, include_definitions, lenient)
        return builder.freeze()


def _files(path: Path) -> Iterator[Path]:
    """A file as given, or a folder's scripts recursively in a deterministic (sorted) order."""
    if path.is_dir():
        found = (p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SCRIPT_SUFFIXES)
        scripts = sorted(found, key=lambda p: p.relative_to(path).as_posix())
        if not scripts:  # a wrong folder must not look like an estate without security
            raise ExtractError("the folder holds no .sql scripts", Location(str(path)))
        yield from scripts
    elif path.is_file():
        yield path
    else:
        raise ExtractError(f"no such script file or folder: {str(path)!r}", Location(str(path)))


def _read(path: Path) -> tuple[str, str]:
    if str(path) == "-":
        return decode(sys.stdin.buffer.read(), "<stdin>"), "<stdin>"
    origin = path.as_posix()
    try:
        return decode(path.read_bytes(), origin), origin
    except OSError as exc:
        raise ExtractError(f"cannot read script: {exc.strerror}", Location(origin)) from None


def extract_scripts(
    paths: Sequence[Path],
    *,
    variables: Mapping[str, str] | None = None,
    include_definitions: bool = False,
    lenient: bool = False,
    relative_to: Path | None = None,
    on_file: Callable[[str], None] | None = None,
) -> SecuritySnapshot:
    """Replay T-SQL scripts, in the order given (folders sorted), into one snapshot.

    ``Path("-")`` reads standard input. Later scripts see what earlier ones created, so a
    server-level script should come first (``00_server.sql`` sorts first in a folder).
    Source references name each file as given, or relative to ``relative_to`` when set (so
    that a snapshot does not depend on where the estate happens to lie on disk).
    ``on_file`` is called with each file's origin once it is replayed (the CLI's progress bar).
    """
    with collector_paused():
        builder = Builder()
        for given in paths:
            files = [given] if str(given) == "-" else list(_files(given))
            for path in files:
                text, origin = _read(path)
                if not text.strip() and files == [given]:  # an empty file given by name (or stdin)
                    raise ExtractError("the script is empty", Location(origin, 1))
                if relative_to is not None and path.resolve().is_relative_to(relative_to.resolve()):
                    origin = path.resolve().relative_to(relative_to.resolve()).as_posix()
                _replay(builder, text, origin, variables, include_definitions, lenient)
                if on_file is not None:
                    on_file(origin)
        return builder.freeze()
