"""``grantbridge verify OUTDIR [--dsn]``: prove the scripts grant exactly what the plan says."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from grantbridge import ui
from grantbridge.commands import flowing, require_plan_dir
from grantbridge.errors import MismatchError
from grantbridge.plural import plural

if TYPE_CHECKING:
    from grantbridge.commands.plan_set import PartMismatches
    from pg_emit.compare import Mismatch

DSN_HELP = "PostgreSQL to use (default: GRANTBRIDGE_DSN, else an embedded throwaway server)."
PASSED = "verification passed: PostgreSQL grants exactly what the plan says"
MISMATCHES_HELP = (
    "Write every mismatch to this file, one JSON object per line (the fields --json lists); "
    "the table shows only the first 50. Empty when there are none."
)

#: The plan directory argument of verify and apply.
SET_HELP = "Plan directory (plan.json and sql/), or the directory plan --per-database wrote."

#: The ``--mismatches FILE`` option of verify and drift.
MismatchesOption = Annotated[
    Path | None, typer.Option("--mismatches", metavar="FILE", help=MISMATCHES_HELP)
]


def register(app: typer.Typer) -> None:
    app.command("verify", help=flowing(verify.__doc__))(verify)


def verify(
    outdir: Annotated[Path, typer.Argument(help=SET_HELP)],
    dsn: Annotated[str | None, typer.Option(help=DSN_HELP)] = None,
    mismatches_file: MismatchesOption = None,
) -> None:
    """Apply the plan to PostgreSQL, read privileges back, compare both ways (exit 3 on any mismatch).

    On a live target (--dsn) everything runs in transactions that are rolled back. Mismatches
    are shown as counts per kind, database and status, then the first 50; --json or
    --mismatches FILE give every one.

    Given the directory plan --per-database wrote (parts.json), verifies every part on one
    server, all parts' roles and memberships there together; every part is checked against its
    plan.json first, and each mismatch is shown, and listed, with its part.
    """
    from grantbridge.commands.plan_set import is_plan_set
    from pg_emit.apply import load_plan_dir
    from pg_emit.server import check_reachable, embedded_server, redact, resolve_dsn
    from pg_emit.verify import verify_plan

    if is_plan_set(outdir):
        _verify_set(outdir, resolve_dsn(dsn), mismatches_file)
        return
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


def _verify_set(outdir: Path, target: str | None, mismatches_file: Path | None) -> None:
    """verify of a plan set: every part read and checked first (a part edited since it was
    planned refuses the set, exit 2, before any server is touched), then every part verified
    on one server with all parts' roles and memberships there (:mod:`pg_emit.verify_set`)."""
    from grantbridge.collector import collector_paused
    from grantbridge.commands.plan_set import PartMismatches, in_part, read_set
    from grantbridge.errors import GrantbridgeError
    from pg_emit.apply import load_plan_dir
    from pg_emit.server import check_reachable, embedded_server, redact
    from pg_emit.verify_set import SetCluster, check_set_lock_table, every_cluster, verify_part

    parts = read_set(outdir)
    if target is not None:  # a live target first: a wrong DSN is exit 4 before a long load
        check_reachable(target)
    clusters = SetCluster(live=target is not None)
    for part in parts:  # every part checked before anything runs; one plan in memory at a time
        try:
            plan, scripts = load_plan_dir(part.path)
        except GrantbridgeError as exc:
            raise in_part(exc, part, len(parts), "; nothing was verified") from None
        clusters.add(part.label(len(parts)), plan, scripts)
        del plan, scripts
    found: list[PartMismatches] = []

    def say(message: str) -> None:  # a part's databases: the bar counts parts
        ui.say(message, err=True)

    with contextlib.ExitStack() as stack:
        where = "an embedded throwaway PostgreSQL"
        if target is not None:
            where = f"live target {redact(target)}; every change is rolled back"
        ui.say(f"verify: {plural(len(parts), 'part')} together on {where}", err=True)
        if target is None:
            dsn, embedded = stack.enter_context(embedded_server()), True
        else:
            dsn, embedded = target, False
        step = stack.enter_context(ui.progress("verify", len(parts), err=True))
        stack.enter_context(every_cluster(dsn, clusters, embedded=embedded))
        stack.enter_context(collector_paused())
        for number, part in enumerate(parts):
            step(f"verify {part.label(len(parts))}")
            try:
                plan, scripts = load_plan_dir(part.path)
                cluster = None
                if not embedded:
                    cluster, roles = clusters.for_part(number)
                    check_set_lock_table(dsn, plan, roles)
                mismatches = verify_part(plan, scripts, dsn, cluster, log=say)
            except GrantbridgeError as exc:
                raise in_part(exc, part, len(parts)) from None
            found.append(PartMismatches(part, mismatches))
            del plan, scripts
    _report_set(found, mismatches_file)


def _report_set(found: list[PartMismatches], written: Path | None) -> None:
    """The result of a set: passed, or every part's mismatches (with their part) and exit 3."""
    from grantbridge.commands.plan_set import (
        as_dicts,
        print_part_mismatches,
        write_part_mismatches,
    )

    if written is not None:
        write_part_mismatches(written, found)
    if not ui.MODE.json:
        print_part_mismatches(found, written)
    total = sum(len(f.mismatches) for f in found)
    data: dict[str, object] = {
        "passed": not total,
        "parts": [
            {
                "database": f.part.database,
                "directory": f.part.directory,
                "passed": not f.mismatches,
                "mismatches": len(f.mismatches),
            }
            for f in found
        ],
        "mismatches": list(as_dicts(found)),
    }
    if written is not None:
        data["mismatches_file"] = str(written)
    if not total:
        ui.result(f"{PASSED} ({plural(len(found), 'part')})", data, err=True)
        return
    if ui.MODE.json:
        ui.result("", data)
    failing = [f.part.directory for f in found if f.mismatches]
    raise MismatchError(
        f"verification failed: {plural(total, 'mismatch', 'mismatches')} in "
        f"{plural(len(failing), 'part')} ({', '.join(failing)})"
    )


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
