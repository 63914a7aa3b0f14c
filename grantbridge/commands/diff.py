"""``grantbridge diff OLD NEW``: two plans → a pull-request comment (Markdown) or JSON.

Each of OLD and NEW is a plan directory (as ``grantbridge plan`` writes it) or a ``plan.json``
file. ``--fail-on-new SEVERITY`` turns the diff into a gate: exit 1 when the new plan has an open
finding at or above that severity that the old one did not have open (DESIGN §6).
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from grantbridge.errors import InputError, Location
from grantbridge.output import write_file_atomic
from mapper.plan import MigrationPlan, Severity

PLAN_FILE = "plan.json"


class DiffFormat(enum.StrEnum):
    MARKDOWN = "markdown"
    JSON = "json"


def register(app: typer.Typer) -> None:
    app.command("diff")(diff)


def load_plan(path: Path) -> MigrationPlan:
    """Read a plan from a plan directory or a ``plan.json`` file; bad input is an InputError."""
    file = path / PLAN_FILE if path.is_dir() else path
    if not file.is_file():
        what = f"no {PLAN_FILE} in this directory" if path.is_dir() else "no such plan file"
        raise InputError(what, Location(str(file)))
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the plan: {exc}", Location(str(file))) from None
    return MigrationPlan.from_json(text, origin=str(file))


def diff(
    old: Annotated[Path, typer.Argument(help="The base plan: a plan directory or plan.json.")],
    new: Annotated[Path, typer.Argument(help="The changed plan: a plan directory or plan.json.")],
    output_format: Annotated[
        DiffFormat,
        typer.Option("--format", "-f", help="markdown (a pull-request comment) or json."),
    ] = DiffFormat.MARKDOWN,
    fail_on_new: Annotated[
        Severity | None,
        typer.Option(
            help="Exit 1 when a finding at or above this severity is newly open in NEW.",
            case_sensitive=False,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to this file instead of standard output."),
    ] = None,
) -> None:
    """Compare two plans: roles, memberships, privileges, findings and dispositions."""
    from pg_emit.diff import diff_plans, exceeds, render_diff_markdown

    result = diff_plans(load_plan(old), load_plan(new))
    if output_format is DiffFormat.JSON:
        text = result.model_dump_json(indent=2) + "\n"
    else:
        text = render_diff_markdown(result)
    if output is None:
        typer.echo(text, nl=False)
    else:
        write_file_atomic(output, text)
    if fail_on_new is not None:
        failing = exceeds(result, fail_on_new)
        if failing:
            typer.echo(
                f"{len(failing)} new open finding(s) at or above {fail_on_new.value}: "
                + ", ".join(sorted({f.rule_id for f in failing})),
                err=True,
            )
            raise typer.Exit(1)
