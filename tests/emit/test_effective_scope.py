"""``verify``'s effective-privilege check asks only candidates (issue #8), and misses nothing.

A plan is applied (in a transaction rolled back at the end), then changed behind its back;
each change must be reported — by the candidate check, for a role, or once for PUBLIC — exactly
as asking the server about the full product (every plan role × securable × privilege) reports
it. The reference below asks the full product; a change the candidates missed shows up as a
difference from it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest

from mapper.plan import MigrationPlan, PgDatabase, PgGrant, PgObject, PgRole, PgSchema, RoleKind
from mapper.quoting import quote_ident
from pg_emit.compare import Mismatch
from pg_emit.effective import (
    CHECKS,
    QUERY,
    build_scope,
    candidates,
    check_effective,
    expected,
    role_checks,
    securables,
)
from pg_emit.render import render_sql
from pg_emit.verify import applied
from tests.emit.conftest import Scratch

pytestmark = pytest.mark.postgres

Found = set[tuple[str, str, str]]  # (role, "PRIVILEGE on LABEL", status)


def full_product(conn: psycopg.Connection[Any], plan: MigrationPlan, database: str) -> Found:
    """Mismatches from asking the server about every (plan role, securable, privilege)."""
    scope = build_scope(conn, plan, database)  # only its plan facts: closures, grants
    checks = [(role, item, owner, p) for role in sorted(scope.closures)
              for item, owner in securables(plan, database) for p in CHECKS[item[0]][0]]  # fmt: skip
    payload = [{"i": n, "k": item[0], "r": role, "target": item[1], "col": item[2], "p": p}
               for n, (role, item, _, p) in enumerate(checks)]  # fmt: skip
    answers = dict(conn.execute(QUERY.encode(), [json.dumps(payload)]).fetchall())
    found = set()
    for n, (role, item, owner, p) in enumerate(checks):
        want = expected(plan, database, role, item, owner, p, scope.granted, scope.closures[role])
        if bool(answers[n]) != want:
            found.add((role, f"{p} on {item[3]}", "missing" if want else "extra"))
    return found


def as_found(mismatches: list[Mismatch]) -> Found:
    assert {m.kind for m in mismatches} <= {"effective"}
    return {(*m.subject.split(": ", 1), m.status) for m in mismatches}  # type: ignore[misc]


def assert_same_as_full_product(found: Found, reference: Found) -> None:
    """Every role mismatch is the full product's; each of its mismatches is found, or PUBLIC's
    mismatch on the same privilege accounts for it (PUBLIC's difference is every role's)."""
    public = {(what, status) for role, what, status in found if role == "PUBLIC"}
    assert {f for f in found if f[0] != "PUBLIC"} <= reference
    assert {f for f in reference if (f[1], f[2]) not in public} <= found


@contextmanager
def changed(scratch: Scratch, plan: MigrationPlan, *sql: str) -> Iterator[Found]:
    """Apply the plan, run ``sql`` behind its back, yield check_effective's mismatches."""
    with applied(scratch.dsn, plan, render_sql(plan), scratch.database) as conn:
        assert check_effective(conn, plan, scratch.database) == []
        for statement in sql:
            conn.execute(statement.encode())
        found = as_found(check_effective(conn, plan, scratch.database))
        assert_same_as_full_product(found, full_product(conn, plan, scratch.database))
        yield found


def _role(scratch: Scratch, name: str) -> str:
    return quote_ident(f"{scratch.prefix}_{name}")


def test_plan_answers_in_bulk_are_expected_and_all_asked(scratch: Scratch) -> None:
    """role_checks' answers are :func:`expected`'s; every check the plan answers true is asked
    (or held by PUBLIC on both sides)."""
    public = PgGrant(database=scratch.database, object_type="TABLE", schema_name="sales",
                     name="v_totals", privilege="SELECT", grantee="PUBLIC")  # fmt: skip
    plan = scratch.plan.model_copy(update={"grants": (*scratch.plan.grants, public)})
    database = scratch.database
    with applied(scratch.dsn, plan, render_sql(plan), database) as conn:
        scope = build_scope(conn, plan, database)
    both = scope.public_live & scope.public_plan
    assert both  # PUBLIC's SELECT on v_totals and its columns
    asked = 0
    for role, slots, wants in role_checks(scope):
        true = set()
        for slot, (index, privilege) in enumerate(scope.slots):
            item, owner = scope.items[index]
            if expected(plan, database, role, item, owner, privilege, scope.granted,
                        scope.closures[role]):  # fmt: skip
                true.add(slot)
        assert wants == [slot in true for slot in slots]
        assert true - both <= set(slots)
        asked += len(slots)
    assert asked


def test_extra_table_grant_is_reported(scratch: Scratch) -> None:
    alice = f"{scratch.prefix}_alice"
    grant = f"GRANT TRUNCATE ON TABLE sales.orders TO {quote_ident(alice)}"
    with changed(scratch, scratch.plan, grant) as found:
        assert found == {(alice, "TRUNCATE on TABLE sales.orders", "extra")}


def test_extra_membership_is_reported_for_what_it_inherits(scratch: Scratch) -> None:
    alice = f"{scratch.prefix}_alice"
    grant = f"GRANT {_role(scratch, 'sales_writer')} TO {quote_ident(alice)}"
    with changed(scratch, scratch.plan, grant) as found:
        assert {role for role, _, _ in found} == {alice}
        assert {status for _, _, status in found} == {"extra"}
        # the writer's, minus what alice has already through reader (SELECT, CONNECT, USAGE)
        assert {what for _, what, _ in found} == {
            *(f"{p} on TABLE sales.{t}" for t in ("orders", "customers")
              for p in ("INSERT", "UPDATE", "DELETE")),
            *(f"{p} on TABLE sales.orders ({c})" for c in ("id", "amount", "note")
              for p in ("INSERT", "UPDATE")),
            *(f"{p} on TABLE sales.customers ({c})" for c in ("id", "name", "Secret Col")
              for p in ("INSERT", "UPDATE")),
            "USAGE on SEQUENCE sales.order_seq",
            "EXECUTE on PROCEDURE sales.add_order(integer, text)",
        }  # fmt: skip


def test_grant_to_public_is_reported_once_for_public(scratch: Scratch) -> None:
    grant = "GRANT UPDATE ON TABLE sales.v_totals TO PUBLIC"
    with changed(scratch, scratch.plan, grant) as found:
        assert found == {
            ("PUBLIC", "UPDATE on TABLE sales.v_totals", "extra"),
            ("PUBLIC", "UPDATE on TABLE sales.v_totals (id)", "extra"),
            ("PUBLIC", "UPDATE on TABLE sales.v_totals (total)", "extra"),
        }


def test_public_grant_of_the_plan_revoked_is_reported_once_for_public(scratch: Scratch) -> None:
    public = PgGrant(database=scratch.database, object_type="TABLE", schema_name="sales",
                     name="v_totals", privilege="SELECT", grantee="PUBLIC")  # fmt: skip
    plan = scratch.plan.model_copy(update={"grants": (*scratch.plan.grants, public)})
    with applied(scratch.dsn, plan, render_sql(plan), scratch.database) as conn:
        # held by PUBLIC on both sides: no role is asked about it
        assert not [c for c in candidates(conn, plan, scratch.database)
                    if c[1].startswith("TABLE sales.v_totals") and c[2] == "SELECT"]  # fmt: skip
    revoke = "REVOKE SELECT ON TABLE sales.v_totals FROM PUBLIC"
    with changed(scratch, plan, revoke) as found:
        assert found == {
            ("PUBLIC", "SELECT on TABLE sales.v_totals", "missing"),
            ("PUBLIC", "SELECT on TABLE sales.v_totals (id)", "missing"),
            ("PUBLIC", "SELECT on TABLE sales.v_totals (total)", "missing"),
        }


#: (change, the two roles it reaches, what they are asked about, expected state). A revoked
#: intended grant is missing for its grantee and its member; an extra column grant is extra for
#: its grantee and its member (app inherits UPDATE on the whole table from writer already).
ONE_GRANT_CHANGED = [
    ("REVOKE USAGE ON SEQUENCE sales.order_seq FROM {writer}", ("writer", "app"),
     "USAGE on SEQUENCE sales.order_seq", "missing"),
    ("GRANT UPDATE (note) ON TABLE sales.orders TO {reader}", ("reader", "alice"),
     "UPDATE on TABLE sales.orders (note)", "extra"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "roles", "subject", "state"), ONE_GRANT_CHANGED)
def test_one_changed_grant_is_reported_for_its_grantee_and_member(
    scratch: Scratch, change: str, roles: tuple[str, str], subject: str, state: str
) -> None:
    role = {r: f"{scratch.prefix}_sales_{r}" for r in ("writer", "reader")}
    role |= {r: f"{scratch.prefix}_{r}" for r in ("app", "alice")}
    sql = change.format(**{r: quote_ident(name) for r, name in role.items()})
    with changed(scratch, scratch.plan, sql) as found:
        assert found == {(role[r], subject, state) for r in roles}


def test_owner_changed_to_a_plan_role_is_reported(scratch: Scratch) -> None:
    alice, owner = f"{scratch.prefix}_alice", f"{scratch.prefix}_sales_owner"
    alter = f"ALTER TABLE sales.customers OWNER TO {quote_ident(alice)}"
    columns = ("id", "name", "Secret Col")
    with changed(scratch, scratch.plan, alter) as found:
        table = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
        assert {(what, s) for r, what, s in found if r == owner} == {
            *((f"{p} on TABLE sales.customers", "missing") for p in table),
            *((f"{p} on TABLE sales.customers ({c})", "missing") for c in columns
              for p in CHECKS["COLUMN"][0]),
        }  # fmt: skip
        # alice reads the table through reader already
        assert {(what, s) for r, what, s in found if r == alice} == {
            *((f"{p} on TABLE sales.customers", "extra") for p in table[1:]),
            *((f"{p} on TABLE sales.customers ({c})", "extra") for c in columns
              for p in ("INSERT", "UPDATE", "REFERENCES")),
        }  # fmt: skip
        assert {r for r, _, _ in found} == {alice, owner}


def test_database_owner_gets_what_pg_database_owner_holds(scratch: Scratch) -> None:
    alice, owner = f"{scratch.prefix}_alice", f"{scratch.prefix}_sales_owner"
    alter = f"ALTER DATABASE {quote_ident(scratch.database)} OWNER TO {quote_ident(alice)}"
    grant = "GRANT TRUNCATE ON TABLE sales.orders TO pg_database_owner"
    database = f"DATABASE {scratch.database}"
    with changed(scratch, scratch.plan, alter, grant) as found:
        assert found == {
            (alice, "TRUNCATE on TABLE sales.orders", "extra"),  # no ACL entry names alice
            *((alice, f"{p} on {database}", "extra") for p in ("CREATE", "TEMPORARY")),
            *((owner, f"{p} on {database}", "missing") for p in CHECKS["DATABASE"][0]),
        }


def wide_plan(prefix: str, database: str, logins: int = 60, tables: int = 30) -> MigrationPlan:
    """Many logins, each granted SELECT on one table of many: the full product is mostly empty."""
    owner = f"{prefix}_owner"
    names = [f"{prefix}_login{n:03}" for n in range(logins)]
    objects = tuple(
        PgObject(database=database, schema_name="wide", name=f"t{n:03}", kind="table",
                 columns=("a", "b", "c", "d"), owner=owner)
        for n in range(tables)
    )  # fmt: skip
    grants = tuple(
        PgGrant(database=database, object_type="TABLE", schema_name="wide",
                name=f"t{n % tables:03}", privilege="SELECT", grantee=name)
        for n, name in enumerate(names)
    )  # fmt: skip
    usage = tuple(
        PgGrant(database=database, object_type="SCHEMA", name="wide", privilege="USAGE",
                grantee=name)
        for name in names
    )  # fmt: skip
    return MigrationPlan(
        fingerprint="sha256:" + "cd" * 32,
        target="postgresql",
        databases=(PgDatabase(name=database, owner=owner),),
        roles=(PgRole(name=owner, kind=RoleKind.OWNER),
               *(PgRole(name=n, kind=RoleKind.LOGIN, login=True) for n in names)),
        schemas=(PgSchema(database=database, name="wide", owner=owner),),
        objects=objects,
        grants=grants + usage,
    )  # fmt: skip


def test_candidates_are_a_small_part_of_the_full_product(scratch: Scratch) -> None:
    plan = wide_plan(scratch.prefix, scratch.database)
    slots = sum(len(CHECKS[item[0]][0]) for item, _ in securables(plan, scratch.database))
    product = 61 * slots
    with applied(scratch.dsn, plan, render_sql(plan), scratch.database) as conn:
        asked = candidates(conn, plan, scratch.database)
        # the owner: everything; each login: USAGE on the schema, SELECT on a table and its
        # 4 columns; CONNECT and TEMPORARY are PUBLIC's on both sides (the plan keeps them)
        assert len(asked) == slots - 2 + 60 * (1 + 1 + 4)
        assert len(asked) * 20 < product
        assert len(set(asked)) == len(asked)
        assert asked == sorted(asked, key=lambda c: c[0])
    login = f"{scratch.prefix}_login007"
    with changed(
        scratch, plan, f"GRANT {_role(scratch, 'login008')} TO {quote_ident(login)}"
    ) as found:
        assert found == {
            (login, "SELECT on TABLE wide.t008", "extra"),
            *((login, f"SELECT on TABLE wide.t008 ({c})", "extra") for c in "abcd"),
        }


@pytest.mark.parametrize("batch", [1, 3, 7])
def test_small_batches_find_the_same(
    scratch: Scratch, monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    """Checks split across many queries (whole roles per query, several roles in one, PUBLIC's
    slots in pieces) map each disagreement back to its role and slot as one query does."""
    import pg_emit.effective as effective

    alice = f"{scratch.prefix}_alice"
    changes = (
        f"GRANT {_role(scratch, 'sales_writer')} TO {quote_ident(alice)}",
        "GRANT UPDATE ON TABLE sales.v_totals TO PUBLIC",
        f"REVOKE USAGE ON SEQUENCE sales.order_seq FROM {_role(scratch, 'sales_writer')}",
    )
    with changed(scratch, scratch.plan, *changes) as whole:
        pass
    monkeypatch.setattr(effective, "CHECK_BATCH", batch)
    with changed(scratch, scratch.plan, *changes) as pieces:
        assert pieces == whole
    assert {role for role, _, _ in whole} >= {alice, "PUBLIC"}
    assert len(whole) > 20  # more disagreements than any batch holds checks
