"""``grantbridge apply OUTDIR --dsn``: run the plan's scripts on a real target, with consent."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from grantbridge import ui
from grantbridge.commands import flowing, require_plan_dir
from grantbridge.commands.verify import SET_HELP
from grantbridge.errors import InputError
from grantbridge.plural import plural


def register(app: typer.Typer) -> None:
    app.command("apply", help=flowing(apply.__doc__))(apply)


def apply(
    outdir: Annotated[Path, typer.Argument(help=SET_HELP)],
    dsn: Annotated[str | None, typer.Option(help="Target PostgreSQL (or GRANTBRIDGE_DSN).")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Apply sql/01 … 07 to the target (one transaction when the plan has one database).

    Refuses a plan directory whose scripts no longer match plan.json, and plans that would
    need SUPERUSER on RDS.

    Given the directory plan --per-database wrote (parts.json), applies every part in
    parts.json's order, after checking them all (scripts and target) and asking once: a part
    that fails stops the run, and the error names it and the parts applied before it (each
    part's sql/rollback.sql undoes that part).
    """
    from grantbridge.commands.apply_set import apply_set
    from grantbridge.commands.plan_set import is_plan_set, read_set
    from pg_emit.apply import check_target, load_plan_dir, ordered, run_scripts
    from pg_emit.server import check_reachable, redact, resolve_dsn

    target = resolve_dsn(dsn)
    if target is None:
        raise InputError("apply needs a target: pass --dsn or set GRANTBRIDGE_DSN")
    if is_plan_set(outdir):
        parts = read_set(outdir)
        _need_consent(yes)
        apply_set(outdir, parts, target, yes=yes)
        return
    plan_dir = require_plan_dir(outdir)
    _need_consent(yes)
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


def _need_consent(yes: bool) -> None:
    if not yes and not sys.stdin.isatty():
        # consent must be explicit: piped input ("yes | grantbridge apply") is not a person
        raise InputError("apply changes the target: pass --yes (there is no terminal to ask on)")
