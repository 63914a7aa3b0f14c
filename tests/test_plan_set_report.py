"""The ``report.md`` beside ``parts.json`` (``grantbridge plan --per-database``): the set's
parts, its facts and what needs a decision, a finding shared by the parts said once
(pg_emit/render_set_report.py)."""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from grantbridge.cli import main
from mapper.plan import MigrationPlan, Severity
from pg_emit.render_set_report import Decision, SetPart, render_set_report
from pg_emit.report import DECISION_LIST_SHOWN, finding_bullet
from tests.test_plan_per_database import contoso_file, contoso_parts

__all__ = ["contoso_file", "contoso_parts"]  # the fixtures, shared with that module


def _plans(parts: Path) -> dict[str, MigrationPlan]:
    return {
        name: MigrationPlan.from_json((parts / name / "plan.json").read_bytes())
        for name in ("HR", "Reporting", "Sales")
    }


def _section(report: str, heading: str) -> str:
    return report.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]


def test_the_set_report_lists_every_part_with_its_counts(contoso_parts: Path) -> None:
    report = (contoso_parts / "report.md").read_text("utf-8")
    assert report.startswith("# grantbridge migration report: plan set\n")
    assert "Target **aurora** · 3 parts, one PostgreSQL database each" in report
    rows = [line for line in _section(report, "Parts").splitlines() if line.startswith("| ")]
    assert len(rows) == 5  # the header, its rule and one row a part
    for row, (name, plan) in zip(rows[2:], _plans(contoso_parts).items(), strict=True):
        opened = Counter(f.severity for f in plan.findings if not f.accepted)
        severities = ", ".join(
            f"{opened[s]} {s.value}" for s in sorted(Severity, key=lambda s: -s.rank) if opened[s]
        )
        counts = (plan.roles, plan.memberships, plan.grants, plan.default_privileges, plan.revokes)
        assert row == (
            f"| {name} | [{name}/report.md]({name}/report.md) | "
            + " | ".join(str(len(items)) for items in counts)
            + f" | {severities} |"
        )
        part_report = (contoso_parts / name / "report.md").read_text("utf-8")
        assert "The set's `../report.md` lists every part." in part_report


def test_shared_findings_and_facts_are_said_once(
    contoso_file: Path, contoso_parts: Path, tmp_path: Path
) -> None:
    """The set's figures are the whole plan's: a server fact, and a finding about one, are in
    every part but counted once; each open critical or high finding is listed once, with the
    parts it is in."""
    whole_dir = tmp_path / "whole"
    assert main(["plan", str(contoso_file), "-o", str(whole_dir)]) == 0
    whole = MigrationPlan.from_json((whole_dir / "plan.json").read_bytes())
    report = (contoso_parts / "report.md").read_text("utf-8")

    counts = Counter(d.disposition.value for d in whole.dispositions)
    facts = _section(report, "Source facts")
    assert f"Dispositions of {len(whole.dispositions)} source facts, a server fact once: " in facts
    said = {k: int(n) for n, k in re.findall(r"(\d+) ([a-z_]+)[,.]", facts.split(": ")[1])}
    assert said == counts

    opened = Counter(f.severity.value for f in whole.findings if not f.accepted)
    line = next(x for x in report.splitlines() if x.startswith("Open findings in the set"))
    assert {k: int(n) for n, k in re.findall(r"(\d+) (\w+)", line)} == opened

    decisions = _section(report, "Needs a decision")
    plans = _plans(contoso_parts)
    where: dict[str, list[str]] = {}
    for name, plan in plans.items():
        for f in plan.findings:
            if not f.accepted and f.severity in (Severity.CRITICAL, Severity.HIGH):
                where.setdefault(finding_bullet(f), []).append(name)
    bullets = [x for x in decisions.splitlines() if x.startswith("- **GB")]
    assert len(bullets) == len(where) == 12
    for bullet, names in where.items():
        suffix = "every part" if len(names) == 3 else ", ".join(names)
        assert bullets.count(f"{bullet} — {suffix}") == 1, bullet
    sysadmin = next(b for b in bullets if b.startswith("- **GB002**"))
    assert sysadmin.endswith("— every part")  # a login's server-level finding, in each part
    assert next(b for b in bullets if b.startswith("- **GB001**")).endswith("— Sales")
    # unresolved and approximated facts, by part: the part's own and its server facts
    for disposition in ("unresolved", "approximated"):
        table = decisions.split(f"**{disposition.capitalize()} facts**, by part:", 1)[1]
        for name, plan in plans.items():
            n = sum(1 for d in plan.dispositions if d.disposition.value == disposition)
            assert (f"| {name} | {n} |" in table.split("\n\n", 2)[1]) == (n > 0), (name, n)


def test_the_set_report_runs_as_it_says(contoso_parts: Path) -> None:
    """``grantbridge verify .`` from the set's directory, as its last section says."""
    report = (contoso_parts / "report.md").read_text("utf-8")
    assert "grantbridge verify .  " in report
    assert 'psql "$DSN" -f rollback.sql' in report
    with contextlib.chdir(contoso_parts):
        assert main(["verify", "."]) == 0


def _part(name: str, decisions: dict[str, Decision] | None = None) -> SetPart:
    return SetPart(
        database=name, directory=name, roles=1, memberships=0, grants=0,
        default_privileges=0, revokes=0, decisions=decisions or {},
        findings={k: d.severity for k, d in (decisions or {}).items()},
    )  # fmt: skip


def test_nothing_to_decide_is_said() -> None:
    mapped = _part("b")
    mapped.dispositions["mapped"] = 1234  # a mapped fact needs no decision
    report = render_set_report([_part("a"), mapped], "postgresql")
    assert "Dispositions of 1,234 source facts, a server fact once: 1,234 mapped." in report
    assert "Target **postgresql** · 2 parts" in report
    assert (
        "Nothing: no open critical or high finding, no unresolved or approximated fact."
        in _section(report, "Needs a decision")
    )
    assert "| a | [a/report.md](a/report.md) | 1 | 0 | 0 | 0 | 0 | none |" in report


@pytest.mark.parametrize("count", [DECISION_LIST_SHOWN, DECISION_LIST_SHOWN + 5])
def test_a_long_list_folds_as_a_report_folds_it(count: int) -> None:
    """Findings in some parts name those parts; past the first ones, the rest fold away."""
    found = {
        f"GB001:p{i:03}": Decision(Severity.HIGH, f"- **GB001** (high) x — principal `p{i:03}`")
        for i in range(count)
    }
    odd = {k: d for i, (k, d) in enumerate(found.items()) if i % 2}
    report = render_set_report([_part("a", found), _part("b", odd), _part("c")], "aurora")
    decisions = _section(report, "Needs a decision")
    assert f"**Open critical and high findings** ({count})" in decisions
    assert "- **GB001** (high) x — principal `p000` — a\n" in decisions
    assert "- **GB001** (high) x — principal `p001` — a, b\n" in decisions
    folded = count - DECISION_LIST_SHOWN
    assert (f"<summary>{folded} more</summary>" in decisions) == (folded > 0)


def test_database_names_are_escaped() -> None:
    """A database name is text, never markup: not a table cell's end, emphasis or HTML."""
    hostile = SetPart(database="a|b*c<x>", directory="a_b_c_x_", roles=1, memberships=0,
                      grants=0, default_privileges=0, revokes=0)  # fmt: skip
    decided = _part("d", {"k": Decision(Severity.HIGH, "- **GB001** (high) x")})
    report = render_set_report([hostile, replace(decided, decisions={})], "aurora")
    row = next(line for line in report.splitlines() if "a_b_c_x_/report.md" in line)
    assert row.startswith(
        "| a\\|b\\*c&lt;x&gt; | [a\\_b\\_c\\_x\\_/report.md](a_b_c_x_/report.md) |"
    )
    one = render_set_report([_part("x*y", decided.decisions), _part("z")], "aurora")
    assert "- **GB001** (high) x — x\\*y\n" in _section(one, "Needs a decision")
