"""Security policies, masked columns and audit specifications each get a disposition (§3.4).

One small snapshot per case, planned for real; the disposition must be in ``plan.dispositions``
with its plan items and findings, and the report's dispositions table must count its kind.
"""

from __future__ import annotations

import pytest

from mapper.plan import Disposition, FactDisposition, MigrationPlan
from mapper.planner import plan
from mapper.policy import Policy
from mapper.translate.dispositions import source_facts
from mssql_extract.snapshot import (
    AuditAction,
    AuditSpecification,
    Database,
    DbObject,
    MaskedColumn,
    ObjectKind,
    SecurityPolicy,
    SecurityPredicate,
    SecuritySnapshot,
    Server,
    SourceRef,
)
from pg_emit import markdown as md
from pg_emit.report import render_report

REF = SourceRef(origin="facts.sql", line=7)
ORDERS = DbObject(schema_name="dbo", name="Orders", kind=ObjectKind.TABLE,
                  columns=("Id", "TenantId"), source_ref=REF)  # fmt: skip
CALL = "([Security].[fn_tenant]([TenantId]))"


def snapshot(db: Database, *server_audits: AuditSpecification) -> SecuritySnapshot:
    return SecuritySnapshot(
        server=Server(name="s"), databases=(db,), audit_specifications=server_audits
    )


def sales(**facts: object) -> Database:
    return Database(name="Sales", objects=(ORDERS,), source_ref=REF, **facts)  # type: ignore[arg-type]


def disposed(migration: MigrationPlan, fact: str) -> FactDisposition:
    found = [d for d in migration.dispositions if d.fact == fact]
    assert len(found) == 1, f"{fact}: {[d.fact for d in migration.dispositions]}"
    return found[0]


def planned(snap: SecuritySnapshot) -> MigrationPlan:
    migration = plan(snap, Policy())
    assert sorted(d.fact for d in migration.dispositions) == sorted(source_facts(snap))
    return migration


def report_row(migration: MigrationPlan, kind: str) -> str:
    cell = md.text(kind)
    rows = [line for line in render_report(migration).splitlines() if line.startswith(f"| {cell} ")]
    assert len(rows) == 1, kind
    return rows[0]


# --------------------------------------------------------------------------- security policies


def rls_database(where: str) -> Database:
    fn = DbObject(
        schema_name="Security", name="fn_tenant", kind=ObjectKind.TABLE_FUNCTION, source_ref=REF,
        definition="CREATE FUNCTION Security.fn_tenant(@TenantId int) RETURNS TABLE "
        f"WITH SCHEMABINDING AS RETURN SELECT 1 AS r WHERE {where}",
    )  # fmt: skip
    predicate = SecurityPredicate(predicate_type="FILTER", target_schema="dbo",
                                  target_table="Orders", predicate_definition=CALL)  # fmt: skip
    policy = SecurityPolicy(schema_name="Security", name="TenantPolicy", predicates=(predicate,),
                            source_ref=REF)  # fmt: skip
    return Database(name="Sales", objects=(ORDERS, fn), security_policies=(policy,),
                    source_ref=REF)  # fmt: skip


def test_translated_security_policy_is_mapped_to_its_row_security() -> None:
    migration = planned(snapshot(rls_database("@TenantId = CAST(SESSION_CONTEXT(N'T') AS int)")))
    fact = disposed(migration, "Sales/security_policy:security.tenantpolicy")
    assert fact.kind == "security_policy"
    assert fact.disposition == Disposition.MAPPED
    assert fact.items == tuple(r.key for r in migration.row_security) == ("rls:sales.dbo.orders",)
    assert [k.split(":")[0] for k in fact.findings] == ["GB321"]
    assert report_row(migration, "security_policy").endswith("| 1 |")


def test_untranslated_security_policy_is_unresolved_with_its_finding() -> None:
    migration = planned(snapshot(rls_database("@TenantId IN (SELECT t FROM dbo.Tenants)")))
    fact = disposed(migration, "Sales/security_policy:security.tenantpolicy")
    assert fact.disposition == Disposition.UNRESOLVED
    assert migration.row_security == ()
    assert fact.items == ()
    assert [k.split(":")[0] for k in fact.findings] == ["GB320"]
    assert "dbo.orders: predicate not translated" in fact.reason
    assert "Sales/security_policy:security.tenantpolicy" in render_report(migration)


def test_security_policy_without_predicates_is_not_applicable() -> None:
    policy = SecurityPolicy(schema_name="Security", name="Empty", source_ref=REF)
    migration = planned(snapshot(sales(security_policies=(policy,))))
    fact = disposed(migration, "Sales/security_policy:security.empty")
    assert fact.disposition == Disposition.NOT_APPLICABLE


# --------------------------------------------------------------------------- masked columns


@pytest.mark.parametrize(("function", "rule"), [("email()", "GB330"), ('datetime("Y")', "GB331")])
def test_masked_column_is_unresolved_with_its_finding(function: str, rule: str) -> None:
    masked = MaskedColumn(schema_name="dbo", table_name="Orders", column_name="TenantId",
                          masking_function=function, source_ref=REF)  # fmt: skip
    migration = planned(snapshot(sales(masked_columns=(masked,))))
    fact = disposed(migration, "Sales/masked:dbo.orders.tenantid")
    assert (fact.kind, fact.disposition) == ("masked_column", Disposition.UNRESOLVED)
    assert fact.source_ref == "facts.sql:7"
    (key,) = fact.findings
    assert key in {f.key for f in migration.findings if f.rule_id == rule}
    assert "no dynamic data masking" in fact.reason
    assert report_row(migration, "masked_column").endswith("| 1 |")


# --------------------------------------------------------------------------- audit


def audit_spec(name: str, *actions: AuditAction, level: str = "DATABASE",
               enabled: bool = True) -> AuditSpecification:  # fmt: skip
    return AuditSpecification(name=name, level=level, enabled=enabled, actions=actions,  # type: ignore[arg-type]
                              source_ref=REF)  # fmt: skip


SELECT_ORDERS = AuditAction(action="SELECT", securable_class="OBJECT", securable="dbo.Orders",
                            principal="public")  # fmt: skip


def test_audit_specification_carried_over_is_mapped() -> None:
    spec = audit_spec("db", SELECT_ORDERS, AuditAction(action="SCHEMA_OBJECT_CHANGE_GROUP"))
    migration = planned(snapshot(sales(audit_specifications=(spec,))))
    fact = disposed(migration, "Sales/audit:database:db")
    assert (fact.kind, fact.disposition) == ("audit_specification", Disposition.MAPPED)
    (grant,) = [g for g in migration.grants if g.grantee == "rds_pgaudit" and g.name == "orders"]
    assert grant.privilege == "SELECT"
    assert grant.key in fact.items
    assert {"parameter:pgaudit.log", "parameter:shared_preload_libraries"} <= set(fact.items)
    assert [k.split(":")[0] for k in fact.findings] == ["GB341"]
    assert report_row(migration, "audit_specification").endswith("| 1 |")


def test_audit_specification_partly_lost_is_approximated() -> None:
    spec = audit_spec("srv", AuditAction(action="FAILED_LOGIN_GROUP"),
                      AuditAction(action="SERVER_ROLE_MEMBER_CHANGE_GROUP"),
                      AuditAction(action="TRACE_CHANGE_GROUP"), level="SERVER")  # fmt: skip
    migration = planned(snapshot(sales(), spec))
    fact = disposed(migration, "server/audit:server:srv")
    assert fact.disposition == Disposition.APPROXIMATED
    assert "TRACE_CHANGE_GROUP has no pgaudit equivalent" in fact.reason
    assert {"parameter:log_connections", "parameter:pgaudit.log"} <= set(fact.items)
    assert sorted(k.split(":")[0] for k in fact.findings) == ["GB341", "GB342"]
    lost = next(f for f in migration.findings if f.rule_id == "GB342")
    assert "TRACE_CHANGE_GROUP" in lost.evidence
    assert "Approximated facts" in render_report(migration)


def test_audit_specification_with_nothing_carried_over_is_unresolved() -> None:
    ghost = AuditAction(action="SELECT", securable_class="OBJECT", securable="dbo.Ghost")
    migration = planned(snapshot(sales(audit_specifications=(audit_spec("db", ghost),))))
    fact = disposed(migration, "Sales/audit:database:db")
    assert fact.disposition == Disposition.UNRESOLVED
    assert "no object of the snapshot is covered" in fact.reason
    assert fact.items == ()
    assert [k.split(":")[0] for k in fact.findings] == ["GB342"]


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        (audit_spec("off", SELECT_ORDERS, enabled=False), "disabled (STATE = OFF)"),
        (audit_spec("bk", AuditAction(action="BACKUP_RESTORE_GROUP")), "logged outside pgaudit"),
        (audit_spec("empty"), "no actions"),
    ],
    ids=["disabled", "logged elsewhere", "no actions"],
)
def test_audit_specification_that_audits_nothing_here_is_not_applicable(
    spec: AuditSpecification, reason: str
) -> None:
    migration = planned(snapshot(sales(audit_specifications=(spec,))))
    fact = disposed(migration, f"Sales/{spec.key}")
    assert fact.disposition == Disposition.NOT_APPLICABLE
    assert reason in fact.reason
    assert not [f for f in migration.findings if f.rule_id == "GB342"]
