"""What each target platform provides: the policy's ``target`` as data (DESIGN §3.3).

Amazon RDS and Aurora switch a login to IAM or Kerberos authentication by membership in
``rds_iam`` or ``rds_ad``, and give the master user ``rds_superuser``
(reference/mssql/rds_postgres_roles.csv). Plain PostgreSQL has none of these roles:

========================  ===============================  =====================================
policy asks for           aurora / rds                     postgresql
========================  ===============================  =====================================
``iam``                   member of ``rds_iam``, IAM       a password (SCRAM) login, GB048: IAM
                          policy in ``iam/policies/``      database authentication is AWS-only
``kerberos``              member of ``rds_ad``             GSSAPI: a ``gss`` line in
                                                           ``iam/pg_hba.conf``, no role
faithful sysadmin /       member of ``rds_superuser``      CREATEDB, CREATEROLE, ``pg_monitor``,
CONTROL SERVER                                             ``pg_signal_backend``; never SUPERUSER
pgaudit object auditing   ``rds_pgaudit``                  ``pgaudit_auditor``
(``pgaudit.role``)
forced encryption         ``rds.force_ssl``                ``ssl``, and ``hostssl`` /
                                                           ``hostgssenc`` records in pg_hba.conf
========================  ===============================  =====================================

The renderer, ``verify`` and ``drift`` read the same tables, so a postgresql plan names no
``rds_*`` role anywhere, and its ``parameters.json`` no ``rds.*`` setting
(:data:`mapper.audit.RDS_HARDENED`, :data:`mapper.audit.PLAIN_HARDENED`).
"""

from __future__ import annotations

from collections.abc import Mapping

from mapper.plan import AuthMethod

#: The targets that are Amazon RDS or Aurora, and have its ``rds_*`` roles.
RDS_TARGETS = frozenset({"aurora", "rds"})

#: The RDS role that switches a login to the method (reference/mssql/rds_postgres_roles.csv).
AUTH_ROLES: Mapping[AuthMethod, str] = {AuthMethod.IAM: "rds_iam", AuthMethod.KERBEROS: "rds_ad"}

#: Methods a target lacks → the method grantbridge gives instead. IAM database authentication
#: is an Amazon RDS / Aurora feature (the rds_iam role, reference/mssql/rds_postgres_roles.csv);
#: plain PostgreSQL's pg_hba.conf knows no such method, so such a login could never log in.
FALLBACKS: Mapping[str, Mapping[AuthMethod, AuthMethod]] = {
    "postgresql": {AuthMethod.IAM: AuthMethod.PASSWORD},
}

#: On plain PostgreSQL, what stands for rds_superuser: it "allows: create roles and grant
#: privileges; create databases; … see all connections in pg_stat_activity and
#: pg_cancel_backend/pg_terminate_backend any connection" (reference/mssql/
#: rds_postgres_roles.csv; its master user is NOSUPERUSER CREATEDB CREATEROLE). In PostgreSQL's
#: terms (reference/mssql/pg_predefined_roles.csv): CREATEDB and CREATEROLE, ``pg_monitor``
#: (pg_read_all_settings, pg_read_all_stats, pg_stat_scan_tables: every session's activity)
#: and ``pg_signal_backend`` (cancel or terminate another backend). Installing extensions and
#: the rds_replication / rds_password grants have no counterpart; SUPERUSER is never given.
SUPERUSER_ATTRIBUTES: tuple[str, ...] = ("CREATEDB", "CREATEROLE")
SUPERUSER_ROLES: tuple[str, ...] = ("pg_monitor", "pg_signal_backend")

#: The audit role of pgaudit object auditing (``pgaudit.role``) on RDS / Aurora: "the only
#: allowable value is rds_pgaudit" (Aurora User Guide, "Auditing database objects",
#: https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Appendix.PostgreSQL.CommonDBATasks.pgaudit.auditing.html).
RDS_AUDIT_ROLE = "rds_pgaudit"
#: On plain PostgreSQL ``pgaudit.role`` names any role ("Specifies the master role to use for
#: object audit logging. … There is no default.", https://github.com/pgaudit/pgaudit README,
#: "pgaudit.role"; its example calls it ``auditor``). grantbridge prefixes that name so that it
#: is less likely to be a migrated login or role's: plan roles are cluster-wide.
PLAIN_AUDIT_ROLE = "pgaudit_auditor"


#: Who administers the server in sa's place, and who applies a plan without being a superuser.
#: RDS / Aurora give no one SUPERUSER: their master user (CREATEROLE, CREATEDB, member of
#: rds_superuser) does both. Plain PostgreSQL has the superuser initdb created (usually
#: ``postgres``), and any CREATEROLE role can apply a plan (pg_emit/preflight.py).
ADMINISTRATORS: Mapping[bool, str] = {
    True: "the RDS master user",
    False: "the bootstrap superuser (usually postgres)",
}
NON_SUPERUSERS: Mapping[bool, str] = {True: "the RDS master user", False: "a CREATEROLE role"}


def on_rds(target: str) -> bool:
    """Whether the target is Amazon RDS or Aurora (has the ``rds_*`` roles)."""
    return target in RDS_TARGETS


def administrator(target: str) -> str:
    """Who administers ``target`` in sa's place, as a phrase (:data:`ADMINISTRATORS`)."""
    return ADMINISTRATORS[on_rds(target)]


def non_superuser(target: str) -> str:
    """Who applies a plan on ``target`` without SUPERUSER, as a phrase (:data:`NON_SUPERUSERS`)."""
    return NON_SUPERUSERS[on_rds(target)]


def auth_role(target: str, method: AuthMethod) -> str | None:
    """The RDS role a login with ``method`` is a member of on ``target`` (None: no role)."""
    return AUTH_ROLES.get(method) if on_rds(target) else None


def audit_role(target: str) -> str:
    """The role pgaudit object auditing logs for on ``target`` (``pgaudit.role``)."""
    return RDS_AUDIT_ROLE if on_rds(target) else PLAIN_AUDIT_ROLE


def supported_method(target: str, method: AuthMethod) -> AuthMethod:
    """``method``, or what the target offers instead when it lacks it (:data:`FALLBACKS`)."""
    return FALLBACKS.get(target, {}).get(method, method)
