"""``target = "postgresql"``: plain PostgreSQL has none of Amazon RDS's ``rds_*`` roles.

IAM logins become password logins (GB048), Kerberos logins are members of no ``rds_ad`` (their
``gss`` records go to ``iam/pg_hba.conf``), a faithful sysadmin gets what rds_superuser
allows in PostgreSQL's own terms, never SUPERUSER, and pgaudit object auditing grants to
``pgaudit_auditor``, not ``rds_pgaudit``, with no ``rds.*`` parameter (mapper/platforms.py).
The same inputs planned for aurora keep the RDS roles and parameters.
"""

from __future__ import annotations

from typing import Any

import pytest

from grantbridge.errors import MappingError
from mapper.plan import AuthMethod, MigrationPlan, Severity
from mapper.planner import plan
from mapper.policy import parse_policy
from mssql_extract.snapshot import (
    AuditAction,
    AuditSpecification,
    AuthenticationType,
    LoginType,
    Membership,
    User,
    UserType,
)
from tests.mapper.estate import REF, database, login, perm, snapshot

ENTRA = login("ana@contoso.com", LoginType.EXTERNAL_USER)
WINDOWS = login("CONTOSO\\jdoe", LoginType.WINDOWS_USER)


def _policy(target: str, *lines: str) -> Any:
    return parse_policy("\n".join([f'target = "{target}"', *lines, ""]))


def _role(p: MigrationPlan, source: str) -> Any:
    (found,) = [r for r in p.roles if r.source == source]
    return found


def _memberships(p: MigrationPlan, member: str) -> set[str]:
    return {m.role for m in p.memberships if m.member == member}


def _rds_roles(p: MigrationPlan) -> set[str]:
    named = {r.name for r in p.roles} | {m.role for m in p.memberships}
    return {name for name in named if name.startswith("rds_")}


# ------------------------------------------------------------------ IAM


def test_an_iam_login_on_plain_postgresql_is_a_password_login_with_gb048() -> None:
    p = plan(snapshot(logins=(ENTRA,)), _policy("postgresql"))
    role = _role(p, "login [ana@contoso.com]")
    assert (role.auth, role.login) == (AuthMethod.PASSWORD, True)
    assert p.iam_policies == ()
    assert _rds_roles(p) == set()
    (gb048,) = [f for f in p.findings if f.principal == "ana@contoso.com"]
    assert (gb048.rule_id, gb048.severity) == ("GB048", Severity.MEDIUM)
    assert gb048.evidence == (
        "Entra ID user login [ana@contoso.com] is given iam authentication by the policy, "
        "which target postgresql does not offer"
    )
    assert gb048.action.startswith("Gave it password authentication instead and wrote no IAM")


def test_the_same_iam_login_on_aurora_keeps_rds_iam_and_its_policy() -> None:
    p = plan(snapshot(logins=(ENTRA,)), _policy("aurora"))
    role = _role(p, "login [ana@contoso.com]")
    assert role.auth == AuthMethod.IAM
    assert _memberships(p, role.name) == {"rds_iam"}
    assert [i.role for i in p.iam_policies] == [role.name]
    assert "GB048" not in {f.rule_id for f in p.findings}


def test_a_policy_rule_naming_iam_for_a_sql_login_and_a_contained_user_fall_back_too() -> None:
    contained = User(name="bob@contoso.com", type=UserType.EXTERNAL_USER,
                     authentication_type=AuthenticationType.EXTERNAL, source_ref=REF)  # fmt: skip
    rule = (
        '[[authentication.rules]]\nmatch = "svc_*"\nmethod = "iam"\n'
        '[[authentication.rules]]\nlogin_types = ["EXTERNAL_LOGIN"]\nmethod = "iam"'
    )
    p = plan(snapshot(database(users=(contained,)), logins=(login("svc_batch"),)),
             _policy("postgresql", rule))  # fmt: skip
    for source in ("login [svc_batch]", "user [Sales].[bob@contoso.com]"):
        assert _role(p, source).auth == AuthMethod.PASSWORD, source
    assert sorted(f.principal or "" for f in p.findings if f.rule_id == "GB048") == [
        "bob@contoso.com", "svc_batch",
    ]  # fmt: skip
    assert "GB030" not in {f.rule_id for f in p.findings}  # one finding says it all
    assert p.iam_policies == ()


# ------------------------------------------------------------------ Kerberos


@pytest.mark.parametrize("realm", [None, "CONTOSO.COM"])
def test_a_kerberos_login_on_plain_postgresql_is_a_login_in_no_rds_role(realm: str | None) -> None:
    lines = ["[authentication]", f'realm = "{realm}"'] if realm else []
    p = plan(snapshot(logins=(WINDOWS,)), _policy("postgresql", *lines))
    role = _role(p, "login [CONTOSO\\jdoe]")
    assert (role.name, role.login, role.auth) == (
        f"jdoe@{realm or 'CONTOSO'}", True, AuthMethod.KERBEROS,
    )  # fmt: skip
    assert role.realm == realm
    assert _rds_roles(p) == set()
    gb033 = [f for f in p.findings if f.rule_id == "GB033"]
    assert len(gb033) == (0 if realm else 1)


def test_a_kerberos_login_on_aurora_is_a_member_of_rds_ad_without_a_realm_field() -> None:
    p = plan(snapshot(logins=(WINDOWS,)), _policy("aurora", "[authentication]", 'realm = "C.COM"'))
    role = _role(p, "login [CONTOSO\\jdoe]")
    assert _memberships(p, role.name) == {"rds_ad"}
    assert role.realm is None
    assert '"realm"' not in p.to_json()  # unset, it is left out: aurora plans read as before


# ------------------------------------------------------------------ faithful sysadmin


def _sysadmin(target: str, mode: str = "faithful", **fields: Any) -> MigrationPlan:
    fields.setdefault("server_memberships", (Membership(role="sysadmin", member="dba",
                                                       source_ref=REF),))  # fmt: skip
    snap = snapshot(database("A"), database("B"), logins=(login("dba"),), **fields)
    return plan(snap, _policy(target, "[overgrants]", f'default_mode = "{mode}"'))


def _connect(p: MigrationPlan, grantee: str) -> set[str]:
    return {g.name for g in p.grants
            if g.object_type == "DATABASE" and g.privilege == "CONNECT" and g.grantee == grantee}  # fmt: skip


def test_a_faithful_sysadmin_on_plain_postgresql_gets_what_rds_superuser_allows() -> None:
    p = _sysadmin("postgresql")
    role = _role(p, "login [dba]")
    assert role.attributes == ("CREATEDB", "CREATEROLE")  # never SUPERUSER
    assert _memberships(p, "dba") == {"pg_monitor", "pg_signal_backend"}
    assert _connect(p, "dba") == {"a", "b"}
    assert _rds_roles(p) == set()
    (gb002,) = [f for f in p.findings if f.rule_id == "GB002"]
    assert gb002.action == (
        "Gave the role CREATEDB and CREATEROLE and membership in pg_monitor and "
        "pg_signal_backend, with CONNECT on a, b: on plain PostgreSQL, what sysadmin's Amazon "
        "RDS counterpart allows; SUPERUSER was not granted."
    )
    assert "rds_" not in gb002.remediation
    (fact,) = [d for d in p.dispositions if d.fact == "server/member:sysadmin<-dba"]
    assert fact.disposition == "mapped"
    assert {"membership:pg_monitor<-dba", "grant:DATABASE a:a:CONNECT:dba"} <= set(fact.items)


def test_faithful_control_server_on_plain_postgresql_is_the_same() -> None:
    grant = perm("CONTROL SERVER", "dba", "SERVER")
    p = _sysadmin("postgresql", server_memberships=(), server_permissions=(grant,))
    assert _role(p, "login [dba]").attributes == ("CREATEDB", "CREATEROLE")
    assert _memberships(p, "dba") == {"pg_monitor", "pg_signal_backend"}
    assert "SUPERUSER was not granted" in next(f.action for f in p.findings if f.rule_id == "GB003")


def test_a_faithful_sysadmin_on_aurora_and_a_downscoped_one_are_as_before() -> None:
    aurora = _sysadmin("aurora")
    assert _memberships(aurora, "dba") == {"rds_superuser"}
    assert _role(aurora, "login [dba]").attributes == ()
    down = _sysadmin("postgresql", mode="downscope")
    assert _memberships(down, "dba") == {"a_db_owner", "b_db_owner"}
    assert _role(down, "login [dba]").attributes == ()


# ------------------------------------------------------------------ audit

#: Per-object actions (a table; a schema's routines) and an action group, in a database audit
#: specification; action groups in a server one.
DATABASE_AUDIT = AuditSpecification(name="db", level="DATABASE", source_ref=REF, actions=(
    AuditAction(action="SELECT", securable_class="OBJECT", securable="dbo.Orders",
                principal="public"),
    AuditAction(action="EXECUTE", securable_class="SCHEMA", securable="dbo", principal="public"),
    AuditAction(action="SCHEMA_OBJECT_CHANGE_GROUP"),
))  # fmt: skip
SERVER_AUDIT = AuditSpecification(name="srv", level="SERVER", source_ref=REF, actions=(
    AuditAction(action="FAILED_LOGIN_GROUP"), AuditAction(action="SERVER_ROLE_MEMBER_CHANGE_GROUP"),
))  # fmt: skip


def _audited(target: str) -> MigrationPlan:
    snap = snapshot(database(audit_specifications=(DATABASE_AUDIT,)),
                    audit_specifications=(SERVER_AUDIT,))  # fmt: skip
    return plan(snap, _policy(target))


@pytest.mark.parametrize(
    ("target", "role", "ssl"),
    [("postgresql", "pgaudit_auditor", "ssl"), ("aurora", "rds_pgaudit", "rds.force_ssl")],
)
def test_object_auditing_grants_to_the_targets_audit_role(target: str, role: str, ssl: str) -> None:
    p = _audited(target)
    (audit,) = [r for r in p.roles if r.name == role]
    assert (audit.kind, audit.login) == ("group", False)
    assert {(g.object_type, g.name, g.privilege) for g in p.grants if g.grantee == role} == {
        ("TABLE", "orders", "SELECT"), ("PROCEDURE", "usp_report", "EXECUTE"),
        ("SCHEMA", "dbo", "USAGE"),
    }  # fmt: skip
    values = {q.name: q.value for q in p.parameters}
    assert values["pgaudit.role"] == role
    assert values["pgaudit.log"] == "role,ddl"
    assert ssl in values
    (gb341,) = [f for f in p.findings if f.rule_id == "GB341"]
    assert f"2 object privileges for {role}" in gb341.evidence


def test_a_login_named_like_the_audit_role_does_not_become_it() -> None:
    """A login called pgaudit_auditor became the audit role (pgaudit would log all it does):
    on plain PostgreSQL the audit role gives way and pgaudit.role names the one it took."""
    snap = snapshot(database(audit_specifications=(DATABASE_AUDIT,)),
                    logins=(login("pgaudit_auditor"),), audit_specifications=(SERVER_AUDIT,))  # fmt: skip
    p = plan(snap, _policy("postgresql"))
    values = {q.name: q.value for q in p.parameters}
    role = values["pgaudit.role"]
    assert role.startswith("pgaudit_auditor_")
    assert len(role) == len("pgaudit_auditor_") + 8
    assert _role(p, "login [pgaudit_auditor]").name == "pgaudit_auditor"
    assert {g.grantee for g in p.grants if g.object_type == "TABLE"} == {role}
    assert not [g for g in p.grants if g.grantee == "pgaudit_auditor"]


def test_a_login_named_rds_pgaudit_fails_an_aurora_plan_that_audits_objects() -> None:
    """On RDS / Aurora the audit role must be rds_pgaudit: a clash is a plan error, not a merge."""
    snap = snapshot(database(audit_specifications=(DATABASE_AUDIT,)),
                    logins=(login("rds_pgaudit"),), audit_specifications=(SERVER_AUDIT,))  # fmt: skip
    with pytest.raises(MappingError, match=r"rds_pgaudit.*login \[rds_pgaudit\]"):
        plan(snap, _policy("aurora"))


def test_a_postgresql_plan_with_audit_names_no_rds_role_nor_rds_parameter() -> None:
    p = _audited("postgresql")
    assert _rds_roles(p) == set()
    assert {g.grantee for g in p.grants if g.grantee.startswith("rds_")} == set()
    assert [q.name for q in p.parameters if q.name.startswith("rds.")] == []
    assert [q.name for q in p.parameters if "rds_" in q.value + q.reason] == []
