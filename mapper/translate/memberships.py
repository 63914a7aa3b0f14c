"""Role memberships → ``GRANT role TO member`` (fixed roles through their own rules).

A fixed server role with an over-granting permission takes that permission's over-grant rule
(sysadmin GB002 and securityadmin GB004 by name; ``##MS_LoginManager##``'s ALTER ANY LOGIN
GB005, as the GRANT row would); every other fixed server role gives what its permissions map to
granted directly (:func:`mapper.translate.fixed.plan_fixed_server_role`).

A membership whose member or role the snapshot does not hold (a partial export) is
``unresolved`` with finding GB046 and grants nothing (:func:`_unknown`).
"""

from __future__ import annotations

from mapper import findings
from mapper.fixed_roles import server_role_permissions
from mapper.plan import Disposition, PgMembership
from mapper.platforms import administrator
from mapper.privileges import FUTURE_SCHEMAS_NOTE, lookup
from mapper.translate.deny import Deny
from mapper.translate.dispositions import dispose_unknown
from mapper.translate.fixed import (
    DENY_ROLES,
    EQUIVALENT,
    OVERGRANT_ROLES,
    fixed_role,
    plan_fixed_server_role,
)
from mapper.translate.grants import Target, record
from mapper.translate.overgrants import PERMISSION_RULES, SERVER_ROLE_RULES, role_overgrant
from mapper.translate.state import SERVER, PlanState, fact_key
from mssql_extract.snapshot import Database, Membership, fold


def plan_server_memberships(state: PlanState) -> None:
    """Server role memberships: over-granting fixed roles, other fixed roles, user-defined ones."""
    for member in state.snapshot.server_memberships:
        fact, ref = fact_key(SERVER, member.key), str(member.source_ref)
        if _unknown(state, None, member, fact):
            continue
        member_role = state.role_of(SERVER, member.member)
        if member_role is None:
            _not_migrated(state, fact, ref, member)
            continue
        rule_id = SERVER_ROLE_RULES.get(fold(member.role)) or _overgrant_rule(member.role)
        if rule_id is not None:
            role_overgrant(state, None, rule_id, member.role, member.member, member_role, fact, ref)
            continue
        role = state.role_of(SERVER, member.role)
        if role is not None:
            record(state, fact, "membership", ref, [PgMembership(role=role, member=member_role)])
        elif not plan_fixed_server_role(state, member, member_role, fact):
            _fixed_approximated(state, fact, ref, member, "the server")


def _overgrant_rule(role: str) -> str | None:
    """The rule of a fixed server role's first over-granting permission (as its GRANT row's:
    :func:`mapper.translate.overgrants.permission_overgrant`), if it has one."""
    for permission in server_role_permissions(role):
        if lookup("SERVER", permission).outcome == "overgrant":
            return PERMISSION_RULES.get(("SERVER", permission), ("GB003", "admin"))[0]
    return None


def _unknown(state: PlanState, db: Database | None, member: Membership, fact: str) -> bool:
    """Dispose of a membership naming a member or role the snapshot does not hold (the engine
    left it out); False when both are known."""
    unknown = state.engine.unknown(db.name if db else None, member.key)
    if unknown is None:
        return False
    server = " SERVER" if db is None else ""
    statement = f"ALTER{server} ROLE [{member.role}] ADD MEMBER [{member.member}]"
    where = "on the server" if db is None else f"in [{db.name}]"
    dispose_unknown(
        state, fact, "membership", unknown, statement + (f" in [{db.name}]" if db else ""),
        f"No membership granted {where}: the plan has no role for a principal the snapshot "
        "does not hold.",
        securable=f"role {member.role}", ref=str(member.source_ref),
    )  # fmt: skip
    return True


def _not_migrated(state: PlanState, fact: str, ref: str, member: Membership) -> None:
    state.dispose(fact, "membership", ref, Disposition.EXCLUDED,
                  reason=f"the member [{member.member}] is not migrated")  # fmt: skip


def _fixed_approximated(
    state: PlanState, fact: str, ref: str, member: Membership, where: str
) -> None:
    finding = findings.make(
        "GB043", f"[{member.member}] is a member of fixed role {member.role} in {where}",
        f"Not granted: administration stays with {administrator(state.policy.target)}.",
        principal=member.member, securable=f"role {member.role}", source_ref=ref,
    )  # fmt: skip
    state.dispose(fact, "membership", ref, Disposition.APPROXIMATED,
                  findings=[state.finding(finding)], reason="fixed role without a PostgreSQL equivalent")  # fmt: skip


def plan_db_memberships(state: PlanState, db: Database, denies: list[Deny]) -> None:
    """Database role memberships; deny roles become DENYs, db_owner an over-grant."""
    for member in db.memberships:
        fact, ref = fact_key(db.name, member.key), str(member.source_ref)
        if _unknown(state, db, member, fact):
            continue
        member_role = state.role_of(db.name, member.member)
        role_name = fold(member.role)
        if member_role is None:
            _not_migrated(state, fact, ref, member)
        elif role_name in DENY_ROLES:
            target = Target("DATABASE")
            denies.append(
                Deny(fact, "membership", ref, db, member.member, target, DENY_ROLES[role_name])
            )
        elif role_name in OVERGRANT_ROLES and OVERGRANT_ROLES[role_name] != "GB043":
            role_overgrant(state, db, OVERGRANT_ROLES[role_name], member.role, member.member,
                           member_role, fact, ref)  # fmt: skip
        elif role_name in OVERGRANT_ROLES:
            _fixed_approximated(state, fact, ref, member, f"[{db.name}]")
        else:
            role = fixed_role(state, db, member.role, fact) or state.role_of(db.name, member.role)
            if role is None:
                state.dispose(fact, "membership", ref, Disposition.UNRESOLVED,
                              reason=f"role [{member.role}] is not known")  # fmt: skip
                continue
            item = PgMembership(role=role, member=member_role)
            if role_name in EQUIVALENT:  # db_datareader, db_datawriter: database-wide grants
                _database_wide(state, db, member, fact, item)
            else:
                record(state, fact, "membership", ref, [item])


def _database_wide(
    state: PlanState, db: Database, member: Membership, fact: str, item: PgMembership
) -> None:
    """Membership in a fixed role standing for database-level grants (db_datareader = SELECT
    on the database): ``approximated`` as those grants are (GB040), since the role's default
    privileges cover the schemas the database has, not those created later."""
    ref = str(member.source_ref)
    finding = findings.make(
        "GB040", f"[{member.member}] is a member of fixed role {member.role} in [{db.name}]",
        FUTURE_SCHEMAS_NOTE, principal=member.member, securable=f"role {member.role}",
        source_ref=ref,
    )  # fmt: skip
    record(state, fact, "membership", ref, [item], disposition=Disposition.APPROXIMATED,
           found=[state.finding(finding)], reason=FUTURE_SCHEMAS_NOTE)  # fmt: skip
