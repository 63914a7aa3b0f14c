"""Plan diff: the model, the pull-request comment (golden), JSON, and the CLI gate."""

from __future__ import annotations

from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from grantbridge.cli import main
from mapper.plan import Disposition, PgDefaultRevoke, Severity
from pg_emit.diff import PlanDiff, diff_plans, exceeds
from pg_emit.diff_markdown import COMMENT_MARKER, render_diff_markdown
from tests.conftest import check_golden
from tests.review import plans


@pytest.fixture
def sales_diff() -> PlanDiff:
    return diff_plans(plans.sales_plan(), plans.changed_sales_plan())


def test_diff_markdown_matches_golden(sales_diff: PlanDiff, update_golden: bool) -> None:
    check_golden("review/diff_sales.md", render_diff_markdown(sales_diff), update_golden)


def test_diff_sees_the_role_added_the_deny_removed_and_the_acceptance(
    sales_diff: PlanDiff,
) -> None:
    assert [r.name for r in sales_diff.roles_added] == ["sales_auditors"]
    assert [r.name for r in sales_diff.roles_removed] == ["sales_reader_minus_salaries"]
    assert [(c.name, c.fields) for c in sales_diff.roles_changed] == [("app_sales", ("auth",))]
    assert [f.rule_id for f in sales_diff.findings_new] == ["GB002"]
    assert [f.rule_id for f in sales_diff.findings_resolved] == ["GB020"]
    assert [c.new.rule_id for c in sales_diff.findings_newly_accepted] == ["GB001"]
    assert [(c.old, c.new) for c in sales_diff.dispositions_changed] == [
        (Disposition.APPROXIMATED, None)
    ]
    assert [g.grantee for g in sales_diff.grants_removed] == ["sales_reader_minus_salaries"]


def test_identical_plans_give_an_empty_diff() -> None:
    same = diff_plans(plans.sales_plan(), plans.sales_plan())
    assert same.is_empty
    assert "No change to roles, privileges or findings." in render_diff_markdown(same)


def test_provenance_only_changes_are_not_changes() -> None:
    old = plans.sales_plan()
    grants = tuple(g.model_copy(update={"facts": ("x",), "comment": "moved"}) for g in old.grants)
    assert diff_plans(old, old.model_copy(update={"grants": grants})).is_empty


def test_grant_option_is_a_change() -> None:
    old = plans.sales_plan()
    grants = tuple(g.model_copy(update={"grant_option": True}) for g in old.grants[:1])
    diff = diff_plans(old, old.model_copy(update={"grants": grants + old.grants[1:]}))
    assert len(diff.grants_added) == len(diff.grants_removed) == 1
    assert "WITH GRANT OPTION" in render_diff_markdown(diff)


def test_a_default_revoke_added_is_a_change() -> None:
    """Hardening of routines created later shows in the pull-request comment."""
    old = plans.sales_plan()
    revoke = PgDefaultRevoke(database="sales", owner="sales_owner", facts=("x",))
    diff = diff_plans(old, old.model_copy(update={"default_revokes": (revoke,)}))
    assert diff.default_revokes_added == (revoke,)
    assert not diff.default_revokes_removed
    text = render_diff_markdown(diff)
    assert "| Default revokes | 1 |" in text.replace("  ", " ")
    assert "DEFAULT REVOKE EXECUTE on new FUNCTIONS in any schema of `sales`" in text
    assert "created by `sales_owner` from `PUBLIC`" in text


def test_reopened_findings_count_as_new_open(sales_diff: PlanDiff) -> None:
    backwards = diff_plans(plans.changed_sales_plan(), plans.sales_plan())
    assert [c.new.rule_id for c in backwards.findings_reopened] == ["GB001"]
    assert {f.rule_id for f in exceeds(backwards, Severity.HIGH)} == {"GB001"}
    assert {f.rule_id for f in exceeds(sales_diff, Severity.HIGH)} == {"GB002"}
    assert exceeds(sales_diff, Severity.CRITICAL) == []


def test_json_round_trips(sales_diff: PlanDiff) -> None:
    text = sales_diff.model_dump_json(indent=2)
    assert PlanDiff.model_validate_json(text) == sales_diff


def test_comment_starts_with_the_marker_and_renders_tables(sales_diff: PlanDiff) -> None:
    text = render_diff_markdown(sales_diff)
    assert text.startswith(COMMENT_MARKER + "\n")
    html = MarkdownIt("commonmark", {"html": True}).enable("table").render(text)
    assert html.count("<table>") == 2
    assert "<h3>Findings (3)</h3>" in html


def test_long_lists_fold(sales_diff: PlanDiff) -> None:
    many = plans.large_plan()
    diff = diff_plans(plans.plan(), many)
    text = render_diff_markdown(diff)
    assert "<summary>Show 75</summary>" in text  # 70 logins + 5 groups


# --- the CLI ---------------------------------------------------------------------------------


@pytest.fixture
def plan_dirs(tmp_path: Path) -> tuple[Path, Path]:
    return plans.write_plan_dirs(tmp_path)


def test_cli_prints_markdown(
    plan_dirs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base, new = plan_dirs
    assert main(["diff", str(base), str(new)]) == 0
    assert capsys.readouterr().out == render_diff_markdown(
        diff_plans(plans.sales_plan(), plans.changed_sales_plan())
    )


def test_cli_json_and_plan_json_paths(
    plan_dirs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base, new = plan_dirs
    assert main(["diff", str(base / "plan.json"), str(new), "--format", "json"]) == 0
    diff = PlanDiff.model_validate_json(capsys.readouterr().out)
    assert [r.name for r in diff.roles_added] == ["sales_auditors"]


@pytest.mark.parametrize(("severity", "code"), [("high", 1), ("HIGH", 1), ("critical", 0)])
def test_cli_fail_on_new(
    plan_dirs: tuple[Path, Path], severity: str, code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    base, new = plan_dirs
    assert main(["diff", str(base), str(new), "--fail-on-new", severity]) == code
    if code:
        assert "GB002" in capsys.readouterr().err


def test_cli_writes_output_file(plan_dirs: tuple[Path, Path], tmp_path: Path) -> None:
    base, new = plan_dirs
    target = tmp_path / "out" / "diff.md"
    assert main(["diff", str(base), str(new), "-o", str(target)]) == 0
    assert target.read_text(encoding="utf-8").startswith(COMMENT_MARKER)


def test_cli_bad_paths_exit_2_naming_the_file(
    plan_dirs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, _ = plan_dirs
    missing = tmp_path / "nowhere"
    assert main(["diff", str(base), str(missing)]) == 2
    assert "nowhere" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["diff", str(empty), str(base)]) == 2
    assert "no plan.json in this directory" in capsys.readouterr().err


def test_cli_invalid_plan_exit_2(
    plan_dirs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, _ = plan_dirs
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    assert main(["diff", str(broken), str(base)]) == 2
    err = capsys.readouterr().err
    assert "broken.json" in err
    assert "not valid JSON" in err


def test_a_finding_whose_script_line_moved_is_not_new() -> None:
    old = plans.sales_plan()
    moved = tuple(
        f.model_copy(update={"source_ref": "security/sales.sql:99"}) if f.rule_id == "GB001" else f
        for f in old.findings
    )
    diff = diff_plans(
        old, old.model_copy(update={"findings": tuple(sorted(moved, key=lambda f: f.key))})
    )
    assert diff.findings_new == ()
    assert diff.findings_resolved == ()


def test_workflow_example_uses_the_comment_marker_and_the_diff_command() -> None:
    workflow = (Path(__file__).resolve().parents[2] / "examples" / "github-workflow.yml").read_text(
        encoding="utf-8"
    )
    assert f"'{COMMENT_MARKER}'" in workflow
    assert "grantbridge diff plan-base plan-new -o diff.md --json-output diff.json" in workflow
    assert "github/codeql-action/upload-sarif" in workflow
    assert "--fail-on high" in workflow
