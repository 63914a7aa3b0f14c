"""A canonical snapshot file read one database at a time, never whole (issue 7, scale L).

Scale L's ``snapshot.json`` is 2.4 GB and its validated model about 10 GB (docs/architecture.md,
"Scale"), so the per-database pipeline must not load it whole. Canonical snapshots are written
with a two-space indent (``SecuritySnapshot.to_json``; JSON strings escape their newlines), so
the ``databases`` list's items are the lines from ``    {`` to ``    }`` inside ``  "databases":
[``: each can be cut out and validated with the rest of the file, which is small (principals,
not their grants). :func:`parts` yields the snapshot once per database.

For measuring what planning one database at a time costs (``bench.child`` ``plan-parts``) and
for ``bench.decompose``'s question; the shipped planner still reads the whole snapshot.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from mssql_extract.snapshot import SecuritySnapshot

_OPEN = '  "databases": [\n'
_ITEM_CLOSE = ("    }\n", "    },\n")
_LIST_CLOSE = ("  ]\n", "  ],\n")
_PLACEHOLDER = '  "databases": [],\n'


def parts(path: Path) -> Iterator[SecuritySnapshot]:
    """The snapshot at ``path`` once per database: its server part (server, logins, server
    roles and permissions, everything skipped) with that one database, validated as
    ``SecuritySnapshot.from_json`` validates a file. At most one database's text and model are
    held at a time, beside the server part's text (small: its principals, not their grants)."""
    server = _server_text(path)
    if server.count(_PLACEHOLDER) != 1:
        raise ValueError(f"{path}: not a canonical snapshot (SecuritySnapshot.to_json's layout)")
    head, tail = server.split(_PLACEHOLDER)
    for text in database_texts(path):
        whole = f'{head}  "databases": [\n{text}\n  ],\n{tail}'
        yield SecuritySnapshot.from_json(whole, origin=str(path))


def _server_text(path: Path) -> str:
    lines = []
    for where, line in _scan(path):
        if where == "server":
            lines.append(line)
        elif where == "list" and line != _OPEN:  # its closing line stands for the whole list
            lines.append(_PLACEHOLDER if line.endswith(",\n") else '  "databases": []\n')
    return "".join(lines)


def database_count(path: Path) -> int:
    """How many databases the snapshot at ``path`` holds, without building their texts."""
    return sum(where == "database" and line in _ITEM_CLOSE for where, line in _scan(path))


def database_texts(path: Path) -> Iterator[str]:
    """Each database's JSON text, in the file's (sorted) order, one at a time."""
    item: list[str] = []
    for where, line in _scan(path):
        if where == "database":
            item.append(line)
            if line in _ITEM_CLOSE:
                yield "".join(item).rstrip().rstrip(",")
                item = []


def _scan(path: Path) -> Iterator[tuple[str, str]]:
    """Each line of the file, as ``server``, ``database`` (inside the databases list) or
    ``list`` (the list's opening and closing lines)."""
    inside = False
    with Path(path).open(encoding="utf-8") as text:
        for line in text:
            if line == _OPEN or (inside and line in _LIST_CLOSE):
                inside = line == _OPEN
                yield "list", line
            else:
                yield "database" if inside else "server", line
