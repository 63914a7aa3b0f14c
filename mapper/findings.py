"""The catalog of finding rules (GB001 …): id, severity, title and remediation (DESIGN §3.5).

Rules are data; the translators create :class:`~mapper.plan.Finding` items from them with
:func:`make`. ``docs/findings.md`` is generated from this catalog (:func:`render_markdown`) and a
test fails when the committed file is stale. GB300–GB349 are reserved for the module, RLS,
masking and audit analyses (``mapper/review_rules.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from mapper.plan import Finding, Severity
from mapper.review_rules import RuleDef

C, H, M, L, N = (Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFO)


@dataclass(frozen=True)
class Rule:
    """One rule: stable id, default severity, title, and how to remediate."""

    rule_id: str
    severity: Severity
    title: str
    remediation: str


class RuleRegistry(Mapping[str, Rule]):
    """Rules by id; a second registration of an id is refused (alembic's dispatcher does so)."""

    def __init__(self, rules: Iterable[Rule] = ()) -> None:
        self._rules: dict[str, Rule] = {}
        for rule in rules:
            self.register(rule)

    def register(self, rule: Rule) -> None:
        """Add a rule; a duplicate id is a :class:`ValueError`."""
        if rule.rule_id in self._rules:
            raise ValueError(f"finding rule {rule.rule_id} is registered twice")
        self._rules[rule.rule_id] = rule

    def __getitem__(self, rule_id: str) -> Rule:
        return self._rules[rule_id]

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._rules))

    def __len__(self) -> int:
        return len(self._rules)


# fmt: off
RULES = RuleRegistry([
    Rule("GB001", H, "Member of db_owner",
         "Give the principal only the DML and EXECUTE it needs; keep DDL and role administration "
         "with a separate deployment role."),
    Rule("GB002", C, "Member of sysadmin",
         "Keep sysadmin-equivalent access for named DBAs only; applications and groups should "
         "get database-level roles."),
    Rule("GB003", H, "CONTROL on a database, a schema or the server",
         "Replace CONTROL with the specific permissions the principal uses."),
    Rule("GB004", H, "Member of securityadmin",
         "securityadmin can grant itself any server permission; limit it to identity "
         "administrators, and give them CREATEROLE on PostgreSQL only if they need it."),
    Rule("GB005", H, "Can administer logins, users or roles",
         "ALTER ANY LOGIN / USER / ROLE lets a principal create and grant principals; move this "
         "to a change process instead of a standing permission."),
    Rule("GB006", H, "IMPERSONATE permission",
         "Impersonation lets one principal act as another; replace it with the permissions the "
         "caller needs or a SECURITY DEFINER routine."),
    Rule("GB007", M, "Granted WITH GRANT OPTION",
         "A grantee holding the grant option can pass the permission on to any principal; "
         "grant without it and keep granting with the owner or a deployment role."),
    Rule("GB008", M, "Permission granted to public",
         "Grants to public reach every user of the database; grant to a named role instead."),
    Rule("GB009", M, "Guest user enabled or granted permissions",
         "Disable guest (REVOKE CONNECT FROM guest) and grant to named principals."),
    Rule("GB010", M, "CHECK_POLICY is OFF",
         "Enable the password policy, or move the login to Kerberos authentication (or IAM "
         "on RDS / Aurora)."),
    Rule("GB011", H, "The sa login is enabled",
         "Disable or rename sa; the target's administrator takes its place (the bootstrap "
         "superuser on PostgreSQL, the master user on RDS / Aurora)."),
    Rule("GB012", C, "TRUSTWORTHY database owned by a sysadmin",
         "Turn TRUSTWORTHY off, or give the database an owner without server permissions; "
         "sign modules with certificates instead."),
    Rule("GB013", M, "Orphaned database user",
         "Drop the user or map it to a login (ALTER USER … WITH LOGIN)."),
    Rule("GB014", L, "Login that cannot log in still holds permissions",
         "Drop the login and its permissions if it is no longer needed."),
    Rule("GB015", N, "Password does not expire (CHECK_EXPIRATION OFF)",
         "Rotate service passwords on a schedule, or use IAM authentication."),
    Rule("GB016", M, "Owner of a database, schema or object",
         "Owners may alter, drop and grant what they own. Keep ownership with a deployment role "
         "(the plan's NOLOGIN owner role) and give the former owner only the DML and EXECUTE it "
         "uses (the default); grant the owner role to it only if it must run DDL."),
    Rule("GB017", H, "Application role has no members",
         "PostgreSQL has no application roles or sp_setapprole, and SQL Server does not record "
         "which applications activate one: find them in the application code. Grant the role to "
         "each one's login role without inheritance, and have the application SET ROLE to it "
         "where it called sp_setapprole (the finding's action gives the statements, with the "
         "role and database names as the scripts spell them): its session then has the role's "
         "privileges, as after sp_setapprole. Membership replaces the password, which is never "
         "carried."),
    Rule("GB020", M, "DENY restructured as narrower role membership",
         "Review the derived role: it holds the role's privileges minus the denied ones. A "
         "principal denied everything a role gives it leaves the role (no derived role is "
         "made). A principal a DENY shuts out of a database (DENY CONNECT, or CONTROL, CONNECT "
         "REPLICATION, CONTROL SERVER) is a member of none of that database's roles. A DENY of "
         "part of what a PostgreSQL predefined role gives (pg_read_all_stats, pg_signal_backend) "
         "takes the whole membership: PostgreSQL cannot take part of it away (fail closed); so "
         "do a DENY shutting the principal out of a database, where the membership rests on "
         "VIEW DATABASE STATE alone, and a DENY of part of what the role faithful CONTROL "
         "SERVER gives includes (pg_monitor includes pg_read_all_stats). A DENY of part of what "
         "a role attribute stands for (CREATEDB: CREATE ANY DATABASE; CREATEROLE: ALTER ANY "
         "LOGIN, ALTER ANY USER …) takes the attribute, as does a DENY of IMPERSONATE from a "
         "CREATEROLE role (before PostgreSQL 16 it can make itself a member of any role), and "
         "a member of a role holding it, who could use it after SET ROLE, gets a derived role "
         "without it. "
         "A member of a role that owns a schema keeps, granted to it directly, what the roles "
         "it leaves gave it on that schema: SQL Server never denies an owner."),
    Rule("GB021", H, "DENY with no PostgreSQL equivalent",
         "PostgreSQL has no DENY, and the plan cannot apply this one to every principal it "
         "reaches in SQL Server (the members of a Windows or Entra ID group, whom grantbridge "
         "does not know): they keep what it denies wherever another grant gives it to them. "
         "Add the DENY for each member to the source and plan again, or revoke that access "
         "from their roles; or have the members use the group's role only."),
    Rule("GB022", M, "Denied metadata stays visible in PostgreSQL",
         "PostgreSQL has no per-role catalog visibility: every role may read the definitions of "
         "views and routines (pg_views, pg_get_viewdef(), pg_proc.prosrc), the roles, "
         "memberships and privileges, and the list of databases. Keep secrets (passwords, keys, "
         "personal data in literals) and logic that must stay hidden out of view and routine "
         "definitions, then accept the finding."),
    Rule("GB030", N, "Password must be set and rotated on the target",
         "Set a new SCRAM password from a secret store (such as AWS Secrets Manager on RDS / "
         "Aurora) and rotate it; the plan never carries passwords."),
    Rule("GB031", L, "IAM policy has placeholders",
         "Set authentication.aws_account, aws_region and resource_id in grantbridge.toml."),
    Rule("GB032", M, "Windows group needs an AD group mapping",
         "Map the AD group to its role with pg_ad_mapping (Aurora), or grant the role to the "
         "group's members."),
    Rule("GB033", L, "Kerberos realm not set",
         "Set authentication.realm in grantbridge.toml so roles are named user@REALM."),
    Rule("GB034", M, "Windows login may be a group",
         "The source (CREATE LOGIN … FROM WINDOWS, a dacpac) does not say user or group, so it "
         "was mapped as a Windows user. If it is a Windows group, list it in "
         "authentication.windows_groups in grantbridge.toml (exact name or glob, e.g. "
         "'CONTOSO\\SQL-*') to map it to an AD group role; if it is a user, accept this "
         "finding ([[overgrants.accepted]] with rule GB034), or extract from the catalog or "
         "the live server, which record the type."),
    Rule("GB040", L, "Permission approximated in PostgreSQL",
         "Check that the approximation gives the access the application needs."),
    Rule("GB041", M, "Permission has no PostgreSQL equivalent",
         "Decide whether the capability is still needed, and how to provide it."),
    Rule("GB042", M, "Securable not found",
         "The permission names an object the snapshot (or the target) does not have; check "
         "that the object was converted."),
    Rule("GB044", H, "Source database not read",
         "Nothing of this database is in the plan. Give the extracting login access to it "
         "(or bring it online) and extract again."),
    Rule("GB045", M, "Source statement or row not read",
         "It may grant, deny, or change a membership or an owner that the plan therefore "
         "lacks. Read it; fix the statement (or extract from the catalog or the live server) "
         "and plan again, or accept the finding once it is known to be harmless."),
    Rule("GB046", M, "Principal not in the snapshot",
         "The statement names a principal (a role's member, a grantee, an owner) that the "
         "snapshot does not hold, as partial exports do (dbatools' Export-DbaDbRole "
         "-IncludeRoleMember, Export-DbaServerRole). Extract the principal too (the whole "
         "database or server) and plan again, or drop the fact."),
    Rule("GB047", M, "Case-sensitive collation",
         "SQL Server compares names case-sensitively under this collation, grantbridge "
         "case-insensitively (as PostgreSQL's folded names are compared), so principals, "
         "schemas or objects whose names differ only in case would be one in the plan. Check "
         "that none do (e.g. SELECT LOWER(name) FROM sys.objects GROUP BY LOWER(name), "
         "schema_id HAVING COUNT(*) > 1; likewise sys.database_principals), or rename them "
         "before migrating; then accept the finding."),
    Rule("GB048", M, "IAM authentication is Amazon RDS / Aurora only",
         "Plain PostgreSQL (target = \"postgresql\") has no IAM database authentication, so the "
         "login was given password (SCRAM) authentication instead. Set its password from a "
         "secret store after apply and rotate it, or authenticate it another way pg_hba.conf "
         "offers (Kerberos, certificates) and change the policy's rule."),
    Rule("GB043", M, "Fixed role approximated",
         "The fixed role's capabilities are approximated by explicit grants; review them."),
])
# fmt: on


def make(
    rule_id: str, evidence: str, action: str, *, severity: Severity | None = None,
    **fields: str | None,
) -> Finding:  # fmt: skip
    """A plan finding for ``rule_id`` with the rule's title and remediation, and its default
    severity unless ``severity`` says otherwise (a case the rule rates lower, as GB008 does
    for SQL Server's own grants to public)."""
    rule = RULES[rule_id]
    return Finding(
        rule_id=rule.rule_id,
        severity=severity or rule.severity,
        title=rule.title,
        evidence=evidence,
        action=action,
        remediation=rule.remediation,
        **fields,
    )


def render_markdown() -> str:
    """``docs/findings.md``: the catalog as a table (generated; do not edit by hand)."""
    lines = [
        "# Finding rules",
        "",
        "<!-- Generated from mapper/findings.py by `python -m mapper.findings`; do not edit. -->",
        "",
        "| Rule | Severity | Title | Remediation |",
        "|---|---|---|---|",
    ]
    for rule in sorted(_all_rules(), key=lambda r: r.rule_id):
        lines.append(
            f"| {rule.rule_id} | {rule.severity.value} | {rule.title} | {rule.remediation} |"
        )
    return "\n".join(lines) + "\n"


def _all_rules() -> list[Rule | RuleDef]:
    """This catalog plus the GB300–GB349 rules of the module, RLS, masking and audit analyses
    (``mapper.review_rules``), imported here so that they may import this module."""
    from mapper import masking, modules, rls
    from mapper.translate import module_actions, security, security_facts

    analyses = (
        modules.RULES,
        rls.RULES,
        masking.RULES,
        module_actions.RULES,
        security.RULES,
        security_facts.RULES,
    )
    return [*RULES.values(), *(rule for table in analyses for rule in table.values())]


if __name__ == "__main__":  # pragma: no cover - doc generation entry point
    print(render_markdown(), end="")
