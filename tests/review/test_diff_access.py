"""Effective access in the plan diff: who gained and who lost which privilege.

The audit's case first: removing a DENY in contoso restructures derived roles, so the item lists
read like a tightening (grants removed, GB020 resolved) while every member of ``sales_staff``
can now read the PCI table. Then the rules on small hand-built plans, and the fast computation
checked against the obvious one (every role's whole effective set) on random plans.
"""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grantbridge.cli import main
from mapper.plan import (
    MigrationPlan,
    PgDefaultPrivilege,
    PgGrant,
    PgMembership,
    PgObject,
    RoleKind,
)
from mapper.planner import plan
from mapper.policy import Policy
from mssql_extract.tsql import extract_scripts
from pg_emit.diff import PlanDiff, diff_plans
from pg_emit.diff_access import AccessChange
from pg_emit.diff_markdown import COLLAPSE_ROWS_ABOVE, NAMES_SHOWN, render_diff_markdown
from tests.conftest import CONTOSO
from tests.review import plans
from tests.review.plans import group, login, member, table_grant

DENY = "DENY SELECT ON OBJECT::[sales].[CustomerCards] TO [sales_staff]\nGO\n"
BOT_GRANT = "GRANT SELECT ON OBJECT::[sales].[Products] TO [sales_bot]\nGO\n"
CARDS = "TABLE sales:sales.customercards"


def _contoso(estate: Path) -> MigrationPlan:
    snapshot = extract_scripts([estate], relative_to=estate.parent)
    return plan(snapshot, Policy())


@cache
def _contoso_base() -> MigrationPlan:
    return _contoso(CONTOSO)


def _without_deny(tmp_path: Path) -> MigrationPlan:
    estate = tmp_path / "contoso"
    shutil.copytree(CONTOSO, estate)
    sales = estate / "10_sales.sql"
    text = sales.read_text(encoding="utf-8")
    assert DENY in text
    sales.write_text(text.replace(DENY, BOT_GRANT), encoding="utf-8")
    return _contoso(estate)


def _gained(diff: PlanDiff, securable: str, privilege: str = "SELECT") -> AccessChange:
    found = [c for c in diff.access_gained if (c.securable, c.privilege) == (securable, privilege)]
    assert len(found) == 1, diff.access_gained
    return found[0]


# --- the audit's scenario: a removed DENY is a widening -----------------------------------


def test_a_removed_deny_shows_who_can_now_read_the_table(tmp_path: Path) -> None:
    diff = diff_plans(_contoso_base(), _without_deny(tmp_path))
    cards = _gained(diff, CARDS)
    assert cards.logins == ("legacy_crm", "mgarcia@CONTOSO")
    assert cards.roles == ("sales_sales_managers", "sales_sales_staff")
    assert _gained(diff, "TABLE sales:sales.products").roles == ("sales_sales_bot",)
    assert len(diff.access_gained) == 2
    assert diff.access_lost == ()  # the derived role's grants moved, nobody lost them


def test_the_widening_is_the_first_thing_the_comment_says(tmp_path: Path) -> None:
    text = render_diff_markdown(diff_plans(_contoso_base(), _without_deny(tmp_path)))
    head = text.split("| --- |")[0]  # everything above the summary table
    assert (
        "**⚠️ Effective access widened:** 2 privileges gained by 2 logins and 3 other roles" in head
    )
    assert text.index("### ⚠️ Access gained (2)") < text.index("### Findings")
    assert (
        "- SELECT on `TABLE sales:sales.customercards` — gained by logins `legacy_crm`, "
        "`mgarcia@CONTOSO`; roles `sales_sales_managers`, `sales_sales_staff`"
    ) in text


def test_the_json_carries_the_gained_access_and_the_gate_fails_on_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, new = tmp_path / "base.json", tmp_path / "new.json"
    base.write_text(_contoso_base().to_json(), encoding="utf-8")
    new.write_text(_without_deny(tmp_path).to_json(), encoding="utf-8")
    assert main(["diff", str(base), str(new), "--format", "json"]) == 0
    diff = PlanDiff.model_validate_json(capsys.readouterr().out)
    assert "mgarcia@CONTOSO" in _gained(diff, CARDS).logins
    # no finding is newly open: only the access gate sees the widening
    assert main(["diff", str(base), str(new), "--fail-on-new", "high"]) == 0
    capsys.readouterr()
    assert main(["diff", str(base), str(new), "--fail-on-gained"]) == 1
    assert f"2 privileges gained: SELECT on {CARDS};" in capsys.readouterr().err
    assert main(["--json", "diff", str(base), str(new), "--fail-on-gained"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["exit_code"] == 1
    assert f"SELECT on {CARDS}" in data["failing_access"]
    assert data["diff"]["access_gained"][0]["securable"] == CARDS
    assert main(["diff", str(base), str(base), "--fail-on-gained"]) == 0


# --- the rules, on hand-built plans ----------------------------------------------------------


def _restructured() -> tuple[MigrationPlan, MigrationPlan]:
    """``readers`` split into itself and a derived part: every item changes, no access does."""
    old = plans.plan(
        roles=(login("kim", "login [kim]"), group("readers")),
        memberships=(member("kim", of="readers"),),
        grants=(
            table_grant("dbo.orders", "SELECT", "readers"),
            table_grant("dbo.salaries", "SELECT", "readers"),
        ),
    )
    new = plans.plan(
        roles=(
            login("kim", "login [kim]"),
            group("readers"),
            group("readers_part_salaries", kind=RoleKind.DERIVED),
        ),
        memberships=(member("kim", of="readers"), member("readers", of="readers_part_salaries")),
        grants=(
            table_grant("dbo.orders", "SELECT", "readers"),
            table_grant("dbo.salaries", "SELECT", "readers_part_salaries"),
        ),
    )
    return old, new


def test_a_pure_restructuring_changes_items_but_no_access() -> None:
    diff = diff_plans(*_restructured())
    assert not diff.is_empty
    assert diff.grants_added
    assert diff.grants_removed
    assert diff.memberships_added
    assert diff.access_gained == diff.access_lost == ()
    text = render_diff_markdown(diff)
    assert "**Effective access:** unchanged: no role gains or loses a privilege." in text
    assert "Access gained" not in text


def test_a_removed_grant_is_lost_by_the_role_and_its_members() -> None:
    old = plans.sales_plan()
    grants = tuple(g for g in old.grants if (g.name, g.grantee) != ("salaries", "sales_reader"))
    diff = diff_plans(old, old.model_copy(update={"grants": grants}))
    assert diff.access_gained == ()
    assert diff.access_lost == (
        AccessChange(
            privilege="SELECT",
            securable="TABLE sales:dbo.salaries",
            logins=("app_sales",),
            roles=("sales_reader",),
        ),
    )
    text = render_diff_markdown(diff)
    assert (
        "**Effective access:** 1 privilege lost by 1 login and 1 other role; none gained." in text
    )
    assert "### Access lost (1)" in text


def test_a_grant_still_held_through_another_role_is_not_lost() -> None:
    old, _ = _restructured()
    both = plans.plan(
        roles=(*old.roles, group("auditors")),
        memberships=(*old.memberships, member("kim", of="auditors")),
        grants=(*old.grants, table_grant("dbo.salaries", "SELECT", "auditors")),
    )
    grants = tuple(g for g in both.grants if (g.name, g.grantee) != ("salaries", "readers"))
    diff = diff_plans(both, both.model_copy(update={"grants": grants}))
    assert [(c.securable, c.logins, c.roles) for c in diff.access_lost] == [
        ("TABLE sales:dbo.salaries", (), ("readers",))  # kim keeps it through auditors
    ]


def test_the_sales_pull_request_gives_kim_the_salaries() -> None:
    diff = diff_plans(plans.sales_plan(), plans.changed_sales_plan())
    assert [(c.securable, c.logins, c.roles) for c in diff.access_gained] == [
        ("TABLE sales:dbo.salaries", ("analyst_kim",), ()),
        ("new TABLES in SCHEMA sales:dbo by sales_owner", ("analyst_kim",), ()),
    ]  # sales_reader's default privilege too: kim reads the tables created later
    assert diff.access_lost == ()


def test_public_stands_for_every_role() -> None:
    old, _ = _restructured()
    new = old.model_copy(
        update={"grants": (*old.grants, table_grant("dbo.salaries", "UPDATE", "PUBLIC"))}
    )
    diff = diff_plans(old, new)
    assert diff.access_gained == (
        AccessChange(privilege="UPDATE", securable="TABLE sales:dbo.salaries", roles=("PUBLIC",)),
    )
    text = render_diff_markdown(diff)
    assert "**⚠️ Effective access widened:** 1 privilege gained by PUBLIC (every role)" in text
    assert "- UPDATE on `TABLE sales:dbo.salaries` — gained by PUBLIC (every role)" in text


def test_grant_option_columns_defaults_and_noinherit() -> None:
    old = plans.plan(
        roles=(login("kim", "login [kim]"), login("lee", "login [lee]"), group("readers")),
        memberships=(
            member("kim", of="readers"),
            PgMembership(role="readers", member="lee", inherit=False),
        ),
        grants=(table_grant("dbo.orders", "SELECT", "readers", columns=("id",)),),
    )
    default = PgDefaultPrivilege(
        database="sales",
        owner="sales_owner",
        schema_name="dbo",
        object_type="TABLES",
        privilege="SELECT",
        grantee="readers",
    )
    new = old.model_copy(
        update={
            "grants": (
                table_grant("dbo.orders", "SELECT", "readers", columns=("id",), grant_option=True),
                table_grant("dbo.orders", "SELECT", "readers"),
            ),
            "default_privileges": (default,),
        }
    )
    diff = diff_plans(old, new)
    assert [(c.privilege, c.securable, c.logins, c.roles) for c in diff.access_gained] == [
        ("SELECT", "TABLE sales:dbo.orders", ("kim",), ("readers",)),
        ("SELECT WITH GRANT OPTION", "TABLE sales:dbo.orders(id)", ("kim",), ("readers",)),
        ("SELECT", "new TABLES in SCHEMA sales:dbo by sales_owner", ("kim",), ("readers",)),
    ]  # lee is a member without INHERIT: it has to SET ROLE, so it gains nothing by itself


def test_long_access_lists_fold_and_long_name_lists_are_cut() -> None:
    many = plans.large_plan()
    grants = tuple(
        table_grant(f"dbo.t{i:02d}", "SELECT", "group_0") for i in range(COLLAPSE_ROWS_ABOVE + 1)
    )
    diff = diff_plans(many, many.model_copy(update={"grants": tuple(sorted(grants, key=_key))}))
    assert len(diff.access_gained) == COLLAPSE_ROWS_ABOVE + 1
    assert len(diff.access_gained[0].logins) == 70  # every login: group_0 holds the others
    text = render_diff_markdown(diff)
    assert f"<summary>Show {COLLAPSE_ROWS_ABOVE + 1}</summary>" in text
    assert f"and {70 - NAMES_SHOWN} more; roles `group_0`" in text


def _key(g: PgGrant) -> str:
    return g.key


# --- the fast computation against the obvious one ------------------------------------------

ROLES = ("a", "b", "c", "d", "e")
LOGINS = ("a", "b")
DERIVED = "e"  # not reported itself; its members are
Access = tuple[str, str]


def _own(plan_: MigrationPlan) -> dict[str, set[Access]]:
    own: dict[str, set[Access]] = defaultdict(set)
    for o in plan_.objects:
        own[o.owner].add((f"TABLE sales:{o.schema_name}.{o.name}", "OWNER"))
    for g in plan_.grants:
        own[g.grantee].add((g.securable, g.privilege))
        if g.grant_option:
            own[g.grantee].add((g.securable, g.privilege + " WITH GRANT OPTION"))
    return own


def _closures(plan_: MigrationPlan) -> dict[str, set[Access]]:
    """Every role's whole effective set but PUBLIC's, walking its memberships for each role."""
    own = _own(plan_)
    parents = defaultdict(set)
    for m in plan_.memberships:
        if m.inherit:
            parents[m.member].add(m.role)
    found = {}
    for role in (r.name for r in plan_.roles):
        seen, todo = set(), [role]
        while todo:
            r = todo.pop()
            if r not in seen:
                seen.add(r)
                todo.extend(parents[r])
        found[role] = set().union(*(own[r] for r in seen))
    return found


@st.composite
def random_plans(draw: st.DrawFn) -> MigrationPlan:
    names = draw(st.sets(st.sampled_from(ROLES), min_size=1))
    edges = draw(st.sets(st.tuples(st.sampled_from(ROLES), st.sampled_from(ROLES))))
    memberships = tuple(
        PgMembership(role=r, member=m, inherit=draw(st.booleans()))
        for m, r in sorted(edges)
        if m != r and m in names and r in names
    )  # cycles included: PostgreSQL refuses them, the diff must still end
    grantees = st.sampled_from((*sorted(names), "PUBLIC"))
    shape = st.tuples(st.sampled_from(("t1", "t2", "t3")), grantees, st.booleans(), st.booleans())
    grants = [
        table_grant(f"dbo.{table}", "SELECT", grantee, grant_option=option, columns=cols * ("id",))
        for table, grantee, option, cols in draw(st.sets(shape))
    ]
    roles = tuple(
        login(n, f"login [{n}]")
        if n in LOGINS
        else group(n, kind=RoleKind.DERIVED if n == DERIVED else RoleKind.GROUP)
        for n in sorted(names)
    )
    owners = draw(st.lists(st.sampled_from(sorted(names)), min_size=3, max_size=3))
    objects = tuple(
        PgObject(database="sales", schema_name="dbo", name=f"t{i}", kind="table", owner=owner)
        for i, owner in enumerate(owners, start=1)
        if draw(st.booleans())
    )
    unique = {g.key: g for g in grants}
    return plans.plan(
        roles=roles, memberships=memberships, grants=tuple(unique.values()), objects=objects
    )


def _implied(held: set[Access]) -> set[Access]:
    """What ``held`` gives: itself, and every privilege on a table (or its columns) it owns."""
    owned = {securable for securable, privilege in held if privilege == "OWNER"}
    return (
        held
        | {(s, p) for s in owned for p in PRIVILEGES}
        | {(f"{s}(id)", p) for s in owned for p in PRIVILEGES}
    )


PRIVILEGES = ("SELECT", "SELECT WITH GRANT OPTION")


def _expected(old: MigrationPlan, new: MigrationPlan) -> tuple[set[tuple[str, ...]], ...]:
    """(role, securable, privilege) gained and lost; PUBLIC's changes are PUBLIC's alone; what
    ownership implies is held."""
    before, after = _closures(old), _closures(new)
    public_before, public_after = _own(old)["PUBLIC"], _own(new)["PUBLIC"]
    everyone = public_before | public_after
    subjects = {r.name for r in (*old.roles, *new.roles) if r.login}
    subjects |= {r.name for r in old.roles} & {r.name for r in new.roles} - {DERIVED}
    gained = {("PUBLIC", *a) for a in public_after - public_before}
    lost = {("PUBLIC", *a) for a in public_before - public_after}
    for role in subjects:
        was, now = before.get(role, set()), after.get(role, set())
        gained |= {(role, *a) for a in now - _implied(was) - everyone}
        lost |= {(role, *a) for a in was - _implied(now) - everyone}
    return gained, lost


def _flat(changes: tuple[AccessChange, ...]) -> set[tuple[str, ...]]:
    return {(r, c.securable, c.privilege) for c in changes for r in (*c.logins, *c.roles)}


@settings(max_examples=300, deadline=None)
@given(old=random_plans(), new=random_plans())
def test_matches_every_roles_whole_effective_set(old: MigrationPlan, new: MigrationPlan) -> None:
    diff = diff_plans(old, new)
    assert (_flat(diff.access_gained), _flat(diff.access_lost)) == _expected(old, new)
    for change in (*diff.access_gained, *diff.access_lost):
        assert {*change.logins} <= set(LOGINS)
        assert not {*change.roles} & set(LOGINS)
