"""Apply, re-apply and roll back the contoso plan as Amazon RDS / Aurora's master user would.

On RDS the user applying the scripts is no superuser: it has LOGIN, CREATEROLE and CREATEDB
(and membership in ``rds_superuser``, which grants nothing by itself on plain PostgreSQL) and
owns the target databases and everything the conversion created in them. PostgreSQL then asks
what it never asks a superuser: a new object owner needs CREATE on the object's schema
(``ALTER TABLE``), and ``REASSIGN OWNED`` / ``DROP OWNED`` need the privileges of the role.
Here such a user, under a unique name, owns uniquely named contoso databases and their stub
objects, applies the scripts twice, reads the state back against the plan and rolls back twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from psycopg.conninfo import make_conninfo

from grantbridge.errors import InputError
from mapper.plan import MigrationPlan, PgMembership, PgRole, RoleKind
from mapper.quoting import quote_ident
from pg_emit import intent
from pg_emit.apply import apply_plan_dir, preflight, run_scripts
from pg_emit.inspect import inspect_server
from pg_emit.server import connect
from pg_emit.verify import check_state
from tests.emit import contoso
from tests.emit.builders import realistic_plan
from tests.emit.conftest import build_target, write_plan_dir

pytestmark = pytest.mark.postgres


@dataclass(frozen=True)
class Master:
    """The RDS-like applier (``dsn`` logs in as it) and the plan it applies."""

    admin_dsn: str
    dsn: str
    name: str
    plan: MigrationPlan
    prefix: str


def _existing(dsn: str, names: list[str]) -> list[str]:
    with connect(dsn) as conn:
        rows = conn.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY (%s)", [names])
        return sorted(str(name) for (name,) in rows.fetchall())


@pytest.fixture
def master(pg_dsn: str, prefix: str) -> Master:
    """A LOGIN CREATEROLE CREATEDB role (not a superuser) owning the contoso databases and the
    plan's schemas and objects as stubs. Databases and roles (the plan's too: the scripts
    commit them, on a server other runs share) are named ``<prefix>_…``, so ``prefix`` drops
    whatever the test leaves, and RDS stand-ins nothing uses any more."""
    base = contoso.prefix_roles(contoso.default_plan(), f"{prefix}_")
    plan = contoso.rename_databases(base, {d.name: f"{prefix}_{d.name}" for d in base.databases})
    name = f"{prefix}_master"
    with connect(pg_dsn) as conn:
        conn.execute(f"CREATE ROLE {quote_ident(name)} LOGIN CREATEROLE CREATEDB".encode())
        if conn.info.server_version >= 160000:  # CREATEROLE no longer grants what others made
            for role in _predefined_granted(plan):
                conn.execute(f"GRANT {role} TO {quote_ident(name)} WITH ADMIN OPTION".encode())
    dsn = make_conninfo(pg_dsn, user=name)
    build_target(dsn, plan, name)
    return Master(pg_dsn, dsn, name, plan, prefix)


def _predefined_granted(plan: MigrationPlan) -> list[str]:
    """PostgreSQL's predefined roles the plan grants: on 16+ a non-superuser needs ADMIN OPTION
    on them (preflight says so, see test_preflight_names_what_a_non_superuser_cannot_do)."""
    return sorted({m.role for m in intent.memberships(plan) if m.role.startswith("pg_")})


def _state(master: Master) -> MigrationPlan:
    """Owners, ACLs and default ACLs of the plan's databases, and which plan roles exist."""
    databases = [db.name for db in master.plan.databases]
    live = inspect_server(master.admin_dsn, databases)
    mine = set(intent.created_roles(master.plan)) | {master.name}
    live = live.model_copy(update={
        "roles": tuple(r for r in live.roles if r.name in mine),
        "memberships": tuple(m for m in live.memberships if {m.role, m.member} & mine),
        # not the server's parameters' ACLs: other runs on a shared server change them meanwhile
        "grants": tuple(g for g in live.grants
                        if g.database in databases and g.object_type != "PARAMETER"),
        "parameters": (),
    })  # fmt: skip
    return live


def _lent_create(master: Master) -> list[tuple[str, str, str, bool]]:
    """(database, schema, owner, holds CREATE) for each owner of an object whose schema another
    role owns: 03 lends such an owner CREATE for its ALTER … OWNER TO, and must take it back."""
    schema_owner = {(s.database, s.name): s.owner for s in master.plan.schemas}
    pairs = {
        (o.database, o.schema_name, o.owner)
        for o in master.plan.objects
        if schema_owner.get((o.database, o.schema_name)) != o.owner
    }
    held = []
    for database, schema, owner in sorted(pairs):
        with connect(master.admin_dsn, database) as conn:
            sql = "SELECT has_schema_privilege(%s, %s, 'CREATE')"
            row = conn.execute(sql, [owner, schema]).fetchone()
            held.append((database, schema, owner, bool(row and row[0])))
    return held


def _planned_create(master: Master) -> list[tuple[str, str, str, bool]]:
    granted = {
        (g.database, g.name, g.grantee)
        for g in master.plan.grants
        if g.object_type == "SCHEMA" and g.privilege.upper() == "CREATE"
    }
    return [(d, s, o, (d, s, o) in granted) for d, s, o, _ in _lent_create(master)]


def test_the_rds_master_user_applies_reapplies_and_rolls_back(
    master: Master, tmp_path: Path
) -> None:
    with connect(master.admin_dsn) as conn:
        row = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", [master.name])
        assert row.fetchone() == (False,)
    before = _state(master)
    plan_dir = write_plan_dir(tmp_path / "plan", master.plan)
    apply_plan_dir(plan_dir, master.dsn)
    once = _state(master).to_json()
    assert once != before.to_json()
    apply_plan_dir(plan_dir, master.dsn)  # idempotent: a second run changes nothing
    assert _state(master).to_json() == once
    for db in master.plan.databases:
        with connect(master.admin_dsn, db.name) as conn:
            assert check_state(conn, master.plan, db.name) == [], db.name
    lent = _lent_create(master)
    assert {owner for _, _, owner, _ in lent} >= {f"{master.prefix}_hr_payroll_batch_owner"}
    assert lent == _planned_create(master)  # CREATE only where the plan grants it
    rollback = (plan_dir / "sql" / "rollback.sql").read_text(encoding="utf-8")
    for _ in range(2):  # a second run changes nothing; PUBLIC keeps what it held before
        run_scripts(master.dsn, [("rollback.sql", rollback)])
        assert _state(master).to_json() == before.to_json()
        assert _existing(master.admin_dsn, list(intent.created_roles(master.plan))) == []


def test_preflight_names_what_a_non_superuser_cannot_do(pg_dsn: str, prefix: str) -> None:
    """What would stop a non-superuser half-way is exit 2 before any script runs."""
    plan = realistic_plan(prefix, "postgres")  # a database the connected role does not own
    su = f"{prefix}_su"
    with connect(pg_dsn, autocommit=False) as conn:
        conn.execute(f"CREATE ROLE {su} SUPERUSER NOLOGIN".encode())
        conn.execute(f"CREATE ROLE {prefix}_nodb LOGIN CREATEROLE".encode())
        conn.execute(f"CREATE ROLE {prefix}_master LOGIN CREATEROLE CREATEDB".encode())
        conn.execute(f"SET LOCAL ROLE {prefix}_nodb")
        with pytest.raises(InputError, match="lacks CREATEDB"):
            preflight(conn, plan)
        conn.execute(f"SET LOCAL ROLE {prefix}_master")
        with pytest.raises(InputError, match=r"does not own these databases: postgres \(owner"):
            preflight(conn, plan)
        extra = PgMembership(role=su, member=f"{prefix}_app")
        granting = plan.model_copy(update={"memberships": (*plan.memberships, extra)})
        with pytest.raises(InputError, match=f"may not grant these roles .*: {su}$"):
            preflight(conn, granting)
        risky = PgRole(name=f"{prefix}_bypass", kind=RoleKind.GROUP, attributes=("BYPASSRLS",))
        bypass = plan.model_copy(update={"roles": (*plan.roles, risky)})
        with pytest.raises(InputError, match=f"only a superuser can give.*{prefix}_bypass"):
            preflight(conn, bypass)
        conn.execute("RESET ROLE")
        preflight(conn, bypass)  # a superuser may (off RDS)
        conn.rollback()


def test_objects_another_role_owns_are_refused_before_anything_runs(
    master: Master, tmp_path: Path
) -> None:
    # the conversion ran as another user: 03's ALTER … OWNER TO would fail half-way through a
    # multi-database apply, after committing the databases before
    converter = f"{master.prefix}_converter"
    table = next(o for o in master.plan.objects if o.kind == "table")
    schema = next(s for s in master.plan.schemas if s.database != table.database)
    with connect(master.admin_dsn) as conn:
        conn.execute(f"CREATE ROLE {quote_ident(converter)} NOLOGIN".encode())
    with connect(master.admin_dsn, table.database) as conn:
        name = f"{quote_ident(table.schema_name)}.{quote_ident(table.name)}"
        conn.execute(f"ALTER TABLE {name} OWNER TO {quote_ident(converter)}".encode())
    with connect(master.admin_dsn, schema.database) as conn:
        conn.execute(
            f"ALTER SCHEMA {quote_ident(schema.name)} OWNER TO {quote_ident(converter)}".encode()
        )
    before = _state(master).to_json()
    plan_dir = write_plan_dir(tmp_path / "plan", master.plan)
    with pytest.raises(InputError) as refused:
        apply_plan_dir(plan_dir, master.dsn)
    message = refused.value.message
    assert (
        f"{table.database}: table {table.schema_name}.{table.name} (owner {converter})" in message
    )
    assert f"{schema.database}: schema {schema.name} (owner {converter})" in message
    assert message.count(f"(owner {converter})") == 2  # nothing the applier owns is named
    assert _state(master).to_json() == before  # nothing ran
    assert _existing(master.admin_dsn, list(intent.created_roles(master.plan))) == []
    with connect(master.admin_dsn) as conn:  # as their owner's member, the apply goes through
        conn.execute(f"GRANT {quote_ident(converter)} TO {quote_ident(master.name)}".encode())
    apply_plan_dir(plan_dir, master.dsn)
