"""Hand-built MigrationPlans for the review outputs (report, SARIF, diff).

The builders default everything a test does not care about, so each plan reads like the estate it
stands for. ``sales_plan()`` is a small, realistic estate; ``changed_sales_plan()`` is the same
estate one pull request later; ``hostile_plan()`` has names full of Markdown, HTML and Mermaid
syntax; ``large_plan()`` has enough memberships to collapse the role diagram.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mapper.plan import (
    AuthMethod,
    Disposition,
    FactDisposition,
    Finding,
    MigrationPlan,
    PgDatabase,
    PgDefaultPrivilege,
    PgGrant,
    PgMembership,
    PgRevoke,
    PgRole,
    RoleKind,
    Severity,
)

FINGERPRINT = "sha256:" + "ab" * 32


def login(name: str, source: str, auth: AuthMethod = AuthMethod.IAM) -> PgRole:
    return PgRole(name=name, kind=RoleKind.LOGIN, login=True, auth=auth, source=source)


def group(name: str, source: str = "", kind: RoleKind = RoleKind.GROUP) -> PgRole:
    return PgRole(name=name, kind=kind, source=source)


def member(role: str, of: str) -> PgMembership:
    """``role`` becomes a member of ``of`` (GRANT of TO role)."""
    return PgMembership(role=of, member=role)


def table_grant(table: str, privilege: str, grantee: str, **extra: Any) -> PgGrant:
    schema, name = table.split(".")
    return PgGrant(
        database="sales",
        object_type="TABLE",
        schema_name=schema,
        name=name,
        privilege=privilege,
        grantee=grantee,
        **extra,
    )


def finding(rule_id: str, severity: Severity, title: str, **extra: Any) -> Finding:
    defaults: dict[str, Any] = {
        "evidence": f"{title} (evidence)",
        "action": "Recorded; nothing emitted.",
        "remediation": "Review with the data owner.",
    }
    return Finding(rule_id=rule_id, severity=severity, title=title, **(defaults | extra))


def fact(key: str, kind: str, disposition: Disposition, **extra: Any) -> FactDisposition:
    source_ref = extra.pop("source_ref", "security/sales.sql:1")
    return FactDisposition(
        fact=key, kind=kind, source_ref=source_ref, disposition=disposition, **extra
    )


def plan(**fields: Any) -> MigrationPlan:
    """A plan with the fingerprint and one database filled in; ``fields`` override."""
    base: dict[str, Any] = {
        "fingerprint": FINGERPRINT,
        "databases": (PgDatabase(name="sales", owner="sales_owner", source_database="Sales"),),
    }
    return MigrationPlan(**(base | fields))


DB_OWNER = finding(
    "GB001",
    Severity.HIGH,
    "db_owner membership downscoped",
    principal="app_sales",
    securable="DATABASE sales",
    source_ref="security/sales.sql:12",
    evidence="ALTER ROLE db_owner ADD MEMBER [app_sales]",
    action="Granted DML on all tables and EXECUTE on routines; no DDL, no ownership.",
    remediation="Accept in the policy if the application really needs DDL.",
)
SA_ENABLED = finding(
    "GB010",
    Severity.CRITICAL,
    "sa login is enabled",
    principal="sa",
    source_ref="security/server.sql:3:1",
    evidence="ALTER LOGIN [sa] ENABLE",
    action="Not migrated: rds_superuser is not granted to any login.",
    remediation="Disable sa on the source; use named administrators.",
)
DENY_RESTRUCTURED = finding(
    "GB020",
    Severity.MEDIUM,
    "DENY restructured into a derived role",
    principal="analyst_kim",
    securable="TABLE sales:dbo.salaries",
    source_ref="sys.database_permissions[Sales/perm:OBJECT:dbo:salaries:SELECT:D:analyst_kim]",
    evidence="DENY SELECT ON dbo.salaries TO [analyst_kim]",
    action="analyst_kim is granted sales_reader_minus_salaries instead of sales_reader.",
    remediation="None needed; review the derived role.",
)
PUBLIC_GRANT = finding(
    "GB030",
    Severity.LOW,
    "grant to public",
    principal="public",
    securable="TABLE sales:dbo.regions",
    source_ref="security/sales.sql:40",
    evidence="GRANT SELECT ON dbo.regions TO public",
    action="Granted SELECT to PUBLIC.",
    remediation="Grant to a named role instead.",
)


def sales_plan() -> MigrationPlan:
    """A small estate: two logins, a reader group, an owner role, one DENY, four findings."""
    return plan(
        roles=(
            login("app_sales", "login [app_sales] (SQL)", AuthMethod.PASSWORD),
            login("analyst_kim", "login [CONTOSO\\kim] (Windows user)", AuthMethod.KERBEROS),
            group("sales_reader", "role [Sales].[reader]"),
            group("sales_reader_minus_salaries", kind=RoleKind.DERIVED),
            group("sales_owner", "user [Sales].[dbo]", kind=RoleKind.OWNER),
            group("rds_iam", kind=RoleKind.PREDEFINED),
        ),
        memberships=(
            member("analyst_kim", of="sales_reader_minus_salaries"),
            member("app_sales", of="sales_reader"),
        ),
        grants=(
            table_grant("dbo.orders", "SELECT", "sales_reader"),
            table_grant("dbo.orders", "SELECT", "sales_reader_minus_salaries"),
            table_grant("dbo.salaries", "SELECT", "sales_reader"),
            table_grant("dbo.orders", "INSERT", "app_sales"),
            table_grant("dbo.regions", "SELECT", "PUBLIC"),
        ),
        revokes=(
            PgRevoke(
                database="sales",
                object_type="DATABASE",
                name="sales",
                privilege="TEMPORARY",
                grantee="PUBLIC",
                reason="hardening: SQL Server grants no TEMPORARY to public",
            ),
        ),
        default_privileges=(
            PgDefaultPrivilege(
                database="sales",
                owner="sales_owner",
                schema_name="dbo",
                object_type="TABLES",
                privilege="SELECT",
                grantee="sales_reader",
            ),
        ),
        findings=(DB_OWNER, SA_ENABLED, DENY_RESTRUCTURED, PUBLIC_GRANT),
        dispositions=(
            fact("Sales/user:app_sales", "user", Disposition.MAPPED, items=("role:app_sales",)),
            fact("Sales/role:reader", "role", Disposition.MAPPED, items=("role:sales_reader",)),
            fact(
                "Sales/membership:db_owner<-app_sales",
                "membership",
                Disposition.DOWNSCOPED,
                findings=(DB_OWNER.key,),
                source_ref="security/sales.sql:12",
            ),
            fact(
                "Sales/perm:OBJECT:dbo:salaries:SELECT:D:analyst_kim",
                "permission",
                Disposition.APPROXIMATED,
                reason="DENY has no PostgreSQL equivalent; restructured into a derived role",
            ),
            fact(
                "Sales/perm:DATABASE::VIEW DEFINITION:G:analyst_kim",
                "permission",
                Disposition.NOT_APPLICABLE,
                reason="PostgreSQL catalogs are readable by every role",
            ),
            fact(
                "Sales/perm:OBJECT:dbo:ghost:SELECT:G:app_sales",
                "permission",
                Disposition.UNRESOLVED,
                reason="object dbo.ghost does not exist in the target",
                source_ref="security/sales.sql:55",
            ),
        ),
    )


def changed_sales_plan() -> MigrationPlan:
    """``sales_plan()`` one pull request later.

    A role was added (auditors), the DENY was removed (analyst_kim is a plain reader again, so
    the derived role and its finding are gone), db_owner was accepted in the policy, and a new
    high finding appeared for the auditors' CONTROL.
    """
    old = sales_plan()
    control = finding(
        "GB002",
        Severity.HIGH,
        "CONTROL on a database",
        principal="sales_auditors",
        securable="DATABASE sales",
        source_ref="security/sales.sql:70",
    )
    accepted = DB_OWNER.model_copy(
        update={"accepted": True, "accepted_reason": "Approved baseline CHG-1042"}
    )
    roles = [r for r in old.roles if r.name != "sales_reader_minus_salaries"]
    roles.append(group("sales_auditors", "role [Sales].[auditors]"))
    roles = [
        r.model_copy(update={"auth": AuthMethod.IAM}) if r.name == "app_sales" else r for r in roles
    ]
    return old.model_copy(
        update={
            "fingerprint": "sha256:" + "cd" * 32,
            "roles": tuple(sorted(roles, key=lambda r: r.key)),
            "memberships": (
                member("analyst_kim", of="sales_auditors"),
                member("analyst_kim", of="sales_reader"),
                member("app_sales", of="sales_reader"),
            ),
            "grants": tuple(g for g in old.grants if g.grantee != "sales_reader_minus_salaries"),
            "findings": tuple(
                sorted((accepted, SA_ENABLED, PUBLIC_GRANT, control), key=lambda f: f.key)
            ),
            "dispositions": tuple(
                d
                for d in old.dispositions
                if d.fact != "Sales/perm:OBJECT:dbo:salaries:SELECT:D:analyst_kim"
            ),
        }
    )


HOSTILE_NAME = 'evil|role`<b>x</b>"[end]'


def hostile_plan() -> MigrationPlan:
    """Names that are Markdown, HTML and Mermaid syntax at once."""
    return plan(
        roles=(
            login(HOSTILE_NAME, "login [evil|role`<b>x</b>] *bold* _it_"),
            group("end", "role [Sales].[end]"),
            group("a-b"),
            group("a_b"),
        ),
        memberships=(
            member(HOSTILE_NAME, of="end"),
            member("a-b", of="a_b"),
            member("end", of="a-b"),
        ),
        findings=(
            finding(
                "GB099",
                Severity.HIGH,
                "title with | pipe and <script>alert(1)</script>",
                principal=HOSTILE_NAME,
                source_ref="dir with space/x|y.sql:7",
                evidence="GRANT ``` ON x TO [y]",
            ),
        ),
    )


def large_plan(logins: int = 70, groups: int = 5) -> MigrationPlan:
    """Many logins spread over a few groups, with a nested group: enough to collapse the graph."""
    roles = [group(f"group_{g}", f"role [Sales].[g{g}]") for g in range(groups)]
    roles += [login(f"login_{i:02d}", f"login [u{i:02d}]") for i in range(logins)]
    memberships = [member(f"login_{i:02d}", of=f"group_{i % groups}") for i in range(logins)]
    memberships += [member(f"group_{g}", of="group_0") for g in range(1, groups)]
    return plan(roles=tuple(roles), memberships=tuple(memberships))


def write_plan_dirs(path: Path) -> tuple[Path, Path]:
    """``plan-base`` (:func:`sales_plan`) and ``plan-new`` (:func:`changed_sales_plan`) under
    ``path``, each a directory holding its ``plan.json``."""
    base, new = path / "plan-base", path / "plan-new"
    for directory, migration in ((base, sales_plan()), (new, changed_sales_plan())):
        directory.mkdir()
        (directory / "plan.json").write_text(migration.to_json(), encoding="utf-8")
    return base, new
