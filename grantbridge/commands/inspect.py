"""``grantbridge inspect --dsn``: a live PostgreSQL's roles, memberships, ACLs and owners as JSON."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from grantbridge import ui
from grantbridge.commands import flowing
from grantbridge.errors import InputError
from grantbridge.plural import plural

if TYPE_CHECKING:
    from mapper.plan import MigrationPlan


def register(app: typer.Typer) -> None:
    app.command("inspect", help=flowing(inspect.__doc__))(inspect)


def inspect(
    dsn: Annotated[
        str | None, typer.Option(help="PostgreSQL to read (or GRANTBRIDGE_DSN).")
    ] = None,
    database: Annotated[
        list[str] | None, typer.Option("--database", "-d", help="Only these databases. Repeatable.")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write the JSON to this file (atomically), not stdout."
        ),
    ] = None,
) -> None:
    """Print the live state in the plan's own model (JSON, as plan.json), or write it with -o.

    With -o FILE the JSON goes to FILE (written aside, then renamed into place) and a one-line
    summary to stderr; at scale the JSON is hundreds of MB. Progress lines (one per database)
    go to stderr either way.
    """
    from pg_emit.inspect import inspect_server
    from pg_emit.server import resolve_dsn

    target = resolve_dsn(dsn)
    if target is None:
        raise InputError("inspect needs a server: pass --dsn or set GRANTBRIDGE_DSN")
    with ui.progress("inspect", len(database) if database else None, err=True) as step:
        live = inspect_server(target, database or None, log=step)
    if output is None:
        # in pieces: the whole text at once is as large again as the models (456 MB at M)
        sys.stdout.writelines(live.json_chunks())
        sys.stdout.flush()
        return
    _write(live, output)


def _write(live: MigrationPlan, output: Path) -> None:
    """Write the JSON atomically and say what it holds (stderr; under --json, on stdout)."""
    from grantbridge.output import write_file_atomic

    write_file_atomic(output, live.json_chunks())
    counts = {
        "databases": len(live.databases),
        "roles": len(live.roles),
        "memberships": len(live.memberships),
        "grants": len(live.grants),
    }
    text = f"wrote {output}: " + ", ".join(
        plural(n, what.removesuffix("s")) for what, n in counts.items()
    )
    ui.result(text, {"output": str(output), **counts}, err=True)
