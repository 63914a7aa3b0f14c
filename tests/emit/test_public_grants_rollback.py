"""rollback.sql leaves PUBLIC the privileges it held before 04 granted it the same ones.

PostgreSQL gives PUBLIC EXECUTE on every routine, USAGE on every type and CONNECT and TEMPORARY
on every database (a NULL ACL, read through ``acldefault``), and USAGE on schema ``public``
(its ACL). A plan may grant PUBLIC one of them again: contoso's SQL Server public could run
``rpt.fn_fiscalyear``, so 04 grants ``EXECUTE ON FUNCTION rpt.fn_fiscalyear TO PUBLIC``, which
PUBLIC already held. 04 records, once and before its first grant, which of its grants to PUBLIC
on such objects PUBLIC lacked (in the database's comment, below 06's record), and rollback
revokes from PUBLIC only those: PUBLIC ends up with what it held before the apply, whether it
held the privilege by default or a DBA had revoked it. A grant to PUBLIC PostgreSQL never gives
it by default (SELECT on a table, USAGE on another schema) is revoked as before.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from mapper.plan import MigrationPlan, PgGrant, PgObject, PgSchema
from pg_emit.apply import apply_plan_dir, run_scripts
from pg_emit.inspect import inspect_server
from pg_emit.render import render_sql
from pg_emit.render_hardening import GRANTED_MARK, HARDENING_MARK
from pg_emit.server import connect
from tests.emit import contoso
from tests.emit.conftest import Scratch, build_target, write_plan_dir
from tests.emit.test_security_rollback import _read

#: Every ACL entry of the current database, its schemas, routines, types and tables (NULL read
#: as acldefault), grantee and grantor by name (PUBLIC for 0), and the database's comment.
ACLS_SQL = """
WITH o (label, owner, acl) AS (
  SELECT 'database', datdba, coalesce(datacl, acldefault('d', datdba))
    FROM pg_database WHERE datname = current_database()
  UNION ALL
  SELECT 'schema ' || nspname, nspowner, coalesce(nspacl, acldefault('n', nspowner))
    FROM pg_namespace WHERE nspname IN ('public', 'sales', 'rpt')
  UNION ALL
  SELECT oid::regprocedure::text, proowner, coalesce(proacl, acldefault('f', proowner))
    FROM pg_proc WHERE pronamespace IN ('sales'::regnamespace, 'rpt'::regnamespace)
  UNION ALL
  SELECT oid::regtype::text, typowner, coalesce(typacl, acldefault('T', typowner))
    FROM pg_type WHERE typnamespace = 'rpt'::regnamespace AND typtype = 'e'
  UNION ALL
  SELECT oid::regclass::text, relowner, coalesce(relacl, acldefault('r', relowner))
    FROM pg_class WHERE relnamespace = 'sales'::regnamespace AND relkind = 'r')
SELECT (SELECT jsonb_agg(e ORDER BY e::text)
          FROM (SELECT jsonb_build_array(o.label, o.owner::regrole::text,
                         CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END,
                         a.grantor::regrole::text, a.privilege_type, a.is_grantable) AS e
                  FROM o, aclexplode(o.acl) a) entries),
       shobj_description((SELECT oid FROM pg_database WHERE datname = current_database()),
                         'pg_database')
"""

#: What PostgreSQL says PUBLIC may do on the objects the plan below grants PUBLIC.
PUBLIC_MAY_SQL = """
SELECT has_function_privilege('public', 'rpt.f1(integer)', 'EXECUTE'),
       has_function_privilege('public', 'rpt.f2()', 'EXECUTE'),
       has_function_privilege('public', 'rpt.extra()', 'EXECUTE'),
       has_type_privilege('public', 'rpt.status', 'USAGE'),
       has_database_privilege('public', current_database(), 'CONNECT'),
       has_schema_privilege('public', 'public', 'USAGE'),
       has_schema_privilege('public', 'rpt', 'USAGE'),
       has_table_privilege('public', 'sales.orders', 'SELECT')
"""

#: The plan's routines and type in schema rpt, and a routine only the target has (``extra``:
#: ``ALL FUNCTIONS IN SCHEMA rpt`` reaches it too).
RPT_SQL = [
    "CREATE SCHEMA rpt",
    "CREATE FUNCTION rpt.f1(integer) RETURNS integer LANGUAGE sql AS 'SELECT 1'",
    "CREATE FUNCTION rpt.f2() RETURNS integer LANGUAGE sql AS 'SELECT 2'",
    "CREATE FUNCTION rpt.extra() RETURNS integer LANGUAGE sql AS 'SELECT 3'",
    "CREATE TYPE rpt.status AS ENUM ('open')",
]


def _with_public_grants(scratch: Scratch) -> Scratch:
    """The realistic plan plus grants to PUBLIC of every kind 04 covers or not: EXECUTE on
    schema rpt's functions (through the whole schema in SQL Server: ``ALL FUNCTIONS IN SCHEMA``),
    USAGE on a type, CONNECT on the database (which 06 does not revoke any more), USAGE on
    schemas public and rpt, and SELECT on a table; schema rpt and its objects made here."""
    db, owner = scratch.database, f"{scratch.prefix}_sales_owner"
    objects = [
        PgObject(database=db, schema_name="rpt", name=name, kind="function", signature=sig,
                 owner=owner)
        for name, sig in (("f1", "(integer)"), ("f2", "()"))
    ]  # fmt: skip
    objects.append(
        PgObject(database=db, schema_name="rpt", name="status", kind="type", owner=owner)
    )

    def public(
        object_type: str, schema: str | None, name: str, privilege: str, **more: Any
    ) -> PgGrant:
        fact = more.pop("fact", f"Sales/perm:OBJECT:{name}:{privilege}:grant:public")
        return PgGrant(database=db, object_type=object_type, schema_name=schema, name=name,  # type: ignore[arg-type]
                       privilege=privilege, grantee="PUBLIC", facts=(fact,), **more)  # fmt: skip

    wide = "Sales/perm:SCHEMA:rpt:EXECUTE:grant:public"
    grants = [
        public("FUNCTION", "rpt", "f1", "EXECUTE", signature="(integer)", fact=wide),
        public("FUNCTION", "rpt", "f2", "EXECUTE", signature="()", fact=wide),
        public("TYPE", "rpt", "status", "USAGE"),
        public("DATABASE", None, db, "CONNECT"),
        public("SCHEMA", None, "public", "USAGE"),
        public("SCHEMA", None, "rpt", "USAGE"),
        public("TABLE", "sales", "orders", "SELECT"),
    ]
    plan = scratch.plan
    data = {
        **plan.model_dump(),
        "schemas": (*plan.schemas, PgSchema(database=db, name="rpt", owner=owner)),
        "objects": (*plan.objects, *objects),
        "grants": (*plan.grants, *grants),
        "revokes": tuple(r for r in plan.revokes if r.object_type != "DATABASE"
                         or r.privilege != "CONNECT"),
    }  # fmt: skip
    with connect(scratch.dsn, db) as conn:
        for statement in RPT_SQL:
            conn.execute(statement.encode())
    return dataclasses.replace(scratch, plan=MigrationPlan.model_validate(data))


def _round_trip(scratch: Scratch, tmp_path: Path, before: list[str]) -> tuple[Any, Any]:
    """Run ``before`` (a DBA's statements), apply twice, roll back twice: each rollback returns
    every ACL to its state before the apply. Returns 04's record and PUBLIC_MAY_SQL applied."""
    with connect(scratch.dsn, scratch.database) as conn:
        for statement in before:
            conn.execute(statement.encode())
    original = _read(scratch, ACLS_SQL)
    plan_dir = write_plan_dir(tmp_path, scratch.plan)
    apply_plan_dir(plan_dir, scratch.dsn)
    applied = _read(scratch, ACLS_SQL)
    may = _read(scratch, PUBLIC_MAY_SQL)
    apply_plan_dir(plan_dir, scratch.dsn)
    assert _read(scratch, ACLS_SQL) == applied  # the first record is kept
    rollback = (plan_dir / "sql" / "rollback.sql").read_text(encoding="utf-8")
    for _ in range(2):  # the second run finds nothing recorded any more
        run_scripts(scratch.dsn, [("rollback.sql", rollback)])
        assert _read(scratch, ACLS_SQL) == original
    return _granted_record(applied[1]), may


def _granted_record(comment: Any) -> list[str]:
    """04's record (the line below 06's): what PUBLIC lacked of 04's grants to it."""
    first, line, *_ = [*str(comment).split("\n"), ""]
    assert first.startswith(HARDENING_MARK), comment
    assert line.startswith(GRANTED_MARK), comment
    found: list[str] = json.loads(line[len(GRANTED_MARK) :])["privileges"]
    return found


#: Everything the plan grants PUBLIC, all of it held while applied.
ALL_GRANTED = (True, True, True, True, True, True, True, True)


@pytest.mark.postgres
def test_rollback_leaves_public_the_defaults_04_granted_again(
    scratch: Scratch, tmp_path: Path
) -> None:
    """Nothing revoked before: PUBLIC held EXECUTE, USAGE on the type, CONNECT and USAGE on
    schema public by default, so 04 recorded only USAGE on schema rpt and rollback (which
    revokes SELECT on the table as ever) leaves every ACL as it was."""
    scratch = _with_public_grants(scratch)
    record, may = _round_trip(scratch, tmp_path, [])
    assert record == ["USAGE ON SCHEMA rpt"]
    assert may == ALL_GRANTED
    assert _read(scratch, PUBLIC_MAY_SQL) == (True, True, True, True, True, True, False, False)


@pytest.mark.postgres
def test_rollback_revokes_again_what_a_dba_had_revoked(scratch: Scratch, tmp_path: Path) -> None:
    """A DBA revoked EXECUTE on rpt.f1 and on rpt.extra (which only ALL FUNCTIONS IN SCHEMA
    reaches), USAGE on the type and on schema public from PUBLIC before the apply: 04 grants
    them, and rollback revokes them again, leaving the rest."""
    scratch = _with_public_grants(scratch)
    dba = [
        "REVOKE EXECUTE ON FUNCTION rpt.f1(integer), rpt.extra() FROM PUBLIC",
        "REVOKE USAGE ON TYPE rpt.status FROM PUBLIC",
        "REVOKE USAGE ON SCHEMA public FROM PUBLIC",
    ]
    record, may = _round_trip(scratch, tmp_path, dba)
    assert record == [
        "EXECUTE ON FUNCTION rpt.extra()",
        "EXECUTE ON FUNCTION rpt.f1(integer)",
        "USAGE ON SCHEMA public",
        "USAGE ON SCHEMA rpt",
        "USAGE ON TYPE rpt.status",
    ]
    assert may == ALL_GRANTED
    assert _read(scratch, PUBLIC_MAY_SQL) == (False, True, False, False, True, False, False, False)


def test_04_records_before_its_first_grant_and_rollback_revokes_the_rest() -> None:
    """contoso, rendered: 04's record comes before its grants in the database that grants
    PUBLIC something, and rollback revokes from PUBLIC only what the record names (the plan's
    other grantees keep their unconditional REVOKE)."""
    scripts = render_sql(contoso.default_plan())
    privileges, rollback = scripts["sql/04_privileges.sql"], scripts["sql/rollback.sql"]
    reporting = privileges.split('\\connect "reporting"')[1]
    assert reporting.index(GRANTED_MARK) < reporting.index("GRANT ")
    assert privileges.count(GRANTED_MARK) == 1
    assert "REVOKE EXECUTE ON FUNCTION rpt.fn_fiscalyear FROM reporting_db_owner'" in rollback
    assert "FROM PUBLIC, " not in rollback
    assert "'REVOKE %s ON %s %s FROM PUBLIC'" in rollback


# --- contoso, applied by a superuser ----------------------------------------------------------


def _contoso(pg_dsn: str, prefix: str) -> MigrationPlan:
    """contoso with its databases and roles named ``<prefix>_…`` (``prefix`` drops them), the
    databases made with the plan's schemas and objects as stubs owned by the connected user."""
    base = contoso.prefix_roles(contoso.default_plan(), f"{prefix}_")
    plan = contoso.rename_databases(base, {d.name: f"{prefix}_{d.name}" for d in base.databases})
    build_target(pg_dsn, plan)
    return plan


def _contoso_state(pg_dsn: str, plan: MigrationPlan) -> str:
    """The ACLs, default ACLs and owners of contoso's databases (inspect); not the server's
    parameters' ACLs, which other runs on a shared server change meanwhile."""
    live = inspect_server(pg_dsn, [db.name for db in plan.databases])
    grants = tuple(g for g in live.grants if g.object_type != "PARAMETER")
    cut = {"roles": (), "memberships": (), "parameters": (), "grants": grants}
    return live.model_copy(update=cut).to_json()


FISCALYEAR_SQL = "SELECT has_function_privilege('public', 'rpt.fn_fiscalyear()', 'EXECUTE')"


@pytest.mark.postgres
@pytest.mark.parametrize("dba_revoked", [False, True], ids=["default", "dba-revoked"])
def test_contoso_rollback_gives_public_back_its_state(
    pg_dsn: str, prefix: str, tmp_path: Path, dba_revoked: bool
) -> None:
    """contoso grants PUBLIC EXECUTE on rpt.fn_fiscalyear, which PUBLIC held by default: after
    apply and rollback it still holds it. Had a DBA revoked it, rollback revokes it again.
    Either way every ACL of the three databases is as before the apply."""
    plan = _contoso(pg_dsn, prefix)
    reporting = f"{prefix}_reporting"
    if dba_revoked:
        with connect(pg_dsn, reporting) as conn:
            conn.execute("REVOKE EXECUTE ON FUNCTION rpt.fn_fiscalyear() FROM PUBLIC")
    before = _contoso_state(pg_dsn, plan)
    plan_dir = write_plan_dir(tmp_path / "plan", plan)
    apply_plan_dir(plan_dir, pg_dsn)
    with connect(pg_dsn, reporting) as conn:
        assert conn.execute(FISCALYEAR_SQL).fetchone() == (True,)
    rollback = (plan_dir / "sql" / "rollback.sql").read_text(encoding="utf-8")
    for _ in range(2):
        run_scripts(pg_dsn, [("rollback.sql", rollback)])
        assert _contoso_state(pg_dsn, plan) == before
        with connect(pg_dsn, reporting) as conn:
            assert conn.execute(FISCALYEAR_SQL).fetchone() == (not dba_revoked,)
