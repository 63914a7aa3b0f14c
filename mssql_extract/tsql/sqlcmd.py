"""The client's part of a script: ``GO`` batches, ``:setvar`` and ``$(name)``, ``:r`` includes,
and ``:connect`` (one server per script: a second one is an error).

These are line-level commands of the client (sqlcmd, SSMS in SQLCMD mode, SSDT), not T-SQL: the
client cuts the script into batches on lines holding only ``GO [n]``, inlines the file a ``:r``
line names, and substitutes ``$(name)`` textually before the server sees a batch. This module
does the same, line by line, and yields batches for sqlglot's T-SQL tokenizer.

Comments are followed across lines (``--``, and ``/* */``, which nest in T-SQL; ``comments``
does it), as SSDT does: ``$(name)`` inside a comment is left alone (the stock SSDT
post-deployment template mentions ``$(TableName)`` in its header comment), and ``:r`` or
``:setvar`` at the start of a line inside a block comment is commented out. A ``GO`` line inside
a block comment still ends the batch, as in sqlcmd and SSMS, which leaves the comment unclosed:
the batch then fails with that cause.

Variables come from the command line (``--var``, which wins over ``:setvar``), then from
``:setvar``, then from the defaults of the script's SQL project (``sqlproj``) with a publish
profile's values over them (``publish_profile``), which fill in only what the other two leave
unset.

``:r path`` is read relative to the folder of the file that holds it, as SSDT resolves it (a
Windows path's backslashes are folder separators); an include loop or a missing file is an
error at the ``:r`` line. Substituting a variable can shift the columns of later tokens on the
same line; line numbers are never shifted (a value cannot contain a line break).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from grantbridge.errors import ExtractError, Location
from mssql_extract.tsql.comments import QUOTES_OR_COMMENTS, LineLexer
from mssql_extract.tsql.tokens import Batch, Segment

#: Reads an included file: its text and the origin source references give it.
Reader = Callable[[Path], tuple[str, str]]


@dataclass(frozen=True)
class Source:
    """A script's text, how references name it, and its path (None: stdin or a string)."""

    text: str
    origin: str
    path: Path | None = None


# --------------------------------------------------------------------------- variables

#: How a ``GO`` line starts (read apart from other lines, with sqlcmd commands).
_GO = frozenset({"GO", "Go", "gO", "go"})


def _go_count(line: str) -> int | None:
    """``n`` when the line is a ``GO [n]`` batch separator (comments after it allowed)."""
    words = line.split("--", 1)[0].split()
    if not words or words[0].upper() != "GO" or len(words) > 2:
        return None
    if len(words) == 1:
        return 1
    # str.isdigit() accepts '²', which int() refuses: sqlcmd counts are ASCII digits
    return int(words[1]) if words[1].isascii() and words[1].isdigit() else None


#: No variables.
_NONE: Mapping[str, str] = MappingProxyType({})


def _lookup(variables: Mapping[str, str], name: str) -> str | None:
    # sqlcmd variable names are case-insensitive
    wanted = name.casefold()
    return next((v for k, v in variables.items() if k.casefold() == wanted), None)


def substitute(
    line: str,
    variables: Mapping[str, str],
    where: Location,
    lexer: LineLexer,
    defaults: Mapping[str, str] = _NONE,
) -> str:
    """Replace each ``$(name)`` of one line outside comments; an unset one is an error.
    ``defaults`` (a SQL project's) fill in what ``variables`` lack."""
    out: list[str] = []
    start = 0
    while (found := line.find("$(", start)) >= 0:
        end = line.find(")", found)
        if end < 0:
            break
        if lexer.in_comment(found):
            out.append(line[start : end + 1])
            start = end + 1
            continue
        name = line[found + 2 : end]
        value = _lookup(variables, name)
        if value is None:
            value = _lookup(defaults, name)
        if value is None:
            raise ExtractError(
                f"sqlcmd variable $({name}) is not set; pass --var {name}=VALUE or :setvar it",
                Location(where.file, where.line, found + 1),
            )
        out.append(line[start:found])
        out.append(value)
        start = end + 1
    out.append(line[start:])
    return "".join(out)


def _setvar(line: str, variables: dict[str, str], where: Location) -> None:
    """Apply a ``:setvar NAME "value"`` line (values from the command line win, as in sqlcmd)."""
    parts = line.strip().split(None, 2)
    if len(parts) < 2:
        raise ExtractError(":setvar needs a variable name", where)
    value = parts[2].strip() if len(parts) == 3 else ""
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    variables.setdefault(parts[1], value)


# --------------------------------------------------------------------------- includes


def _include_path(argument: str, where: Location) -> Path:
    """The path a ``:r`` line names (quoted or not; a Windows path's ``\\`` are separators)."""
    text = argument.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    if not text:
        raise ExtractError(":r needs a file name", where)
    return Path(text.replace("\\", "/") if os.sep == "/" else text)


def find_file(base: Path, relative: Path) -> Path | None:
    """``base / relative`` as it exists, names compared case-insensitively as on Windows."""
    exact = Path(os.path.normpath(base / relative))  # a/Scripts/../x.sql names a/x.sql
    if exact.is_file():
        return exact
    found = base
    for part in relative.parts:
        if part in (".", ".."):
            found = found / part
            continue
        try:
            matches = [c for c in found.iterdir() if c.name.casefold() == part.casefold()]
        except OSError:
            return None
        if len(matches) != 1:
            return None
        found = matches[0]
    return found if found.is_file() else None


class _Splitter:
    """Reads sources line by line into batches, following ``:r`` into included files."""

    def __init__(
        self,
        variables: Mapping[str, str] | None,
        read: Reader | None,
        defaults: Mapping[str, str] | None = None,
    ) -> None:
        self.known = dict(variables or {})  # the command line's, then :setvar's
        self.defaults = defaults or _NONE  # a SQL project's: :setvar and the command line win
        self.read = read
        self.lines: list[str] = []
        self.segments: list[Segment] = []
        self.lexer = LineLexer()
        self.cut = False  # a GO line ended the last batch inside a /* */ comment
        self.including: list[Path] = []  # resolved paths of the files being read, outermost first
        self.server: str | None = None  # the first ``:connect`` target (folded)

    def feed(self, source: Source) -> Iterator[Batch]:
        origin, lines, lexer = source.origin, self.lines, self.lexer
        for number, raw in enumerate(source.text.splitlines(), start=1):
            opening = raw.lstrip()[:2]
            if opening[:1] == ":" or opening in _GO:  # a sqlcmd command or GO: rare, read apart
                yield from self._command(source, number, raw)
                lines, lexer = self.lines, self.lexer
                continue
            if lexer.depth or lexer.quote or QUOTES_OR_COMMENTS.search(raw) is not None:
                lexer.read(raw)
            elif lexer.comments:  # most lines: nothing opens or closes here
                lexer.comments = []
            if "$(" in raw:
                raw = substitute(raw, self.known, Location(origin, number), lexer, self.defaults)
            lines.append(raw)
            segments = self.segments  # where the line comes from, unless it follows on
            if segments:
                start, last_origin, at = segments[-1]
                if at + len(lines) - start == number and last_origin == origin:
                    continue
            segments.append((len(lines), origin, number))

    def end(self, origin: str) -> Iterator[Batch]:
        if any(line.strip() for line in self.lines):
            yield self._batch(1, Location(origin, 1))

    def _command(self, source: Source, number: int, raw: str) -> Iterator[Batch]:
        """A line starting with ``:`` or ``GO``: a sqlcmd command, ``GO``, or an ordinary line
        (``GOTO x``, ``:x`` inside a comment)."""
        stripped = raw.lstrip()
        where = Location(source.origin, number, len(raw) - len(stripped) + 1)
        if stripped[:1] == ":" and not self.lexer.depth and not self.lexer.quote:
            command = stripped.split(None, 1)[0].lower()
            if command == ":setvar":
                _setvar(stripped, self.known, where)
            elif command == ":r":
                yield from self._include(source, stripped[2:], where)
                return
            elif command == ":connect":
                self._connect(stripped, where)
            self._append("", source.origin, number)  # :on error, :connect …: no security effect
            return
        count = _go_count(raw)
        if count is not None:
            yield self._batch(count, where)
            self.cut = self.lexer.depth > 0
            self.lexer = LineLexer()  # the server reads each batch afresh
            return
        self.lexer.read(raw)
        line = substitute(raw, self.known, where, self.lexer, self.defaults) if "$(" in raw else raw
        self._append(line, source.origin, number)

    def _connect(self, line: str, where: Location) -> None:
        """``:connect server [options]``: one server per script. A second server (an SSMS
        availability-group script runs parts on each replica) would merge two estates into
        one snapshot, so it is an error naming the line (its options, a password among them,
        are never quoted)."""
        words = line.split()
        server = words[1].casefold() if len(words) > 1 else ""
        if self.server is None:
            self.server = server
        elif server != self.server:
            raise ExtractError(
                f":connect to a second server ({words[1]}): grantbridge reads one server per "
                "snapshot; split the script by server and extract each part on its own",
                where,
            )

    def _append(self, line: str, origin: str, number: int) -> None:
        lines, segments = self.lines, self.segments
        lines.append(line)
        if segments:
            first, last_origin, at = segments[-1]
            if last_origin == origin and at + len(lines) - first == number:
                return
        segments.append((len(lines), origin, number))

    def _batch(self, repeat: int, go: Location) -> Batch:
        """The lines read so far as a batch (an empty one is placed at its ``GO`` line)."""
        in_comment = self.lexer.depth > 0
        segments = tuple(self.segments) or ((1, go.file or "", go.line or 1),)
        text = "\n".join(self.lines)
        batch = Batch(text, segments, repeat=repeat, in_comment=in_comment, cut=self.cut)
        self.lines, self.segments, self.cut = [], [], False
        return batch

    def _include(self, source: Source, argument: str, where: Location) -> Iterator[Batch]:
        lexer = LineLexer()  # $(name) in the path is substituted: a command line has no comments
        argument = substitute(argument, self.known, where, lexer, self.defaults)
        relative = _include_path(argument, where)
        base = source.path.parent if source.path is not None else Path.cwd()
        found = find_file(base, relative)
        if found is None or self.read is None:
            raise ExtractError(
                f":r names a file that does not exist: {relative.as_posix()!r}", where
            )
        resolved = found.resolve()
        if resolved in self.including:
            chain = " → ".join(p.name for p in [*self.including, resolved])
            raise ExtractError(f":r includes a file that includes it again: {chain}", where)
        text, origin = self.read(found)
        self.including.append(resolved)
        yield from self.feed(Source(text, origin, found))
        self.including.pop()


def split_batches(
    text: str,
    origin: str,
    variables: Mapping[str, str] | None = None,
    *,
    path: Path | None = None,
    read: Reader | None = None,
    defaults: Mapping[str, str] | None = None,
) -> Iterator[Batch]:
    """Cut a script into batches on ``GO`` lines, applying sqlcmd variables and ``:r`` includes.

    Args:
        text: the script, decoded.
        origin: how source references name it.
        variables: sqlcmd variables from the command line (they win over ``:setvar``).
        path: the script's file, which ``:r`` paths are relative to (None: the working folder).
        read: reads an included file (text and origin); without it, ``:r`` is an error.
        defaults: SQLCMD variable defaults of the script's SQL project (``sqlproj``): used for
            a variable neither ``variables`` nor ``:setvar`` sets.
    """
    splitter = _Splitter(variables, read, defaults)
    if path is not None:
        splitter.including.append(path.resolve())
    yield from splitter.feed(Source(text, origin, path))
    yield from splitter.end(origin)


def include_targets(
    source: Source,
    variables: Mapping[str, str] | None,
    defaults: Mapping[str, str] | None = None,
) -> set[Path]:
    """The files a script's ``:r`` lines name, as they exist (resolved); a line that cannot be
    read is left to the replay, which reports it."""
    if source.path is None or ":r" not in source.text.lower():
        return set()
    known, lexer, found = dict(variables or {}), LineLexer(), set()
    for number, raw in enumerate(source.text.splitlines(), start=1):
        stripped = raw.lstrip()
        where = Location(source.origin, number, 1)
        if stripped[:1] == ":" and not lexer.depth and not lexer.quote:
            command = stripped.split(None, 1)[0].lower()
            try:
                if command == ":setvar":
                    _setvar(stripped, known, where)
                elif command == ":r":
                    argument = substitute(
                        stripped[2:], known, where, LineLexer(), defaults or _NONE
                    )
                    target = find_file(source.path.parent, _include_path(argument, where))
                    found |= {target.resolve()} if target is not None else set()
            except ExtractError:
                pass
            continue
        if _go_count(raw) is not None:
            lexer = LineLexer()
        else:
            lexer.read(raw)
    return found
