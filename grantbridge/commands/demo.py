"""``grantbridge demo``: the whole pipeline on the bundled contoso estate.

extract (T-SQL scripts) → plan (default policy) → artifacts → verify on an embedded,
throwaway PostgreSQL. Everything lands in ``./grantbridge-demo/`` (replaced atomically when
grantbridge wrote it: see :mod:`grantbridge.output`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from grantbridge import ui
from grantbridge.commands import flowing
from grantbridge.commands.plan import PLAN_LAYOUT
from grantbridge.errors import InputError, Location
from grantbridge.output import Layout, atomic_directory, check_output_directory
from grantbridge.plural import plural

#: Where the example estate lives: beside the packages in a checkout, inside the wheel otherwise.
_CANDIDATES = (
    Path(__file__).resolve().parents[2] / "fixtures" / "estates" / "contoso",
    Path(__file__).resolve().parents[1] / "estates" / "contoso",
)


#: What ``demo`` writes: the snapshot, and a plan directory in ``plan/``.
DEMO_LAYOUT = Layout(marker="plan/plan.json", files=("snapshot.json", *PLAN_LAYOUT.under("plan")))


def register(app: typer.Typer) -> None:
    app.command("demo", help=flowing(demo.__doc__))(demo)


def contoso_path() -> Path:
    """The bundled contoso estate's script folder."""
    for candidate in _CANDIDATES:
        if candidate.is_dir():
            return candidate
    raise InputError("the bundled contoso estate is missing", Location(str(_CANDIDATES[0])))


def demo(
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="Directory to write: created, or replaced whole if it is empty or an earlier "
            "demo's; a directory holding anything else is refused (exit 2).",
        ),
    ] = Path("grantbridge-demo"),
    verify: Annotated[
        bool, typer.Option(help="Verify the scripts on an embedded PostgreSQL.")
    ] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the result.")] = False,
) -> None:
    """Run extract → plan → verify on the bundled contoso estate."""
    from mapper.planner import plan
    from mapper.policy import Policy
    from mssql_extract.tsql import extract_scripts
    from pg_emit.artifacts import write_artifacts

    if quiet:  # the command's own -q is the global one: no progress, only the result
        ui.configure(quiet=True, json_output=ui.MODE.json)
    check_output_directory(output, DEMO_LAYOUT)  # before the work, not only after it
    estate = contoso_path()
    ui.say(f"1/3 extract  {estate}")
    with ui.progress("extract", echo=False) as step:
        snapshot = extract_scripts(
            [estate], relative_to=estate.parent, include_definitions=True, on_file=step
        )
    ui.say("2/3 plan     default policy")
    migration = plan(snapshot, Policy())
    with atomic_directory(output, DEMO_LAYOUT) as scratch:
        snapshot.write_json(scratch / "snapshot.json")
        plan_dir = scratch / "plan"
        plan_dir.mkdir()
        migration.write_json(plan_dir / "plan.json")
        write_artifacts(migration, plan_dir)
    open_findings = [f for f in migration.findings if not f.accepted]
    ui.say(
        f"           {plural(len(migration.roles), 'role')}, "
        f"{plural(len(migration.memberships), 'membership')}, "
        f"{plural(len(migration.grants), 'grant')}, {plural(len(open_findings), 'open finding')}"
    )
    if verify:
        _verify(output / "plan")
    report = output / "plan" / "report.md"
    summary = {"output": str(output), "report": str(report), "verified": verify}
    summary |= {"roles": len(migration.roles), "memberships": len(migration.memberships)}
    summary |= {"grants": len(migration.grants), "open_findings": len(open_findings)}
    ui.result(f"Report: {report}", summary)


def _verify(plan_dir: Path) -> None:
    """Verify on an embedded server. The success line appears once: after the progress lines in
    human mode, alone under --quiet, not at all under --json (its result says ``verified``)."""
    from rich.console import Console

    from grantbridge.commands.verify import PASSED
    from pg_emit.verify import verify_plan_dir

    ui.say("3/3 verify   embedded PostgreSQL (throwaway)")
    verify_plan_dir(plan_dir, dsn=None, console=Console(stderr=True, quiet=not ui.MODE.human))
    if ui.MODE.quiet and not ui.MODE.json:
        typer.echo(PASSED, err=True)
