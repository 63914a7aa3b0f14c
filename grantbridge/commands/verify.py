"""``grantbridge verify OUTDIR [--dsn]``: prove the scripts grant exactly what the plan says."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

DSN_HELP = "PostgreSQL to use (default: GRANTBRIDGE_DSN, else an embedded throwaway server)."


def register(app: typer.Typer) -> None:
    app.command("verify")(verify)


def verify(
    outdir: Annotated[Path, typer.Argument(help="Plan directory (plan.json and sql/).")],
    dsn: Annotated[str | None, typer.Option(help=DSN_HELP)] = None,
) -> None:
    """Apply the plan to PostgreSQL, read privileges back, compare both ways (exit 3 on any mismatch).

    On a live target (--dsn) everything runs in transactions that are rolled back.
    """
    from pg_emit.server import resolve_dsn
    from pg_emit.verify import verify_plan_dir

    verify_plan_dir(outdir, resolve_dsn(dsn))
