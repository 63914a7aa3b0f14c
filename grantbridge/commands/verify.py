"""``grantbridge verify OUTDIR [--dsn]``: prove the scripts grant exactly what the plan says."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from grantbridge import ui
from grantbridge.commands import flowing, require_plan_dir
from grantbridge.errors import MismatchError
from grantbridge.plural import plural

if TYPE_CHECKING:
    from pg_emit.compare import Mismatch

DSN_HELP = "PostgreSQL to use (default: GRANTBRIDGE_DSN, else an embedded throwaway server)."
PASSED = "verification passed: PostgreSQL grants exactly what the plan says"
MISMATCHES_HELP = (
    "Write every mismatch to this file, one JSON object per line (the fields --json lists); "
    "the table shows only the first 50. Empty when there are none."
)

#: The ``--mismatches FILE`` option of verify and drift.
MismatchesOption = Annotated[
    Path | None, typer.Option("--mismatches", metavar="FILE", help=MISMATCHES_HELP)
]


def register(app: typer.Typer) -> None:
    app.command("verify", help=flowing(verify.__doc__))(verify)


def verify(
    outdir: Annotated[Path, typer.Argument(help="Plan directory (plan.json and sql/).")],
    dsn: Annotated[str | None, typer.Option(help=DSN_HELP)] = None,
    mismatches_file: MismatchesOption = None,
) -> None:
    """Apply the plan to PostgreSQL, read privileges back, compare both ways (exit 3 on any mismatch).

    On a live target (--dsn) everything runs in transactions that are rolled back. Mismatches
    are shown as counts per kind, database and status, then the first 50; --json or
    --mismatches FILE give every one.
    """
    from pg_emit.apply import load_plan_dir
    from pg_emit.server import check_reachable, embedded_server, redact, resolve_dsn
    from pg_emit.verify import verify_plan

    plan_dir, target = require_plan_dir(outdir), resolve_dsn(dsn)
    if target is not None:  # a live target first: a wrong DSN is exit 4 before a long load
        check_reachable(target)
    plan, _ = load_plan_dir(plan_dir)
    with ui.progress("verify", len(plan.databases) or None, err=True) as step:
        if target is None:
            ui.say("verify: embedded throwaway PostgreSQL", err=True)
            with embedded_server() as embedded_dsn:
                mismatches = verify_plan(plan, embedded_dsn, embedded=True, log=step)
        else:
            ui.say(f"verify: live target {redact(target)}; every change is rolled back", err=True)
            mismatches = verify_plan(plan, target, embedded=False, log=step)
    _report(mismatches, mismatches_file)


def report_mismatches(mismatches: list[Mismatch], written: Path | None) -> None:
    """Write ``--mismatches FILE`` when asked, and (people) print the capped table on stderr:
    the evidence, shown under --quiet too, like the error line after it."""
    from rich.console import Console

    from pg_emit.mismatch_report import print_mismatches, write_mismatches

    if written is not None:
        write_mismatches(written, mismatches)
    if mismatches and not ui.MODE.json:
        print_mismatches(Console(stderr=True), mismatches, written=written)


def _report(mismatches: list[Mismatch], written: Path | None) -> None:
    """The result: passed, or the mismatches (a table, or JSON) and exit 3."""
    from pg_emit.mismatch_report import as_dict

    report_mismatches(mismatches, written)
    data: dict[str, object] = {
        "passed": not mismatches,
        "mismatches": [as_dict(m) for m in mismatches],
    }
    if written is not None:
        data["mismatches_file"] = str(written)
    if not mismatches:
        ui.result(PASSED, data, err=True)
        return
    if ui.MODE.json:
        ui.result("", data)
    raise MismatchError(f"verification failed: {plural(len(mismatches), 'mismatch', 'mismatches')}")
