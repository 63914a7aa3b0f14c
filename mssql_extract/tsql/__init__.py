"""T-SQL security scripts → ``SecuritySnapshot`` (DESIGN §2, source 3).

Reads what SSMS "Generate Scripts", SSDT projects, dbatools and sp_help_revlogin produce, and
hand-written setup scripts: the client's part first (``sqlcmd``: ``GO`` batches, ``:setvar``,
``$(name)``, ``:r`` includes), each batch tokenized once by sqlglot's T-SQL tokenizer, statements
dispatched through ``StatementParser.STATEMENT`` (system procedures through ``procedures``,
dynamic SQL through ``dynamic``, IF branches through ``branches``, WHILE loops through
``loops``) and replayed in order onto a ``Builder`` that freezes into the snapshot. A folder's
SSDT project file (``.sqlproj``) gives its scripts SQLCMD variable defaults and their
deployment order (``sqlproj``), and a publish profile values over those defaults
(``publish_profile``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

from grantbridge.collector import collector_paused
from grantbridge.errors import ExtractError, Location
from mssql_extract.snapshot import SecuritySnapshot
from mssql_extract.tsql.publish_profile import PublishProfile, overlay, undeclared
from mssql_extract.tsql.replay import Builder
from mssql_extract.tsql.sqlcmd import Reader, Source, include_targets, split_batches
from mssql_extract.tsql.sqlproj import (
    Project,
    builtins,
    deploy_order,
    find_projects,
    project_of,
)
from mssql_extract.tsql.statements import StatementParser
from mssql_extract.tsql.tokens import decode

__all__ = ["extract_scripts", "parse_text"]

#: File name endings read from a folder (an SSDT project holds .sql files among others).
SCRIPT_SUFFIXES = (".sql",)


def _replay(
    builder: Builder,
    source: Source,
    read: Reader,
    variables: Mapping[str, str] | None,
    include_definitions: bool,
    lenient: bool,
    database: str | None,
    defaults: Mapping[str, str] | None = None,
) -> None:
    # each script is a new sqlcmd connection, in the login's default database (master)
    builder.current = database or "master"
    parser = StatementParser(
        builder, source.origin, include_definitions=include_definitions, lenient=lenient
    )
    batches = split_batches(
        source.text, source.origin, variables, path=source.path, read=read, defaults=defaults
    )
    for batch in batches:
        parser.parse_batch(batch)


def parse_text(
    text: str,
    origin: str = "<string>",
    *,
    variables: Mapping[str, str] | None = None,
    include_definitions: bool = False,
    lenient: bool = False,
    database: str | None = None,
) -> SecuritySnapshot:
    """Replay one script's text into a snapshot.

    Args:
        text: the script (already decoded).
        origin: how source references name it (a path as given, or ``<stdin>``).
        variables: sqlcmd variables for ``$(name)``; ``:setvar`` lines add defaults.
        include_definitions: keep module bodies (procedures, functions, views).
        lenient: record malformed statements as skipped errors instead of raising.
        database: where statements outside any USE go (default: master, as in sqlcmd).

    Raises:
        ExtractError: a malformed security statement (file:line:col and its text), an unset
            sqlcmd variable, or an unreadable batch.
    """
    with collector_paused():
        builder = Builder()
        source = Source(text, origin)
        _replay(builder, source, _Files().read, variables, include_definitions, lenient, database)
        return builder.freeze()


def _files(path: Path) -> Iterator[Path]:
    """A file as given, or a folder's scripts recursively in a deterministic (sorted) order."""
    if path.is_dir():
        found = (p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SCRIPT_SUFFIXES)
        scripts = sorted(found, key=lambda p: p.relative_to(path).as_posix())
        if not scripts:  # a wrong folder must not look like an estate without security
            raise ExtractError("the folder holds no .sql scripts", Location(str(path)))
        yield from scripts
    elif path.suffix.lower() == ".sqlproj" and path.is_file():
        # read as T-SQL, its XML was one skipped statement and the project's scripts unread
        raise ExtractError(
            "a .sqlproj is read from its folder: pass the folder (--script "
            f"{path.parent.as_posix()}), whose scripts replay with the project's defaults",
            Location(str(path)),
        )
    elif path.is_file():
        yield path
    else:
        raise ExtractError(f"no such script file or folder: {str(path)!r}", Location(str(path)))


def _included(
    scripts: list[Path],
    files: _Files,
    variables: Mapping[str, str] | None,
    projects: Mapping[Path, Project],
    profile: PublishProfile | None,
    database: str | None,
) -> set[Path]:
    """The scripts of a folder that another one includes with ``:r`` (resolved paths): an SSDT
    project's post-deployment script includes files that run only through it, maybe only in
    one branch of an IF."""
    found: set[Path] = set()
    for path in scripts:
        data = path.read_bytes()
        if not any(mark in data for mark in (b":r", b":R", b":\x00r", b":\x00R")):
            continue
        text, origin = files.read(path)
        source = Source(text, origin, path)
        defaults = _defaults(path, projects, profile, database)
        found |= include_targets(source, variables, defaults) - {path.resolve()}
    return found


def _defaults(
    path: Path,
    projects: Mapping[Path, Project],
    profile: PublishProfile | None,
    database: str | None = None,
) -> Mapping[str, str] | None:
    """The values a script's ``$(name)`` falls back on: its project's defaults, under the
    publish profile's values (which every script takes, as ``--var`` values); in a project
    deployed to ``database``, ``$(DatabaseName)`` is that database (``sqlproj.builtins``)."""
    project = project_of(path, projects)
    defaults = project.defaults if project is not None else None
    if project is not None and database is not None:
        defaults = overlay(builtins(database), defaults or {})
    return overlay(defaults, profile.values) if profile is not None else defaults


def _scripts(
    given: Path,
    files: _Files,
    variables: Mapping[str, str] | None,
    profile: PublishProfile | None,
    database: str | None,
) -> tuple[list[Path], dict[Path, Project]]:
    """The scripts to replay for one path given, in order, and the SQL projects of a folder
    (``sqlproj``): a file another one includes is read there only, and a project's scripts
    run in deployment order (pre-deployment, objects, post-deployment)."""
    if str(given) == "-":
        return [given], {}
    found = list(_files(given))
    projects = find_projects(given, files.origin) if given.is_dir() else {}
    if len(found) > 1:
        included = _included(found, files, variables, projects, profile, database)
        found = [path for path in found if path.resolve() not in included]
    return deploy_order(found, projects), projects


class _Files:
    """Reads script files and names them: as given, or relative to ``relative_to``."""

    def __init__(self, relative_to: Path | None = None, encoding: str | None = None) -> None:
        self.relative_to = relative_to.resolve() if relative_to is not None else None
        if encoding is not None:
            try:  # decoding, not codecs.lookup: rot13 or base64 is a codec but no text encoding
                b"\0\0\0\0".decode(encoding)  # (an empty bytes' decode looks nothing up)
            except UnicodeDecodeError:
                pass  # a text encoding, in which four NUL bytes are not text
            except LookupError:
                raise ExtractError(
                    f"unknown encoding {encoding!r}: name a text encoding (cp1252, utf-16-le, …)",
                    Location(key="--encoding"),
                ) from None
        self.encoding = encoding

    def origin(self, path: Path) -> str:
        if self.relative_to is not None and path.resolve().is_relative_to(self.relative_to):
            return path.resolve().relative_to(self.relative_to).as_posix()
        return path.as_posix()

    def read(self, path: Path) -> tuple[str, str]:
        """A file's text and origin (``-``: standard input)."""
        if str(path) == "-":
            return decode(sys.stdin.buffer.read(), "<stdin>", self.encoding), "<stdin>"
        origin = self.origin(path)
        try:
            return decode(path.read_bytes(), origin, self.encoding), origin
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
    database: str | None = None,
    encoding: str | None = None,
    on_defaults: Callable[[str, tuple[str, ...]], None] | None = None,
    profile: PublishProfile | None = None,
    on_undeclared: Callable[[str, tuple[str, ...]], None] | None = None,
) -> SecuritySnapshot:
    """Replay T-SQL scripts, in the order given (folders sorted), into one snapshot.

    ``Path("-")`` reads standard input. Later scripts see what earlier ones created, so a
    server-level script should come first (``00_server.sql`` sorts first in a folder).
    Source references name each file as given, or relative to ``relative_to`` when set (so
    that a snapshot does not depend on where the estate happens to lie on disk).
    ``on_file`` is called with each file's origin once it is replayed (the CLI's progress bar).
    Each script starts in ``database`` (default: master, as a new sqlcmd connection does): the
    database of an SSDT project, whose files name none. ``encoding`` decodes scripts without a
    byte-order mark (default: UTF-8).

    A folder's SQL projects (``.sqlproj``, see ``sqlproj``) give the scripts of their folder
    tree the defaults of their SQLCMD variables (``variables`` and ``:setvar`` win), and order
    them as a deployment runs them. ``on_defaults`` is called with each project's origin and
    the names of the variables whose default is used (never their values: one may be a
    password).

    A publish profile's values (``publish_profile``) go over every project's defaults and
    fill in for scripts outside a project (``variables`` and ``:setvar`` still win).
    ``on_undeclared`` is called, after the replay, with its origin and the names of the
    variables it sets that no project read declares (SqlPackage warns of those too).
    """
    with collector_paused():
        builder = Builder()
        files = _Files(relative_to, encoding)
        seen: list[Project] = []
        for given in paths:
            found, projects = _scripts(given, files, variables, profile, database)
            seen += projects.values()
            if on_defaults is not None:
                overridden = {**(profile.values if profile else {}), **(variables or {})}
                _announce(projects, overridden, on_defaults)
            for path in found:
                text, origin = files.read(path)
                if not text.strip() and found == [given]:  # an empty file given by name (or stdin)
                    raise ExtractError("the script is empty", Location(origin, 1))
                source = Source(text, origin, None if str(path) == "-" else path)
                defaults = _defaults(path, projects, profile, database)
                _replay(
                    builder,
                    source,
                    files.read,
                    variables,
                    include_definitions,
                    lenient,
                    database,
                    defaults,
                )
                if on_file is not None:
                    on_file(origin)
        if profile is not None and on_undeclared is not None:
            names = undeclared(profile, seen)
            if names:
                on_undeclared(profile.origin, names)
        return builder.freeze()


def _announce(
    projects: Mapping[Path, Project],
    variables: Mapping[str, str] | None,
    on_defaults: Callable[[str, tuple[str, ...]], None],
) -> None:
    """Name each project's variables whose default is used (the command line or a publish
    profile sets the rest)."""
    given = {name.casefold() for name in variables or {}}
    for project in sorted(projects.values(), key=lambda p: p.origin):
        used = tuple(sorted(n for n in project.defaults if n.casefold() not in given))
        if used:
            on_defaults(project.origin, used)
