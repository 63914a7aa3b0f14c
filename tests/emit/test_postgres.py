"""End-to-end on real PostgreSQL: apply, idempotence, rollback, atomicity, verify, drift."""

from __future__ import annotations

from pathlib import Path

import pytest

from grantbridge.cli import main
from mapper.plan import PgGrant
from mapper.quoting import quote_ident
from pg_emit.apply import APPLY_ORDER, ApplyFailed, apply_plan_dir, run_scripts
from pg_emit.compare import Mismatch
from pg_emit.drift import drift
from pg_emit.inspect import inspect_server
from pg_emit.render import render_sql
from pg_emit.server import connect
from pg_emit.verify import check_state, verify_plan
from tests.emit.conftest import Scratch, write_plan_dir

pytestmark = pytest.mark.postgres


#: What 07_security.sql changes, straight from the catalogs (not through the code under test).
SECURITY_STATE_SQL = """
SELECT 'policy', schemaname || '.' || tablename || ' ' || policyname,
       concat_ws(' | ', cmd, permissive, roles::text, qual, with_check)
FROM pg_policies WHERE schemaname !~ '^pg_' AND schemaname <> 'information_schema'
UNION ALL
SELECT 'table', n.nspname || '.' || c.relname, concat(c.relrowsecurity, ' ', c.relforcerowsecurity)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
UNION ALL
SELECT 'view', n.nspname || '.' || c.relname, concat(c.reloptions::text, ' ', c.relkind)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'v' AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
UNION ALL
SELECT 'routine', n.nspname || '.' || p.oid::regprocedure::text,
       concat(p.prosecdef, ' ', p.proconfig::text)
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
ORDER BY 1, 2
"""


def _security_state(scratch: Scratch) -> list[tuple[str, str, str]]:
    with connect(scratch.dsn, scratch.database) as conn:
        return [tuple(r) for r in conn.execute(SECURITY_STATE_SQL).fetchall()]


def _records(scratch: Scratch) -> list[str | None]:
    """The comments 07 records the state before in (the view's, the routine's, the table's)."""
    sql = b"""SELECT obj_description('sales.v_totals'::regclass, 'pg_class'),
                     obj_description('sales.add_order(integer, text)'::regprocedure, 'pg_proc'),
                     obj_description('sales.orders'::regclass, 'pg_class')"""
    with connect(scratch.dsn, scratch.database) as conn:
        return list(conn.execute(sql).fetchone() or ())


def test_verify_passes_on_realistic_plan(scratch: Scratch) -> None:
    assert verify_plan(scratch.plan, scratch.dsn, embedded=False) == []


def test_apply_twice_is_identical_and_rollback_restores(scratch: Scratch, tmp_path: Path) -> None:
    before, security_before = scratch.state(), _security_state(scratch)
    plan_dir = write_plan_dir(tmp_path, scratch.plan)
    apply_plan_dir(plan_dir, scratch.dsn)
    once, security_once = scratch.state(), _security_state(scratch)
    assert once != before
    changed = {(kind, subject) for kind, subject, _ in set(security_once) - set(security_before)}
    assert changed == {
        ("policy", "sales.orders no_big"), ("policy", "sales.orders tenant_filter"),
        ("table", "sales.orders"), ("routine", "sales.sales.add_order(integer,text)"),
        ("view", "sales.v_totals"),
    }  # fmt: skip
    apply_plan_dir(plan_dir, scratch.dsn)
    assert (scratch.state(), _security_state(scratch)) == (once, security_once)
    with connect(scratch.dsn, scratch.database) as conn:
        assert check_state(conn, scratch.plan, scratch.database) == []
    rollback = (plan_dir / "sql" / "rollback.sql").read_text(encoding="utf-8")
    run_scripts(scratch.dsn, [("rollback.sql", rollback)])
    assert (scratch.state(), _security_state(scratch)) == (before, security_before)
    run_scripts(scratch.dsn, [("rollback.sql", rollback)])  # a second run changes nothing
    assert (scratch.state(), _security_state(scratch)) == (before, security_before)


def test_failure_mid_script_leaves_state_unchanged(scratch: Scratch) -> None:
    before = scratch.state()
    scripts = render_sql(scratch.plan)
    broken = scripts["sql/04_privileges.sql"].replace(
        "\nCOMMIT;", "\nGRANT SELECT ON TABLE sales.no_such_table TO PUBLIC;\n\nCOMMIT;", 1
    )
    assert broken != scripts["sql/04_privileges.sql"]
    scripts["sql/04_privileges.sql"] = broken
    with pytest.raises(ApplyFailed, match="no_such_table"):
        run_scripts(scratch.dsn, [(n, scripts[n]) for n in APPLY_ORDER])
    assert scratch.state() == before


def test_verify_reports_exactly_a_changed_grant(scratch: Scratch, tmp_path: Path) -> None:
    apply_plan_dir(write_plan_dir(tmp_path, scratch.plan), scratch.dsn)
    reader = f"{scratch.prefix}_sales_reader"
    with connect(scratch.dsn, scratch.database) as conn:
        conn.execute(f"REVOKE SELECT ON TABLE sales.orders FROM {reader}".encode())
        mismatches = check_state(conn, scratch.plan, scratch.database)
    acl = [(m.kind, m.subject, m.status) for m in mismatches if m.kind != "effective"]
    assert acl == [("acl", f"TABLE sales.orders SELECT to {reader}", "missing")]
    effective = {m.subject.split(": ", 1)[1] for m in mismatches if m.kind == "effective"}
    assert effective == {"SELECT on TABLE sales.orders"} | {
        f"SELECT on TABLE sales.orders ({c})" for c in ("id", "amount", "note")
    }
    with connect(scratch.dsn, scratch.database) as conn:
        conn.execute(f"GRANT TRUNCATE ON TABLE sales.orders TO {reader}".encode())
    code = main(["verify", str(tmp_path), "--dsn", scratch.dsn])
    assert code == 3


def test_verify_reports_exactly_a_dropped_policy(scratch: Scratch, tmp_path: Path) -> None:
    apply_plan_dir(write_plan_dir(tmp_path, scratch.plan), scratch.dsn)
    with connect(scratch.dsn, scratch.database) as conn:
        assert check_state(conn, scratch.plan, scratch.database) == []
        conn.execute(b"DROP POLICY no_big ON sales.orders")
        assert check_state(conn, scratch.plan, scratch.database) == [
            Mismatch("row_security", scratch.database, "POLICY no_big ON sales.orders",
                     "missing", "RESTRICTIVE FOR INSERT TO public WITH CHECK"),
        ]  # fmt: skip
    assert main(["verify", str(tmp_path), "--dsn", scratch.dsn]) == 0  # verify applies afresh
    with connect(scratch.dsn, scratch.database) as conn:
        conn.execute(b"ALTER PROCEDURE sales.add_order(integer, text) SECURITY INVOKER")
        conn.execute(b"ALTER VIEW sales.v_totals RESET (security_invoker)")
        conn.execute(b"ALTER TABLE sales.orders NO FORCE ROW LEVEL SECURITY")
        conn.execute(b"CREATE POLICY extra ON sales.orders FOR SELECT TO PUBLIC USING (true)")
        found = {(m.subject, m.status) for m in check_state(conn, scratch.plan, scratch.database)}
    assert found == {
        ("PROCEDURE sales.add_order(integer, text)", "missing"),
        ("VIEW sales.v_totals", "missing"),
        ("POLICY no_big ON sales.orders", "missing"),
        ("TABLE sales.orders FORCE ROW LEVEL SECURITY", "missing"),
        ("POLICY extra ON sales.orders", "extra"),
    }


def test_drift_restores_the_plan(scratch: Scratch, tmp_path: Path) -> None:
    apply_plan_dir(write_plan_dir(tmp_path, scratch.plan), scratch.dsn)
    reader, writer = f"{scratch.prefix}_sales_reader", f"{scratch.prefix}_sales_writer"
    with connect(scratch.dsn, scratch.database) as conn:
        conn.execute(f"REVOKE SELECT ON TABLE sales.customers FROM {reader}".encode())
        conn.execute(f"REVOKE USAGE ON SEQUENCE sales.order_seq FROM {writer}".encode())
        conn.execute(f"GRANT DELETE ON TABLE sales.v_totals TO {reader}".encode())
    mismatches, delta = drift(scratch.plan, scratch.dsn)
    assert {(m.subject, m.status) for m in mismatches if m.kind == "acl"} == {
        (f"TABLE sales.customers SELECT to {reader}", "missing"),
        (f"SEQUENCE sales.order_seq USAGE to {writer}", "missing"),
        (f"TABLE sales.v_totals DELETE to {reader}", "extra"),
    }
    assert "REVOKE" not in delta
    run_scripts(scratch.dsn, [("drift.sql", delta)])
    remaining, _ = drift(scratch.plan, scratch.dsn)
    assert {(m.kind, m.status) for m in remaining if m.kind == "acl"} == {("acl", "extra")}
    _, authoritative = drift(scratch.plan, scratch.dsn, authoritative=True)
    assert f"REVOKE DELETE ON TABLE sales.v_totals FROM {reader}" in authoritative
    run_scripts(scratch.dsn, [("drift.sql", authoritative)])
    assert drift(scratch.plan, scratch.dsn)[0] == []
    with connect(scratch.dsn, scratch.database) as conn:
        assert check_state(conn, scratch.plan, scratch.database) == []


def test_drift_restores_07s_settings(scratch: Scratch, tmp_path: Path) -> None:
    """drift reported 07's settings but left them out of its delta: applying drift.sql left a
    view running with its owner's privileges and a routine running as its caller."""
    apply_plan_dir(write_plan_dir(tmp_path, scratch.plan), scratch.dsn)
    applied = _security_state(scratch), _records(scratch)
    assert drift(scratch.plan, scratch.dsn)[0] == []
    with connect(scratch.dsn, scratch.database) as conn:
        conn.execute(b"ALTER VIEW sales.v_totals RESET (security_invoker)")
        conn.execute(b"ALTER PROCEDURE sales.add_order(integer, text) SECURITY INVOKER")
        conn.execute(b"ALTER PROCEDURE sales.add_order(integer, text) SET search_path = public")
        conn.execute(b"ALTER TABLE sales.orders NO FORCE ROW LEVEL SECURITY")
        conn.execute(b"DROP POLICY no_big ON sales.orders")
    mismatches, delta = drift(scratch.plan, scratch.dsn)
    assert {(m.kind, m.subject, m.status) for m in mismatches} == {
        ("view", "VIEW sales.v_totals", "missing"),
        ("routine", "PROCEDURE sales.add_order(integer, text)", "missing"),
        ("row_security", "TABLE sales.orders FORCE ROW LEVEL SECURITY", "missing"),
        ("row_security", "POLICY no_big ON sales.orders", "missing"),
    }
    for statement in (
        "ALTER VIEW sales.v_totals SET (security_invoker = true)",
        "ALTER PROCEDURE sales.add_order(integer, text) SECURITY DEFINER",
        "ALTER PROCEDURE sales.add_order(integer, text) SET search_path = pg_catalog, sales",
        "ALTER TABLE sales.orders FORCE ROW LEVEL SECURITY",
        "CREATE POLICY no_big ON sales.orders AS RESTRICTIVE FOR INSERT",
    ):
        assert statement in delta
    run_scripts(scratch.dsn, [("drift.sql", delta)])
    assert drift(scratch.plan, scratch.dsn)[0] == []
    with connect(scratch.dsn, scratch.database) as conn:
        assert check_state(conn, scratch.plan, scratch.database) == []
    # as 07 left them, its records of the state before grantbridge (what rollback restores) too
    assert (_security_state(scratch), _records(scratch)) == applied
    _, again = drift(scratch.plan, scratch.dsn, authoritative=True)
    assert "SECURITY DEFINER" not in again  # nothing differs: nothing of 07's is rendered
    assert "security_invoker" not in again


def test_authoritative_drift_converges_in_one_run(scratch: Scratch, tmp_path: Path) -> None:
    """A REVOKE on a whole table also revokes that privilege on each of its columns, and a
    REVOKE takes the grant option with the privilege: the repair script gives the planned
    column grants, and planned grants held with an extra grant option, back after it."""
    apply_plan_dir(write_plan_dir(tmp_path, scratch.plan), scratch.dsn)
    alice, writer = f"{scratch.prefix}_alice", f"{scratch.prefix}_sales_writer"
    with connect(scratch.dsn, scratch.database) as conn:  # alice holds SELECT (id, name)
        conn.execute(f"GRANT SELECT ON TABLE sales.customers TO {alice}".encode())
        conn.execute(f"GRANT SELECT ON TABLE sales.orders TO {writer} WITH GRANT OPTION".encode())
    mismatches, delta = drift(scratch.plan, scratch.dsn, authoritative=True)
    assert {(m.subject, m.status) for m in mismatches if m.kind == "acl"} == {
        (f"TABLE sales.customers SELECT to {alice}", "extra"),
        (f"TABLE sales.orders SELECT to {writer}", "missing"),
        (f"TABLE sales.orders SELECT to {writer} WITH GRANT OPTION", "extra"),
    }
    assert f"REVOKE SELECT ON TABLE sales.customers FROM {alice}" in delta
    run_scripts(scratch.dsn, [("drift.sql", delta)])
    assert drift(scratch.plan, scratch.dsn, authoritative=True)[0] == []
    with connect(scratch.dsn, scratch.database) as conn:
        assert check_state(conn, scratch.plan, scratch.database) == []


def test_rollback_revokes_grants_made_with_grant_option(scratch: Scratch, tmp_path: Path) -> None:
    """04 renders WITH GRANT OPTION grants apart (whole tables and columns); rollback.sql
    revokes 04's own clauses, so those go as well, grant option included. The grantees exist
    before the apply, so rollback keeps them: only the REVOKEs can take the grants away."""
    writer, alice = f"{scratch.prefix}_sales_writer", f"{scratch.prefix}_alice"
    with connect(scratch.dsn, scratch.database) as conn:
        for role in (writer, alice):
            conn.execute(f"CREATE ROLE {quote_ident(role)}".encode())
    extra = [
        PgGrant(database=scratch.database, object_type="TABLE", schema_name="sales",
                name="customers", privilege="SELECT", grantee=writer, grant_option=True,
                facts=("Sales/perm:customers:SELECT:writer:option",)),
        PgGrant(database=scratch.database, object_type="TABLE", schema_name="sales",
                name="customers", columns=("name",), privilege="UPDATE", grantee=alice,
                grant_option=True, facts=("Sales/perm:customers:UPDATE:alice:option",)),
    ]  # fmt: skip
    plan = scratch.plan.model_copy(update={"grants": (*scratch.plan.grants, *extra)})
    before = scratch.state()
    plan_dir = write_plan_dir(tmp_path, plan)
    privileges = (plan_dir / "sql" / "04_privileges.sql").read_text(encoding="utf-8")
    assert privileges.count("WITH GRANT OPTION") == 2
    apply_plan_dir(plan_dir, scratch.dsn)
    granted = [g for g in inspect_server(scratch.dsn, [scratch.database]).grants if g.grant_option]
    assert {(g.name, g.columns, g.privilege, g.grantee) for g in granted} == {
        ("customers", (), "SELECT", writer), ("customers", ("name",), "UPDATE", alice),
    }  # fmt: skip
    rollback = (plan_dir / "sql" / "rollback.sql").read_text(encoding="utf-8")
    run_scripts(scratch.dsn, [("rollback.sql", rollback)])
    assert scratch.state() == before
