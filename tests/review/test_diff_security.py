"""07_security.sql's settings in the plan diff: listed, counted, and classified as widening or
narrowing access for the comment's first lines and ``--fail-on-gained``.

The diff ignored them: a pull request that set a view back to run with its owner's privileges,
made a routine SECURITY DEFINER or dropped a restrictive policy gave an empty diff.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from grantbridge.cli import main
from mapper.plan import (
    MigrationPlan,
    PgObject,
    PgPolicy,
    PgRoutineSecurity,
    PgRowSecurity,
    PgViewSecurity,
)
from pg_emit.diff import PlanDiff, diff_plans
from pg_emit.diff_markdown import render_diff_markdown
from tests.conftest import check_golden
from tests.review import plans

OBJECTS = (
    PgObject(database="sales", schema_name="sales", name="v_totals", kind="view", owner="o"),
    PgObject(database="sales", schema_name="sales", name="orders", kind="table", owner="o"),
    PgObject(database="sales", schema_name="sales", name="add_order", kind="procedure", owner="o"),
)
VIEW = PgViewSecurity(database="sales", schema_name="sales", name="v_totals")
ROUTINE = PgRoutineSecurity(
    database="sales", schema_name="sales", name="add_order", kind="procedure",
    signature="(integer, text)", owner="sales_owner", search_path=("pg_catalog", "sales"),
    callers=("app_sales",),
)  # fmt: skip
FILTER = PgPolicy(name="tenant_filter", using="amount >= 0", with_check="true")
NO_BIG = PgPolicy(name="no_big", command="INSERT", permissive=False, with_check="amount < 1000000")
RLS = PgRowSecurity(
    database="sales", schema_name="sales", table_name="orders", policies=(FILTER, NO_BIG)
)

V, P, T = (
    "VIEW sales:sales.v_totals",
    "PROCEDURE sales:sales.add_order(integer, text)",
    ("TABLE sales:sales.orders"),
)


def secured(**fields: Any) -> MigrationPlan:
    """A plan with the three objects and, by default, the view, routine and table secured as
    07 secures them; ``fields`` replace the settings."""
    settings: dict[str, Any] = {
        "objects": OBJECTS,
        "view_security": (VIEW,),
        "routine_security": (ROUTINE,),
        "row_security": (RLS,),
    }
    return plans.plan(**(settings | fields))


def routine(**changes: Any) -> tuple[PgRoutineSecurity, ...]:
    return (ROUTINE.model_copy(update=changes),)


def table(**changes: Any) -> tuple[PgRowSecurity, ...]:
    return (RLS.model_copy(update=changes),)


def effects(diff: PlanDiff) -> tuple[list[str], list[str]]:
    """(widened, narrowed), each as ``subject: change``."""
    return (
        [f"{e.subject}: {e.change}" for e in diff.security_widened],
        [f"{e.subject}: {e.change}" for e in diff.security_narrowed],
    )


# --- what each change does to access (one row: old settings, new settings, effect) -------------

LOOSER = "changed (PERMISSIVE FOR ALL USING (amount >= 0) WITH CHECK (true) → PERMISSIVE FOR ALL"
CASES = [
    # view: security_invoker removed (the item gone, or set false) widens; set narrows
    ({}, {"view_security": ()}, "widens", f"{V}: security_invoker removed: it reads its tables "
     "with its owner's privileges, for every caller"),
    ({}, {"view_security": (VIEW.model_copy(update={"security_invoker": False}),)}, "widens",
     f"{V}: security_invoker removed"),
    ({"view_security": ()}, {}, "narrows", f"{V}: security_invoker set: it checks its caller's "
     "privileges"),
    # routine: made SECURITY DEFINER widens, the reverse narrows
    ({"routine_security": routine(security_definer=False)}, {}, "widens",
     f"{P}: made SECURITY DEFINER: its callers run it with the privileges of sales_owner"),
    ({"routine_security": ()}, {}, "widens", f"{P}: made SECURITY DEFINER"),
    ({}, {"routine_security": routine(security_definer=False)}, "narrows",
     f"{P}: no longer SECURITY DEFINER: it runs with its caller's privileges"),
    # a SECURITY DEFINER routine's search_path
    ({}, {"routine_security": routine(search_path=())}, "widens",
     f"{P}: search_path no longer pinned: names resolve through the caller's search_path"),
    ({}, {"routine_security": routine(search_path=("pg_catalog", "sales", "public"))}, "widens",
     f"{P}: search_path adds public: names resolve through it too"),
    ({"routine_security": routine(search_path=("pg_catalog", "sales", "pg_temp"))},
     {"routine_security": routine(search_path=("pg_catalog", "sales"))}, "widens",
     f"{P}: search_path no longer lists pg_temp: the caller's temporary schema is searched first"),
    ({}, {"routine_security": routine(search_path=("pg_catalog",))}, "narrows",
     f"{P}: search_path drops sales"),
    ({"routine_security": routine(search_path=())}, {}, "narrows",
     f"{P}: search_path pinned to pg_catalog, sales"),
    ({}, {"routine_security": routine(search_path=("sales", "pg_catalog"))}, None, ""),
    ({}, {"routine_security": routine(owner="other", callers=())}, None, ""),
    # row-level security: disabled / FORCE removed widen, the reverse narrows
    ({}, {"row_security": ()}, "widens",
     f"{T}: row-level security disabled: no policy filters its rows"),
    ({}, {"row_security": table(enable=False)}, "widens", f"{T}: row-level security disabled"),
    ({"row_security": table(enable=False)}, {}, "narrows",
     f"{T}: row-level security enabled: its policies filter its rows"),
    ({}, {"row_security": table(force=False)}, "widens",
     f"{T}: FORCE removed: the table's owner bypasses its policies"),
    ({"row_security": table(force=False)}, {}, "narrows",
     f"{T}: FORCE set: the table's owner obeys its policies too"),
    # policies (PostgreSQL ORs permissive policies and ANDs restrictive ones)
    ({}, {"row_security": table(policies=(FILTER,))}, "widens",
     f"POLICY no_big ON {T}: removed (RESTRICTIVE FOR INSERT WITH CHECK (amount < 1000000)): "
     "restrictive policies are AND-ed with the rest, so more rows pass"),
    ({"row_security": table(policies=(FILTER,))}, {}, "narrows",
     f"POLICY no_big ON {T}: added (RESTRICTIVE"),
    ({}, {"row_security": table(policies=(NO_BIG,))}, "narrows",
     f"POLICY tenant_filter ON {T}: removed (PERMISSIVE FOR ALL USING (amount >= 0) WITH CHECK "
     "(true)): permissive policies are OR-ed with each other, so fewer rows pass"),
    ({}, {"row_security": table(policies=(FILTER, NO_BIG, FILTER.model_copy(
        update={"name": "all_rows", "using": "true"})))}, "widens",
     f"POLICY all_rows ON {T}: added (PERMISSIVE FOR ALL USING (true) WITH CHECK (true)): "
     "permissive policies are OR-ed with each other, so more rows pass"),
    ({}, {"row_security": table(policies=(FILTER, NO_BIG.model_copy(
        update={"permissive": True})))}, "widens", f"POLICY no_big ON {T}: made PERMISSIVE"),
    ({"row_security": table(policies=(FILTER, NO_BIG.model_copy(update={"permissive": True})))},
     {}, "narrows", f"POLICY no_big ON {T}: made RESTRICTIVE"),
    ({}, {"row_security": table(policies=(FILTER.model_copy(update={"using": "true"}), NO_BIG))},
     "widens", f"POLICY tenant_filter ON {T}: {LOOSER} USING (true) WITH CHECK (true))"),
    ({}, {"row_security": table(policies=(NO_BIG, FILTER))}, None, ""),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new", "effect", "expected"), CASES)
def test_each_change_widens_or_narrows_as_postgresql_applies_it(
    old: dict[str, Any], new: dict[str, Any], effect: str | None, expected: str
) -> None:
    diff = diff_plans(secured(**old), secured(**new))
    assert not diff.is_empty
    widened, narrowed = effects(diff)
    if effect is None:
        assert (widened, narrowed) == ([], [])
        return
    found, other = (widened, narrowed) if effect == "widens" else (narrowed, widened)
    assert len(found) == 1, found
    assert found[0].startswith(expected)
    assert other == []


# --- the items: added, removed, changed, counted ---------------------------------------------


def test_settings_added_removed_and_changed_are_listed_and_counted(update_golden: bool) -> None:
    old = secured()
    new = secured(
        view_security=(),
        routine_security=routine(search_path=()),
        row_security=table(force=False, policies=(FILTER,)),
    )
    diff = diff_plans(old, new)
    assert diff.view_security_removed == (VIEW,)
    assert [(c.subject, c.fields) for c in diff.routine_security_changed] == [(P, ("search_path",))]
    assert [(c.subject, c.fields) for c in diff.row_security_changed] == [
        (T, ("force", "policies"))
    ]
    text = render_diff_markdown(diff)
    check_golden("review/diff_security.md", text, update_golden)
    lines = text.splitlines()
    head = text.split("| --- |")[0]
    assert (
        "**⚠️ Security settings widened:** 4 changes widen access (07\\_security.sql: SECURITY "
        "DEFINER routines, security\\_invoker views, row-level security); none narrows it."
    ) in head
    assert "| Routine security | · | · | 1 |" in lines
    assert "| View security | · | 1 | · |" in lines
    assert "| Row-level security | · | · | 1 |" in lines
    assert "- ➖ `VIEW sales:sales.v_totals`: security\\_invoker" in lines
    assert f"- ✏️ `{P}`: search\\_path `pg_catalog, sales` → (none)" in lines
    assert (
        f"- ✏️ `{T}`: force `true` → `false`; policy `no_big` removed (RESTRICTIVE FOR INSERT "
        "WITH CHECK (amount &lt; 1000000))"
    ) in lines
    assert (
        f"- `{V}`: security\\_invoker removed: it reads its tables with its owner's privileges, "
        "for every caller"
    ) in lines
    assert text.index("### ⚠️ Security settings widened (4)") < text.index(
        "### Routine, view and row-level security (3)"
    )


def test_settings_added_are_listed_and_a_new_security_definer_still_widens() -> None:
    old = secured(view_security=(), routine_security=(), row_security=())
    diff = diff_plans(old, secured())
    lines = render_diff_markdown(diff).splitlines()
    assert effects(diff)[0] == [
        f"{P}: made SECURITY DEFINER: its callers run it with the privileges of sales_owner"
    ]
    assert [e.subject for e in diff.security_narrowed] == [T, V]
    assert (
        f"- ➕ `{P}`: SECURITY DEFINER as `sales_owner`, search\\_path `pg_catalog, sales`, "
        "callers `app_sales`"
    ) in lines
    assert (
        f"- ➕ `{T}`: row-level security enabled, forced; policy `tenant_filter` PERMISSIVE FOR "
        "ALL USING (amount &gt;= 0) WITH CHECK (true); policy `no_big` RESTRICTIVE FOR INSERT "
        "WITH CHECK (amount &lt; 1000000)"
    ) in lines
    assert "| View security | 1 | · | · |" in lines
    assert (
        "**⚠️ Security settings widened:** 1 change widens access (07\\_security.sql: SECURITY "
        "DEFINER routines, security\\_invoker views, row-level security); 2 narrow it."
    ) in lines


def test_only_narrowing_says_so() -> None:
    diff = diff_plans(secured(view_security=()), secured())
    assert (
        "**Security settings:** 1 change narrows access (07\\_security.sql: SECURITY DEFINER "
        "routines, security\\_invoker views, row-level security); none widens it."
    ) in render_diff_markdown(diff).splitlines()


def test_provenance_only_changes_are_not_changes() -> None:
    new = secured(
        view_security=(VIEW.model_copy(update={"facts": ("x",), "comment": "moved"}),),
        routine_security=routine(facts=("y",), comment="z"),
        row_security=table(facts=("w",)),
    )
    assert diff_plans(secured(), new).is_empty
    meant = secured(view_security=(VIEW.model_copy(update={"security_invoker": False}),))
    assert [(c.subject, c.fields) for c in diff_plans(secured(), meant).view_security_changed] == [
        (V, ("security_invoker",))
    ]


def test_a_dropped_object_widens_nothing_and_a_new_view_narrows_nothing() -> None:
    """The settings of an object the new plan no longer has went with it; a new view or table
    never ran without them. A new SECURITY DEFINER routine is still a widening."""
    gone = diff_plans(secured(), secured(objects=(), view_security=(), routine_security=(),
                                         row_security=()))  # fmt: skip
    assert gone.view_security_removed == (VIEW,)
    assert gone.row_security_removed == (RLS,)
    assert effects(gone) == ([], [])
    new = diff_plans(plans.plan(), secured())
    assert effects(new) == (
        [f"{P}: made SECURITY DEFINER: its callers run it with the privileges of sales_owner"],
        [],
    )


def test_effects_and_items_are_sorted() -> None:
    views = tuple(
        PgViewSecurity(database="sales", schema_name="sales", name=n) for n in ("b", "a", "c")
    )
    diff = diff_plans(secured(view_security=views), secured(view_security=()))
    assert [e.subject for e in diff.security_widened] == [
        "VIEW sales:sales.a",
        "VIEW sales:sales.b",
        "VIEW sales:sales.c",
    ]
    text = render_diff_markdown(diff)
    assert text.index("➖ `VIEW sales:sales.a`") < text.index("➖ `VIEW sales:sales.c`")


def test_json_round_trips_with_the_settings() -> None:
    diff = diff_plans(secured(), secured(view_security=(), row_security=table(force=False)))
    again = PlanDiff.model_validate_json(diff.model_dump_json(indent=2))
    assert again == diff
    assert again.row_security_changed[0].new.force is False
    assert [e.subject for e in again.security_widened] == [T, V]


# --- the gate ----------------------------------------------------------------------------------


def _write(path: Path, plan: MigrationPlan) -> Path:
    path.write_text(plan.to_json(), encoding="utf-8")
    return path


def test_fail_on_gained_fails_on_a_widening_setting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = _write(tmp_path / "base.json", secured())
    loose = _write(tmp_path / "loose.json", secured(view_security=()))
    assert main(["diff", str(base), str(loose)]) == 0  # no gate asked for
    capsys.readouterr()
    assert main(["diff", str(base), str(loose), "--fail-on-gained"]) == 1
    assert capsys.readouterr().err == (
        f"1 security setting widened: {V}: security_invoker removed: it reads its tables with "
        "its owner's privileges, for every caller\n"
    )
    assert main(["--json", "diff", str(base), str(loose), "--fail-on-gained"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["exit_code"] == 1
    assert data["failing_access"] == [
        f"{V}: security_invoker removed: it reads its tables with its owner's privileges, "
        "for every caller"
    ]
    assert data["diff"]["view_security_removed"][0]["name"] == "v_totals"
    # the opposite change narrows: the gate passes
    assert main(["diff", str(loose), str(base), "--fail-on-gained"]) == 0
