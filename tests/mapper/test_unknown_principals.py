"""Facts naming a principal the snapshot does not hold (partial exports: dbatools'
``Export-DbaDbRole -IncludeRoleMember`` and ``Export-DbaServerRole`` add members they never
create; a script may grant to, or make owner, a user it does not create).

A membership or a GRANT/DENY row is ``unresolved`` with GB046 and no plan item; an unknown owner
gets dbo's owner role and the fact is ``approximated`` with GB046. Everything else is planned as
if the fact were not there (or, for an owner, as if dbo owned it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from grantbridge.cli import main
from mapper.plan import Disposition, FactDisposition, Finding, MigrationPlan
from mapper.planner import plan
from mapper.policy import Policy
from mssql_extract.snapshot import (
    DatabaseRole,
    DbObject,
    Membership,
    ObjectKind,
    Permission,
    Schema,
    SecuritySnapshot,
    ServerRole,
)
from tests.mapper.estate import REF, database, login, member, perm, role, snapshot, table, user

REMEDIATION = "Extract the principal too (the whole database or server) and plan again"


def _estate(
    memberships: tuple[Membership, ...] = (), permissions: tuple[Permission, ...] = (),
    server_memberships: tuple[Membership, ...] = (),
    server_permissions: tuple[Permission, ...] = (), roles: tuple[DatabaseRole, ...] = (),
    **fields: Any,
) -> SecuritySnapshot:  # fmt: skip
    """Login app with a user, role readers (app a member) granted SELECT on dbo.Orders; server
    role ops_support (app a member) granted VIEW SERVER STATE."""
    db = database(
        users=(user("app", "app"),), roles=(role("readers"), *roles),
        memberships=(member("readers", "app"), *memberships),
        permissions=(perm("SELECT", "readers", schema_name="dbo", object_name="Orders"),
                     *permissions),
        **fields,
    )  # fmt: skip
    return snapshot(
        db, logins=(login("app"),),
        server_roles=(ServerRole(name="ops_support", source_ref=REF),),
        server_memberships=(member("ops_support", "app"), *server_memberships),
        server_permissions=(perm("VIEW SERVER STATE", "ops_support", "SERVER"),
                            *server_permissions),
    )  # fmt: skip


def _disposition(p: MigrationPlan, fact: str) -> FactDisposition:
    (found,) = [d for d in p.dispositions if d.fact == fact]
    return found


def _gb046(p: MigrationPlan, disposition: FactDisposition) -> Finding:
    (key,) = disposition.findings
    (finding,) = [f for f in p.findings if f.key == key]
    assert finding.rule_id == "GB046"
    assert finding.title == "Principal not in the snapshot"
    assert REMEDIATION in finding.remediation
    return finding


def _items(p: MigrationPlan) -> dict[str, Any]:
    """The plan's items, by kind (with their facts)."""
    return {
        field: getattr(p, field)
        for field in ("databases", "roles", "memberships", "schemas", "objects", "grants",
                      "revokes", "default_privileges", "default_revokes")
    }  # fmt: skip


def _others(p: MigrationPlan, fact: str) -> tuple[Any, ...]:
    """Everything in the plan but one fact's disposition and the GB046 findings."""
    dispositions = tuple(d for d in p.dispositions if d.fact != fact)
    findings = tuple(f for f in p.findings if f.rule_id != "GB046")
    return _items(p), dispositions, findings


def _unresolved(partial: SecuritySnapshot, full: SecuritySnapshot, fact: str) -> Finding:
    """The fact is unresolved with GB046, no item carries it, and the rest of the plan is the
    plan of ``full`` (the snapshot without the fact)."""
    p = plan(partial, Policy())
    disposition = _disposition(p, fact)
    assert disposition.disposition == Disposition.UNRESOLVED
    assert disposition.items == ()
    assert disposition.reason.endswith("too, or drop the fact")
    assert not any(fact in item.facts for items in _items(p).values() for item in items)
    assert _others(p, fact) == _others(plan(full, Policy()), fact)
    return _gb046(p, disposition)


# --------------------------------------------------------------------------- memberships


def test_unknown_database_member_is_unresolved() -> None:
    """Export-DbaDbRole -IncludeRoleMember: sp_addrolemember of a member never created."""
    finding = _unresolved(
        _estate(memberships=(member("readers", "CONTOSO\\Auditors"),)),
        _estate(),
        "Sales/member:readers<-contoso\\auditors",
    )
    assert finding.evidence == (
        "ALTER ROLE [readers] ADD MEMBER [CONTOSO\\Auditors] in [Sales]: the snapshot has no "
        "member [CONTOSO\\Auditors]"
    )
    assert finding.principal == "CONTOSO\\Auditors"
    assert finding.securable == "role readers"
    assert finding.action.startswith("No membership granted in [Sales]")


def test_unknown_database_role_is_unresolved() -> None:
    finding = _unresolved(
        _estate(memberships=(member("auditors", "app"),)), _estate(), "Sales/member:auditors<-app"
    )
    assert finding.evidence.endswith("the snapshot has no role [auditors]")
    assert finding.principal == "auditors"


def test_unknown_member_of_a_deny_role_is_unresolved_not_restructured() -> None:
    """db_denydatareader's members become DENYs: an unknown member restricts nobody."""
    _unresolved(
        _estate(memberships=(member("db_denydatareader", "ghost"),)),
        _estate(),
        "Sales/member:db_denydatareader<-ghost",
    )


def test_unknown_server_member_is_unresolved() -> None:
    """Export-DbaServerRole: ALTER SERVER ROLE [ops_support] ADD MEMBER [CONTOSO\\OpsTeam]."""
    finding = _unresolved(
        _estate(server_memberships=(member("ops_support", "CONTOSO\\OpsTeam"),)),
        _estate(),
        "server/member:ops_support<-contoso\\opsteam",
    )
    assert finding.evidence == (
        "ALTER SERVER ROLE [ops_support] ADD MEMBER [CONTOSO\\OpsTeam]: the snapshot has no "
        "member [CONTOSO\\OpsTeam]"
    )
    assert finding.action.startswith("No membership granted on the server")


def test_unknown_member_and_role_are_both_named() -> None:
    finding = _unresolved(
        _estate(memberships=(member("auditors", "ghost"),)),
        _estate(),
        "Sales/member:auditors<-ghost",
    )
    assert finding.evidence.endswith("the snapshot has no member [ghost] and role [auditors]")
    p = plan(_estate(memberships=(member("auditors", "ghost"),)), Policy())
    assert "extract them too" in _disposition(p, "Sales/member:auditors<-ghost").reason


# --------------------------------------------------------------------------- GRANT / DENY


def test_grant_to_unknown_grantee_is_unresolved() -> None:
    row = perm("SELECT", "ghost", schema_name="dbo", object_name="Customers")
    finding = _unresolved(_estate(permissions=(row,)), _estate(), f"Sales/{row.key}")
    assert finding.evidence == (
        "GRANT SELECT ON OBJECT dbo Customers TO [ghost]: the snapshot has no grantee [ghost]"
    )
    assert finding.securable == "OBJECT dbo Customers"
    assert finding.action == "Nothing granted: the plan has no role for [ghost]."


def test_deny_to_unknown_grantee_restricts_nobody() -> None:
    """No DENY restructuring: readers keep SELECT on dbo.Orders, as without the row."""
    row = perm("SELECT", "ghost", state="D", schema_name="dbo", object_name="Orders")
    finding = _unresolved(_estate(permissions=(row,)), _estate(), f"Sales/{row.key}")
    assert finding.evidence.startswith("DENY SELECT ON OBJECT dbo Orders TO [ghost]")
    assert "restricts no principal the plan knows" in finding.action


def test_unknown_server_grantee_is_unresolved() -> None:
    row = perm("VIEW SERVER STATE", "CONTOSO\\OpsTeam", "SERVER")
    finding = _unresolved(_estate(server_permissions=(row,)), _estate(), f"server/{row.key}")
    assert finding.evidence.startswith("GRANT VIEW SERVER STATE ON SERVER TO [CONTOSO\\OpsTeam]")


def test_deny_connect_sql_to_unknown_login_is_unresolved() -> None:
    row = perm("CONNECT SQL", "ghost", "SERVER", state="D")
    _unresolved(_estate(server_permissions=(row,)), _estate(), f"server/{row.key}")


# --------------------------------------------------------------------------- owners


def _owned(p: MigrationPlan, fact: str) -> Finding:
    disposition = _disposition(p, fact)
    assert disposition.disposition == Disposition.APPROXIMATED
    assert disposition.items  # planned: the item exists
    return _gb046(p, disposition)


def _as_dbo(partial: MigrationPlan, full: MigrationPlan, fact: str) -> None:
    """The plan is the plan with dbo as the owner, but for the fact's disposition."""
    assert _others(partial, fact) == _others(full, fact)
    assert _disposition(partial, fact).items == _disposition(full, fact).items
    assert not any(r.name.startswith("sales_nobody") for r in partial.roles)


def _schemas(owner: str) -> tuple[Schema, ...]:
    return (Schema(name="dbo", owner="dbo", source_ref=REF),
            Schema(name="crm", owner=owner, source_ref=REF))  # fmt: skip


def test_unknown_schema_owner_is_dbo() -> None:
    """CREATE SCHEMA [crm] AUTHORIZATION [nobody]: owned by dbo's owner role, objects too."""
    objects = (table("dbo", "Orders", "id"), table("crm", "Leads", "id"))
    grant = perm("SELECT", "readers", "SCHEMA", object_name="crm")
    partial = plan(_estate(schemas=_schemas("nobody"), objects=objects, permissions=(grant,)),
                   Policy())  # fmt: skip
    full = plan(_estate(schemas=_schemas("dbo"), objects=objects, permissions=(grant,)), Policy())
    _as_dbo(partial, full, "Sales/schema:crm")
    finding = _owned(partial, "Sales/schema:crm")
    assert finding.evidence == (
        "ALTER AUTHORIZATION ON SCHEMA::[crm] TO [nobody] in [Sales]: the snapshot has no owner "
        "[nobody]"
    )
    assert finding.action.startswith("Owned by 'sales_owner', dbo's owner role")
    assert {s.owner for s in partial.schemas if s.name == "crm"} == {"sales_owner"}
    assert {o.owner for o in partial.objects if o.name == "leads"} == {"sales_owner"}
    assert {d.owner for d in partial.default_privileges if d.schema_name == "crm"} == {
        "sales_owner"
    }


def test_unknown_object_owner_is_dbo() -> None:
    def leads(owner: str) -> DbObject:
        return DbObject(schema_name="dbo", name="Leads", kind=ObjectKind.TABLE, columns=("id",),
                        owner=owner, source_ref=REF)  # fmt: skip

    partial = plan(_estate(objects=(table("dbo", "Orders", "id"), leads("nobody"))), Policy())
    full = plan(_estate(objects=(table("dbo", "Orders", "id"), leads("dbo"))), Policy())
    _as_dbo(partial, full, "Sales/object:dbo.leads")
    finding = _owned(partial, "Sales/object:dbo.leads")
    assert finding.evidence.startswith("ALTER AUTHORIZATION ON OBJECT::[dbo].[Leads] TO [nobody]")


def test_unknown_role_owner_is_dbo() -> None:
    """CREATE ROLE [r] AUTHORIZATION [nobody]: the role is planned (PostgreSQL roles have no
    owner), its grants too."""
    auditors = DatabaseRole(name="auditors", owner="nobody", source_ref=REF)
    grant = perm("SELECT", "auditors", schema_name="dbo", object_name="Customers")
    partial = plan(_estate(roles=(auditors,), permissions=(grant,)), Policy())
    unowned = auditors.model_copy(update={"owner": None})
    full = plan(_estate(roles=(unowned,), permissions=(grant,)), Policy())
    _as_dbo(partial, full, "Sales/role:auditors")
    finding = _owned(partial, "Sales/role:auditors")
    assert _disposition(partial, "Sales/role:auditors").items == ("role:auditors",)
    assert finding.evidence.startswith("ALTER AUTHORIZATION ON ROLE::[auditors] TO [nobody]")
    assert "PostgreSQL roles have no owner" in finding.action


# --------------------------------------------------------------------------- the command


def test_plan_command_exits_0_on_a_partial_export(tmp_path: Path) -> None:
    """`grantbridge plan` on an Export-DbaDbRole-like snapshot: a plan, not exit 2."""
    path = tmp_path / "snapshot.json"
    path.write_text(
        _estate(memberships=(member("readers", "CONTOSO\\Auditors"),)).to_json(), encoding="utf-8"
    )
    out = tmp_path / "out"
    assert main(["plan", str(path), "-o", str(out)]) == 0
    p = MigrationPlan.from_json((out / "plan.json").read_text(encoding="utf-8"))
    fact = _disposition(p, "Sales/member:readers<-contoso\\auditors")
    assert fact.disposition == Disposition.UNRESOLVED
    assert ("readers", "app") in {(m.role, m.member) for m in p.memberships}
