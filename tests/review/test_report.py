"""report.md: golden output on hand-built plans, rendered to HTML, escaping, determinism."""

from __future__ import annotations

import json
from typing import Any

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

from mapper.plan import Disposition, MigrationPlan, PgViewSecurity, RoleKind, Severity
from pg_emit.mermaid import MERMAID_MAX_EDGES
from pg_emit.render_security import TABLE_ROWS
from pg_emit.report import (
    COLLAPSE_FINDINGS_ABOVE,
    DECISION_LIST_MAX,
    DECISION_LIST_SHOWN,
    DERIVED_LISTED_MAX,
    FINDINGS_SHOWN_PER_RULE,
    render_report,
)
from tests.conftest import check_golden
from tests.review import plans

#: Code spans the report writes itself (not values from the plan).
TEMPLATE_CODE = {"GRANT role TO member"}


def html_tokens(text: str) -> list[Token]:
    """Parse like GitHub: CommonMark with GFM tables, raw HTML allowed through."""
    parser = MarkdownIt("commonmark", {"html": True}).enable("table")
    tokens = parser.parse(text)
    return tokens + [child for t in tokens for child in (t.children or [])]


def render_html(text: str) -> str:
    return MarkdownIt("commonmark", {"html": True}).enable("table").render(text)


def plan_strings(plan: MigrationPlan) -> set[str]:
    """Every string value the plan holds, plus every item key."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, str):
            found.add(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)

    walk(plan.model_dump(mode="json"))
    for field in type(plan).model_fields:
        items = getattr(plan, field)
        if isinstance(items, tuple):
            found.update(item.key for item in items)
    return found


@pytest.mark.parametrize(
    ("name", "build"),
    [
        ("sales", plans.sales_plan),
        ("changed_sales", plans.changed_sales_plan),
        ("hostile", plans.hostile_plan),
        ("large", plans.large_plan),
    ],
)
def test_report_matches_golden(name: str, build: Any, update_golden: bool) -> None:
    check_golden(f"review/report_{name}.md", render_report(build()), update_golden)


def test_report_is_deterministic() -> None:
    assert render_report(plans.sales_plan()) == render_report(plans.sales_plan())


def test_report_renders_to_real_html_tables_and_headings() -> None:
    html = render_html(render_report(plans.sales_plan()))
    # Summary (2), principal mapping, dispositions: four GFM tables that became HTML tables.
    assert html.count("<table>") == 4
    assert "<th>SQL Server principal</th>" in html
    assert "<h1>grantbridge migration report</h1>" in html
    for heading in (
        "Summary",
        "Needs a decision",
        "Findings",
        "Principal mapping",
        "Role hierarchy",
        "Dispositions",
    ):
        assert f"<h2>{heading}</h2>" in html
    assert '<code class="language-mermaid">graph LR' in html


def test_table_rows_keep_their_column_count_with_hostile_names() -> None:
    tokens = html_tokens(render_report(plans.hostile_plan()))
    rows: list[int] = []
    for token in tokens:
        if token.type == "tr_open":
            rows.append(0)
        elif token.type in ("td_open", "th_open"):
            rows[-1] += 1
    mapping = [n for n in rows if n == 5]
    assert len(mapping) == 1 + 4  # header + four roles: no pipe split a cell
    html = render_html(render_report(plans.hostile_plan()))
    assert "<script>" not in html
    assert "<b>" not in html
    assert "&lt;script&gt;" in html


def test_hostile_name_survives_as_code() -> None:
    tokens = html_tokens(render_report(plans.hostile_plan()))
    codes = {t.content for t in tokens if t.type == "code_inline"}
    assert plans.HOSTILE_NAME in codes


@pytest.mark.parametrize("build", [plans.sales_plan, plans.changed_sales_plan, plans.hostile_plan])
def test_report_shows_only_values_the_plan_holds(build: Any) -> None:
    """Every code span is a value or key of the plan: the report invents no names."""
    plan = build()
    tokens = html_tokens(render_report(plan))
    codes = {t.content for t in tokens if t.type == "code_inline"}
    assert codes, "the report should quote names"
    assert codes - plan_strings(plan) - TEMPLATE_CODE == set()


def test_role_comments_are_not_printed() -> None:
    """Comments are for SQL scripts; the report prints only the fields it documents."""
    base = plans.sales_plan()
    roles = tuple(r.model_copy(update={"comment": "canary-7f3a"}) for r in base.roles)
    report = render_report(base.model_copy(update={"roles": roles}))
    assert "canary-7f3a" not in report


def test_accepted_findings_are_listed_apart_with_reason() -> None:
    report = render_report(plans.changed_sales_plan())
    accepted = report.split("## Accepted over-grants", 1)[1].split("\n## ", 1)[0]
    assert "Approved baseline CHG\\-1042" in accepted or "Approved baseline CHG-1042" in accepted
    findings = report.split("## Findings", 1)[1].split("\n## ", 1)[0]
    assert "GB001" not in findings  # accepted: not among the open findings


def test_many_findings_fold_into_details() -> None:
    many = tuple(
        plans.finding(f"GB{n:03d}", Severity.MEDIUM, f"finding {n}", principal=f"p{n}")
        for n in range(COLLAPSE_FINDINGS_ABOVE + 1)
    )
    report = render_report(plans.plan(findings=many))
    assert report.count("<details>") == len(many)
    assert "#### " not in report


def test_a_rule_with_thousands_of_findings_shows_the_first_and_counts_the_rest() -> None:
    # bench scale M: 6,195 medium findings made a 73 MB report no reviewer could open
    many = tuple(
        plans.finding("GB040", Severity.LOW, "approximated", principal=f"p{n:04d}")
        for n in range(FINDINGS_SHOWN_PER_RULE + 7)
    ) + tuple(plans.finding("GB045", Severity.LOW, "unread", principal=f"q{n}") for n in range(3))
    report = render_report(plans.plan(findings=many))
    low = report.split("### Low (", 1)[1]
    assert low.startswith(f"{FINDINGS_SHOWN_PER_RULE + 10})")
    assert low.count("GB040 · approximated") == FINDINGS_SHOWN_PER_RULE
    assert low.count("GB045 · unread") == 3
    assert f"p{FINDINGS_SHOWN_PER_RULE - 1:04d}" in low  # the first ones, in key order
    assert f"p{FINDINGS_SHOWN_PER_RULE:04d}" not in low
    assert "Not shown: 7 more GB040 (the first 50 of a rule are;" in low
    assert "GB045 (" not in low.split("Not shown:", 1)[1].split("\n", 1)[0]


def test_a_long_decision_list_is_folded_then_counted() -> None:
    facts = tuple(
        plans.fact(f"Sales/perm:OBJECT:dbo:t{n:04d}:SELECT:grant:r", "permission",
                   Disposition.APPROXIMATED, reason="column DENY")
        for n in range(DECISION_LIST_SHOWN + DECISION_LIST_MAX + 5)
    )  # fmt: skip
    report = render_report(plans.plan(dispositions=facts))
    group = report.split("**Approximated facts**", 1)[1].split("\n## ", 1)[0]
    assert group.count("- permission `Sales/perm") == DECISION_LIST_SHOWN + DECISION_LIST_MAX
    assert f"{DECISION_LIST_MAX + 5} more</summary>" in group
    assert "- … and 5 more: plan.json lists every one" in group


def test_many_derived_roles_are_counted_not_listed() -> None:
    derived = [plans.group(f"r_part_{n:03d}", f"r: part {n}", kind=RoleKind.DERIVED)
               for n in range(DERIVED_LISTED_MAX + 1)]  # fmt: skip
    report = render_report(plans.plan(roles=(plans.group("r", "role [Sales].[r]"), *derived)))
    mapping = report.split("## Principal mapping", 1)[1].split("\n## ", 1)[0]
    assert "`r`" in mapping
    assert "r_part_000" not in mapping
    assert f"Not listed: {DERIVED_LISTED_MAX + 1} derived roles" in mapping
    few = render_report(plans.plan(roles=tuple(derived[:DERIVED_LISTED_MAX])))
    assert "r_part_000" in few
    assert "Not listed" not in few


def test_a_long_table_of_security_invoker_views_shows_the_first_and_counts_the_rest() -> None:
    """At bench scale M 6,282 views made a 1 MB table; the report shows TABLE_ROWS of them."""
    views = tuple(
        PgViewSecurity(database="d", schema_name="s", name=f"v_{n:04d}", facts=(f"d/obj:v{n}",),
                       comment="ownership chain: its body is not in the snapshot")
        for n in range(TABLE_ROWS + 7)
    )  # fmt: skip
    section = render_report(plans.plan(view_security=views)).split("## Routines, views", 1)[1]
    assert f"`d:s.v_{TABLE_ROWS - 1:04d}`" in section
    assert f"v_{TABLE_ROWS:04d}" not in section
    assert "… and 7 more: plan.json's `view_security` lists every one." in section
    few = render_report(plans.plan(view_security=views[:TABLE_ROWS]))
    assert f"`d:s.v_{TABLE_ROWS - 1:04d}`" in few
    assert "more: plan.json's `view_security`" not in few


def test_a_hierarchy_mermaid_cannot_draw_becomes_a_table() -> None:
    # groups nested in groups survive the diagram's collapse: too many edges for Mermaid
    groups = [
        plans.group(f"g{n:03d}", f"role [Sales].[g{n}]") for n in range(MERMAID_MAX_EDGES + 2)
    ]
    nested = [plans.member(f"g{n:03d}", of="g000") for n in range(1, MERMAID_MAX_EDGES + 2)]
    nested += [plans.member(f"g{n:03d}", of="g001") for n in range(2, 6)]
    report = render_report(plans.plan(roles=tuple(groups), memberships=tuple(nested)))
    hierarchy = report.split("## Role hierarchy", 1)[1].split("\n## ", 1)[0]
    assert "```mermaid" not in hierarchy
    assert f"{len(nested)} memberships among {len(groups)} roles: too many to draw" in hierarchy
    rows = [line for line in hierarchy.splitlines() if line.startswith("| `")]
    assert rows[:2] == [
        f"| `g000` | group | {MERMAID_MAX_EDGES + 1} | 0 |",
        "| `g001` | group | 4 | 0 |",
    ]
    assert "```mermaid" in render_report(plans.large_plan())  # drawable: drawn as before


def test_nothing_needs_a_decision_on_an_empty_plan() -> None:
    report = render_report(plans.plan())
    assert "Nothing: no open critical or high finding" in report
    assert "No open findings." in report
    assert "```mermaid" not in report


def test_report_json_free_of_timestamps() -> None:
    report = render_report(plans.sales_plan())
    assert not any(token in report for token in ("2024-", "2025-", "2026-", "UTC"))
    json.dumps(report)  # plain text, serialisable
