"""``grantbridge diff OLD NEW`` of two ``plan --per-database`` sets: one comment, or one JSON
object, for the whole set (grantbridge/commands/diff_set.py, pg_emit/diff_set_markdown.py)."""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path

import pytest

from grantbridge.cli import main
from mapper.plan import MigrationPlan
from mssql_extract import tsql
from pg_emit.diff import diff_plans
from pg_emit.diff_markdown import COMMENT_BUDGET, COMMENT_MARKER
from pg_emit.diff_set_markdown import render_part, render_set_markdown
from tests.conftest import CONTOSO

#: Given to sales_readers in NEW: its members, and the roles above it, can now delete orders.
GRANT = "GRANT DELETE ON OBJECT::[sales].[Orders] TO [sales_readers]\nGO\n"
GAINED = "DELETE on TABLE sales:sales.orders"
FIRST = "**⚠️ Effective access widened:** 1 privilege gained in 1 database (`Sales`); none lost."


@pytest.fixture(scope="module")
def sets(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Contoso planned per database twice, from the same script paths (so the parts nothing
    changed in keep their fingerprints): NEW with one GRANT more in Sales."""
    root = tmp_path_factory.mktemp("estate")
    (root / "src").mkdir()
    for script in sorted(CONTOSO.glob("*.sql")):
        shutil.copy(script, root / "src" / script.name)
    for name in ("old", "new"):
        if name == "new":
            sales = root / "src" / "10_sales.sql"
            sales.write_text(sales.read_text("utf-8") + GRANT, "utf-8")
        with contextlib.chdir(root):
            snapshot = tsql.extract_scripts(sorted(Path("src").glob("*.sql")))
        snapshot.write_json(root / f"{name}.json")
        out = root / name
        assert main(["plan", str(root / f"{name}.json"), "-o", str(out), "--per-database"]) == 0
    return root / "old", root / "new"


def _copy(source: Path, tmp_path: Path, name: str) -> Path:
    shutil.copytree(source, tmp_path / name)
    return tmp_path / name


def _index(parts: Path) -> dict[str, list[dict[str, object]]]:
    data: dict[str, list[dict[str, object]]] = json.loads((parts / "parts.json").read_bytes())
    return data


def _write_index(parts: Path, data: object) -> None:
    (parts / "parts.json").write_text(json.dumps(data, indent=2) + "\n", "utf-8")


def _drop(parts: Path, database: str) -> None:
    """``database``'s part taken out of the set."""
    data = _index(parts)
    data["parts"] = [p for p in data["parts"] if p["database"] != database]
    _write_index(parts, data)
    shutil.rmtree(parts / database)


def test_one_comment_for_the_set(
    sets: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The comment leads with the set's access line, then a table of the parts that differ,
    then each one's section as a single diff's comment says it; the parts whose fingerprint
    is the same are not read: their plan.json, garbled in both sets, is never loaded."""
    old, new = (_copy(s, tmp_path, s.name) for s in sets)
    for side in (old, new):
        (side / "HR" / "plan.json").write_text("not a plan", "utf-8")
    comment = tmp_path / "comment.md"
    assert main(["diff", str(old), str(new), "-o", str(comment)]) == 0
    text = comment.read_text("utf-8")
    lines = text.splitlines()
    assert lines[:4] == [COMMENT_MARKER, "## grantbridge plan set diff", "", FIRST]
    assert "Base set of 3 parts → this branch's 3 parts: 1 changed, 0 added, 0 removed, " \
        "2 unchanged." in lines  # fmt: skip
    assert "| `Sales` | changed | 1 | · | · | · | · |" in lines
    assert [line for line in lines if line.startswith("| `")] == [
        "| `Sales` | changed | 1 | · | · | · | · |"
    ]
    assert any(line.startswith("Unchanged") and "`HR`, `Reporting`" in line for line in lines)
    assert [line for line in lines if line.startswith("### ")] == ["### `Sales` (changed)"]
    assert "#### ⚠️ Access gained (1)" in lines
    assert "- ➕ GRANT DELETE on TABLE `sales.orders` in `sales` to `sales_sales_readers`" in lines
    # the part's section says what a single diff's comment of the part says, a level down
    assert main(["diff", str(sets[0] / "Sales"), str(sets[1] / "Sales")]) == 0
    single = capsys.readouterr().out.split("\n\n", 1)[1]  # past the marker and heading
    assert single.replace("\n### ", "\n#### ") in text


def test_a_plan_changed_under_the_same_fingerprint_is_compared(
    sets: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The fingerprint covers the inputs, not the grantbridge that planned them: two plans of
    HR with one fingerprint (another version's, here one grant taken out by hand) are compared,
    not taken as the same."""
    old = _copy(sets[0], tmp_path, "old")
    new = _copy(sets[0], tmp_path, "new")  # the same set: every fingerprint agrees
    hr = MigrationPlan.from_json((new / "HR" / "plan.json").read_bytes())
    dropped = hr.grants[0]
    hr.model_copy(update={"grants": hr.grants[1:]}).write_json(new / "HR" / "plan.json")
    assert main(["--json", "diff", str(old), str(new), "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    parts = {p["database"]: p for p in result["diff"]["parts"]}
    assert parts["HR"]["status"] == "changed"
    assert parts["HR"]["compared"] is True
    assert {p["status"] for d, p in parts.items() if d != "HR"} == {"unchanged"}
    assert {p["compared"] for d, p in parts.items() if d != "HR"} == {False}
    lost = parts["HR"]["diff"]["access_lost"]
    assert any(c["privilege"] == dropped.privilege for c in lost), lost


def test_fail_on_gained_and_lost(
    sets: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = sets
    assert main(["diff", str(old), str(new), "--fail-on-gained"]) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines()[3] == FIRST
    assert f"1 privilege gained: {GAINED}" in captured.err
    assert main(["diff", str(new), str(old), "--fail-on-gained", "--fail-on-new", "info"]) == 0
    assert capsys.readouterr().out.splitlines()[3] == (
        "**Effective access:** 1 privilege lost in 1 database (`Sales`); none gained."
    )
    assert main(["diff", str(old), str(old), "--fail-on-gained"]) == 0
    out = capsys.readouterr().out
    assert "**Effective access:** unchanged: no role gains or loses a privilege in any part." in out
    assert out.endswith("No change to roles, privileges or findings.\n")


def test_json_is_one_object_with_every_part(
    sets: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = sets
    written = tmp_path / "diff.json"
    args = ["diff", str(old), str(new), "--fail-on-gained", "--json-output", str(written)]
    assert main([*args, "-f", "json"]) == 1
    out = capsys.readouterr().out
    assert written.read_text("utf-8") == out
    data = json.loads(out)
    assert out == json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    assert {k: v for k, v in data.items() if k != "parts"} == {
        "unchanged": 2, "empty": False, "exit_code": 1, "failing": [], "failing_access": [GAINED]
    }  # fmt: skip
    assert [(p["database"], p["status"], p["compared"]) for p in data["parts"]] == [
        ("HR", "unchanged", False),
        ("Reporting", "unchanged", False),
        ("Sales", "changed", True),
    ]
    assert data["parts"][2]["directory"] == {"old": "Sales", "new": "Sales"}
    assert main(["diff", str(old / "Sales"), str(new / "Sales"), "-f", "json"]) == 0
    assert data["parts"][2]["diff"] == json.loads(capsys.readouterr().out)  # the single diff's
    assert data["parts"][0]["diff"] is None
    # under --json: one line, the document in "diff" beside the single diff's fields
    assert main(["--json", "diff", str(old), str(new), "--fail-on-gained"]) == 1
    line = capsys.readouterr().out
    result = json.loads(line)
    assert line == json.dumps(result, sort_keys=True) + "\n"
    assert result["diff"] == data
    assert (result["exit_code"], result["failing_access"], result["output"]) == (1, [GAINED], None)


def test_parts_added_and_removed(
    sets: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Reporting only in NEW: added, every privilege of its plan gained and its open findings
    new; HR only in OLD: removed. Sales is paired with SALES (names compared without case)."""
    old, new = _copy(sets[0], tmp_path, "old"), _copy(sets[1], tmp_path, "new")
    _drop(old, "Reporting")
    _drop(new, "HR")
    data = _index(new)
    data["parts"][1]["database"] = "SALES"
    _write_index(new, data)
    assert main(["diff", str(old), str(new), "-f", "json", "--fail-on-new", "high"]) == 1
    captured = capsys.readouterr()
    assert "new open findings at or above high" in captured.err
    parts = json.loads(captured.out)["parts"]
    assert [(p["database"], p["status"], p["directory"]) for p in parts] == [
        ("Reporting", "added", {"old": None, "new": "Reporting"}),
        ("SALES", "changed", {"old": "Sales", "new": "Sales"}),
        ("HR", "removed", {"old": "HR", "new": None}),
    ]
    reporting = MigrationPlan.from_json((new / "Reporting" / "plan.json").read_bytes())
    assert parts[0]["diff"] == diff_plans(MigrationPlan(fingerprint=""), reporting).model_dump(
        mode="json"
    )
    assert parts[0]["diff"]["access_gained"]
    assert not parts[0]["diff"]["access_lost"]
    assert parts[2]["diff"]["access_lost"]
    assert not parts[2]["diff"]["access_gained"]
    assert main(["diff", str(old), str(new)]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line.split(" | ")[:2] for line in lines if line.startswith("| `")]
    assert rows == [["| `Reporting`", "added"], ["| `SALES`", "changed"], ["| `HR`", "removed"]]
    assert "1 changed, 1 added, 1 removed, 0 unchanged." in "\n".join(lines)
    added = lines.index("### `Reporting` (added)")
    assert lines[added + 2].startswith("**Added: new in this branch, so every privilege")


def _grown(sets: tuple[Path, Path], tmp_path: Path, grants: int) -> Path:
    """NEW with ``grants`` grants more in Sales (on tables of their own), its fingerprint
    changed in parts.json as a re-plan would."""
    new = _copy(sets[1], tmp_path, "big")
    path = new / "Sales" / "plan.json"
    plan = MigrationPlan.from_json(path.read_bytes())
    model = next(g for g in plan.grants if g.object_type == "TABLE" and not g.columns)
    extra = [model.model_copy(update={"name": f"orders_{n:05}"}) for n in range(grants)]
    plan.model_copy(update={"grants": (*plan.grants, *extra)}).write_json(path)
    data = _index(new)
    data["parts"][2]["fingerprint"] = "sha256:grown"
    _write_index(new, data)
    return new


def test_a_big_change_fits_one_comment(
    sets: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = sets[0], _grown(sets, tmp_path, 4000)
    assert main(["diff", str(old), str(new), "--fail-on-gained"]) == 1
    text = capsys.readouterr().out
    assert len(text) <= COMMENT_BUDGET
    assert text.splitlines()[3].startswith("**⚠️ Effective access widened:** 4001 privileges")
    assert "**Shortened** to fit a GitHub comment (60,000 characters)" in text
    assert "more: diff.json lists every one." in text
    assert main(["diff", str(old / "Sales"), str(new / "Sales")]) == 0
    assert len(capsys.readouterr().out) <= COMMENT_BUDGET


def test_many_parts_share_the_budget(sets: tuple[Path, Path]) -> None:
    """Hundreds of changed parts: every part's section kept while they fit, at the level of
    shortening that fits them all; then the first parts, the others counted; past a few
    hundred rows the table too is cut."""
    old, new = (MigrationPlan.from_json((s / "Sales" / "plan.json").read_bytes()) for s in sets)
    diff = diff_plans(old, new)
    one = render_part(diff, "Sales", "changed")
    fits = render_set_markdown([one] * 20, [], (20, 20))
    assert fits.count("### `Sales` (changed)") == 20
    assert "**Shortened**" not in fits
    budget = 20_000
    parts = [render_part(diff, f"db{n:04}", "changed", budget) for n in range(40)]
    cut = render_set_markdown(parts, ["HR"], (41, 41), budget)
    assert len(cut) <= budget
    assert "### `db0000` (changed)" in cut
    assert "### `db0039` (changed)" not in cut
    assert "more changed parts: the table above counts them; diff.json lists every change." in cut
    assert "| `db0039` | changed | 1 |" in cut  # every part is in the table
    many = [render_part(diff, f"database_{n:05}", "changed") for n in range(1500)]
    text = render_set_markdown(many, [], (1500, 1500))
    assert len(text) <= COMMENT_BUDGET
    assert "| `database_00000` | changed |" in text
    assert "`database_01499`" not in text
    assert "more parts: diff.json lists every one." in text


def test_a_set_and_one_plan_are_refused(
    sets: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = sets
    for args in ([str(old), str(new / "Sales")], [str(old / "Sales"), str(new)]):
        assert main(["diff", *args]) == 2
        err = capsys.readouterr().err
        plan, parts = (args[1], args[0]) if args[1].endswith("Sales") else args
        assert f"{plan}: not a plan set, but {parts} is one (grantbridge plan " in err, err
        assert "diff compares two sets, each a directory with its parts.json, or two plans" in err


@pytest.mark.parametrize(
    ("edit", "key", "said"),
    [
        (lambda p: p[0].pop("directory"), "[parts.0]", "directory: a non-empty string expected"),
        (lambda p: p[2].update(fingerprint=7), "[parts.2]", "fingerprint: a string expected"),
        (
            lambda p: p[2].update(database="hr"),
            "[parts.2.database]",
            "database 'hr' is listed twice (entries 1 and 3)",
        ),
    ],
    ids=["no-directory", "fingerprint", "twice"],
)
def test_a_bad_parts_json_is_exit_2_naming_it(
    sets: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    edit: object, key: str, said: str,
) -> None:  # fmt: skip
    new = _copy(sets[1], tmp_path, "new")
    data = _index(new)
    edit(data["parts"])  # type: ignore[operator]
    _write_index(new, data)
    assert main(["diff", str(sets[0]), str(new)]) == 2
    err = capsys.readouterr().err
    assert f"{new / 'parts.json'} {key}: {said}" in err, err
    assert "Traceback" not in err


def test_a_part_that_does_not_load_is_named(
    sets: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new = _copy(sets[1], tmp_path, "new")
    (new / "Sales" / "plan.json").write_text("{", "utf-8")
    assert main(["diff", str(sets[0]), str(new), "--json-output", str(tmp_path / "d.json")]) == 2
    err = capsys.readouterr().err
    assert "part 3 of 3 (database Sales): not valid JSON" in err, err
    assert not (tmp_path / "d.json").exists()


def test_one_pair_of_plans_in_memory_at_a_time(
    sets: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every part compared (no fingerprint the same): when a plan is loaded, at most the other
    plan of its pair is alive (a part of bench scale L is hundreds of MB)."""
    import gc

    import grantbridge.commands.diff_set as diff_set

    new = _copy(sets[1], tmp_path, "new")
    data = _index(new)
    for part in data["parts"]:
        part["fingerprint"] = f"sha256:re-planned-{part['directory']}"
    _write_index(new, data)
    alive: list[int] = []
    load = diff_set.load_plan

    def plans() -> int:  # those alive, the other tests' too (fixtures, caches)
        gc.collect()
        return sum(isinstance(o, MigrationPlan) for o in gc.get_objects())

    def counted(path: Path) -> MigrationPlan:
        alive.append(plans() - before)
        return load(path)

    monkeypatch.setattr(diff_set, "load_plan", counted)
    before = plans()
    assert main(["diff", str(sets[0]), str(new), "-f", "json"]) == 0
    assert alive == [0, 1, 0, 1, 0, 1]
