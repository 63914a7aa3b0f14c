"""The planner on small snapshots: principals, grants, over-grants, DENY, dispositions."""

from __future__ import annotations

from typing import Any

import pytest

from grantbridge.errors import MappingError, PolicyError
from mapper.plan import AuthMethod, Disposition, MigrationPlan, RoleKind
from mapper.planner import plan
from mapper.policy import Policy, parse_policy
from mapper.translate.dispositions import source_facts
from mssql_extract.snapshot import LoginType, Membership, Permission, Schema, SourceRef
from tests.mapper.estate import database, login, member, perm, role, snapshot, user

REF = SourceRef(origin="test.sql", line=1)


def _plan(db_fields: dict[str, Any], logins: tuple[Any, ...] = (), policy: Policy | None = None,
          **snap: Any) -> MigrationPlan:  # fmt: skip
    return plan(snapshot(database(**db_fields), logins=logins, **snap), policy or Policy())


def grants_of(p: MigrationPlan, grantee: str) -> set[tuple[str, str, str]]:
    return {(g.object_type, g.name, g.privilege) for g in p.grants if g.grantee == grantee}


def rules(p: MigrationPlan) -> set[str]:
    return {f.rule_id for f in p.findings}


def test_user_maps_to_its_login_role_with_connect() -> None:
    p = _plan({"users": (user("app_user", "app"),)}, logins=(login("app"),))
    assert p.role("app") is not None
    assert p.role("app_user") is None
    assert ("DATABASE", "sales", "CONNECT") in grants_of(p, "app")


def test_user_without_login_is_nologin_role() -> None:
    p = _plan({"users": (user("loader"),)})
    loader = p.role("loader")
    assert loader is not None
    assert loader.kind == RoleKind.USER
    assert not loader.login


def test_object_grant_and_schema_usage() -> None:
    p = _plan({"users": (user("app", "app"),),
               "permissions": (perm("SELECT", "app", schema_name="dbo", object_name="Orders"),)},
              logins=(login("app"),))  # fmt: skip
    assert ("TABLE", "orders", "SELECT") in grants_of(p, "app")
    assert ("SCHEMA", "dbo", "USAGE") in grants_of(p, "app")


def test_column_grant() -> None:
    p = _plan({"users": (user("app", "app"),),
               "permissions": (perm("SELECT", "app", schema_name="dbo", object_name="Orders", column_name="Total"),)},
              logins=(login("app"),))  # fmt: skip
    (grant,) = [g for g in p.grants if g.object_type == "TABLE"]
    assert grant.columns == ("total",)


def test_schema_grant_becomes_per_object_grants_and_default_privileges() -> None:
    p = _plan({"roles": (role("readers"),),
               "permissions": (perm("SELECT", "readers", "SCHEMA", object_name="dbo"),)})  # fmt: skip
    assert {("TABLE", "orders", "SELECT"), ("TABLE", "customers", "SELECT")} <= grants_of(
        p, "readers"
    )
    defaults = {
        (d.owner, d.object_type, d.privilege)
        for d in p.default_privileges
        if d.grantee == "readers"
    }
    assert ("sales_owner", "TABLES", "SELECT") in defaults


def test_fixed_reader_role_is_explicit() -> None:
    p = _plan({"users": (user("app", "app"),), "memberships": (member("db_datareader", "app"),)},
              logins=(login("app"),))  # fmt: skip
    reader = p.role("sales_db_datareader")
    assert reader is not None
    assert reader.kind == RoleKind.GROUP
    assert "SELECT" in reader.comment
    assert ("TABLE", "orders", "SELECT") in grants_of(p, "sales_db_datareader")
    assert any(m.role == "sales_db_datareader" and m.member == "app" for m in p.memberships)


def test_implied_grant_is_not_duplicated() -> None:
    p = _plan({"roles": (role("readers"),), "users": (user("app", "app"),),
               "memberships": (member("readers", "app"),),
               "permissions": (perm("SELECT", "readers", "SCHEMA", object_name="dbo"),
                               perm("SELECT", "app", schema_name="dbo", object_name="Orders"))},
              logins=(login("app"),))  # fmt: skip
    assert ("TABLE", "orders", "SELECT") not in grants_of(p, "app")
    (d,) = [d for d in p.dispositions if d.fact == "Sales/perm:OBJECT:dbo:orders:SELECT:grant:app"]
    assert d.disposition == Disposition.IMPLIED


# ---------------------------------------------------------------------- over-grants


def _db_owner_app(policy: Policy | None = None) -> MigrationPlan:
    return _plan({"users": (user("app", "app"),), "memberships": (member("db_owner", "app"),)},
                 logins=(login("app"),), policy=policy)  # fmt: skip


def test_db_owner_is_downscoped_by_default() -> None:
    p = _db_owner_app()
    assert "GB001" in rules(p)
    assert any(m.role == "sales_db_owner" and m.member == "app" for m in p.memberships)
    owner_grants = grants_of(p, "sales_db_owner")
    assert ("TABLE", "orders", "DELETE") in owner_grants
    assert ("PROCEDURE", "usp_report", "EXECUTE") in owner_grants
    assert not any(g.privilege == "CREATE" for g in p.grants if g.grantee == "sales_db_owner")
    (d,) = [d for d in p.dispositions if d.fact == "Sales/member:db_owner<-app"]
    assert d.disposition == Disposition.DOWNSCOPED


def test_db_owner_faithful() -> None:
    p = _db_owner_app(parse_policy('[overgrants]\nmodes = {GB001 = "faithful"}\n'))
    assert any(m.role == "sales_owner" and m.member == "app" for m in p.memberships)


def test_db_owner_accepted() -> None:
    p = _db_owner_app(parse_policy(
        '[[overgrants.accepted]]\nprincipal = "APP"\nrule = "GB001"\nreason = "vendor app"\n'
    ))  # fmt: skip
    (f,) = [f for f in p.findings if f.rule_id == "GB001"]
    assert f.accepted
    assert f.accepted_reason == "vendor app"


def _server(memberships: tuple[Membership, ...] = (), permissions: tuple[Permission, ...] = (),
            logins: tuple[Any, ...] = (), policy: Policy | None = None) -> MigrationPlan:  # fmt: skip
    return plan(snapshot(database(), logins=logins, server_memberships=memberships,
                         server_permissions=permissions), policy or Policy())  # fmt: skip


def test_sysadmin_group() -> None:
    dbas = login("CONTOSO\\DBAs", LoginType.WINDOWS_GROUP)
    p = _server(
        (Membership(role="sysadmin", member="CONTOSO\\DBAs", source_ref=REF),), logins=(dbas,)
    )
    assert {"GB002", "GB032"} <= rules(p)
    assert not any(m.role == "rds_superuser" for m in p.memberships)
    faithful = _server((Membership(role="sysadmin", member="CONTOSO\\DBAs", source_ref=REF),),
                       logins=(dbas,), policy=parse_policy('[overgrants]\nmodes = {GB002 = "faithful"}\n'))  # fmt: skip
    assert any(m.role == "rds_superuser" and m.member == "dbas" for m in faithful.memberships)


def test_securityadmin() -> None:
    jdoe = login("CONTOSO\\jdoe", LoginType.WINDOWS_USER)
    p = _server(
        (Membership(role="securityadmin", member="CONTOSO\\jdoe", source_ref=REF),), logins=(jdoe,)
    )
    assert "GB004" in rules(p)
    role_ = p.role("jdoe@CONTOSO")
    assert role_ is not None
    assert role_.auth == AuthMethod.KERBEROS
    assert "CREATEROLE" not in role_.attributes


@pytest.mark.parametrize(
    ("permission", "cls", "object_name", "rule"),
    [("CONTROL SERVER", "SERVER", None, "GB003"), ("ALTER ANY LOGIN", "SERVER", None, "GB005"),
     ("IMPERSONATE", "LOGIN", "etl", "GB006")],
)  # fmt: skip
def test_server_permission_overgrants(
    permission: str, cls: str, object_name: str | None, rule: str
) -> None:
    p = _server(permissions=(perm(permission, "svc", cls, object_name=object_name),),
                logins=(login("svc"), login("etl")))  # fmt: skip
    assert rule in rules(p)


def test_impersonate_faithful_is_set_role_only() -> None:
    p = _server(permissions=(perm("IMPERSONATE", "svc", "LOGIN", object_name="etl"),),
                logins=(login("svc"), login("etl")),
                policy=parse_policy('[overgrants]\nmodes = {GB006 = "faithful"}\n'))  # fmt: skip
    (m,) = [m for m in p.memberships if m.role == "etl"]
    assert m.member == "svc"
    assert not m.inherit


def test_login_findings() -> None:
    logins = (login("legacy", check_policy=False), login("old", disabled=True),
              login("sa"), login("NT SERVICE\\MSSQLSERVER", LoginType.WINDOWS_USER))  # fmt: skip
    p = _server(permissions=(perm("VIEW ANY DATABASE", "old", "SERVER"),), logins=logins)
    assert {"GB010", "GB011", "GB014"} <= rules(p)
    old = p.role("old")
    assert old is not None
    assert not old.login
    excluded = {d.fact for d in p.dispositions if d.disposition == Disposition.EXCLUDED}
    assert {"server/login:sa", "server/login:nt service\\mssqlserver"} <= excluded


def test_grants_to_public_guest_and_grant_option() -> None:
    p = _plan({"guest_enabled": True, "users": (user("guest"), user("app", "app")),
               "permissions": (perm("SELECT", "public", schema_name="dbo", object_name="Orders"),
                               perm("SELECT", "guest", schema_name="dbo", object_name="Customers"),
                               perm("EXECUTE", "app", state="W", schema_name="dbo", object_name="usp_Report"))},
              logins=(login("app"),))  # fmt: skip
    assert {"GB007", "GB008", "GB009"} <= rules(p)
    assert ("TABLE", "orders", "SELECT") in grants_of(p, "PUBLIC")
    assert not any(g.grant_option for g in p.grants)


def test_orphaned_user() -> None:
    p = _plan({"users": (user("ghost", orphaned=True),)})
    assert "GB013" in rules(p)
    assert p.role("ghost") is not None


def test_trustworthy_owned_by_sysadmin() -> None:
    trusted = plan(snapshot(database(trustworthy=True, owner="sa")), Policy())
    assert "GB012" in rules(trusted)
    assert "GB012" not in rules(plan(snapshot(database(owner="sa")), Policy()))


# ---------------------------------------------------------------------- DENY


def test_deny_restructures_inherited_role() -> None:
    p = _plan({"users": (user("auditor", "auditor"),),
               "memberships": (member("db_datareader", "auditor"),),
               "permissions": (perm("SELECT", "auditor", state="D", schema_name="dbo", object_name="Customers"),)},
              logins=(login("auditor"),))  # fmt: skip
    assert not any(m.role == "sales_db_datareader" and m.member == "auditor" for m in p.memberships)
    derived = [r for r in p.roles if r.kind == RoleKind.DERIVED]
    assert [r.name for r in derived] == ["sales_db_datareader_minus_auditor"]
    held = grants_of(p, derived[0].name)
    assert ("TABLE", "orders", "SELECT") in held
    assert ("TABLE", "customers", "SELECT") not in held
    assert "GB020" in rules(p)


def test_deny_overrides_direct_grant() -> None:
    p = _plan({"users": (user("app", "app"),),
               "permissions": (perm("SELECT", "app", schema_name="dbo", object_name="Orders"),
                               perm("SELECT", "app", "SCHEMA", "D", object_name="dbo"))},
              logins=(login("app"),))  # fmt: skip
    assert ("TABLE", "orders", "SELECT") not in grants_of(p, "app")
    (d,) = [d for d in p.dispositions if d.fact == "Sales/perm:OBJECT:dbo:orders:SELECT:grant:app"]
    assert d.disposition == Disposition.NOT_APPLICABLE


def test_denydatareader_membership() -> None:
    p = _plan({"users": (user("app", "app"),),
               "memberships": (member("db_datareader", "app"), member("db_denydatareader", "app"))},
              logins=(login("app"),))  # fmt: skip
    reachable = {m.role for m in p.memberships if m.member == "app"}
    assert "sales_db_datareader" not in reachable
    for role_name in reachable:
        assert not any(
            g.privilege == "SELECT" and g.object_type == "TABLE"
            for g in p.grants
            if g.grantee == role_name
        )


# ---------------------------------------------------------------------- auth, hardening


def test_iam_policy_with_placeholders() -> None:
    policy = parse_policy('[authentication]\nrules = [{method = "iam"}]\n')
    p = _plan({}, logins=(login("app"),), policy=policy)
    (iam,) = p.iam_policies
    assert "arn:aws:rds-db:<REGION>:<ACCOUNT_ID>:dbuser:<DB_RESOURCE_ID>/app" in iam.document
    assert "GB031" in rules(p)
    assert any(m.role == "rds_iam" and m.member == "app" for m in p.memberships)


def test_rds_iam_and_rds_ad_exclusive() -> None:
    from mapper.plan import PgMembership
    from mapper.translate.auth import check_exclusive

    ok = [PgMembership(role="rds_iam", member="svc"), PgMembership(role="rds_ad", member="jdoe@X"),
          PgMembership(role="ops", member="svc"), PgMembership(role="ops", member="jdoe@X")]  # fmt: skip
    check_exclusive(ok)  # members differ: fine
    nested = [*ok, PgMembership(role="svc", member="deep"), PgMembership(role="jdoe@X", member="mid"),
              PgMembership(role="mid", member="deep")]  # fmt: skip
    with pytest.raises(MappingError, match="'deep' would be a member of both rds_iam and rds_ad"):
        check_exclusive(nested)


def test_hardening_revokes() -> None:
    p = _plan({})
    revoked = {(r.object_type, r.name, r.privilege) for r in p.revokes}
    assert {("DATABASE", "sales", "CONNECT"), ("DATABASE", "sales", "TEMPORARY"),
            ("PROCEDURE", "usp_report", "EXECUTE")} <= revoked  # fmt: skip
    off = _plan({}, policy=parse_policy("[hardening]\nrevoke_public_defaults = false\n"))
    assert off.revokes == ()


def _future_revokes(p: MigrationPlan) -> set[tuple[str, str, str, str, str]]:
    return {(d.database, d.owner, d.object_type, d.privilege, d.grantee) for d in p.default_revokes}


def test_hardening_revokes_execute_on_routines_created_later() -> None:
    p = _plan({"users": (user("loader"),),
               "schemas": (Schema(name="dbo", owner="dbo", source_ref=REF),
                           Schema(name="Ops", owner="loader", source_ref=REF))})  # fmt: skip
    owners = {s.name: s.owner for s in p.schemas}
    assert owners == {"dbo": "sales_owner", "ops": "sales_loader_owner"}
    assert _future_revokes(p) == {
        ("sales", "sales_owner", "FUNCTIONS", "EXECUTE", "PUBLIC"),
        ("sales", "sales_loader_owner", "FUNCTIONS", "EXECUTE", "PUBLIC"),
    }
    facts = {d.owner: d.facts for d in p.default_revokes}
    assert facts["sales_loader_owner"] == ("Sales/schema:ops", "server/database:sales")
    off = _plan({}, policy=parse_policy("[hardening]\nrevoke_public_defaults = false\n"))
    assert off.default_revokes == ()


def test_hardening_keeps_database_wide_execute_to_public_for_later_routines() -> None:
    schema_wide = _plan({"permissions": (perm("EXECUTE", "public", "SCHEMA", object_name="dbo"),)})
    # per-schema defaults add to the global ones: the schema's grant still reaches PUBLIC
    assert any(d.grantee == "PUBLIC" and d.schema_name == "dbo" and d.object_type == "FUNCTIONS"
               for d in schema_wide.default_privileges)  # fmt: skip
    assert ("sales", "sales_owner", "FUNCTIONS", "EXECUTE", "PUBLIC") in _future_revokes(
        schema_wide
    )
    database_wide = _plan({"permissions": (perm("EXECUTE", "public", "DATABASE"),)})
    assert database_wide.default_revokes == ()
    assert ("DATABASE", "sales", "CONNECT") in {
        (r.object_type, r.name, r.privilege) for r in database_wide.revokes
    }


# ---------------------------------------------------------------------- whole plan


def _rich_snapshot() -> Any:
    db = database(users=(user("app", "app"), user("ghost", orphaned=True)), roles=(role("readers"),),
                  memberships=(member("readers", "app"), member("db_owner", "ghost")),
                  permissions=(perm("SELECT", "readers", "SCHEMA", object_name="dbo"),
                               perm("DELETE", "app", state="D", schema_name="dbo", object_name="Orders"),
                               perm("VIEW DEFINITION", "app", "DATABASE")))  # fmt: skip
    return snapshot(db, database("HR"), logins=(login("app"),))


def test_every_fact_has_exactly_one_disposition() -> None:
    snap = _rich_snapshot()
    p = plan(snap, Policy())
    assert sorted(d.fact for d in p.dispositions) == sorted(source_facts(snap))


def test_plan_is_deterministic() -> None:
    assert plan(_rich_snapshot(), Policy()).to_json() == plan(_rich_snapshot(), Policy()).to_json()


def test_fingerprint_depends_on_policy() -> None:
    a = plan(_rich_snapshot(), Policy())
    b = plan(_rich_snapshot(), parse_policy('target = "rds"\n'))
    assert a.fingerprint != b.fingerprint
    assert a.fingerprint.startswith("sha256:")


def test_deny_on_a_role_restructures_the_role_not_its_members() -> None:
    p = _plan(
        {
            "roles": (role("readers"),),
            "users": (user("rpt", "rpt"),),
            "memberships": (member("readers", "rpt"), member("db_datareader", "readers")),
            "permissions": (
                perm("SELECT", "readers", state="D", schema_name="dbo", object_name="Customers"),
            ),
        },
        logins=(login("rpt"),),
    )
    pairs = {(m.role, m.member) for m in p.memberships}
    assert ("readers", "rpt") in pairs
    assert ("sales_db_datareader_minus_readers", "readers") in pairs
    assert ("sales_db_datareader", "readers") not in pairs


def test_hardening_keeps_source_grants_to_public() -> None:
    p = _plan(
        {"permissions": (perm("EXECUTE", "public", schema_name="dbo", object_name="usp_Report"),)}
    )
    assert ("PROCEDURE", "usp_report", "EXECUTE") in grants_of(p, "PUBLIC")
    assert not any(r.name == "usp_report" for r in p.revokes)


def test_server_permissions_to_predefined_roles_and_attributes() -> None:
    p = _server(
        permissions=(perm("VIEW SERVER STATE", "mon", "SERVER"),
                     perm("CREATE ANY DATABASE", "mon", "SERVER")),
        logins=(login("mon"),),
    )  # fmt: skip
    assert any(m.role == "pg_read_all_stats" and m.member == "mon" for m in p.memberships)
    mon = p.role("mon")
    assert mon is not None
    assert "CREATEDB" in mon.attributes
    assert p.role("pg_read_all_stats") is None  # PostgreSQL's own roles are not listed


def test_schema_mode_puts_every_database_in_one() -> None:
    p = plan(snapshot(database(), database("HR")), parse_policy('database_mode = "schema"\n'))
    assert [d.name for d in p.databases] == ["sql01"]
    assert {s.name for s in p.schemas} == {"sales_dbo", "hr_dbo"}
    assert p.database_mode == "schema"


def test_schema_mode_takes_the_target_database_from_the_policy() -> None:
    policy = parse_policy('database_mode = "schema"\ntarget_database = "app"\n')
    p = plan(snapshot(database(), database("HR")), policy)
    assert [d.name for d in p.databases] == ["app"]
    assert {g.database for g in p.grants} <= {"app"}


def test_target_database_outside_schema_mode_is_a_policy_error() -> None:
    with pytest.raises(PolicyError, match="target_database") as caught:
        parse_policy('target = "aurora"\ntarget_database = "app"\n', "g.toml")
    assert "schema" in str(caught.value)
    assert caught.value.location is not None
    assert caught.value.location.line == 2
