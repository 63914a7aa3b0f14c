"""Over-grants: each is a finding; the policy decides what the plan emits (DESIGN §3.3).

Modes: *downscope* (default) keeps least privilege — a db_owner member gets the database's
``<db>_db_owner`` role (DML on all tables, sequences, EXECUTE on routines; no DDL, ownership or
role administration), sysadmin members and CONTROL SERVER holders get that and CONNECT in every
database SQL Server lets them into, administration permissions are dropped; *faithful* keeps the
power — membership in the database's owner role, ``rds_superuser`` (with CONNECT on each
database it enters; on plain PostgreSQL what rds_superuser allows instead, never SUPERUSER:
:data:`mapper.platforms.SUPERUSER_ROLES`), CREATEROLE, SET ROLE for impersonation. An
over-grant *accepted* in the policy (with a reason) is emitted faithfully and its finding is
shown as accepted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from mapper import findings, platforms
from mapper.plan import Disposition, PgMembership, RoleKind
from mapper.policy import OvergrantMode
from mapper.privileges import PrivilegeRow
from mapper.translate.fixed import EQUIVALENT, fixed_role
from mapper.translate.grants import Target, expand, record
from mapper.translate.items import Item
from mapper.translate.objects import owner_role
from mapper.translate.server_wide import connect_grants, entered, named
from mapper.translate.state import SERVER, PlanState
from mssql_extract.snapshot import Database, Permission, fold

#: Fixed server role → finding rule (other fixed server roles are approximated: GB043).
SERVER_ROLE_RULES: Mapping[str, str] = {"sysadmin": "GB002", "securityadmin": "GB004"}

#: (class, permission) → (rule, what it is equivalent to).
PERMISSION_RULES: Mapping[tuple[str, str], tuple[str, str]] = {
    ("DATABASE", "CONTROL"): ("GB003", "db_owner"),
    ("SERVER", "CONTROL SERVER"): ("GB003", "sysadmin"),
    ("SCHEMA", "CONTROL"): ("GB003", "schema"),
    ("SERVER", "ALTER ANY LOGIN"): ("GB005", "admin"),
    ("DATABASE", "ALTER ANY USER"): ("GB005", "admin"),
    ("DATABASE", "ALTER ANY ROLE"): ("GB005", "admin"),
    ("DATABASE", "ALTER ANY APPLICATION ROLE"): ("GB005", "admin"),
    ("SERVER", "IMPERSONATE ANY LOGIN"): ("GB006", "admin"),
    ("LOGIN", "IMPERSONATE"): ("GB006", "impersonate"),
    ("USER", "IMPERSONATE"): ("GB006", "impersonate"),
}


@dataclass(frozen=True)
class Overgrant:
    """One over-grant occurrence: who, what, where it came from."""

    rule_id: str
    equivalent: str  # db_owner, sysadmin, admin, impersonate, schema
    db: Database | None
    principal: str  # source name, for the finding and policy acceptance
    role: str  # the member's PostgreSQL role
    fact: str
    ref: str
    evidence: str
    securable: str | None = None
    target: str | None = None  # impersonated principal / schema name


def plan_overgrant(state: PlanState, over: Overgrant, kind: str) -> None:
    """Emit what the mode says, record the finding and the fact's disposition."""
    accepted = state.policy.overgrants.acceptance(over.rule_id, over.principal) is not None
    faithful = accepted or state.policy.overgrants.mode(over.rule_id) == OvergrantMode.FAITHFUL
    had = set(state.roles[over.role].attributes) if over.role in state.roles else set()
    items, action = (_FAITHFUL if faithful else _DOWNSCOPE)[over.equivalent](state, over)
    finding = findings.make(
        over.rule_id, over.evidence, action, principal=over.principal,
        securable=over.securable, source_ref=over.ref,
    )  # fmt: skip
    key = state.finding(finding)
    disposition = Disposition.MAPPED if faithful else Disposition.DOWNSCOPED
    record(state, over.fact, kind, over.ref, items, disposition=disposition, found=[key],
           reason=action)  # fmt: skip
    if not state.dispositions[over.fact].items:
        _dispose_itemless(state, over, faithful, had)


def _dispose_itemless(state: PlanState, over: Overgrant, faithful: bool, had: set[str]) -> None:
    """An over-grant that gave no plan item: downscoped away, or (faithful) a role attribute
    such as CREATEROLE — mapped to the role when it gained the attribute, implied when the role
    had it already (``record`` alone would say not_applicable, "grants nothing")."""
    update: dict[str, object] = {"disposition": Disposition.DOWNSCOPED}
    if faithful:
        spec = state.roles.get(over.role)
        if spec is None or over.equivalent != "admin":
            return
        gained = Disposition.MAPPED if spec.attributes - had else Disposition.IMPLIED
        update = {"disposition": gained, "items": (f"role:{over.role}",)}
    state.dispositions[over.fact] = state.dispositions[over.fact].model_copy(update=update)


Emit = Callable[[PlanState, Overgrant], tuple[list[Item], str]]


def _db_owner_down(state: PlanState, over: Overgrant) -> tuple[list[Item], str]:
    databases = [over.db] if over.db else entered(state, over.principal)
    items: list[Item] = []
    for db in databases:
        role = fixed_role(state, db, "db_owner", over.fact)
        if role and role != over.role:
            items.append(PgMembership(role=role, member=over.role))
    names = ", ".join(sorted(str(getattr(i, "role", "")) for i in items))
    connect, access = _server_connect(state, over, databases)
    action = (
        f"Downscoped to DML and EXECUTE ({names or 'nothing'}){access}; no DDL or ownership. "
        "A schema created later is not covered: grant on it when it is created."
    )
    return [*items, *connect], action


def _db_owner_full(state: PlanState, over: Overgrant) -> tuple[list[Item], str]:
    assert over.db is not None
    owner = owner_role(state, over.db, "dbo")
    return [PgMembership(role=owner, member=over.role)], f"Made a member of owner role {owner!r}."


def _sysadmin_full(state: PlanState, over: Overgrant) -> tuple[list[Item], str]:
    connect, access = _server_connect(state, over, entered(state, over.principal))
    if not platforms.on_rds(state.policy.target):
        return _sysadmin_plain(state, over, connect, access)
    state.role("rds_superuser", RoleKind.PREDEFINED, source="Amazon RDS")
    member = PgMembership(role="rds_superuser", member=over.role)
    return [member, *connect], f"Made a member of rds_superuser{access}."


def _sysadmin_plain(
    state: PlanState, over: Overgrant, connect: list[Item], access: str
) -> tuple[list[Item], str]:
    """Plain PostgreSQL has no rds_superuser (a NOLOGIN stand-in would grant nothing): the
    role gets what rds_superuser allows, in PostgreSQL's terms (:data:`mapper.platforms.
    SUPERUSER_ATTRIBUTES` and ``SUPERUSER_ROLES``, whose comment cites the reference CSVs).
    SUPERUSER is never given: it bypasses every check, more than sysadmin's RDS counterpart.
    Attributes are not inherited, so members of a group role use them after SET ROLE."""
    spec = state.roles.get(over.role)
    if spec is not None:
        for attribute in platforms.SUPERUSER_ATTRIBUTES:
            spec.give(attribute, over.fact)
    members = [PgMembership(role=r, member=over.role) for r in platforms.SUPERUSER_ROLES]
    attributes = " and ".join(platforms.SUPERUSER_ATTRIBUTES)
    roles = " and ".join(platforms.SUPERUSER_ROLES)
    group = " (its members use them after SET ROLE)" if spec and not spec.login else ""
    action = (
        f"Gave the role {attributes}{group} and membership in {roles}{access}: on plain "
        "PostgreSQL, what sysadmin's Amazon RDS counterpart allows; SUPERUSER was not granted."
    )
    return [*members, *connect], action


def _server_connect(
    state: PlanState, over: Overgrant, databases: list[Database]
) -> tuple[list[Item], str]:
    """CONNECT on each database a server-wide over-grant lets its holder into, and the words
    for the action. sysadmin members enter every database as dbo, CONTROL SERVER implies
    CONNECT ANY DATABASE (reference/mssql/builtin_permissions_sql2022.csv): without CONNECT,
    which hardening revokes from PUBLIC, their access would be unusable. A database-level
    over-grant needs none: the principal's user has CONNECT there."""
    if over.db is not None or not databases:
        return [], ""
    access = f", with CONNECT on {named(databases, state)}"
    return connect_grants(state, databases, over.role), access


def _admin_down(state: PlanState, over: Overgrant) -> tuple[list[Item], str]:
    return [], "Not granted: principal administration stays with the deployment process."


def _admin_full(state: PlanState, over: Overgrant) -> tuple[list[Item], str]:
    if over.role in state.roles:
        state.roles[over.role].give("CREATEROLE", over.fact)
    return [], "Gave the role CREATEROLE."


def _impersonate_full(state: PlanState, over: Overgrant) -> tuple[list[Item], str]:
    scope = (
        over.db.name
        if over.db
        and over.equivalent == "impersonate"
        and over.securable
        and over.securable.startswith("USER")
        else SERVER
    )
    target = state.role_of(scope, over.target or "")
    if target is None:
        return [], "Not granted: the impersonated principal is not migrated."
    item = PgMembership(role=target, member=over.role, inherit=False,
                        comment="IMPERSONATE: SET ROLE without inheriting")  # fmt: skip
    return [item], f"Granted {target!r} WITH INHERIT FALSE (SET ROLE only)."


def _schema_down(state: PlanState, over: Overgrant) -> tuple[list[Item], str]:
    return _schema_items(
        state, over, EQUIVALENT["db_owner"]
    ), "Downscoped to DML and EXECUTE in the schema."


def _schema_full(state: PlanState, over: Overgrant) -> tuple[list[Item], str]:
    items = _schema_items(state, over, (*EQUIVALENT["db_owner"], "REFERENCES", "ALTER"))
    return items, (
        "DML, REFERENCES and EXECUTE in the schema, CREATE on it, and TRUNCATE and TRIGGER on "
        "its tables (TRIGGER on its views: CONTROL implies ALTER), without ownership."
    )


def _schema_items(state: PlanState, over: Overgrant, permissions: tuple[str, ...]) -> list[Item]:
    from mapper.privileges import lookup  # local: the table is only needed here

    items: list[Item] = []
    for permission in permissions:
        row: PrivilegeRow = lookup("SCHEMA", permission)
        items += (
            expand(state, over.db, over.role, Target("SCHEMA", object_name=over.target), row) or []
        )
    return items


_DOWNSCOPE: Mapping[str, Emit] = {
    "db_owner": _db_owner_down, "sysadmin": _db_owner_down, "admin": _admin_down,
    "impersonate": _admin_down, "schema": _schema_down,
}  # fmt: skip
_FAITHFUL: Mapping[str, Emit] = {
    "db_owner": _db_owner_full, "sysadmin": _sysadmin_full, "admin": _admin_full,
    "impersonate": _impersonate_full, "schema": _schema_full,
}  # fmt: skip


def permission_overgrant(
    state: PlanState, db: Database | None, perm: Permission, role: str, fact: str,
    denied: Callable[[], str | None],
) -> None:  # fmt: skip
    """An over-granting permission row (CONTROL, ALTER ANY …, IMPERSONATE). ``denied``: the
    DENY overriding it in SQL Server, if any (asked of an administration permission only).

    An overridden administration permission gives nothing, as an overridden GRANT of any
    other permission (``overridden in SQL Server``): giving CREATEROLE for it would only have
    the DENY take it back, and its findings claim the principal lost what SQL Server never let
    it have (GRANT and DENY ALTER ANY LOGIN to one login: GB020, GB040)."""
    rule_id, equivalent = PERMISSION_RULES.get(
        (perm.securable_class, perm.permission), ("GB003", "admin")
    )
    if equivalent == "admin" and (overridden := denied()):
        state.dispose(fact, "permission", str(perm.source_ref), Disposition.NOT_APPLICABLE,
                      reason=f"overridden in SQL Server: {overridden}")  # fmt: skip
        return
    securable = " ".join(p for p in (perm.securable_class, perm.schema_name, perm.object_name) if p)
    over = Overgrant(
        rule_id, equivalent, db, perm.grantee, role, fact, str(perm.source_ref),
        f"GRANT {perm.permission} ON {securable} TO [{perm.grantee}]", securable,
        perm.object_name,
    )  # fmt: skip
    plan_overgrant(state, over, "permission")


def role_overgrant(
    state: PlanState, db: Database | None, rule_id: str, role: str, member: str,
    member_role: str, fact: str, ref: str,
) -> None:  # fmt: skip
    """Membership in an over-granting fixed role (db_owner, sysadmin, securityadmin …)."""
    equivalent = {"db_owner": "db_owner", "sysadmin": "sysadmin"}.get(fold(role), "admin")
    where = f"[{db.name}]" if db else "the server"
    over = Overgrant(
        rule_id, equivalent, db, member, member_role, fact, ref,
        f"[{member}] is a member of {role} in {where}", f"role {role}",
    )  # fmt: skip
    plan_overgrant(state, over, "membership")
