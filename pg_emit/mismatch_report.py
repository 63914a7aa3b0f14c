"""How ``verify`` and ``drift`` show their mismatches: a summary, the first few, the rest on demand.

An empty target's drift at bench scale M has 1.5 million mismatches: printed whole as one rich
table they took 12 minutes, 10.6 GB and 542 MB of stderr, which nobody reads. So people get a
small table of counts per (kind, database, status), then the first :data:`SHOWN` mismatches in
their sorted order, then a line saying how many were left out and where every one of them is:
``--json`` (the command's JSON result lists them all) or ``--mismatches FILE``, which writes
them as JSON lines (:func:`write_mismatches`: one object per line, the same fields as ``--json``,
in the same order; a file that streams and greps). No cell is cut: a long role name wraps.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from grantbridge.output import write_file_atomic
from grantbridge.plural import plural
from pg_emit.compare import Mismatch, astuple_fields

#: How many mismatches the table lists; the summary counts all of them.
SHOWN = 50

#: A mismatch's fields, in the table's and the sort's order.
FIELDS = ("kind", "database", "subject", "status", "detail")

#: Where to find every mismatch when the table leaves some out.
EVERY_ONE = "--mismatches FILE writes every one (JSON lines), as does --json (on stdout)"


def _table(title: str, columns: Sequence[str]) -> Table:
    """A table whose cells wrap (``fold``) instead of ending in "…": a role name cut at the
    terminal's width cannot be told from its neighbours (``billing_db_owner_part_billing_w…``)."""
    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def _cells(*values: str) -> list[Text]:
    """Cells as plain text: a role may be called ``[bold]`` (rich would read it as markup)."""
    return [Text(v) for v in values]


def summary_table(mismatches: Iterable[Mismatch]) -> Table:
    """How many mismatches per (kind, database, status), sorted; ``cluster`` for roles and
    memberships, which belong to no database."""
    counts = Counter((m.kind, m.database, m.status) for m in mismatches)
    table = _table(
        f"{plural(counts.total(), 'mismatch', 'mismatches')} between the plan and PostgreSQL",
        ("kind", "database", "status", "count"),
    )
    for (kind, database, status), count in sorted(counts.items()):
        table.add_row(*_cells(kind, database or "(cluster)", status, str(count)))
    return table


def mismatch_table(mismatches: Sequence[Mismatch], limit: int | None = None) -> Table:
    """The first ``limit`` (default :data:`SHOWN`) mismatches, in the order given (the sorted
    one), every field whole."""
    limit = SHOWN if limit is None else limit
    shown = mismatches[:limit]
    title = (
        f"the first {len(shown)} of {len(mismatches)} mismatches"
        if len(shown) < len(mismatches)
        else f"{plural(len(mismatches), 'mismatch', 'mismatches')} between the plan and PostgreSQL"
    )
    table = _table(title, FIELDS)
    for m in shown:
        table.add_row(*_cells(*astuple_fields(m)))
    return table


def left_out(total: int, limit: int | None = None, written: Path | None = None) -> str | None:
    """The line after the table: how many it left out and where they all are (None: the table
    shows every one and no file was written)."""
    limit = SHOWN if limit is None else limit
    where = f"every one is in {written} (JSON lines)" if written else EVERY_ONE
    if total > limit:
        return f"… and {total - limit} more not shown: {where}"
    return where if written else None


def print_mismatches(
    console: Console,
    mismatches: Sequence[Mismatch],
    *,
    written: Path | None = None,
    limit: int | None = None,
) -> None:
    """The summary, the first ``limit`` mismatches and the :func:`left_out` line."""
    console.print(summary_table(mismatches))
    console.print(mismatch_table(mismatches, limit))
    line = left_out(len(mismatches), limit, written)
    if line:
        console.print(line, markup=False, highlight=False, soft_wrap=True)  # a path stays whole


def as_dict(mismatch: Mismatch) -> dict[str, str]:
    """The mismatch's fields by name (what ``dataclasses.asdict`` gives, without its deep copy:
    a million mismatches are common)."""
    return dict(zip(FIELDS, astuple_fields(mismatch), strict=True))


def mismatch_lines(mismatches: Iterable[Mismatch]) -> Iterator[str]:
    """Each mismatch as one JSON object (sorted keys) on its own line."""
    for m in mismatches:
        yield json.dumps(as_dict(m), sort_keys=True, ensure_ascii=False) + "\n"


def write_mismatches(path: Path, mismatches: Iterable[Mismatch]) -> None:
    """Every mismatch to ``path`` as JSON lines, atomically (an empty file: none)."""
    write_file_atomic(path, mismatch_lines(mismatches))
