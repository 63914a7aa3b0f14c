"""The example GitHub workflow's shell steps, run for real on a scratch repository.

``examples/github-workflow.yml`` is what users copy. Its ``run:`` steps are executed here in
order, with bash, in a git repository that has a base branch on an ``origin`` remote and a
pull-request branch adding one grant; the ``uses:`` steps (checkout, comment, upload) are
GitHub's own and are skipped, and the install step is replaced by this checkout's
``grantbridge`` on PATH. A user's repository is not a Python project, so the steps must call
``grantbridge`` itself, never ``uv run``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from pg_emit.diff import PlanDiff
from pg_emit.diff_markdown import COMMENT_MARKER

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / "examples" / "github-workflow.yml"
CONTOSO = ROOT / "fixtures" / "estates" / "contoso"
NEW_GRANT = "\nUSE Sales;\nGO\nGRANT SELECT ON sales.Customers TO [etl_loader];\nGO\n"


def _steps(text: str) -> dict[str, str | None]:
    """Step name → its shell script (None: a ``uses:`` step), in file order."""
    steps: dict[str, str | None] = {}
    lines = text.splitlines()
    for index, line in enumerate(lines):
        named = re.match(r"^(\s*)- name: (.+)$", line)
        if not named:
            continue
        indent, name = len(named[1]) + 2, named[2].strip()
        steps[name] = None
        for follow in lines[index + 1 :]:
            if re.match(r"^\s*- name: ", follow) or (follow.strip() and _indent(follow) < indent):
                break
            run = re.match(rf"^\s{{{indent}}}run: (.*)$", follow)
            if run and run[1].strip() != "|":
                steps[name] = run[1].strip()
            elif run:
                start = lines.index(follow, index)
                body = []
                for text_line in lines[start + 1 :]:
                    if text_line.strip() and _indent(text_line) <= indent:
                        break
                    body.append(text_line)
                steps[name] = "\n".join(body)
    return steps


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def _repository(tmp_path: Path) -> Path:
    """A user's repository: db/security and grantbridge.toml on main (pushed to origin), and a
    checked-out pull-request branch that adds one grant."""
    origin, work = tmp_path / "origin.git", tmp_path / "work" / "repo"
    work.mkdir(parents=True)
    _git(work, "init", "-q", "-b", "main")
    _git(work, "config", "user.email", "ci@example.com")
    _git(work, "config", "user.name", "ci")
    shutil.copytree(
        CONTOSO,
        work / "db" / "security",
        ignore=shutil.ignore_patterns("catalog", "*.dacpac", "*.txt", "*.md"),
    )
    (work / "grantbridge.toml").write_text('target = "aurora"\n', encoding="utf-8")
    _git(work, "add", ".")
    _git(work, "commit", "-q", "-m", "base")
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    _git(work, "remote", "add", "origin", str(origin))
    _git(work, "push", "-q", "origin", "main")
    _git(work, "fetch", "-q", "origin")
    _git(work, "checkout", "-q", "-b", "pr")
    with (work / "db" / "security" / "10_sales.sql").open("a", encoding="utf-8") as script:
        script.write(NEW_GRANT)
    _git(work, "commit", "-q", "-am", "grant etl_loader the customers")
    return work


def test_the_workflow_calls_grantbridge_installed_as_a_tool() -> None:
    steps = _steps(WORKFLOW.read_text(encoding="utf-8"))
    assert steps["Install grantbridge"] == 'uv tool install "$GRANTBRIDGE"'
    scripts = [s for s in steps.values() if s]
    assert not [s for s in scripts if "uv run" in s]
    assert sum("grantbridge " in s for s in scripts) == 3  # plan, plan, diff


def test_the_workflow_plans_each_side_once_and_diffs_once() -> None:
    """At bench scale M a plan takes minutes and 3.5 GB and a diff 7 GB: the gate reuses the
    plan's --fail-on and the diff's --fail-on-new instead of running them again."""
    scripts = "\n".join(s for s in _steps(WORKFLOW.read_text(encoding="utf-8")).values() if s)
    assert len(re.findall(r"grantbridge plan ", scripts)) == 2
    assert len(re.findall(r"grantbridge diff ", scripts)) == 1


def _artifact_paths(text: str) -> list[str]:
    """The ``path: |`` lines of the upload-artifact step."""
    block = text[text.index("actions/upload-artifact") :]
    lines = block[block.index("path: |") :].splitlines()[1:]
    return [line.strip() for line in lines if line.startswith(" " * 12) and line.strip()]


def test_the_artifact_is_the_review_documents_not_the_plan() -> None:
    """plan.json and sql/ are a gigabyte at bench scale M; docs/ci.md says how to rebuild them."""
    paths = _artifact_paths(WORKFLOW.read_text(encoding="utf-8"))
    assert paths == ["plan-new/report.md", "plan-new/findings.sarif", "diff.md", "diff.json"]


def test_the_workflow_steps_plan_diff_and_gate_a_pull_request(tmp_path: Path) -> None:
    work = _repository(tmp_path)
    bin_dir = Path(sys.executable).parent  # this checkout's grantbridge, as the install gives
    github_env = tmp_path / "github_env"  # what a step appends to it, later steps have (GitHub)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "GITHUB_WORKSPACE": str(work), "GITHUB_ENV": str(github_env)}  # fmt: skip
    results: dict[str, subprocess.CompletedProcess[str]] = {}
    for name, script in _steps(WORKFLOW.read_text(encoding="utf-8")).items():
        if script is None or name == "Install grantbridge":
            continue
        script = script.replace("${{ github.base_ref }}", "main")
        results[name] = subprocess.run(
            ["bash", "-e", "-c", script], cwd=work, env=env, capture_output=True, text=True
        )
        if github_env.exists():
            env |= dict(
                line.split("=", 1) for line in github_env.read_text("utf-8").splitlines() if line
            )
    for name in ("Plan this branch", "Plan the base branch (for comparison)", "Diff the plans"):
        assert results[name].returncode == 0, (name, results[name].stderr)
    diff = (work / "diff.md").read_text(encoding="utf-8")
    assert diff.startswith(COMMENT_MARKER)
    assert "etl_loader" in diff
    assert "customers" in diff
    diff_json = PlanDiff.model_validate_json((work / "diff.json").read_text(encoding="utf-8"))
    assert [c.fact for c in diff_json.dispositions_changed] == [
        "Sales/perm:OBJECT:sales:customers:SELECT:grant:etl_loader"
    ]
    for path in _artifact_paths(WORKFLOW.read_text(encoding="utf-8")):
        assert (work / path).is_file(), path
    # contoso has open high findings: the plan step carries its --fail-on on, and the gate fails
    # the check with exit 1 (not 2: no bad input), once the comment and code scanning are done
    assert (env["PLAN_GATE"], env["DIFF_GATE"]) == ("1", "0")
    gate = results["Gate on findings"]
    assert gate.returncode == 1, gate.stderr
    assert "::error::open findings of high severity or worse" in gate.stdout
    assert "Traceback" not in gate.stderr + results["Plan this branch"].stderr
