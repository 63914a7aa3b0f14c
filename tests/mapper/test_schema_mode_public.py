"""In schema mode a source database's ``public`` becomes ``<database>_public``, not PUBLIC.

SQL Server's public is per database: a grant to it in [A] reaches A's users (and, with guest
enabled, the logins entering A as guest), never a login whose only user is in [B]. Schema mode
puts every source database into one PostgreSQL database and gives every user CONNECT on it, so
PostgreSQL's PUBLIC would reach B's users too. In database mode PUBLIC stays where CONNECT on A's
own database confines it: not when PUBLIC keeps CONNECT there (hardening off, or a source grant
of CONNECT to public), nor when a DENY takes from what public is granted.
"""

from __future__ import annotations

import pytest

from grantbridge.errors import MappingError
from mapper.effective import EffectivePermissions, Securable
from mapper.plan import Disposition, MigrationPlan
from mapper.planner import plan
from mapper.policy import Policy, parse_policy
from mssql_extract.snapshot import ApplicationRole, Database, Schema, SecuritySnapshot
from pg_emit.render import render_sql
from pg_emit.verify import applied, ensure_databases, verify_plan
from tests.emit import contoso
from tests.mapper.estate import (
    REF,
    database,
    login,
    member,
    perm,
    reach,
    role,
    snapshot,
    table,
    user,
)

SCHEMA_MODE = parse_policy('database_mode = "schema"\n')
PUB = Securable("OBJECT", "s", "pub")
#: logins: gbp_a has a user in A only, gbp_b in B only, gbp_v in neither
LOGINS = (login("gbp_a"), login("gbp_b"), login("gbp_v"))


def _a(*permissions: object, **fields: object) -> Database:
    return database(
        "A", schemas=(Schema(name="s", owner="dbo", source_ref=REF),),
        objects=(table("s", "pub", "id"), table("s", "other", "id")),
        users=(user("ua", "gbp_a"),),
        permissions=(perm("SELECT", "public", schema_name="s", object_name="pub"), *permissions),
        **fields,
    )  # fmt: skip


def _estate(*permissions: object, **fields: object) -> SecuritySnapshot:
    b = database("B", users=(user("ub", "gbp_b"),))
    return snapshot(_a(*permissions, **fields), b, logins=LOGINS)


def _selects_pub(p: MigrationPlan, role_name: str) -> bool:
    holders = {g.grantee for g in p.grants if g.name == "pub" and g.privilege == "SELECT"}
    return bool(holders & (reach(p, role_name) | {"PUBLIC"}))


def test_sql_server_gives_public_only_to_a_users() -> None:
    """The semantics engine's answer, which the plan must follow."""
    engine = EffectivePermissions(_estate())
    assert engine.explain("A", "gbp_a", PUB, "SELECT").allowed
    assert not engine.explain("A", "gbp_b", PUB, "SELECT").allowed


def test_schema_mode_grants_public_to_a_role_held_by_a_users_only() -> None:
    p = plan(_estate(), SCHEMA_MODE)
    assert {g.grantee for g in p.grants if g.name in ("pub", "a_s")} == {"a_public"}
    assert not [g for g in p.grants if g.grantee == "PUBLIC"]
    assert {m.member for m in p.memberships if m.role == "a_public"} == {"gbp_a"}
    assert {m.member for m in p.memberships if m.role == "b_public"} == {"gbp_b"}
    assert _selects_pub(p, "gbp_a")
    assert not _selects_pub(p, "gbp_b")
    public = p.role("a_public")
    assert public is not None
    assert not public.login


def test_schema_mode_public_grant_is_gb008_naming_the_role() -> None:
    p = plan(_estate(), SCHEMA_MODE)
    [grant] = [d for d in p.dispositions if d.fact == "A/perm:OBJECT:s:pub:SELECT:grant:public"]
    assert grant.disposition == Disposition.MAPPED
    [finding] = [f for f in p.findings if f.key in grant.findings]
    assert finding.rule_id == "GB008"
    assert "'a_public'" in finding.action
    assert "not to PUBLIC" in finding.action
    [ua] = [d for d in p.dispositions if d.fact == "A/user:ua"]
    assert "membership:a_public<-gbp_a" in ua.items


def test_database_mode_keeps_public() -> None:
    p = plan(_estate(), Policy())
    assert {g.grantee for g in p.grants if g.name == "pub"} == {"PUBLIC"}
    assert p.role("a_public") is None
    [finding] = [f for f in p.findings if f.rule_id == "GB008"]
    assert finding.action == "Granted to PUBLIC, as in the source."


def test_guest_entering_logins_get_public_through_the_guest_role() -> None:
    """gbp_b and gbp_v have no user in A: with guest enabled they enter A as guest, and guest is
    a member of public."""
    snap = _estate(perm("CONNECT", "guest", "DATABASE"), guest_enabled=True)
    engine = EffectivePermissions(snap)
    assert engine.explain("A", "gbp_b", PUB, "SELECT").allowed
    p = plan(snap, SCHEMA_MODE)
    assert {m.member for m in p.memberships if m.role == "a_public"} == {"gbp_a", "a_guest"}
    assert {m.member for m in p.memberships if m.role == "a_guest"} == {"gbp_b", "gbp_v"}
    assert _selects_pub(p, "gbp_b")


def test_connect_any_database_logins_get_public() -> None:
    """A login without a user enters A with public's permissions through CONNECT ANY DATABASE."""
    anywhere = perm("CONNECT ANY DATABASE", "gbp_v", "SERVER")
    snap = _estate().model_copy(update={"server_permissions": (anywhere,)})
    assert EffectivePermissions(snap).explain("A", "gbp_v", PUB, "SELECT").allowed
    p = plan(snap, SCHEMA_MODE)
    [entrant] = [m for m in p.memberships if m.role == "a_public" and m.member == "gbp_v"]
    assert entrant.facts == ("server/perm:SERVER:CONNECT ANY DATABASE:grant:gbp_v",)
    assert _selects_pub(p, "gbp_v")
    assert not _selects_pub(p, "gbp_b")


def test_user_denied_what_public_grants_leaves_the_public_role() -> None:
    """A DENY to A's user restructures its membership in a_public (PUBLIC could not be)."""
    deny = perm("SELECT", "ua", state="D", schema_name="s", object_name="pub")
    other = perm("SELECT", "public", schema_name="s", object_name="other")
    p = plan(_estate(deny, other), SCHEMA_MODE)
    assert not _selects_pub(p, "gbp_a")
    others = {g.grantee for g in p.grants if g.name == "other"}
    assert others & reach(p, "gbp_a")  # what the DENY does not take is kept
    [fact] = [d for d in p.dispositions if d.fact == "A/perm:OBJECT:s:pub:SELECT:deny:ua"]
    assert fact.disposition == Disposition.MAPPED


def test_deny_to_public_reaches_members_of_other_roles() -> None:
    snap = _estate(
        perm("SELECT", "readers", schema_name="s", object_name="other"),
        perm("SELECT", "public", state="D", schema_name="s", object_name="other"),
        roles=(role("readers"),), memberships=(member("readers", "ua"),),
    )  # fmt: skip
    other = Securable("OBJECT", "s", "other")
    assert not EffectivePermissions(snap).explain("A", "gbp_a", other, "SELECT").allowed
    p = plan(snap, SCHEMA_MODE)
    holders = {g.grantee for g in p.grants if g.name == "other" and g.privilege == "SELECT"}
    assert not holders & reach(p, "gbp_a")


def test_application_roles_are_members_of_public() -> None:
    app = ApplicationRole(name="reporting", source_ref=REF)
    p = plan(_estate(application_roles=(app,)), SCHEMA_MODE)
    assert "a_reporting" in {m.member for m in p.memberships if m.role == "a_public"}


def test_hardening_still_revokes_from_public() -> None:
    p = plan(_estate(perm("CONNECT", "public", "DATABASE")), SCHEMA_MODE)
    revoked = {(r.object_type, r.privilege) for r in p.revokes if r.grantee == "PUBLIC"}
    assert ("DATABASE", "CONNECT") in revoked  # A's public CONNECT went to a_public
    assert ("DATABASE", "sql01", "CONNECT") in {
        (g.object_type, g.name, g.privilege) for g in p.grants if g.grantee == "a_public"
    }


def test_public_role_name_collision_is_an_error() -> None:
    snap = snapshot(_a(), database("B"), logins=(*LOGINS, login("a_public")))
    with pytest.raises(MappingError, match="'a_public'"):
        plan(snap, SCHEMA_MODE)


def test_listed_public_role_is_mapped_to_its_role() -> None:
    fixed_public = role("public", fixed=True)
    p = plan(snapshot(_a(roles=(fixed_public,)), database("B"), logins=LOGINS), SCHEMA_MODE)
    [fact] = [d for d in p.dispositions if d.fact == "A/role:public"]
    assert fact.disposition == Disposition.MAPPED
    assert fact.items == ("role:a_public",)


# --------------------------------------------------------------------------- real PostgreSQL


@pytest.mark.postgres
def test_on_postgresql_only_a_users_read_a_public_table(pg_dsn: str, target: str) -> None:
    migration = contoso.rename_databases(plan(_estate(), SCHEMA_MODE), {"sql01": target})
    ensure_databases(pg_dsn, migration, create=True)
    assert verify_plan(migration, pg_dsn, embedded=False) == []
    with applied(pg_dsn, migration, render_sql(migration), target) as conn:
        answers = {
            login_name: conn.execute(
                "SELECT has_table_privilege(%s, 'a_s.pub', 'SELECT')", [login_name]
            ).fetchone()
            for login_name in ("gbp_a", "gbp_b", "gbp_v")
        }
    assert answers == {"gbp_a": (True,), "gbp_b": (False,), "gbp_v": (False,)}


def _readers_of_pub(p: MigrationPlan) -> set[str]:
    """Roles whose reach holds SELECT on s.pub (PUBLIC: every role)."""
    granted = {g.grantee for g in p.grants if g.name == "pub" and g.privilege == "SELECT"}
    return {r.name for r in p.roles if reach(p, r.name) & granted} | (granted & {"PUBLIC"})


def test_database_mode_deny_against_a_public_grant_uses_a_public_role() -> None:
    """GRANT to public and DENY to one user in database mode: PostgreSQL cannot take a PUBLIC
    grant away from one role, so public becomes the database's role there too, and the denied
    user is restructured off it like from any role."""
    p = plan(_estate(perm("SELECT", "ua", state="D", schema_name="s", object_name="pub")), Policy())
    assert "PUBLIC" not in {g.grantee for g in p.grants if g.name == "pub"}
    readers = _readers_of_pub(p)
    assert "gbp_a" not in readers  # ua's login: denied in SQL Server, denied here
    assert any(r.endswith("_public") for r in readers)
    finding = next(f for f in p.findings if f.rule_id == "GB008")
    assert "DENY" in finding.action


def test_database_mode_without_a_deny_keeps_public() -> None:
    p = plan(_estate(), Policy())
    assert "PUBLIC" in {g.grantee for g in p.grants if g.name == "pub"}


# ------------------------------------------- database mode where PUBLIC keeps CONNECT

NO_HARDENING = parse_policy("[hardening]\nrevoke_public_defaults = false\n")


def test_database_mode_without_hardening_grants_public_to_a_role() -> None:
    """Without hardening PUBLIC keeps PostgreSQL's CONNECT on every database, so every login may
    connect to A's database: a grant to PUBLIC would reach gbp_b and gbp_v, whom SQL Server
    keeps out of A (no user there, guest disabled). public becomes A's role, as in schema mode."""
    engine = EffectivePermissions(_estate())
    assert not engine.explain("A", "gbp_b", Securable("DATABASE"), "CONNECT").allowed
    p = plan(_estate(), NO_HARDENING)
    assert {g.grantee for g in p.grants if g.name == "pub"} == {"a_public"}
    assert "PUBLIC" not in {g.grantee for g in p.grants}
    assert {m.member for m in p.memberships if m.role == "a_public"} == {"gbp_a"}
    assert _selects_pub(p, "gbp_a")
    assert not _selects_pub(p, "gbp_b")
    assert not _selects_pub(p, "gbp_v")
    assert p.revokes == ()  # hardening stays off


def test_database_mode_source_connect_to_public_grants_public_to_a_role() -> None:
    """A source GRANT CONNECT TO public would keep PUBLIC's CONNECT on A's database (hardening
    leaves a planned grant alone), letting every login in: public becomes A's role instead."""
    p = plan(_estate(perm("CONNECT", "public", "DATABASE")), Policy())
    assert {g.grantee for g in p.grants if g.name in ("pub", "a")} == {"a_public"}
    assert ("DATABASE", "a", "CONNECT") in {
        (r.object_type, r.name, r.privilege) for r in p.revokes if r.grantee == "PUBLIC"
    }
    assert not _selects_pub(p, "gbp_v")


@pytest.mark.postgres
def test_on_postgresql_without_hardening_only_a_users_read_a_public_table(
    pg_dsn: str, prefix: str
) -> None:
    """nohard.sql of the audit: gbp_b may connect to A's database (PUBLIC keeps CONNECT), but
    reads nothing SQL Server's public of A holds."""
    a, b = f"{prefix}a", f"{prefix}b"
    migration = contoso.rename_databases(plan(_estate(), NO_HARDENING), {"a": a, "b": b})
    ensure_databases(pg_dsn, migration, create=True)
    assert verify_plan(migration, pg_dsn, embedded=False) == []
    with applied(pg_dsn, migration, render_sql(migration), a) as conn:
        check = "SELECT has_database_privilege(%s, %s, 'CONNECT'), has_table_privilege(%s, 's.pub', 'SELECT')"
        answers = {
            name: conn.execute(check, [name, a, name]).fetchone()
            for name in ("gbp_a", "gbp_b", "gbp_v")
        }
    assert answers == {"gbp_a": (True, True), "gbp_b": (True, False), "gbp_v": (True, False)}
