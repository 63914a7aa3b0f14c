"""report.md: golden output on hand-built plans, rendered to HTML, escaping, determinism."""

from __future__ import annotations

import json
from typing import Any

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

from mapper.plan import MigrationPlan, Severity
from pg_emit.report import COLLAPSE_FINDINGS_ABOVE, render_report
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


def test_nothing_needs_a_decision_on_an_empty_plan() -> None:
    report = render_report(plans.plan())
    assert "Nothing: no open critical or high finding" in report
    assert "No open findings." in report
    assert "```mermaid" not in report


def test_report_json_free_of_timestamps() -> None:
    report = render_report(plans.sales_plan())
    assert not any(token in report for token in ("2024-", "2025-", "2026-", "UTC"))
    json.dumps(report)  # plain text, serialisable
