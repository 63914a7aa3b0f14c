"""``grantbridge diff OLD NEW``: two plans → a pull-request comment (Markdown) or JSON.

Each of OLD and NEW is a plan directory (as ``grantbridge plan`` writes it) or a ``plan.json``
file; or both are plan sets (``plan --per-database``), compared part by part in one comment
(:mod:`grantbridge.commands.diff_set`). ``--fail-on-new SEVERITY`` turns the diff into a gate:
exit 1 when the new plan has an open finding at or above that severity that the old one did not
have open (DESIGN §6).
``--fail-on-gained`` is the other gate: exit 1 when a role gains effective access, or when a
change to ``07_security.sql``'s settings widens it (:mod:`pg_emit.diff_security`). It is a flag
of its own because access has no severity: most pull requests that grant something widen
someone's access on purpose, so only estates that want every widening approved turn it on.
``--json-output FILE`` writes the JSON beside the Markdown, so CI loads and compares the two
plans once (at bench scale M a diff takes a minute and 7 GB) for both the comment and the
complete diff the comment refers to when it is cut to fit.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from grantbridge import ui
from grantbridge.commands import flowing, load_plan
from grantbridge.output import write_file_atomic
from grantbridge.plural import plural
from mapper.plan import Severity


class DiffFormat(enum.StrEnum):
    MARKDOWN = "markdown"
    JSON = "json"


def register(app: typer.Typer) -> None:
    app.command("diff", help=flowing(diff.__doc__))(diff)


def diff(
    old: Annotated[
        Path, typer.Argument(help="The base plan: a plan directory or plan.json (or a plan set).")
    ],
    new: Annotated[
        Path,
        typer.Argument(help="The changed plan: a plan directory or plan.json (or a plan set)."),
    ],
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
    fail_on_gained: Annotated[
        bool,
        typer.Option(
            "--fail-on-gained",
            help="Exit 1 when a role gains effective access: a privilege it can use in NEW "
            "and could not in OLD (a removed DENY, a new membership or grant), or when a "
            "setting of 07_security.sql widens it (a view no longer security_invoker, a "
            "routine made SECURITY DEFINER, row-level security disabled, a policy loosened).",
        ),
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to this file instead of standard output."),
    ] = None,
    json_output: Annotated[
        Path | None,
        typer.Option(
            "--json-output",
            help="Also write the diff as JSON (what --format json prints) to this file: the "
            "complete diff, which a Markdown comment cut to fit GitHub's limit refers to.",
        ),
    ] = None,
) -> None:
    """Compare two plans: effective access, roles, memberships, privileges, 07's security
    settings, findings and dispositions.

    Effective access is what each role can use through its grants, those of the roles it
    inherits from, and PUBLIC's: the comment starts with who gained and who lost which
    privilege, which the item lists hide when a DENY's derived roles change. Changes to
    07_security.sql's settings (SECURITY DEFINER routines, security_invoker views, row-level
    security) follow, as widening or narrowing access.

    The Markdown fits a GitHub comment (60,000 characters): a large diff counts DENY
    restructuring's derived roles per base role and lists the first items of each section;
    --json-output FILE writes the complete diff beside it in the same run.

    With the global --json, stdout is one JSON object: the diff (as --format json writes it),
    whether it is empty, the findings --fail-on-new fails on and the access --fail-on-gained
    fails on; -o still writes the file.

    Given two sets that plan --per-database wrote, it compares them part by part, paired by
    database: one comment (a table of the parts that differ, then each one's section) or one
    JSON object for the whole set; parts with the same fingerprint are not read.
    """
    from grantbridge.commands.plan_set import is_plan_set
    from pg_emit.diff import diff_plans, exceeds
    from pg_emit.diff_markdown import render_diff_markdown

    if is_plan_set(old) or is_plan_set(new):
        from grantbridge.commands.diff_set import diff_sets

        markdown = output_format is DiffFormat.MARKDOWN
        diff_sets(old, new, markdown=markdown, fail_on_new=fail_on_new,
                  fail_on_gained=fail_on_gained, output=output, json_output=json_output)  # fmt: skip
        return
    result = diff_plans(load_plan(old), load_plan(new))
    as_json = ""
    if json_output is not None or output_format is DiffFormat.JSON:
        as_json = result.model_dump_json(indent=2) + "\n"
    text = as_json if output_format is DiffFormat.JSON else render_diff_markdown(result)
    if json_output is not None:
        write_file_atomic(json_output, as_json)
    if output is not None:
        write_file_atomic(output, text)
    elif not ui.MODE.json:
        typer.echo(text, nl=False)
    failing = exceeds(result, fail_on_new) if fail_on_new is not None else []
    gained = [f"{c.privilege} on {c.securable}" for c in result.access_gained]
    loosened = [f"{e.subject}: {e.change}" for e in result.security_widened]
    gained, loosened = (gained, loosened) if fail_on_gained else ([], [])
    widening = gained + loosened
    if ui.MODE.json:
        data: dict[str, object] = {"diff": result.model_dump(mode="json")}
        data |= {"empty": result.is_empty, "exit_code": 1 if failing or widening else 0}
        data |= {"failing": sorted({f.rule_id for f in failing}), "failing_access": widening}
        ui.result("", data | {"output": None if output is None else str(output)})
    say_gates(fail_on_new, len(failing), {f.rule_id for f in failing}, gained, loosened)
    if failing or widening:
        raise typer.Exit(1)


def say_gates(
    fail_on_new: Severity | None, failing: int, rule_ids: set[str], gained: list[str],
    loosened: list[str],
) -> None:  # fmt: skip
    """On stderr, what the gates found: ``failing`` new open findings (their ``rule_ids``) at or
    above ``fail_on_new``, the privileges ``gained`` and security settings ``loosened``."""
    if fail_on_new is not None and failing:
        typer.echo(
            f"{plural(failing, 'new open finding')} at or above {fail_on_new.value}: "
            + ", ".join(sorted(rule_ids)),
            err=True,
        )
    if gained:
        typer.echo(f"{plural(len(gained), 'privilege')} gained: {_first(gained)}", err=True)
    if loosened:
        typer.echo(f"{plural(len(loosened), 'security setting')} widened: {_first(loosened)}",
                   err=True)  # fmt: skip


def _first(items: list[str], shown: int = 5) -> str:
    """The first few of ``items``, and how many more there are."""
    more = f"; and {len(items) - shown} more" if len(items) > shown else ""
    return "; ".join(items[:shown]) + more
