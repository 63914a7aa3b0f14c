"""``grantbridge plan SNAPSHOT [--policy F] -o OUTDIR``: snapshot + policy → plan directory."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from grantbridge.errors import InputError, Location
from grantbridge.output import atomic_directory
from mapper.plan import MigrationPlan, Severity
from mapper.planner import plan as make_plan
from mapper.policy import Policy, load_policy
from mssql_extract.snapshot import SecuritySnapshot
from pg_emit.artifacts import write_artifacts


def register(app: typer.Typer) -> None:
    app.command("plan")(plan)


def _read_snapshot(path: Path) -> SecuritySnapshot:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read the snapshot: {exc.strerror}", Location(str(path))) from None
    return SecuritySnapshot.from_json(text, origin=str(path))


def _write(plan_: MigrationPlan, outdir: Path) -> None:
    with atomic_directory(outdir) as scratch:
        (scratch / "plan.json").write_text(plan_.to_json(), encoding="utf-8")
        write_artifacts(plan_, scratch)


def _summary(plan_: MigrationPlan) -> str:
    dispositions = Counter(d.disposition.value for d in plan_.dispositions)
    open_findings = Counter(f.severity.value for f in plan_.findings if not f.accepted)
    facts = ", ".join(f"{n} {k}" for k, n in sorted(dispositions.items()))
    found = ", ".join(
        f"{open_findings[s.value]} {s.value}" for s in Severity if open_findings[s.value]
    )
    return (
        f"{len(plan_.roles)} roles, {len(plan_.memberships)} memberships, "
        f"{len(plan_.grants)} grants, {len(plan_.default_privileges)} default privileges, "
        f"{len(plan_.revokes)} revokes\nfacts: {facts}\nopen findings: {found or 'none'}"
    )


def plan(
    snapshot: Annotated[Path, typer.Argument(help="snapshot.json from `grantbridge extract`.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output directory.")],
    policy: Annotated[
        Path | None, typer.Option(help="grantbridge.toml (defaults apply without it).")
    ] = None,
    fail_on: Annotated[
        Severity | None,
        typer.Option(help="Exit 1 when an open finding is at or above this severity."),
    ] = None,
) -> None:
    """Plan least-privilege PostgreSQL roles and grants for a SQL Server snapshot."""
    the_policy = load_policy(policy) if policy else Policy()
    result = make_plan(_read_snapshot(snapshot), the_policy)
    _write(result, output)
    Console(soft_wrap=True).print(f"wrote {output}\n{_summary(result)}", highlight=False)
    if fail_on is not None and any(
        not f.accepted and f.severity.rank >= fail_on.rank for f in result.findings
    ):
        raise typer.Exit(1)
