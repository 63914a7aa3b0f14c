"""What became of each DENY fact, once DENY restructuring has run (:mod:`mapper.translate.deny`
tells the story): ``mapped`` when the plan carries it, ``approximated`` with findings when it
may take more than SQL Server does (GB040) or cannot reach everyone it reaches there (a group's
members: GB021), else ``not_applicable`` with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from grantbridge.errors import GrantbridgeError
from grantbridge.plural import plural
from mapper import findings
from mapper.plan import Disposition, Finding, PgMembership, RoleKind
from mapper.translate import deny_attributes, deny_predefined, deny_shut
from mapper.translate.deny_roles import EVIDENCE_DENIES
from mapper.translate.dispositions import taken_away
from mapper.translate.state import PlanState
from mssql_extract.snapshot import fold

if TYPE_CHECKING:
    from mapper.translate.deny import Deny, _Denial
    from mapper.translate.deny_reach import Holders


@dataclass(frozen=True)
class Outcome:
    """What restructuring did for one DENY: the items and roles it touched, its findings, why
    taking what it covers may take more than SQL Server does (one GB040 each), and the roles
    principals left without a derived role (:func:`leave_role`)."""

    items: set[str]
    found: set[str]
    approximated: tuple[str, ...] = ()
    left: tuple[str, ...] = ()


class Gb020:
    """GB020 by key, naming every member it is about (moved to a derived role, or out of a role).

    A GB020's key names the denying principals and the role, not the member, so several members
    meet one finding. Kept as the first member met wrote it, its text depended on the order
    members were restructured in, which depends on every database a login's roles span (the
    same estate planned one database at a time named another member: ``bench.decompose``). Now
    its action gives each member's sentence, members sorted (the first
    :data:`EVIDENCE_DENIES`, the rest counted), and its evidence is the first member's.
    """

    def __init__(self) -> None:
        self.members: dict[str, dict[str, Finding]] = {}

    def note(self, state: PlanState, finding: Finding, member: str) -> str:
        """Record ``finding`` about ``member``; its key."""
        key = state.finding(finding)
        self.members.setdefault(key, {})[member] = finding
        return key

    def finish(self, state: PlanState) -> None:
        """Give each finding met by several members its text naming them all."""
        for key, found in self.members.items():
            if len(found) < 2:
                continue
            names = sorted(found, key=lambda m: (fold(m), m))
            actions = [found[m].action for m in names[:EVIDENCE_DENIES]]
            if len(names) > EVIDENCE_DENIES:
                more = plural(len(names) - EVIDENCE_DENIES, "more member")
                actions.append(f"And {more} alike (see the DENYs' dispositions).")
            update = {"evidence": found[names[0]].evidence, "action": " ".join(actions)}
            state.findings[key] = state.findings[key].model_copy(update=update)


def leave_role(
    state: PlanState,
    membership: PgMembership,
    facts: tuple[str, ...],
    takers: list[_Denial],
    gb020: Gb020,
) -> tuple[str, str]:
    """A member leaves a role every privilege of which the DENYs take from it (grants and
    parents alike), instead of joining an empty derived role: it gains nothing from the role in
    SQL Server. Finding GB020 says so; each source fact of the membership whose only item was
    the membership (``ALTER ROLE … ADD MEMBER``) becomes ``not_applicable`` with the reason.
    Returns the finding's key and the text the DENYs' dispositions give."""
    role, member = membership.role, membership.member
    statements = [t.deny.statement for t in takers]
    evidence = "; ".join(statements[:EVIDENCE_DENIES])
    if len(statements) > EVIDENCE_DENIES:
        evidence += (
            f"; and {plural(len(statements) - EVIDENCE_DENIES, 'more DENY')} (see the dispositions)"
        )
    every = f"every privilege {role!r} gives {member!r} (its grants and its roles') is denied to it"
    key = gb020.note(state, findings.make(
        "GB020", evidence,
        f"{member!r} is no longer a member of {role!r}: {every}, so it gains nothing from the role "
        "in SQL Server; no derived role is made.",
        principal=", ".join(sorted({t.deny.grantee for t in takers}, key=fold)), securable=role,
        source_ref=takers[0].deny.ref,
    ), member)  # fmt: skip
    reason = f"{every} in SQL Server: no membership and no derived role (GB020)"
    taken_away(state, facts, {membership.key}, reason, key)
    return key, f"{member!r} leaves {role!r}: {every}"


def moved_finding(role: str, member: str, name: str, takers: list[_Denial]) -> Finding:
    """GB020 for a member moved from ``role`` to its derived role ``name``."""
    statements = [t.deny.statement for t in takers]
    evidence = "; ".join(statements[:EVIDENCE_DENIES])
    if len(statements) > EVIDENCE_DENIES:
        more = plural(len(statements) - EVIDENCE_DENIES, "more DENY")
        evidence += f"; and {more} (see the dispositions)"
    grantees = sorted({t.deny.grantee for t in takers}, key=fold)
    return findings.make(
        "GB020", evidence,
        f"{member!r} is no longer a member of {role!r}; it is a member of {name!r}: the same "
        "privileges minus the denied ones.",
        principal=", ".join(grantees), securable=role, source_ref=takers[0].deny.ref,
    )  # fmt: skip


def split_reason(denial: _Denial) -> str:
    """Why a column DENY that split (or took) a table-level grant is approximated (GB040)."""
    if denial.table_columns is None:
        return ("column DENY on a table whose columns the snapshot does not list: the whole "
                "table privilege was removed (fail closed)")  # fmt: skip
    return ("column DENY: the table-level privilege became column privileges on the table's "
            "other columns; columns added later are not covered, and PostgreSQL's table-level "
            "check (SELECT *) is false, as SQL Server refuses SELECT * too")  # fmt: skip


def approximations(state: PlanState, denial: _Denial, split: bool, restructured: bool) -> list[str]:
    """Why taking what a DENY covers took more than SQL Server does, one GB040 each: the
    table-level grant a column DENY split; the schemas' CREATE it took (when it took anything)
    with the predefined roles it took (a shutting DENY's reason first: what it did besides);
    the role attributes it took. Only what it took from a principal it reaches is named."""
    found = [split_reason(denial)] if split else []
    took = deny_predefined.why(denial)
    if took and deny_shut.shuts(state, denial.deny):
        took = f"{deny_shut.reason(state, denial.deny)}; {took}"
    creates = denial.approximated if restructured else None
    if creates or took:
        found.append("; ".join(r for r in (creates, took) if r))
    if attributes := deny_attributes.why(denial):
        found.append(attributes)
    return found


def group_findings(state: PlanState, denies: list[Deny], holders: Holders) -> dict[str, list[str]]:
    """One GB021 per Windows or Entra group the DENYs reach (per database, and the server),
    naming them all; per DENY fact, the keys of the findings of the groups it reaches.

    One finding per group, not per DENY: a group in a role that holds a thousand DENYs is one
    decision for the engineer (who its members are), and its finding lists the DENYs.
    """
    by_group: dict[tuple[str, str], list[Deny]] = {}
    for deny in sorted(denies, key=lambda d: d.fact):
        scope = deny.db.name if deny.db else "SERVER"
        for group in holders.groups(deny):
            by_group.setdefault((scope, group), []).append(deny)
    keys: dict[str, list[str]] = {}
    for (scope, group), reaching in sorted(by_group.items()):
        key = state.finding(_group_finding(scope, group, reaching))
        for deny in reaching:
            keys.setdefault(deny.fact, []).append(key)
    return keys


def dispose_deny(
    state: PlanState, deny: Deny, outcome: Outcome, shut: deny_shut.ShutOut, holders: Holders,
    group_keys: list[str],
) -> None:  # fmt: skip
    """One DENY's disposition (the module docstring); ``group_keys``: its GB021 findings."""
    items, found = outcome.items, set(outcome.found)
    reasons = list(outcome.approximated)
    found.update(_finding_on(state, "GB040", deny, reason) for reason in reasons)
    if group_keys:
        reasons.append(_group_reason(holders.groups(deny)))
        found.update(group_keys)
    if reasons:
        state.dispose(deny.fact, deny.kind, deny.ref, Disposition.APPROXIMATED, items=items,
                      findings=found, reason="; ".join(reasons))  # fmt: skip
    elif not items:
        state.dispose(deny.fact, deny.kind, deny.ref, Disposition.NOT_APPLICABLE,
                      reason=_nothing_removed(state, deny, shut))  # fmt: skip
    else:
        reason = (
            deny_shut.reason(state, deny) if deny_shut.shuts(state, deny)
            else "restructured: see the derived roles"
        )  # fmt: skip
        if outcome.left:
            derived = any(state.roles[k[5:]].kind == RoleKind.DERIVED
                          for k in items if k.startswith("role:") and k[5:] in state.roles)  # fmt: skip
            leaves = "; ".join(outcome.left)
            shutting = deny_shut.shuts(state, deny)
            reason = f"{reason}; {leaves}" if derived or shutting else f"restructured: {leaves}"
        state.dispose(deny.fact, deny.kind, deny.ref, Disposition.MAPPED, items=items,
                      findings=found, reason=reason)  # fmt: skip


def _finding_on(state: PlanState, rule_id: str, deny: Deny, action: str) -> str:
    """A finding on the DENY itself, at its source location; its key."""
    target = deny.target
    where = (
        f"{target.schema_name}.{target.object_name}" if target.object_name and target.schema_name
        else " ".join(p for p in (target.securable_class, target.object_name) if p)
    )  # fmt: skip
    return state.finding(findings.make(
        rule_id, deny.statement, action, principal=deny.grantee, securable=where,
        source_ref=deny.ref,
    ))  # fmt: skip


def _group_reason(groups: list[str]) -> str:
    names = ", ".join(f"[{g}]" for g in groups)
    return (
        f"it reaches the group {names}, whose members grantbridge does not know: they keep "
        "what it takes through their own logins' grants (GB021)"
    )


def _group_finding(scope: str, group: str, reaching: list[Deny]) -> Finding:
    statements = [d.statement for d in reaching]
    evidence = "; ".join(statements[:EVIDENCE_DENIES])
    if len(statements) > EVIDENCE_DENIES:
        more = plural(len(statements) - EVIDENCE_DENIES, "more DENY")
        evidence += f"; and {more} (see the dispositions)"
    one = len(reaching) == 1
    these = "this DENY also reaches" if one else f"these {len(reaching)} DENYs also reach"
    return findings.make(
        "GB021", evidence,
        f"[{group}] is a group: in SQL Server {these} its members, who connect with logins of "
        "their own. grantbridge does not know who they are, so the plan applies "
        f"{'it' if one else 'them'} to the group's role only, and in PostgreSQL the members "
        "keep what is denied wherever another grant or role gives it to them. For each member, "
        f"add the {'DENY' if one else 'DENYs'} to the source and plan again, or revoke that "
        "access from their roles by hand; or have the members use the group's role "
        "(pg_ad_mapping on Aurora) instead of logins of their own.",
        principal=group, securable="SERVER" if scope == "SERVER" else f"DATABASE {scope}",
        source_ref=reaching[0].ref,
    )  # fmt: skip


def _nothing_removed(state: PlanState, deny: Deny, shut: deny_shut.ShutOut) -> str:
    database = deny.db.name if deny.db else None
    try:
        exempt = state.engine.is_never_denied(database, deny.grantee)
    except GrantbridgeError:
        exempt = False
    if exempt:
        return (f"[{deny.grantee}] is a sysadmin member or dbo: SQL Server applies no DENY to "
                "it, and neither does the plan")  # fmt: skip
    role = state.role_of(database, deny.grantee) if database else None
    if database and role and (role, database) in shut.pairs:
        return (f"[{deny.grantee}] is shut out of [{database}] by a DENY covering CONNECT: the "
                "plan grants it nothing there")  # fmt: skip
    if deny.permissions == ("CONNECT ANY DATABASE",):  # covers no CONNECT (mapper.permissions)
        return ("the plan grants nothing this DENY removes: DENY CONNECT ANY DATABASE keeps "
                "out only a login entering a database without a user; CONNECT a database "
                "grants its users is not below it in SQL Server's permission hierarchy")  # fmt: skip
    return "the plan grants nothing this DENY removes"
