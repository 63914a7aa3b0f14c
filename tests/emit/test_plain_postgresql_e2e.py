"""contoso planned for plain PostgreSQL, applied to a real one, verified and rolled back.

``target = "postgresql"``, sysadmin kept faithfully (tests/emit/contoso.py, POSTGRESQL_POLICY):
the scripts name no ``rds_*`` role, the Kerberos logins are LOGIN roles in no ``rds_ad``, the
IAM login became a password login, and the faithful sysadmin (CONTOSO\\DBAs) holds CREATEDB,
CREATEROLE and pg_monitor instead of an empty rds_superuser stand-in. Databases and roles are
named ``<prefix>_…`` (the ``prefix`` fixture drops them), so the machine's shared server is
left as it was found. A superuser applies; then a CREATEROLE CREATEDB non-superuser does.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from psycopg.conninfo import make_conninfo

from grantbridge.errors import InputError
from mapper.plan import AuthMethod, MigrationPlan
from mapper.quoting import quote_ident
from pg_emit import intent
from pg_emit.apply import APPLY_ORDER, apply_plan_dir, preflight, run_scripts
from pg_emit.inspect import inspect_server
from pg_emit.server import connect
from pg_emit.verify import check_state, verify_plan
from tests.emit import contoso
from tests.emit.conftest import build_target, write_plan_dir

pytestmark = pytest.mark.postgres

#: Per role: LOGIN, SUPERUSER, CREATEDB, CREATEROLE, member of pg_monitor, member of any rds_*.
ROLES_SQL = r"""
SELECT r.rolname, r.rolcanlogin, r.rolsuper, r.rolcreatedb, r.rolcreaterole,
       pg_has_role(r.oid, 'pg_monitor', 'MEMBER'),
       EXISTS (SELECT FROM pg_catalog.pg_auth_members a JOIN pg_catalog.pg_roles g
               ON g.oid = a.roleid WHERE a.member = r.oid AND starts_with(g.rolname, 'rds_'))
FROM pg_catalog.pg_roles r WHERE r.rolname = ANY (%s) ORDER BY 1
"""


def _plan(prefix: str) -> MigrationPlan:
    base = contoso.prefix_roles(contoso.postgresql_plan(), f"{prefix}_")
    return contoso.rename_databases(base, {d.name: f"{prefix}_{d.name}" for d in base.databases})


def _state(dsn: str, plan: MigrationPlan, prefix: str) -> str:
    """The prefix's roles and their memberships, and the ACLs, default ACLs and owners of the
    plan's databases (not the parameters', which other runs on a shared server change)."""
    live = inspect_server(dsn, [db.name for db in plan.databases])
    live = live.model_copy(update={
        "roles": tuple(r for r in live.roles if r.name.startswith(prefix)),
        "memberships": tuple(m for m in live.memberships
                             if m.role.startswith(prefix) or m.member.startswith(prefix)),
        "grants": tuple(g for g in live.grants if g.object_type != "PARAMETER"),
        "parameters": (),
    })  # fmt: skip
    return live.to_json()


def _roles(dsn: str, names: list[str]) -> list[tuple[object, ...]]:
    with connect(dsn) as conn:
        return [tuple(row) for row in conn.execute(ROLES_SQL, [names]).fetchall()]


def _apply_and_roll_back(
    admin: str, applier: str, plan: MigrationPlan, prefix: str, path: Path
) -> None:
    """Apply as ``applier``, check the roles on the server, roll back twice (as ``applier``)
    to the state before; ``admin`` (a superuser) reads the server."""
    before = _state(admin, plan, prefix)
    plan_dir = write_plan_dir(path, plan)
    scripts = {n: (plan_dir / n).read_text(encoding="utf-8") for n in APPLY_ORDER}
    scripts["sql/rollback.sql"] = (plan_dir / "sql" / "rollback.sql").read_text(encoding="utf-8")
    assert [n for n, t in scripts.items() if re.search(r"\brds_", t)] == []
    apply_plan_dir(plan_dir, applier)
    kerberos = sorted(r.name for r in plan.roles if r.auth == AuthMethod.KERBEROS)
    dbas, svc = f"{prefix}_dbas@CONTOSO.COM", f"{prefix}_svc_reporting"
    assert dbas in kerberos
    assert len(kerberos) == 4
    # LOGIN, no SUPERUSER, CREATEDB, CREATEROLE, pg_monitor, in no rds_* role
    held = {row[0]: row[1:] for row in _roles(admin, [*kerberos, svc])}
    assert held[dbas] == (True, False, True, True, True, False)
    assert {n: (h[0], h[5]) for n, h in held.items()} == dict.fromkeys([*kerberos, svc],
                                                                       (True, False))  # fmt: skip
    for db in plan.databases:
        with connect(admin, db.name) as conn:
            assert check_state(conn, plan, db.name) == [], db.name
    for _ in range(2):  # a second run changes nothing
        run_scripts(applier, [("rollback.sql", scripts["sql/rollback.sql"])])
        assert _state(admin, plan, prefix) == before
    assert _roles(admin, list(intent.created_roles(plan))) == []


def test_a_superuser_applies_verifies_and_rolls_back(
    pg_dsn: str, prefix: str, tmp_path: Path
) -> None:
    plan = _plan(prefix)
    build_target(pg_dsn, plan)
    assert verify_plan(plan, pg_dsn, embedded=False) == []  # 0 mismatches
    _apply_and_roll_back(pg_dsn, pg_dsn, plan, prefix, tmp_path / "plan")


def test_a_createrole_createdb_non_superuser_applies_and_rolls_back(
    pg_dsn: str, prefix: str, tmp_path: Path
) -> None:
    """The non-superuser preflight passes a postgresql plan (no rds_* role to grant); on
    PostgreSQL 16+ the applier needs ADMIN OPTION on the predefined roles it grants."""
    plan = _plan(prefix)
    name = f"{prefix}_master"
    with connect(pg_dsn) as conn:
        conn.execute(f"CREATE ROLE {quote_ident(name)} LOGIN CREATEROLE CREATEDB".encode())
        if conn.info.server_version >= 160000:
            for role in sorted({m.role for m in intent.memberships(plan)
                                if m.role.startswith("pg_")}):  # fmt: skip
                conn.execute(f"GRANT {role} TO {quote_ident(name)} WITH ADMIN OPTION".encode())
    master = make_conninfo(pg_dsn, user=name)
    build_target(master, plan, name)
    _apply_and_roll_back(pg_dsn, master, plan, prefix, tmp_path / "plan")


def test_a_postgresql_plan_is_refused_on_rds(embedded_pg: str) -> None:
    """A server with an rds_superuser grantbridge did not make is RDS / Aurora, where the
    plan's Kerberos logins would lack rds_ad: exit 2 before any script runs. On the embedded
    server only, in a transaction rolled back: the machine's is shared, and an rds_superuser
    there would make other runs' stand-in logic think they are on RDS."""
    plan = contoso.postgresql_plan()
    with connect(embedded_pg, autocommit=False) as conn:
        preflight(conn, plan)  # plain PostgreSQL: fine
        conn.execute("CREATE ROLE rds_superuser NOLOGIN")
        with pytest.raises(InputError, match='plan again with target = "rds" or "aurora"'):
            preflight(conn, plan)
        preflight(conn, contoso.default_plan())  # an aurora plan is at home there
        conn.rollback()
