"""Roles and memberships are the cluster's: drift and verify read and compare them once.

They compared every cluster-wide membership once per database (at bench scale M: 408k
memberships, ten databases) and a set union removed the copies. Once must find the same
mismatches as once per database did.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mapper.plan import MigrationPlan, PgGrant, PgMembership
from mapper.quoting import quote_ident
from mapper.target import bind_signatures
from pg_emit import compare as compare_module
from pg_emit import verify as verify_module
from pg_emit.apply import apply_plan_dir
from pg_emit.compare import Mismatch, acl_facts, compare, in_order
from pg_emit.drift import drift
from pg_emit.inspect import session_role
from pg_emit.server import connect
from pg_emit.verify import live_state, only_database, verify_plan
from tests.emit.builders import realistic_plan
from tests.emit.conftest import _cleanup, build_target, write_plan_dir


def two_databases(prefix: str) -> MigrationPlan:
    """The realistic plan in two databases, its roles and memberships shared."""
    first, second = (realistic_plan(prefix, f"{prefix}_{n}") for n in ("a", "b"))
    merged = {
        field: getattr(first, field) + getattr(second, field)
        for field in ("databases", "schemas", "objects", "grants", "revokes",
                      "default_privileges", "default_revokes", "routine_security",
                      "row_security")
    }  # fmt: skip
    return first.model_copy(update=merged)


@pytest.fixture
def prefix(pg_dsn: str) -> Iterator[str]:
    """A prefix for two databases and the plan's roles, all dropped afterwards (the plan has a
    role called ``… Odd "Name"``, which the shared ``prefix`` fixture cannot quote)."""
    name = f"gbc{uuid.uuid4().hex[:8]}"
    try:
        yield name
    finally:
        with connect(pg_dsn) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}_b" WITH (FORCE)'.encode())
        _cleanup(pg_dsn, name, f"{name}_a")


def per_database(dsn: str, plan: MigrationPlan) -> list[Mismatch]:
    """The mismatches as drift found them before: everything compared in every database."""
    found: set[Mismatch] = set()
    for database in sorted(d.name for d in plan.databases):
        with connect(dsn, database) as conn:
            live = live_state(conn, plan)
            applier = session_role(conn)
        scoped = only_database(bind_signatures(plan, live.objects), database)
        found |= set(compare(scoped, live, applier=applier))
    return in_order(found)


def counting(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[int]:
    """Count the calls of ``module.name`` from now on."""
    calls = [0]
    original: Callable[..., Any] = getattr(module, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


@pytest.mark.postgres
def test_drift_compares_the_cluster_once_and_finds_what_every_database_found(
    pg_dsn: str, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = two_databases(prefix)
    build_target(pg_dsn, plan)
    apply_plan_dir(write_plan_dir(tmp_path, plan), pg_dsn)
    reader, writer, app, alice = (
        quote_ident(f"{prefix}_{n}") for n in ("sales_reader", "sales_writer", "app", "alice")
    )
    with connect(pg_dsn) as conn:
        conn.execute(f"REVOKE {reader} FROM {app}".encode())  # a missing membership
        conn.execute(f"GRANT {writer} TO {alice}".encode())  # an extra one
        conn.execute(f"ALTER ROLE {alice} CREATEDB".encode())  # an extra attribute
    for database, table in ((f"{prefix}_a", "orders"), (f"{prefix}_b", "customers")):
        with connect(pg_dsn, database) as conn:
            conn.execute(f"REVOKE SELECT ON sales.{table} FROM {reader}".encode())
    expected = per_database(pg_dsn, plan)
    assert {(m.kind, m.database, m.status) for m in expected} >= {
        ("membership", "", "missing"), ("membership", "", "extra"), ("role", "", "extra"),
        ("acl", f"{prefix}_a", "missing"), ("acl", f"{prefix}_b", "missing"),
    }  # fmt: skip
    memberships = counting(monkeypatch, compare_module, "compare_memberships")
    reads = counting(monkeypatch, verify_module, "read_roles")
    mismatches, script = drift(plan, pg_dsn, authoritative=True)
    assert mismatches == expected
    assert (memberships[0], reads[0]) == (1, 1)  # two databases: twice each before
    assert script.count(f"GRANT {reader} TO {app}") == 1
    assert script.count(f"REVOKE {writer} FROM {alice}") == 1


@pytest.mark.postgres
def test_verify_compares_the_cluster_once(
    pg_dsn: str, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a live target verify applies the roles again in each database's transaction; it
    compares them in the first one. A membership the plan lacks but the target has is found."""
    plan = two_databases(prefix)
    build_target(pg_dsn, plan)
    other = PgMembership(role=f"{prefix}_sales_writer", member=f"{prefix}_alice")
    with connect(pg_dsn) as conn:  # two of the plan's roles, in a membership it does not plan
        for role in (other.role, other.member):
            conn.execute(f"CREATE ROLE {quote_ident(role)}".encode())
        conn.execute(f"GRANT {quote_ident(other.role)} TO {quote_ident(other.member)}".encode())
    memberships = counting(monkeypatch, compare_module, "compare_memberships")
    found = verify_plan(plan, pg_dsn, embedded=False)
    assert memberships[0] == 1
    assert [m for m in found if m.kind == "membership"] == [
        Mismatch("membership", "", f"{other.member} in {other.role}", "extra")
    ]


def test_acl_facts_copies_only_the_grants_it_changes() -> None:
    """A grant with one column (or none) and a normalized privilege is its own fact: copying
    every grant cost 3.2 million ``model_copy`` calls on an empty target at bench scale M."""
    plain = PgGrant(database="d", object_type="TABLE", schema_name="s", name="t",
                    privilege="SELECT", grantee="r")  # fmt: skip
    column = plain.model_copy(update={"columns": ("a",)})
    columns = plain.model_copy(update={"name": "u", "columns": ("a", "b"), "privilege": "select"})
    temp = PgGrant(database="d", object_type="DATABASE", name="d", privilege="temp", grantee="r")
    facts = acl_facts([plain, column, columns, temp])
    assert facts["d", "TABLE s.t SELECT to r"] is plain
    assert facts["d", "TABLE s.t (a) SELECT to r"] is column
    assert [facts["d", f"TABLE s.u ({c}) SELECT to r"] for c in "ab"] == [
        columns.model_copy(update={"columns": (c,), "privilege": "SELECT"}) for c in "ab"
    ]
    assert facts["d", "DATABASE d TEMPORARY to r"] == temp.model_copy(
        update={"privilege": "TEMPORARY"}
    )
    assert len(facts) == 5


@pytest.mark.postgres
def test_drift_compares_a_parameters_grants_of_the_plans_roles_only(
    pg_dsn: str, prefix: str, tmp_path: Path
) -> None:
    """``GRANT SET ON PARAMETER`` is cluster-wide: another application's role holding SET on a
    parameter the plan grants is not this plan's drift (drift called it extra, and a role left
    behind on a shared server failed other runs' checks); a plan role's extra grant still is."""
    plan = realistic_plan(prefix, f"{prefix}_a")
    build_target(pg_dsn, plan)
    apply_plan_dir(write_plan_dir(tmp_path, plan), pg_dsn)
    foreign, reader = quote_ident(f"{prefix}_other_app"), quote_ident(f"{prefix}_sales_reader")
    with connect(pg_dsn) as conn:
        conn.execute(f"CREATE ROLE {foreign}".encode())
        conn.execute(f"GRANT SET ON PARAMETER work_mem TO {foreign}".encode())
        conn.execute(f"GRANT SET ON PARAMETER work_mem TO {reader}".encode())
    mismatches, _ = drift(plan, pg_dsn, authoritative=True)
    assert [(m.kind, m.subject, m.status) for m in mismatches] == [
        ("acl", f"PARAMETER work_mem SET to {prefix}_sales_reader", "extra")
    ]


@pytest.mark.postgres
def test_drift_reports_a_view_set_back_to_run_with_its_owners_privileges(
    pg_dsn: str, prefix: str, tmp_path: Path
) -> None:
    """07's settings were not compared by drift: a security_invoker view set back to run with
    its owner's privileges (an over-grant to its callers) went unreported."""
    database = f"{prefix}_a"
    plan = realistic_plan(prefix, database)
    build_target(pg_dsn, plan)
    apply_plan_dir(write_plan_dir(tmp_path, plan), pg_dsn)
    assert drift(plan, pg_dsn)[0] == []
    with connect(pg_dsn, database) as conn:
        conn.execute(b"ALTER VIEW sales.v_totals RESET (security_invoker)")
    mismatches, _ = drift(plan, pg_dsn)
    assert [(m.kind, m.database) for m in mismatches] == [("view", database)]
    assert "v_totals" in mismatches[0].subject
