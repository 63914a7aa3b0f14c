"""``grantbridge inspect --dsn``: a live PostgreSQL's roles, memberships, ACLs and owners as JSON."""

from __future__ import annotations

from typing import Annotated

import typer

from grantbridge.commands import flowing
from grantbridge.errors import InputError


def register(app: typer.Typer) -> None:
    app.command("inspect", help=flowing(inspect.__doc__))(inspect)


def inspect(
    dsn: Annotated[
        str | None, typer.Option(help="PostgreSQL to read (or GRANTBRIDGE_DSN).")
    ] = None,
    database: Annotated[
        list[str] | None, typer.Option("--database", "-d", help="Only these databases. Repeatable.")
    ] = None,
) -> None:
    """Print the live state in the plan's own model (JSON, as plan.json)."""
    from pg_emit.inspect import inspect_server
    from pg_emit.server import resolve_dsn

    target = resolve_dsn(dsn)
    if target is None:
        raise InputError("inspect needs a server: pass --dsn or set GRANTBRIDGE_DSN")
    typer.echo(inspect_server(target, database or None).to_json(), nl=False)
