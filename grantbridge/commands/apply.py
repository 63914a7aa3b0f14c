"""``grantbridge apply OUTDIR --dsn``: run the plan's scripts on a real target, with consent."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from grantbridge import ui
from grantbridge.commands import flowing, require_plan_dir
from grantbridge.errors import InputError
from grantbridge.plural import plural


def register(app: typer.Typer) -> None:
    app.command("apply", help=flowing(apply.__doc__))(apply)


def apply(
    outdir: Annotated[Path, typer.Argument(help="Plan directory (plan.json and sql/).")],
    dsn: Annotated[str | None, typer.Option(help="Target PostgreSQL (or GRANTBRIDGE_DSN).")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Apply sql/01 … 07 to the target (one transaction when the plan has one database).

    Refuses a plan directory whose scripts no longer match plan.json, and plans that would
    need SUPERUSER on RDS.
    """
    from pg_emit.apply import check_target, load_plan_dir, ordered, run_scripts
    from pg_emit.server import check_reachable, redact, resolve_dsn

    target = resolve_dsn(dsn)
    if target is None:
        raise InputError("apply needs a target: pass --dsn or set GRANTBRIDGE_DSN")
    plan_dir = require_plan_dir(outdir)
    if not yes and not sys.stdin.isatty():
        # consent must be explicit: piped input ("yes | grantbridge apply") is not a person
        raise InputError("apply changes the target: pass --yes (there is no terminal to ask on)")
    # the target first: a wrong DSN is exit 4 in seconds, not after loading a large plan
    check_reachable(target)
    plan, scripts = load_plan_dir(plan_dir)  # read once (it was read twice)
    if not yes:
        typer.confirm(
            f"Apply {plural(len(plan.roles), 'role')} and {plural(len(plan.grants), 'grant')} "
            f"to {redact(target)}?",
            abort=True,
        )
    ui.say(f"apply: plan {plan.fingerprint[:12]} from {outdir} to {redact(target)}")
    data = {"applied": True, "fingerprint": plan.fingerprint, "roles": len(plan.roles)}
    data["grants"] = len(plan.grants)
    check_target(plan, target)
    del plan  # the scripts are what runs: at bench scale M the plan holds about 3 GB
    with ui.progress("apply") as step:
        run_scripts(target, ordered(scripts), log=step)
    ui.result("applied; sql/rollback.sql undoes it", data)
