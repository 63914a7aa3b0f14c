"""A canonical snapshot file read one database at a time, never whole (issue 7, scale L).

A large estate's ``snapshot.json`` is gigabytes (bench scale L: 2.4 GB, its validated model
about 10 GB: docs/architecture.md, "Scale"), so ``grantbridge plan --per-database`` must not
load it whole. Canonical snapshots are written with a two-space indent
(``SecuritySnapshot.to_json``; JSON strings escape their newlines, so every newline in the file
is a line break of the layout): the ``databases`` list opens on the line ``  "databases": [``,
closes on the first line ``  ]`` after it, and each of its items ends on a line ``    }`` (a
database's own fields are indented deeper). Each item can be cut out and read with the rest of
the file, which is small (principals, not their grants).

:func:`scan` finds those lines in one pass over the bytes (a regular expression over large
blocks: a pass line by line took 4 s at M, three passes per run), :func:`server_part` reads the
text around the list, :func:`database_texts` each database's text, :func:`part_text` gives one
part's whole text (the server part with one database) and :func:`parts` each part validated. A
file in another layout (compact JSON, CRLF line ends, hand-edited) gives ``None`` from
:func:`scan`: callers then load it whole.
"""

from __future__ import annotations

import json
import re
from collections.abc import Container, Iterator
from dataclasses import dataclass
from pathlib import Path

from mssql_extract.snapshot import SecuritySnapshot

#: The list's opening line, an item's last line, the list's closing line (each from the line
#: break before it).
_LINES = re.compile(rb'\n  "databases": \[\n|\n    \}|\n  \]|\n  "databases": \[\],\n')
_OPEN, _ITEM_END, _CLOSE = b'\n  "databases": [\n', b"\n    }", b"\n  ]"
_EMPTY = b'\n  "databases": [],\n'  # a snapshot without databases
#: Bytes read per block; a match is never longer than the longest line above.
_BLOCK = 1 << 24
_LONGEST = len(_EMPTY)


@dataclass(frozen=True)
class Layout:
    """Where a canonical snapshot's ``databases`` list is: the offset of its opening line, each
    item's byte range (without the ``,`` after it) and the offset after its closing line."""

    head_end: int
    items: tuple[tuple[int, int], ...]
    tail_start: int


@dataclass(frozen=True)
class ServerPart:
    """A canonical snapshot's text around its ``databases`` list (the list's items left out)."""

    head: str
    tail: str
    layout: Layout


@dataclass(frozen=True)
class DatabaseText:
    """One database's JSON text and the offset in the file of its first byte."""

    offset: int
    text: str


def scan(path: Path) -> Layout | None:
    """Where the snapshot at ``path`` holds its databases; ``None`` when it is not in the
    canonical layout (no ``databases`` list followed by other fields)."""
    head_end, ends, close = -1, [], -1
    with Path(path).open("rb") as file:
        base, carry = 0, b""
        while close < 0:
            block = file.read(_BLOCK)
            data = carry + block
            # a match starting this close to the end may run on into the next block
            limit = len(data) if not block else max(0, len(data) - _LONGEST)
            for match in _LINES.finditer(data, 0, len(data)):
                if match.start() >= limit:
                    break
                found, at = match.group(), base + match.start()
                if found == _EMPTY and head_end < 0:
                    return Layout(at + 1, (), at + len(_EMPTY))
                if found == _OPEN and head_end < 0:
                    head_end = at + 1
                elif found == _ITEM_END and head_end >= 0:
                    ends.append(at + len(_ITEM_END))
                elif found == _CLOSE and head_end >= 0:
                    close = at
                    break
            if not block:
                break
            carry, base = data[limit:], base + limit
        if close < 0 or not ends or ends[-1] > close:
            return None
        file.seek(close + len(_CLOSE))
        if file.read(2) != b",\n":  # the list is followed by the snapshot's other fields
            return None
    starts = [head_end + len(_OPEN) - 1] + [end + 2 for end in ends[:-1]]  # after "},\n"
    return Layout(head_end, tuple(zip(starts, ends, strict=True)), close + len(_CLOSE) + 2)


def server_part(path: Path, layout: Layout) -> ServerPart:
    """The text of the snapshot at ``path`` around its databases (``UnicodeDecodeError`` if it
    is not UTF-8)."""
    with Path(path).open("rb") as file:
        head = file.read(layout.head_end).decode("utf-8")
        file.seek(layout.tail_start)
        tail = file.read().decode("utf-8")
    return ServerPart(head, tail, layout)


def part_text(server: ServerPart, database: DatabaseText) -> str:
    """The snapshot text of the server part with one database (:func:`database_texts`)."""
    return f'{server.head}  "databases": [\n{database.text}\n  ],\n{server.tail}'


def database_texts(
    path: Path, layout: Layout, only: Container[int] | None = None
) -> Iterator[DatabaseText]:
    """Each database's JSON text (``only``: those at these positions), in the file's (sorted)
    order, one at a time."""
    with Path(path).open("rb") as file:
        for index, (start, end) in enumerate(layout.items):
            if only is None or index in only:
                file.seek(start)
                yield DatabaseText(start, file.read(end - start).decode("utf-8"))


#: A database item's first field, its name (``Database.name``), as ``to_json`` writes it.
_NAME = re.compile(rb'\A {4}\{\n {6}"name": ("(?:[^"\\\n]|\\.)*"),?\n')


def database_names(path: Path, layout: Layout) -> list[str]:
    """Each database's name, read from the first line of its item (the whole item where that
    line is not its name: a hand-edited file)."""
    names = []
    with Path(path).open("rb") as file:
        for start, end in layout.items:
            file.seek(start)
            found = _NAME.match(file.read(min(end - start, 4096)))
            if found is None:  # not said here: planning the part says what is wrong
                file.seek(start)
                try:
                    item = json.loads(file.read(end - start))
                except ValueError:
                    item = None
                names.append(str(item.get("name")) if isinstance(item, dict) else "")
            else:
                names.append(json.loads(found.group(1)))
    return names


def file_line(path: Path, server: ServerPart, item: DatabaseText, line: int) -> int:
    """The line number in the file of line ``line`` of :func:`part_text` ``(server, item)``
    (for an error's location: it counts the file's line breaks up to there)."""
    head = server.head.count("\n") + 1  # with the list's opening line
    lines = item.text.count("\n") + 1
    if line <= head:
        return line
    if line <= head + lines:
        return _line_at(path, item.offset) + line - head - 1
    return _line_at(path, server.layout.tail_start) + line - head - lines - 2


def _line_at(path: Path, offset: int) -> int:
    """The line number of the byte at ``offset``."""
    count = 0
    with Path(path).open("rb") as file:
        while offset > 0:
            block = file.read(min(_BLOCK, offset))
            if not block:
                break
            count, offset = count + block.count(b"\n"), offset - len(block)
    return count + 1


def parts(path: Path) -> Iterator[SecuritySnapshot]:
    """The snapshot at ``path`` once per database: its server part (server, logins, server
    roles and permissions, everything skipped) with that one database, validated as
    ``SecuritySnapshot.from_json`` validates a file. At most one database's text and model are
    held at a time, beside the server part's text. ``ValueError`` if the file is not in the
    canonical layout."""
    layout = scan(path)
    if layout is None:
        raise ValueError(f"{path}: not a canonical snapshot (SecuritySnapshot.to_json's layout)")
    server = server_part(path, layout)
    for item in database_texts(path, layout):
        yield SecuritySnapshot.from_json(part_text(server, item), origin=str(path))


def database_count(path: Path) -> int:
    """How many databases the snapshot at ``path`` holds (0 when not in the canonical
    layout)."""
    layout = scan(path)
    return 0 if layout is None else len(layout.items)
