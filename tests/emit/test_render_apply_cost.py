"""Statement shapes that make the scripts cheap to apply (issue 7), and that they grant the same.

* grants: each object's grants are split into as few (privileges, grantees) pairs as the
  simpler of "one per privilege set" and "one per privilege" gives, covering exactly the grants;
  long object lists are cut at ``MAX_OBJECTS``;
* memberships: roles with the same members share a statement, deepest role first;
* roles: the existence check is ``to_regrole`` on the quoted name, so a second run (or a role
  that existed before) is found whatever its spelling.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mapper.plan import MigrationPlan, PgGrant, PgMembership, PgObject, PgRole, RoleKind
from pg_emit.apply import run_scripts
from pg_emit.grant_groups import schema_wide, split_privileges
from pg_emit.render import render_sql
from pg_emit.render_grants import MAX_OBJECTS, privileges_statements
from pg_emit.render_roles import CREATED_MARK, membership_sections
from pg_emit.server import connect
from tests.emit.conftest import Scratch

PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "REFERENCES")


def _expand(pairs: list[tuple[frozenset[str], tuple[str, ...]]]) -> set[tuple[str, str]]:
    return {(g, p) for privileges, grantees in pairs for g in grantees for p in privileges}


@pytest.mark.parametrize(
    ("given_grants", "expected"),
    [
        # two privilege sets, four privileges: one statement per set
        (
            {"a": {"SELECT", "INSERT", "UPDATE", "DELETE"}, "b": {"SELECT"}},
            {(frozenset({"SELECT", "INSERT", "UPDATE", "DELETE"}), ("a",)),
             (frozenset({"SELECT"}), ("b",))},
        ),
        # four privilege sets over three privileges: one statement per privilege
        (
            {"a": {"SELECT", "INSERT"}, "b": {"SELECT", "UPDATE"}, "c": {"INSERT", "UPDATE"},
             "d": {"SELECT"}},
            {(frozenset({"SELECT"}), ("a", "b", "d")), (frozenset({"INSERT"}), ("a", "c")),
             (frozenset({"UPDATE"}), ("b", "c"))},
        ),
        # a tie keeps the privilege sets: every grantee named once
        (
            {"a": {"SELECT", "INSERT"}, "b": {"SELECT"}},
            {(frozenset({"SELECT", "INSERT"}), ("a",)), (frozenset({"SELECT"}), ("b",))},
        ),
    ],
)  # fmt: skip
def test_split_privileges_examples(
    given_grants: dict[str, set[str]], expected: set[tuple[frozenset[str], tuple[str, ...]]]
) -> None:
    assert set(split_privileges(given_grants)) == expected


@given(
    st.dictionaries(
        st.sampled_from(["a", "b", "c", "d", "e", "f", "g"]),
        st.sets(st.sampled_from(PRIVILEGES), min_size=1),
        min_size=1,
    )
)
def test_split_privileges_covers_exactly_with_the_fewer_statements(
    grants: dict[str, set[str]],
) -> None:
    pairs = split_privileges(grants)
    assert _expand(pairs) == {(g, p) for g, privileges in grants.items() for p in privileges}
    distinct_sets = len({frozenset(p) for p in grants.values()})
    distinct_privileges = len(set().union(*grants.values()))
    assert len(pairs) == min(distinct_sets, distinct_privileges)


def _table_plan(
    tables: int, listed: int, facts: Callable[[int], tuple[str, ...]] | None = None
) -> MigrationPlan:
    """``tables`` tables in schema s (``listed`` of them known to the plan), SELECT to r;
    each grant's facts are ``facts(i)`` (default: one object-level fact per table)."""
    facts = facts or (lambda i: (f"perm:t{i:03d}",))
    objects = tuple(
        PgObject(database="d", schema_name="s", name=f"t{i:03d}", kind="table", owner="o")
        for i in range(listed)
    )
    grants = tuple(
        PgGrant(database="d", object_type="TABLE", schema_name="s", name=f"t{i:03d}",
                privilege="SELECT", grantee="r", facts=facts(i))
        for i in range(tables)
    )  # fmt: skip
    return MigrationPlan(fingerprint="sha256:" + "cd" * 32, objects=objects, grants=grants)


def test_long_object_lists_are_cut_and_each_statement_names_its_own_facts() -> None:
    plan = _table_plan(tables=2 * MAX_OBJECTS + 50, listed=2 * MAX_OBJECTS + 51)
    statements = privileges_statements(plan, "d")
    named = [re.findall(r"s\.t\d{3}", s.sql) for s in statements]
    assert [len(n) for n in named] == [MAX_OBJECTS, MAX_OBJECTS, 50]
    assert sorted(t for n in named for t in n) == [f"s.t{i:03d}" for i in range(250)]
    for statement, tables in zip(statements, named, strict=True):
        first = tables[0].removeprefix("s.")
        assert statement.notes[0].startswith(f"from: perm:{first};")
        assert statement.notes[0].endswith(f"(+{len(tables) - 6} more)")


SCHEMA_FACT = "D/perm:SCHEMA:s:SELECT:grant:r"
DATABASE_FACT = "D/perm:DATABASE:CONTROL:grant:r"


@pytest.mark.parametrize("fact", [SCHEMA_FACT, DATABASE_FACT])
def test_a_schema_granted_whole_in_the_source_is_one_statement(fact: str) -> None:
    plan = _table_plan(tables=250, listed=250, facts=lambda i: (f"D/perm:OBJECT:s:t{i}", fact))
    statements = privileges_statements(plan, "d")
    assert [s.sql for s in statements] == ["GRANT SELECT ON ALL TABLES IN SCHEMA s TO r"]
    assert "also covers tables only the target has" in statements[0].notes[1]


@pytest.mark.parametrize(
    "facts",
    [
        lambda i: (f"D/perm:OBJECT:s:t{i:03d}:SELECT:grant:r",),  # object by object
        lambda i: (SCHEMA_FACT if i else "D/perm:OBJECT:s:t000:SELECT:grant:r",),  # all but one
        lambda i: ("D/perm:SCHEMA:s:SELECT:deny:x", f"D/perm:OBJECT:s:t{i:03d}:SELECT:grant:r"),
    ],
    ids=["object-grants", "one-table-object-granted", "schema-deny-is-not-a-grant"],
)
def test_grants_made_object_by_object_stay_listed(facts: Callable[[int], tuple[str, ...]]) -> None:
    """Every table the plan knows, but not granted schema-wide in SQL Server: ALL TABLES IN
    SCHEMA would also reach tables only the target has (an over-grant), so they are listed."""
    statements = privileges_statements(_table_plan(tables=250, listed=250, facts=facts), "d")
    assert not any("ALL TABLES" in s.sql for s in statements)
    named = sorted(t for s in statements for t in re.findall(r"s\.t\d{3}", s.sql))
    assert named == [f"s.t{i:03d}" for i in range(250)]


def test_schema_wide_reads_fact_keys() -> None:
    assert schema_wide(["Sales/perm:SCHEMA:odd:name:VIEW DEFINITION:grant:r"])
    assert schema_wide(["a/b/perm:DATABASE:SELECT:grant:x"])
    assert not schema_wide(["Sales/perm:OBJECT:s:t:SELECT:grant:r", "Sales/member:db_x<-r"])
    assert not schema_wide(["Sales/perm:SCHEMA:s:SELECT:deny:r"])


def _membership_plan() -> MigrationPlan:
    # alpha ⊃ beta ⊃ gamma ⊃ {u1, u2}; delta ⊃ {u1, u2}: name order is not depth order
    edges = [("alpha", "beta"), ("beta", "gamma"), ("gamma", "u1"), ("gamma", "u2"),
             ("delta", "u1"), ("delta", "u2"), ("alpha", "u3")]  # fmt: skip
    roles = {name for edge in edges for name in edge}
    return MigrationPlan(
        fingerprint="sha256:" + "ef" * 32,
        roles=tuple(PgRole(name=n, kind=RoleKind.GROUP) for n in sorted(roles)),
        memberships=tuple(
            PgMembership(role=r, member=m, facts=(f"member:{r}<-{m}",)) for r, m in edges
        ),
    )


def test_memberships_share_statements_and_run_deepest_role_first() -> None:
    (section,) = membership_sections(_membership_plan())
    assert [s.sql for s in section.statements] == [
        "GRANT delta, gamma TO u1, u2",
        "GRANT beta TO gamma",
        "GRANT alpha TO beta, u3",
    ]
    assert section.statements[0].notes == (
        "from: member:delta<-u1; member:delta<-u2; member:gamma<-u1; member:gamma<-u2",
    )
    # no role is granted after it has itself become a member of another role
    members_so_far: set[str] = set()
    for statement in section.statements:
        granted, _, members = statement.sql.removeprefix("GRANT ").partition(" TO ")
        assert not set(granted.split(", ")) & members_so_far, statement.sql
        members_so_far |= set(members.split(", "))


# --- on PostgreSQL


def _created_mark(dsn: str, name: str) -> str | None:
    with connect(dsn) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = %s", [name]
        ).fetchone()
    assert row is not None, f"role {name!r} does not exist"
    return None if row[0] is None else str(row[0])


@pytest.mark.postgres
def test_roles_are_found_whatever_their_spelling(scratch: Scratch) -> None:
    p = scratch.prefix
    names = [f"{p}_Upper", f'{p} quo"te', f"{p}\\back", f"{p}\nline", f"{p}.dot", f"{p}_plain"]
    existing = f'{p} Pre "Existing"'
    plan = MigrationPlan(
        fingerprint="sha256:" + "12" * 32,
        roles=tuple(PgRole(name=n, kind=RoleKind.GROUP) for n in [*names, existing]),
    )
    with connect(scratch.dsn) as conn:
        conn.execute(f'CREATE ROLE "{existing.replace(chr(34), chr(34) * 2)}" NOLOGIN'.encode())
    roles_sql = render_sql(plan)["sql/01_roles.sql"]
    run_scripts(scratch.dsn, [("01_roles.sql", roles_sql)])
    run_scripts(scratch.dsn, [("01_roles.sql", roles_sql)])  # would fail: "already exists"
    for name in names:
        assert (_created_mark(scratch.dsn, name) or "").startswith(CREATED_MARK), name
    assert _created_mark(scratch.dsn, existing) is None  # rollback.sql will leave it alone


@pytest.mark.postgres
def test_split_grants_give_exactly_the_planned_privileges(scratch: Scratch) -> None:
    p = scratch.prefix
    wanted = {
        "orders": {"a": {"SELECT", "INSERT"}, "b": {"SELECT", "UPDATE"}, "c": {"INSERT", "UPDATE"},
                   "d": {"SELECT"}},
        "customers": {"a": {"SELECT", "INSERT", "UPDATE", "DELETE"}, "b": {"SELECT"}},
    }  # fmt: skip
    grants = tuple(
        PgGrant(database=scratch.database, object_type="TABLE", schema_name="sales", name=table,
                privilege=privilege, grantee=f"{p}_{grantee}")
        for table, by_grantee in wanted.items()
        for grantee, privileges in by_grantee.items()
        for privilege in privileges
    )  # fmt: skip
    plan = MigrationPlan(
        fingerprint="sha256:" + "34" * 32,
        roles=tuple(PgRole(name=f"{p}_{g}", kind=RoleKind.GROUP) for g in "abcd"),
        grants=grants,
    )
    scripts = render_sql(plan)
    assert scripts["sql/04_privileges.sql"].count("\nGRANT ") == 5  # 3 for orders, 2 for customers
    run_scripts(scratch.dsn, [(n, scripts[f"sql/{n}"]) for n in ("01_roles.sql", "04_privileges.sql")])  # fmt: skip
    found: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    with connect(scratch.dsn, scratch.database) as conn:
        rows = conn.execute(
            "SELECT c.relname, r.rolname, a.privilege_type FROM pg_class c"
            " CROSS JOIN LATERAL aclexplode(c.relacl) a JOIN pg_roles r ON r.oid = a.grantee"
            " WHERE c.relnamespace = 'sales'::regnamespace AND starts_with(r.rolname, %s)",
            [f"{p}_"],
        ).fetchall()
    for table, role, privilege in rows:
        found[table][role.removeprefix(f"{p}_")].add(privilege)
    assert found == wanted
