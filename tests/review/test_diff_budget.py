"""The diff comment on a large estate: within GitHub's comment limit, gains first, every cut
counted, DENY restructuring's churn counted per base role (bench scale M's diff was 941 KB)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from grantbridge.cli import main
from mapper.plan import PgRole, RoleKind
from mapper.planner import plan
from mapper.policy import Policy
from pg_emit.diff import DerivedRole, PlanDiff, diff_plans
from pg_emit.diff_markdown import COMMENT_BUDGET, render_diff_markdown
from tests.mapper.estate import database, login, member, perm, role, snapshot, table, user
from tests.review import estate, plans


@pytest.fixture(scope="module")
def estate_diff() -> PlanDiff:
    return diff_plans(*estate.estate_plans())


def _sections(text: str) -> dict[str, tuple[int, int, int]]:
    """Section title → (the count in its heading, rows shown, the count after "… and")."""
    found = {}
    for chunk in text.split("\n### ")[1:]:
        heading, _, body = chunk.partition("\n")
        title, total = re.fullmatch(r"(.+) \(([\d,]+)\)", heading).groups()  # type: ignore[union-attr]
        rows = [line for line in body.splitlines() if line.startswith(("- ", "| "))]
        shown = len(rows) - (2 if rows and rows[0].startswith("| ") else 0)  # a table's header
        more = re.search(r"^… and ([\d,]+) more: diff.json lists every one\.$", body, re.M)
        found[title] = (int(total.replace(",", "")), shown, int(more[1]) if more else 0)
    return found


def test_a_large_diff_fits_the_budget_with_access_gained_first(estate_diff: PlanDiff) -> None:
    whole = render_diff_markdown(estate_diff, budget=10**9)
    assert len(whole) > 3 * COMMENT_BUDGET  # uncut, GitHub would refuse it
    text = render_diff_markdown(estate_diff)
    assert len(text) <= COMMENT_BUDGET < 65_536
    assert text == render_diff_markdown(diff_plans(*estate.estate_plans()))  # deterministic
    titles = list(_sections(text))
    assert titles[:3] == ["⚠️ Access gained", "Access lost", "Findings"]
    assert text.index("**⚠️ Effective access widened:** 400 privileges gained by 600 logins") < (
        text.index("**Shortened** to fit a GitHub comment (60,000 characters)")
    )
    assert "- SELECT on `TABLE sales:sales.new_000` — gained by logins `user_0000`" in text


def test_every_section_counts_what_it_leaves_out(estate_diff: PlanDiff) -> None:
    sections = _sections(render_diff_markdown(estate_diff))
    derived = 12 * (estate.DERIVED_BEFORE + estate.DERIVED_AFTER)  # roles of the 12 bases
    assert sections["⚠️ Access gained"] == (400, 50, 350)
    assert sections["Access lost"] == (300, 50, 250)
    assert sections["Findings"] == (40, 40, 0)
    # the derived roles' items are counted under their base roles, the rest listed or counted
    d = estate_diff
    assert len(d.roles_added) + len(d.roles_removed) - derived == 350
    memberships = 12 * 2 * (1 + estate.BILLERS)  # the base in its part, the billers in theirs
    assert len(d.memberships_added) + len(d.memberships_removed) - memberships == 700
    assert len(d.grants_added) + len(d.grants_removed) - derived * estate.DERIVED_TABLES == 700
    assert sections["Roles"] == (350, 50, 300)
    assert sections["Memberships"] == (700, 50, 650)
    assert sections["Privileges"] == (700, 50, 650)
    for title, (total, shown, more) in sections.items():
        assert shown + more == total, title


def test_derived_roles_re_split_are_counted_per_base_role(estate_diff: PlanDiff) -> None:
    text = render_diff_markdown(estate_diff)
    assert _sections(text)["DENY restructuring: derived roles re-split"] == (12, 12, 0)
    assert (
        "- `billing_00_db_owner`: derived roles re-split: 7 added, 5 removed; "
        "memberships: 7 added, 7 removed; privileges: 28 added, 20 removed\n"
    ) in text
    assert "Effective access above resolves through them" in text
    assert "_minu_" not in text
    assert "_part_it_writer" not in text
    assert not [
        c for c in estate_diff.access_gained + estate_diff.access_lost if "billing" in c.securable
    ]


def test_a_re_split_is_counted_even_when_the_comment_fits(estate_diff: PlanDiff) -> None:
    """More than three derived roles of one base coming and going is churn at any size."""
    text = render_diff_markdown(estate_diff, budget=10**9)
    assert "**Shortened**" not in text
    assert "more: diff.json" not in text
    assert _sections(text)["DENY restructuring: derived roles re-split"] == (12, 12, 0)
    assert "_minu_" not in text
    assert _sections(text)["Roles"] == (350, 350, 0)


def test_a_tiny_budget_leaves_headings_and_counts(estate_diff: PlanDiff) -> None:
    text = render_diff_markdown(estate_diff, budget=4_000)
    assert len(text) <= 4_000
    assert "each section below counts its items" in text
    assert _sections(text)["⚠️ Access gained"] == (400, 0, 400)


def test_a_lone_derived_role_stays_listed() -> None:
    """One DENY removed (the small plans): its derived role and grants are the clearest account."""
    text = render_diff_markdown(diff_plans(plans.sales_plan(), plans.changed_sales_plan()))
    assert "DENY restructuring" not in text
    assert "- ➖ `sales_reader_minus_salaries` (derived)" in text


def test_derived_roles_name_their_base_through_parts(estate_diff: PlanDiff) -> None:
    bases = {d.name: d.base for d in estate_diff.derived_roles}
    assert len(bases) == 12 * (estate.DERIVED_BEFORE + estate.DERIVED_AFTER)
    assert set(bases.values()) == {f"billing_{b:02d}_db_owner" for b in range(12)}
    part = "billing_03_db_owner_part_it_writer_7"
    assert bases[f"{part}_minus_biller_03_0"] == "billing_03_db_owner"  # a part's minus role


def test_a_derived_role_without_a_telling_source_is_named_by_its_name() -> None:
    """Plans written before derived roles' sources named their base still group by name."""
    old = plans.sales_plan()
    odd = PgRole(name="sales_reader_minus_kim_minus_bo", kind=RoleKind.DERIVED)
    diff = diff_plans(old, old.model_copy(update={"roles": (*old.roles, odd)}))
    assert diff.derived_roles == (DerivedRole(name=odd.name, base="sales_reader"),)


def test_cli_writes_markdown_and_json_in_one_run(tmp_path: Path) -> None:
    base, new = tmp_path / "base", tmp_path / "new"
    for directory, migration in zip((base, new), estate.estate_plans(), strict=True):
        directory.mkdir()
        (directory / "plan.json").write_text(migration.to_json(), encoding="utf-8")
    markdown, json = tmp_path / "diff.md", tmp_path / "diff.json"
    assert main(["diff", str(base), str(new), "-o", str(markdown), "--json-output", str(json)]) == 0
    assert len(markdown.read_text(encoding="utf-8")) <= COMMENT_BUDGET
    complete = PlanDiff.model_validate_json(json.read_text(encoding="utf-8"))
    assert len(complete.access_gained) == 400
    assert len(complete.grants_added) == 736


def test_the_mappers_derived_roles_resolve_to_their_base_roles() -> None:
    """A split role's parts and the derived roles built on them, as the planner names them."""
    objects = tuple(table("dbo", f"T{i:02d}", "id") for i in range(60))
    denies = [perm("SELECT", "app", state="D", schema_name="dbo", object_name=f"T{i:02d}")
              for i in range(0, 60, 2)]  # fmt: skip
    denies.append(perm("SELECT", "readers", state="D", schema_name="dbo", object_name="T01"))
    source = snapshot(
        database(
            objects=objects,
            roles=(role("readers"),),
            users=(user("app", "app"),),
            memberships=(member("readers", "app"), member("db_datareader", "readers")),
            permissions=tuple(denies),
        ),
        logins=(login("app"),),
    )
    split = plan(source, Policy())
    diff = diff_plans(plans.plan(), split)
    assert {d.name: d.base for d in diff.derived_roles} == {
        "readers_minus_app": "readers",
        "sales_db_datareader_common": "sales_db_datareader",
        "sales_db_datareader_minus_readers": "sales_db_datareader",
        "sales_db_datareader_minus_readers_minus_app": "sales_db_datareader",
        "sales_db_datareader_part_app": "sales_db_datareader",
        "sales_db_datareader_part_readers": "sales_db_datareader",
    }
