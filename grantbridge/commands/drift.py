"""``grantbridge drift OUTDIR --dsn``: live target vs plan → delta script (exit 3 on drift)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from grantbridge import ui
from grantbridge.commands import flowing
from grantbridge.commands.plan_set import PartMismatches, SetPart, in_part
from grantbridge.commands.verify import MismatchesOption, report_mismatches
from grantbridge.errors import GrantbridgeError, InputError, MismatchError
from grantbridge.plural import plural

HELP = "Plan directory, or its plan.json, or the directory plan --per-database wrote."


def register(app: typer.Typer) -> None:
    app.command("drift", help=flowing(drift.__doc__))(drift)


def drift(
    outdir: Annotated[Path, typer.Argument(help=HELP)],
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

    Given the directory plan --per-database wrote (parts.json), compares every part in
    parts.json's order: each part's differences are shown, and listed, with the part, and the
    delta script is the parts' scripts one after the other (each compares, and with
    --authoritative revokes, only within its own database and roles).
    """
    from grantbridge.commands import load_plan, plan_file
    from grantbridge.commands.plan_set import is_plan_set, read_set
    from grantbridge.output import write_file_atomic
    from pg_emit.drift import drift as compute
    from pg_emit.mismatch_report import as_dict
    from pg_emit.server import check_reachable, resolve_dsn

    target = resolve_dsn(dsn)
    if target is None:
        raise InputError("drift needs a target: pass --dsn or set GRANTBRIDGE_DSN")
    if is_plan_set(outdir):
        parts = read_set(outdir)
        check_reachable(target, own_database=False)
        found, script = drift_set(parts, target, authoritative=authoritative)
        _result_set(found, script, output, mismatches_file)
        return
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


def drift_set(
    parts: list[SetPart], target: str, *, authoritative: bool
) -> tuple[list[PartMismatches], str]:
    """Each part's differences and its delta script, one part (and one plan) at a time."""
    from grantbridge.commands import load_plan
    from pg_emit.drift import drift as compute

    found: list[PartMismatches] = []
    scripts: list[str] = []
    with ui.progress("drift", len(parts), err=True) as step:
        for part in parts:
            step(f"drift {part.label(len(parts))}")
            try:
                plan = load_plan(part.path)
                mismatches, script = compute(plan, target, authoritative=authoritative)
            except GrantbridgeError as exc:
                raise in_part(exc, part, len(parts)) from None
            del plan
            found.append(PartMismatches(part, mismatches))
            scripts.append(f"-- {part.label(len(parts))}\n{script}")
    return found, "\n".join(scripts)


def _result_set(
    found: list[PartMismatches], script: str, output: Path | None, written: Path | None
) -> None:
    """The set's delta script, every part's differences, and exit 3 on any."""
    from grantbridge.commands import plan_set
    from grantbridge.output import write_file_atomic

    if output is not None:
        write_file_atomic(output, script)
    elif not ui.MODE.json:
        typer.echo(script, nl=False)
    if written is not None:
        plan_set.write_part_mismatches(written, found)
    if not ui.MODE.json:
        plan_set.print_part_mismatches(found, written)
    total = sum(len(f.mismatches) for f in found)
    if ui.MODE.json:
        data: dict[str, object] = {"drift": bool(total), "differences": total, "script": script}
        data |= {"output": None if output is None else str(output)}
        data["parts"] = [
            {"database": f.part.database, "directory": f.part.directory,
             "differences": len(f.mismatches)}
            for f in found
        ]  # fmt: skip
        data["mismatches"] = list(plan_set.as_dicts(found))
        if written is not None:
            data["mismatches_file"] = str(written)
        ui.result("", data)
    drifting = [f.part.directory for f in found if f.mismatches]
    if drifting:
        raise MismatchError(
            f"drift: {plural(total, 'difference')} from the plans of "
            f"{plural(len(drifting), 'part')} ({', '.join(drifting)})"
        )
