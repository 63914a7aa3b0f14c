"""A role given CREATE on a schema owns what it creates there in PostgreSQL.

SQL Server: CREATE TABLE (… FUNCTION) in the database and ALTER on the schema let a principal
create objects there, which the *schema's owner* owns ("Ownership and User-Schema Separation").
PostgreSQL: the creator owns them, and PostgreSQL gives PUBLIC EXECUTE on every new routine
unless the creator's global default privileges say otherwise; default privileges apply to the
creating role only, not to the roles it is a member of (ALTER DEFAULT PRIVILEGES). So hardening
revokes that default for the grantee of CREATE and for every role inheriting it, and GB040 says
who owns what.
"""

from __future__ import annotations

import pytest

from mapper.plan import Disposition, MigrationPlan
from mapper.planner import plan
from mapper.policy import Policy, parse_policy
from mssql_extract.tsql import parse_text
from pg_emit.render import render_sql
from pg_emit.verify import applied, ensure_databases
from tests.emit import contoso

SCRIPT = """
CREATE LOGIN [gbc_carol] WITH PASSWORD = 'x-not-a-secret-1', SID = 0x01
GO
CREATE LOGIN [gbc_dan] WITH PASSWORD = 'x-not-a-secret-2', SID = 0x02
GO
CREATE LOGIN [gbc_alice] WITH PASSWORD = 'x-not-a-secret-3', SID = 0x03
GO
USE [Sales]
GO
CREATE SCHEMA [s] AUTHORIZATION [dbo]
GO
CREATE TABLE [s].[t] ([id] int)
GO
CREATE USER [gbc_carol] FOR LOGIN [gbc_carol]
GO
CREATE USER [gbc_dan] FOR LOGIN [gbc_dan]
GO
CREATE USER [gbc_alice] FOR LOGIN [gbc_alice]
GO
CREATE ROLE [gbc_authors]
GO
ALTER ROLE [gbc_authors] ADD MEMBER [gbc_dan]
GO
GRANT CREATE TABLE TO [gbc_carol]
GO
GRANT CREATE FUNCTION TO [gbc_carol]
GO
GRANT ALTER ON SCHEMA::[s] TO [gbc_carol]
GO
GRANT CREATE VIEW TO [gbc_authors]
GO
GRANT ALTER ON SCHEMA::[s] TO [gbc_authors]
GO
GRANT SELECT ON OBJECT::[s].[t] TO [gbc_alice]
GO
"""


@pytest.fixture(scope="module")
def migration() -> MigrationPlan:
    return plan(parse_text(SCRIPT, "c.sql"), Policy())


def _future_revokes(migration: MigrationPlan) -> dict[str, tuple[str, ...]]:
    return {
        d.owner: d.facts
        for d in migration.default_revokes
        if (d.object_type, d.privilege, d.grantee) == ("FUNCTIONS", "EXECUTE", "PUBLIC")
    }


def test_grantees_of_create_on_a_schema_and_their_members_get_the_default_revoke(
    migration: MigrationPlan,
) -> None:
    creates = {
        g.grantee for g in migration.grants if (g.object_type, g.privilege) == ("SCHEMA", "CREATE")
    }
    assert creates == {"gbc_carol", "gbc_authors"}
    revokes = _future_revokes(migration)
    # the grantees, the member creating as itself with the role's CREATE, and the owner role
    assert {"gbc_carol", "gbc_authors", "gbc_dan", "sales_owner"} <= set(revokes)
    assert "gbc_alice" not in revokes  # creates nothing
    assert "Sales/perm:SCHEMA:s:ALTER:grant:gbc_carol" in revokes["gbc_carol"]
    assert "Sales/perm:SCHEMA:s:ALTER:grant:gbc_authors" in revokes["gbc_dan"]
    # hardening off: PUBLIC keeps its defaults, for these roles as for the owner roles
    policy = parse_policy("[hardening]\nrevoke_public_defaults = false\n")
    assert _future_revokes(plan(parse_text(SCRIPT, "c.sql"), policy)) == {}


def test_the_gb040_text_says_the_grantee_owns_what_it_creates(migration: MigrationPlan) -> None:
    (fact,) = [
        d for d in migration.dispositions if d.fact == "Sales/perm:SCHEMA:s:ALTER:grant:gbc_carol"
    ]
    assert fact.disposition == Disposition.APPROXIMATED
    (finding,) = [f for f in migration.findings if f.key in fact.findings]
    assert finding.rule_id == "GB040"
    assert "the grantee owns what it creates there" in finding.action
    assert "the schema's owner owns new objects" in finding.action
    assert "do not reach the grantee's objects" in finding.action
    assert "REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC" in finding.action


@pytest.mark.postgres
def test_on_postgresql_public_cannot_run_the_routines_a_grantee_creates(
    pg_dsn: str, target: str, migration: MigrationPlan
) -> None:
    """carol (CREATE on s) and dan (inheriting gbc_authors' CREATE on s) each create a
    function in s; alice, who may use s (SELECT on s.t), may run neither, as in SQL Server,
    where dbo would own them and alice holds no EXECUTE."""
    renamed = contoso.rename_databases(migration, {"sales": target})
    ensure_databases(pg_dsn, renamed, create=True)
    check = "SELECT has_function_privilege(%s, %s, 'EXECUTE')"
    with applied(pg_dsn, renamed, render_sql(renamed), target) as conn:
        for creator in ("gbc_carol", "gbc_dan"):
            conn.execute(f"SET ROLE {creator}".encode())
            conn.execute(
                f"CREATE FUNCTION s.f_{creator}() RETURNS int LANGUAGE sql AS 'SELECT 1'".encode()
            )
            conn.execute(b"RESET ROLE")
            routine = f"s.f_{creator}()"
            assert conn.execute(check, ["gbc_alice", routine]).fetchone() == (False,)
            assert conn.execute(check, [creator, routine]).fetchone() == (True,)
