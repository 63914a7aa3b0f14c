"""``grantbridge drift OUTDIR --dsn``: live target vs plan → delta script (exit 3 on drift)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from grantbridge import ui
from grantbridge.commands import flowing
from grantbridge.commands.verify import MismatchesOption, report_mismatches
from grantbridge.errors import InputError, MismatchError
from grantbridge.plural import plural


def register(app: typer.Typer) -> None:
    app.command("drift", help=flowing(drift.__doc__))(drift)


def drift(
    outdir: Annotated[Path, typer.Argument(help="Plan directory, or its plan.json.")],
    dsn: Annotated[str | None, typer.Option(help="Live target (or GRANTBRIDGE_DSN).")] = None,
    authoritative: Annotated[
        bool, typer.Option(help="Also REVOKE what the plan does not grant (default: additive).")
    ] = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the delta script here.")
    ] = None,
    mismatches_file: MismatchesOption = None,
) -> None:
    """Print (or write) the delta script that brings the target back to the plan.

    The differences go to stderr as counts per kind, database and status, then the first 50;
    --json or --mismatches FILE give every one.
    """
    from grantbridge.commands import load_plan, plan_file
    from grantbridge.output import write_file_atomic
    from pg_emit.drift import drift as compute
    from pg_emit.mismatch_report import as_dict
    from pg_emit.server import check_reachable, resolve_dsn

    target = resolve_dsn(dsn)
    if target is None:
        raise InputError("drift needs a target: pass --dsn or set GRANTBRIDGE_DSN")
    file = plan_file(outdir)
    # the target first: a wrong DSN is exit 4 in seconds, not after loading a large plan (drift
    # connects to the plan's databases only, never to the DSN's own)
    check_reachable(target, own_database=False)
    plan = load_plan(file)
    with ui.progress("drift", len(plan.databases) or None, err=True) as step:
        mismatches, script = compute(plan, target, authoritative=authoritative, log=step)
    if output is not None:
        write_file_atomic(output, script)
    elif not ui.MODE.json:
        typer.echo(script, nl=False)
    report_mismatches(mismatches, mismatches_file)
    if ui.MODE.json:
        data = {"drift": bool(mismatches), "differences": len(mismatches), "script": script}
        data |= {"output": None if output is None else str(output)}
        data |= {"mismatches": [as_dict(m) for m in mismatches]}
        if mismatches_file is not None:
            data["mismatches_file"] = str(mismatches_file)
        ui.result("", data)
    if mismatches:
        raise MismatchError(f"drift: {plural(len(mismatches), 'difference')} from the plan")
