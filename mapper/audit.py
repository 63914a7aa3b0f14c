"""SQL Server audit specifications → pgaudit settings, and the hardened parameter group.

pgaudit (https://github.com/pgaudit/pgaudit, README "Settings") logs statement *classes* for
every session (``pgaudit.log``: READ, WRITE, FUNCTION, ROLE, DDL, MISC, MISC_SET, ALL) and, for
per-object auditing, every statement that touches an object on which the *audit role* named by
``pgaudit.role`` holds the privilege used ("Object Audit Logging"). So:

* an action group of a server or database audit specification becomes ``pgaudit.log`` classes
  (:data:`ACTION_GROUPS`, one row per group with the reason), or a parameter (logins are logged
  by ``log_connections``, not by pgaudit);
* a per-object action (``SELECT ON OBJECT::dbo.T BY public``) becomes a GRANT of that privilege
  to the target's audit role (:func:`mapper.platforms.audit_role`: ``rds_pgaudit`` on RDS /
  Aurora, ``pgaudit_auditor`` on plain PostgreSQL) on each object it covers (a schema or
  database securable covers all of its objects). pgaudit cannot filter by principal: ``BY app``
  audits everyone (a note says so).

:func:`parameters` gives the settings a hardened target needs (RDS / Aurora: its parameter
group; plain PostgreSQL: ``postgresql.conf``), each with the reason the report prints, plus the
pgaudit ones when the source had audit specifications.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict

from mapper.plan import PgParameter
from mapper.platforms import audit_role, on_rds
from mssql_extract.snapshot import (
    AuditAction,
    AuditSpecification,
    Database,
    DbObject,
    ObjectKind,
    SecuritySnapshot,
    fold,
)

#: pgaudit.log classes, in the order pgaudit documents them.
CLASSES = ("READ", "WRITE", "FUNCTION", "ROLE", "DDL", "MISC", "MISC_SET", "ALL")


@dataclass(frozen=True)
class GroupRule:
    """What one SQL Server audit action group becomes: pgaudit classes and/or parameters."""

    group: str
    classes: tuple[str, ...]
    parameters: tuple[str, ...]
    comment: str
    recorded: bool = True  # False: neither pgaudit nor the target records it (no classes)


# Action groups: "SQL Server Audit Action Groups and Actions"
# (https://learn.microsoft.com/sql/relational-databases/security/auditing/sql-server-audit-action-groups-and-actions).
# fmt: off
_RULES = (
    GroupRule("SUCCESSFUL_LOGIN_GROUP", (), ("log_connections",),
              "successful logins: PostgreSQL logs connections, pgaudit does not"),
    GroupRule("FAILED_LOGIN_GROUP", (), ("log_connections",),
              "failed logins: authentication failures are logged with log_connections"),
    GroupRule("LOGOUT_GROUP", (), ("log_disconnections",), "logouts: log_disconnections"),
    GroupRule("DATABASE_LOGOUT_GROUP", (), ("log_disconnections",),
              "contained-user logouts: log_disconnections"),
    GroupRule("SUCCESSFUL_DATABASE_AUTHENTICATION_GROUP", (), ("log_connections",),
              "contained-user logins: log_connections"),
    GroupRule("FAILED_DATABASE_AUTHENTICATION_GROUP", (), ("log_connections",),
              "contained-user login failures: log_connections"),
    GroupRule("SERVER_ROLE_MEMBER_CHANGE_GROUP", ("ROLE",), (),
              "server role membership changes: GRANT/REVOKE role (ROLE class)"),
    GroupRule("DATABASE_ROLE_MEMBER_CHANGE_GROUP", ("ROLE",), (),
              "database role membership changes: GRANT/REVOKE role (ROLE class)"),
    GroupRule("SERVER_PRINCIPAL_CHANGE_GROUP", ("ROLE",), (),
              "logins created, altered, dropped: CREATE/ALTER/DROP ROLE (ROLE class)"),
    GroupRule("DATABASE_PRINCIPAL_CHANGE_GROUP", ("ROLE",), (),
              "users and roles created, altered, dropped: CREATE/ALTER/DROP ROLE (ROLE class)"),
    GroupRule("LOGIN_CHANGE_PASSWORD_GROUP", ("ROLE",), (),
              "password changes: ALTER ROLE … PASSWORD (ROLE class)"),
    GroupRule("APPLICATION_ROLE_CHANGE_PASSWORD_GROUP", ("ROLE",), (),
              "application role passwords: ALTER ROLE (ROLE class)"),
    GroupRule("SERVER_PERMISSION_CHANGE_GROUP", ("ROLE",), (),
              "server permission GRANT/DENY/REVOKE: GRANT/REVOKE (ROLE class)"),
    GroupRule("DATABASE_PERMISSION_CHANGE_GROUP", ("ROLE",), (),
              "database permission changes: GRANT/REVOKE (ROLE class)"),
    GroupRule("SCHEMA_OBJECT_PERMISSION_CHANGE_GROUP", ("ROLE",), (),
              "object permission changes: GRANT/REVOKE (ROLE class)"),
    GroupRule("DATABASE_OBJECT_PERMISSION_CHANGE_GROUP", ("ROLE",), (),
              "database object permission changes: GRANT/REVOKE (ROLE class)"),
    GroupRule("SERVER_OBJECT_PERMISSION_CHANGE_GROUP", ("ROLE",), (),
              "server object permission changes: GRANT/REVOKE (ROLE class)"),
    GroupRule("SCHEMA_OBJECT_CHANGE_GROUP", ("DDL",), (),
              "CREATE/ALTER/DROP on schema objects (DDL class)"),
    GroupRule("DATABASE_OBJECT_CHANGE_GROUP", ("DDL",), (),
              "CREATE/ALTER/DROP on database objects such as schemas (DDL class)"),
    GroupRule("DATABASE_CHANGE_GROUP", ("DDL",), (), "databases created, altered, dropped (DDL)"),
    GroupRule("SERVER_OBJECT_CHANGE_GROUP", ("DDL",), (), "server objects changed (DDL class)"),
    GroupRule("DATABASE_OWNERSHIP_CHANGE_GROUP", ("DDL",), (), "ALTER … OWNER TO (DDL class)"),
    GroupRule("SCHEMA_OBJECT_OWNERSHIP_CHANGE_GROUP", ("DDL",), (),
              "ALTER … OWNER TO on objects (DDL class)"),
    GroupRule("SCHEMA_OBJECT_ACCESS_GROUP", ("READ", "WRITE", "FUNCTION"), (),
              "every object access: SELECT/COPY (READ), DML (WRITE), function calls (FUNCTION)"),
    GroupRule("DATABASE_OBJECT_ACCESS_GROUP", ("READ", "WRITE"), (),
              "access to database objects: READ and WRITE classes"),
    GroupRule("BATCH_COMPLETED_GROUP", ("ALL",), (), "every batch's text: all classes"),
    GroupRule("BATCH_STARTED_GROUP", ("ALL",), (), "every batch's text: all classes"),
    GroupRule("DATABASE_OPERATION_GROUP", ("MISC",), (),
              "CHECKPOINT and similar operations (MISC class: CHECKPOINT, VACUUM, DISCARD)"),
    GroupRule("SERVER_OPERATION_GROUP", ("MISC",), (), "server operations (MISC class)"),
    GroupRule("DBCC_GROUP", ("MISC",), (), "DBCC commands: the nearest are VACUUM/ANALYZE (MISC)"),
    GroupRule("AUDIT_CHANGE_GROUP", ("MISC_SET",), (),
              "audit configuration changes: SET of pgaudit.* (MISC_SET class)"),
    GroupRule("SERVER_STATE_CHANGE_GROUP", (), (),
              "server start/stop: PostgreSQL always logs it; RDS events record it"),
    GroupRule("BACKUP_RESTORE_GROUP", (), (),
              "backups and restores are RDS snapshots: audited by AWS CloudTrail, not pgaudit"),
)

# Plain PostgreSQL has no RDS events, snapshots or CloudTrail: its server log records start and
# stop ("database system is ready to accept connections", "database system is shut down"), but
# backups and restores are pg_basebackup, pg_dump and file copies, which nothing logs as such.
_PLAIN_RULES = (
    GroupRule("SERVER_STATE_CHANGE_GROUP", (), (),
              "server start/stop: PostgreSQL always logs it in the server log"),
    GroupRule("BACKUP_RESTORE_GROUP", (), (),
              "backups and restores (pg_basebackup, pg_dump, restoring files) run outside the "
              "server: neither pgaudit nor PostgreSQL records them", recorded=False),
)
# fmt: on


def _index(rules: Iterable[GroupRule]) -> dict[str, GroupRule]:
    table: dict[str, GroupRule] = {}
    for rule in rules:
        if rule.group in table:
            raise ValueError(f"audit action group {rule.group} is mapped twice")
        table[rule.group] = rule
    return table


#: The action groups on RDS / Aurora, and on plain PostgreSQL (the same table with
#: :data:`_PLAIN_RULES` in place of the rows that name AWS services).
ACTION_GROUPS = _index(_RULES)
PLAIN_ACTION_GROUPS = {**ACTION_GROUPS, **_index(_PLAIN_RULES)}


def action_groups(target: str) -> dict[str, GroupRule]:
    """The action-group table for ``target``."""
    return ACTION_GROUPS if on_rds(target) else PLAIN_ACTION_GROUPS


#: Per-object audit actions → the privilege whose use pgaudit logs for the audit role.
OBJECT_ACTIONS = {"SELECT": "SELECT", "INSERT": "INSERT", "UPDATE": "UPDATE",
                  "DELETE": "DELETE", "EXECUTE": "EXECUTE", "REFERENCES": "REFERENCES"}  # fmt: skip
_ROUTINES = frozenset({ObjectKind.PROCEDURE, ObjectKind.SCALAR_FUNCTION, ObjectKind.TABLE_FUNCTION})


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AuditObject(_Frozen):
    """Grant ``privilege`` on a source object to the audit role (source names)."""

    database: str
    schema_name: str
    name: str
    privilege: str
    fact: str

    @property
    def key(self) -> str:
        return fold(f"{self.database}/{self.schema_name}.{self.name}:{self.privilege}")


class SpecOutcome(_Frozen):
    """What became of one audit specification, for its fact's disposition.

    ``carried``: actions that became pgaudit classes, parameters or audit-role grants;
    ``elsewhere``: groups PostgreSQL (or AWS, on RDS) already records without pgaudit (the
    rule's comment);
    ``lost``: actions nothing in the plan records (no equivalent, or no object covered).
    """

    fact: str
    name: str
    level: str
    source_ref: str
    enabled: bool = True
    carried: tuple[str, ...] = ()
    parameters: tuple[str, ...] = ()  # non-pgaudit parameters its groups rely on
    elsewhere: tuple[str, ...] = ()
    lost: tuple[str, ...] = ()


class AuditSettings(_Frozen):
    """What the source's audit specifications become in PostgreSQL."""

    classes: tuple[str, ...] = ()
    parameters: tuple[str, ...] = ()  # non-pgaudit parameters the groups rely on
    objects: tuple[AuditObject, ...] = ()
    notes: tuple[str, ...] = ()
    facts: tuple[str, ...] = ()
    outcomes: tuple[SpecOutcome, ...] = ()  # one per specification, in fact order

    @property
    def active(self) -> bool:
        return bool(self.classes or self.objects)


def _specifications(
    snapshot: SecuritySnapshot,
) -> Iterator[tuple[Database | None, AuditSpecification]]:
    yield from ((None, spec) for spec in snapshot.audit_specifications)
    for db in snapshot.databases:
        yield from ((db, spec) for spec in db.audit_specifications)


@dataclass
class _Found:
    """What the specifications translated so far add up to."""

    classes: set[str] = field(default_factory=set)
    objects: dict[str, AuditObject] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def translate_audit(snapshot: SecuritySnapshot, target: str) -> AuditSettings:
    """pgaudit classes, the objects to grant to the audit role, and notes, for every spec.

    Disabled specifications audit nothing in SQL Server, so they are noted and skipped. What
    ``target`` records without pgaudit depends on it (:func:`action_groups`).
    """
    found = _Found()
    groups = action_groups(target)
    outcomes = [_translate_spec(db, spec, found, groups) for db, spec in _specifications(snapshot)]
    outcomes.sort(key=lambda o: o.fact)
    parameters = {p for o in outcomes for p in o.parameters}
    return AuditSettings(
        classes=tuple(c for c in CLASSES if c in found.classes),
        parameters=tuple(sorted(parameters)),
        objects=tuple(found.objects[k] for k in sorted(found.objects)),
        notes=tuple(sorted(set(found.notes))),
        facts=tuple(o.fact for o in outcomes if o.enabled),
        outcomes=tuple(outcomes),
    )


def _translate_spec(
    db: Database | None, spec: AuditSpecification, found: _Found, groups: dict[str, GroupRule]
) -> SpecOutcome:
    base = SpecOutcome(fact=f"{db.name if db else 'server'}/{spec.key}", name=spec.name,
                       level=spec.level, source_ref=str(spec.source_ref))  # fmt: skip
    if not spec.enabled:
        found.notes.append(f"{spec.name}: disabled (STATE = OFF) in SQL Server, not carried over")
        return base.model_copy(update={"enabled": False})
    carried: list[str] = []
    parameters: set[str] = set()
    elsewhere: list[str] = []
    lost: list[str] = []
    for action in spec.actions:
        rule = groups.get(action.action.upper())
        if rule is not None:
            found.classes.update(rule.classes)
            parameters.update(rule.parameters)
            recorded = elsewhere if rule.recorded else lost
            bucket = carried if rule.classes or rule.parameters else recorded
            bucket.append(f"{rule.group}: {rule.comment}")
        elif db is not None and action.action.upper() in OBJECT_ACTIONS:
            items = list(_object_actions(db, action, base.fact, found.notes, spec.name))
            for item in items:
                found.objects.setdefault(item.key, item)
            what = f"{action.action} ON {action.securable_class or 'OBJECT'}::{action.securable}"
            (carried if items else lost).append(
                what if items else f"{what}: no object of the snapshot is covered"
            )
        else:
            lost.append(f"{action.action} has no pgaudit equivalent")
    found.notes.extend(f"{spec.name}: {note}" for note in (*elsewhere, *lost))
    return base.model_copy(update={
        "carried": tuple(carried), "parameters": tuple(sorted(parameters)),
        "elsewhere": tuple(elsewhere), "lost": tuple(lost),
    })  # fmt: skip


def _object_actions(
    db: Database, action: AuditAction, fact: str, notes: list[str], spec: str
) -> Iterator[AuditObject]:
    privilege = OBJECT_ACTIONS[action.action.upper()]
    if action.principal and fold(action.principal) != "public":
        notes.append(f"{spec}: {action.action} BY {action.principal}: pgaudit object auditing "
                     "cannot filter by principal, so every role's use is audited")  # fmt: skip
    for obj in _covered(db, action):
        if (privilege == "EXECUTE") == (obj.kind in _ROUTINES):
            yield AuditObject(database=db.name, schema_name=obj.schema_name, name=obj.name,
                              privilege=privilege, fact=fact)  # fmt: skip


def _covered(db: Database, action: AuditAction) -> Iterator[DbObject]:
    """The objects an action's securable covers: one object, a schema's, or the database's."""
    cls = (action.securable_class or "OBJECT").upper()
    target = fold(action.securable or "")
    for obj in db.objects:
        qualified = fold(f"{obj.schema_name}.{obj.name}")
        if (
            (cls == "OBJECT" and target in {qualified, fold(obj.name)})
            or (cls == "SCHEMA" and target == fold(obj.schema_name))
            or cls == "DATABASE"
        ):
            yield obj


# --------------------------------------------------------------------------- parameters

#: The hardened settings every target gets (PostgreSQL runtime settings:
#: https://www.postgresql.org/docs/current/runtime-config-logging.html and
#: https://www.postgresql.org/docs/current/runtime-config-connection.html).
HARDENED: tuple[tuple[str, str, str], ...] = (
    ("log_connections", "1",
     "log every connection attempt and its authentication, like SQL Server's login auditing"),
    ("log_disconnections", "1", "log session ends with their duration (logout auditing)"),
    ("log_statement", "ddl",
     "log every CREATE/ALTER/DROP so schema and permission changes leave a trail"),
    ("ssl_min_protocol_version", "TLSv1.2", "refuse TLS 1.0 and 1.1"),
    ("password_encryption", "scram-sha-256",
     "store new passwords as SCRAM verifiers, never MD5"),
)  # fmt: skip

#: Amazon RDS / Aurora's own parameters (AWS: "Using SSL with a PostgreSQL DB instance",
#: https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/PostgreSQL.Concepts.General.SSL.html;
#: rds.restrict_password_commands: "Controlling user access to the PostgreSQL database").
RDS_HARDENED: tuple[tuple[str, str, str], ...] = (
    ("rds.force_ssl", "1", "refuse unencrypted connections (SQL Server: Force Encryption)"),
    ("rds.restrict_password_commands", "1",
     "only members of rds_password may change passwords (SQL Server: ALTER ANY LOGIN)"),
)  # fmt: skip

#: Plain PostgreSQL has neither. ``ssl = on`` only lets a client choose TLS: "By default, this
#: is at the client's option" ("Secure TCP/IP Connections with SSL",
#: https://www.postgresql.org/docs/current/ssl-tcp.html); what refuses the others is pg_hba.conf,
#: whose ``hostssl`` and ``hostgssenc`` records match only encrypted connections ("The
#: pg_hba.conf File", https://www.postgresql.org/docs/current/auth-pg-hba-conf.html). No setting
#: restricts password changes: any role may change its own password (the report says so).
PLAIN_HARDENED: tuple[tuple[str, str, str], ...] = (
    ("ssl", "on",
     "accept TLS connections (SQL Server: Force Encryption; the server needs ssl_cert_file "
     "and ssl_key_file); no setting refuses unencrypted ones: pg_hba.conf does when its TCP "
     "records are hostssl or hostgssenc, not host (as in iam/pg_hba.conf)"),
)  # fmt: skip


def parameters(
    target: str, audit: AuditSettings | None = None, role: str | None = None
) -> tuple[PgParameter, ...]:
    """The hardened settings for ``target`` (RDS / Aurora get their ``rds.*`` parameters, plain
    PostgreSQL its own), plus pgaudit's when ``audit`` is active, naming ``role`` (default: the
    target's :func:`~mapper.platforms.audit_role`) as ``pgaudit.role``."""
    rows = (*HARDENED, *(RDS_HARDENED if on_rds(target) else PLAIN_HARDENED))
    found = [PgParameter(name=n, value=v, reason=r) for n, v, r in rows]
    if audit is not None and audit.active:
        found.extend(_pgaudit_parameters(audit, role or audit_role(target)))
    return tuple(sorted(found, key=lambda p: p.key))


def _pgaudit_parameters(audit: AuditSettings, role: str) -> Iterator[PgParameter]:
    facts = audit.facts
    yield PgParameter(
        name="shared_preload_libraries", value="pgaudit", facts=facts,
        reason="load pgaudit at server start (keep the group's other libraries in the list), "
        "then CREATE EXTENSION pgaudit in each database",
    )  # fmt: skip
    yield PgParameter(
        name="pgaudit.log", value=",".join(c.lower() for c in audit.classes) or "none",
        facts=facts, reason="statement classes the SQL Server audit action groups covered",
    )  # fmt: skip
    yield PgParameter(name="pgaudit.log_catalog", value="0", facts=facts,
                      reason="skip statements that only read pg_catalog (SQL Server audits "
                      "user objects)")  # fmt: skip
    if audit.objects:
        yield PgParameter(
            name="pgaudit.role", value=role, facts=facts,
            reason=f"object auditing: statements using a privilege {role} holds on an "
            "object are logged (the per-object actions of the database audit specifications)",
        )  # fmt: skip
