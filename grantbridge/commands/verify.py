"""``grantbridge verify OUTDIR [--dsn]``: prove the scripts grant exactly what the plan says."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from grantbridge import ui
from grantbridge.commands import flowing, require_plan_dir
from grantbridge.errors import MismatchError

if TYPE_CHECKING:
    from pg_emit.compare import Mismatch

DSN_HELP = "PostgreSQL to use (default: GRANTBRIDGE_DSN, else an embedded throwaway server)."
PASSED = "verification passed: PostgreSQL grants exactly what the plan says"


def register(app: typer.Typer) -> None:
    app.command("verify", help=flowing(verify.__doc__))(verify)


def verify(
    outdir: Annotated[Path, typer.Argument(help="Plan directory (plan.json and sql/).")],
    dsn: Annotated[str | None, typer.Option(help=DSN_HELP)] = None,
) -> None:
    """Apply the plan to PostgreSQL, read privileges back, compare both ways (exit 3 on any mismatch).

    On a live target (--dsn) everything runs in transactions that are rolled back.
    """
    from pg_emit.apply import load_plan_dir
    from pg_emit.server import embedded_server, redact, resolve_dsn
    from pg_emit.verify import verify_plan

    plan, _ = load_plan_dir(require_plan_dir(outdir))
    target = resolve_dsn(dsn)
    with ui.progress("verify", len(plan.databases) or None, err=True) as step:
        if target is None:
            ui.say("verify: embedded throwaway PostgreSQL", err=True)
            with embedded_server() as embedded_dsn:
                mismatches = verify_plan(plan, embedded_dsn, embedded=True, log=step)
        else:
            ui.say(f"verify: live target {redact(target)}; every change is rolled back", err=True)
            mismatches = verify_plan(plan, target, embedded=False, log=step)
    _report(mismatches)


def _report(mismatches: list[Mismatch]) -> None:
    """The result: passed, or the mismatches (a table, or JSON) and exit 3."""
    from rich.console import Console

    from pg_emit.verify import mismatch_table

    data = {"passed": not mismatches, "mismatches": [asdict(m) for m in mismatches]}
    if not mismatches:
        ui.result(PASSED, data, err=True)
        return
    if ui.MODE.json:
        ui.result("", data)
    else:
        # the table is the evidence: shown under --quiet too, like the error line after it
        Console(stderr=True).print(mismatch_table(mismatches))
    raise MismatchError(f"verification failed: {len(mismatches)} mismatches")
