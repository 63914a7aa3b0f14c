"""``grantbridge plan SNAPSHOT [--policy F] -o OUTDIR``: snapshot + policy → plan directory."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from grantbridge import ui
from grantbridge.commands import flowing, refuse_other_document
from grantbridge.commands.plan_parts import (
    Part,
    default_jobs,
    parts_layout,
    plan_per_database,
)
from grantbridge.errors import InputError, Location
from grantbridge.inputs import read_input, read_input_bytes
from grantbridge.output import Layout, atomic_directory, check_output_directory
from grantbridge.plural import plural
from mapper.plan import MigrationPlan, Severity
from mapper.planner import plan as make_plan
from mapper.policy import Policy, parse_policy
from mssql_extract.snapshot import SecuritySnapshot
from pg_emit.artifacts import write_artifacts

#: What ``plan`` writes (``plan.json`` and :func:`pg_emit.artifacts.render_artifacts`'s files):
#: a directory holding plan.json and nothing else than these is one ``plan`` may replace.
PLAN_LAYOUT = Layout(
    marker="plan.json",
    files=("plan.json", "report.md", "findings.sarif", "parameters.json", "sql/*.sql",
           "iam/assignments.csv", "iam/policies/*.json", "iam/pg_hba.conf"),
)  # fmt: skip

OUTPUT_HELP = (
    "Output directory: created, or replaced whole if it is empty or a plan directory "
    "grantbridge wrote; a directory holding anything else is refused (exit 2)."
)


def register(app: typer.Typer) -> None:
    app.command("plan", help=flowing(plan.__doc__))(plan)


#: A snapshot from this size on (bench scale M: 241 MB) gets a line per phase of ``plan``.
LARGE_SNAPSHOT = 10_000_000


def _steps(snapshot: Path) -> Callable[[str], None]:
    """Print ``plan: <what>`` on stderr for a large snapshot, else nothing (a small estate
    plans in a second, and its output stays as it was)."""
    try:
        large = snapshot.stat().st_size >= LARGE_SNAPSHOT
    except OSError:  # standard input: no size to go by
        large = False
    if not large:
        return lambda _message: None
    return lambda message: ui.say(f"plan: {message}", err=True)


#: Peak memory of planning a snapshot whole, per byte of its file: bench scale M's 230 MB
#: peaked at 3,399 MB loaded and planned (BENCHMARKS.md), about 15 times; bench L's 2.4 GB went
#: past 16 GB before its plan was done.
WHOLE_PLAN_MEMORY = 15


def _physical_memory() -> int | None:
    """This machine's memory in bytes (None where the platform does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        return None


def _warn_memory(snapshot: Path) -> None:
    """Say on stderr, before a load that takes minutes, that planning ``snapshot`` whole will
    likely need more memory than the machine has, and, for an estate of several databases,
    that ``--per-database`` plans one at a time (bench scale L: 3.7 GB peak, two workers)."""
    from mssql_extract.snapshot_parts import database_count

    try:
        size = snapshot.stat().st_size
    except OSError:  # standard input: no size to go by
        return
    memory = _physical_memory()
    if memory is None or size * WHOLE_PLAN_MEMORY <= memory:
        return
    advice = ""
    if database_count(snapshot) > 1:
        advice = "; --per-database plans one database at a time in far less"
    ui.say(
        f"plan: warning: planning this {_gb(size)} snapshot whole may need about "
        f"{_gb(size * WHOLE_PLAN_MEMORY)} of memory, and this machine has {_gb(memory)}{advice}",
        err=True,
    )


def _gb(size: int) -> str:
    return f"{size / 1e9:,.1f} GB"


_Document = TypeVar("_Document", SecuritySnapshot, MigrationPlan)


def _read_document(path: Path, model: type[_Document], what: str, kind: str) -> _Document:
    """Load ``path`` as ``model``; a grantbridge document of the other kind (a plan given for
    the snapshot, a snapshot for the target) is named as such rather than as invalid."""
    raw = read_input_bytes(path, what)
    try:
        return model.from_json(raw, origin=str(path))
    except InputError:
        refuse_other_document(raw, str(path), kind)
        raise


def _read_policy(path: Path | None) -> Policy:
    if path is None:
        return Policy()
    return parse_policy(read_input(path, "the policy file"), str(path))


def _write(plan_: MigrationPlan, outdir: Path) -> None:
    with atomic_directory(outdir, PLAN_LAYOUT) as scratch:
        plan_.write_json(scratch / "plan.json")
        write_artifacts(plan_, scratch)


def _summary(plan_: MigrationPlan, output: Path, exit_code: int) -> None:
    """Counts and facts as progress lines; the open findings are the result line."""
    dispositions = Counter(d.disposition.value for d in plan_.dispositions)
    open_findings = Counter(f.severity.value for f in plan_.findings if not f.accepted)
    facts = ", ".join(f"{n} {k}" for k, n in sorted(dispositions.items()))
    ui.say(f"wrote {output}")
    ui.say(
        f"{plural(len(plan_.roles), 'role')}, {plural(len(plan_.memberships), 'membership')}, "
        f"{plural(len(plan_.grants), 'grant')}, "
        f"{plural(len(plan_.default_privileges), 'default privilege')}, "
        f"{plural(len(plan_.revokes), 'revoke')}\nfacts: {facts}"
    )
    data: dict[str, object] = {"output": str(output), "exit_code": exit_code}
    data |= {"roles": len(plan_.roles), "grants": len(plan_.grants)}
    _result(open_findings, dispositions, data)


def _result(
    open_findings: Counter[str], dispositions: Counter[str], data: dict[str, object]
) -> None:
    """The result line, open findings per severity, with ``data`` and both counts for --json."""
    found = ", ".join(
        f"{open_findings[s.value]} {s.value}" for s in Severity if open_findings[s.value]
    )
    data |= {"findings": {s.value: open_findings[s.value] for s in Severity}}
    ui.result(f"open findings: {found or 'none'}", data | {"dispositions": dict(dispositions)})


def _parts_summary(parts: list[Part], output: Path, fail_on: Severity | None) -> None:
    """As :func:`_summary`, over the parts: a line per part; a server fact and a finding met in
    several parts are counted once."""
    findings: dict[str, Severity] = {}
    server: dict[str, str] = {}
    dispositions: Counter[str] = Counter()
    for part in parts:
        findings |= part.findings
        server |= part.server_dispositions
        dispositions += part.dispositions
        ui.say(
            f"{output / part.directory}: {plural(part.roles, 'role')}, "
            f"{plural(part.grants, 'grant')}, {plural(len(part.findings), 'open finding')}"
        )
    dispositions += Counter(server.values())
    open_findings = Counter(s.value for s in findings.values())
    failing = fail_on is not None and any(s.rank >= fail_on.rank for s in findings.values())
    facts = ", ".join(f"{n} {k}" for k, n in sorted(dispositions.items()))
    directories = plural(len(parts), "plan directory", "plan directories")
    ui.say(
        f"wrote {output}: {directories}, one per database; report.md lists them, "
        "rollback.sql undoes them all"
    )
    ui.say(f"facts: {facts}")
    data: dict[str, object] = {"output": str(output), "exit_code": 1 if failing else 0}
    data |= {"parts": [{"database": p.database, "directory": p.directory} for p in parts]}
    _result(open_findings, dispositions, data)
    if failing:
        raise typer.Exit(1)


def plan(
    snapshot: Annotated[Path, typer.Argument(help="snapshot.json from `grantbridge extract`.")],
    output: Annotated[Path, typer.Option("--output", "-o", help=OUTPUT_HELP)],
    policy: Annotated[
        Path | None, typer.Option(help="grantbridge.toml (defaults apply without it).")
    ] = None,
    fail_on: Annotated[
        Severity | None,
        typer.Option(
            help="Exit 1 when an open finding is at or above this severity.",
            case_sensitive=False,
        ),
    ] = None,
    target: Annotated[
        Path | None,
        typer.Option(
            help="The converted target's catalog (`grantbridge inspect` JSON): routines take "
            "its argument lists; objects it lacks are left out, with finding GB042."
        ),
    ] = None,
    per_database: Annotated[
        bool,
        typer.Option(
            "--per-database",
            help="Write one plan directory per database (OUTPUT/<database>/, listed in "
            "OUTPUT/parts.json), each the server part with that database, named as in the "
            "whole plan; a snapshot as extract writes it is read one database at a time.",
        ),
    ] = False,
    jobs: Annotated[
        int | None,
        typer.Option(
            min=1, help="Worker processes for --per-database (default: the CPUs available)."
        ),
    ] = None,
    database: Annotated[
        list[str] | None,
        typer.Option(
            "--database",
            "-d",
            help="With --per-database: plan only this database (repeatable), named as in the "
            "whole estate's plan, so a migration wave's parts are the full set's.",
        ),
    ] = None,
) -> None:
    """Plan least-privilege PostgreSQL roles and grants for a SQL Server snapshot.

    With --per-database, each database is planned on its own with the server's logins and
    roles, for estates too large to plan whole (docs/architecture.md, "Scale"): apply,
    verify, diff and drift read each OUTPUT/<database>/ as a plan directory.
    """
    if jobs is not None and not per_database:
        raise InputError("--jobs goes with --per-database", Location("--jobs"))
    if database and not per_database:  # planned whole, one database is named as if alone
        raise InputError("--database goes with --per-database", Location("--database"))
    layout = parts_layout(PLAN_LAYOUT) if per_database else PLAN_LAYOUT
    check_output_directory(output, layout)  # before the work, not only after it
    the_policy = _read_policy(policy)
    if per_database and the_policy.database_mode == "schema":
        # the databases share one target database then, whose items every part would spell
        # from its own database alone (its grants, revokes and default revokes differ)
        raise InputError(
            "--per-database plans each database into a target database of its own; with "
            'database_mode = "schema" they share one: plan the estate whole',
            Location(str(policy)),
        )
    catalog = (
        _read_document(target, MigrationPlan, "the target catalog", "target") if target else None
    )
    if per_database:
        load = partial(_read_document, snapshot, SecuritySnapshot, "the snapshot", "snapshot")
        workers = jobs or default_jobs()
        step = _steps(snapshot)
        step(
            f"planning one database at a time, {plural(workers, 'worker process', 'worker processes')}"
        )
        parts = plan_per_database(
            snapshot, output, layout, the_policy, catalog, workers, load, step, database or ()
        )
        _parts_summary(parts, output, fail_on)
        return
    _warn_memory(snapshot)
    source = _read_document(snapshot, SecuritySnapshot, "the snapshot", "snapshot")
    # a large estate takes minutes (bench scale M: about 2): say what is going on, on stderr
    step = _steps(snapshot)
    rows = len(source.server_permissions) + sum(len(d.permissions) for d in source.databases)
    step(f"planning {plural(len(source.databases), 'database')}, {plural(rows, 'permission row')}")
    result = make_plan(source, the_policy, catalog)
    del source
    grants, roles = plural(len(result.grants), "grant"), plural(len(result.roles), "role")
    step(f"writing {grants}, {roles} to {output}")
    _write(result, output)
    failing = fail_on is not None and any(
        not f.accepted and f.severity.rank >= fail_on.rank for f in result.findings
    )
    _summary(result, output, 1 if failing else 0)
    if failing:
        raise typer.Exit(1)
