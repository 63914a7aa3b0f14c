"""Dispositions (DESIGN §3.4): every source fact ends with exactly one; a missing one is a bug.

A fact naming a principal the snapshot does not hold (:class:`~mapper.graph.UnknownPrincipal`:
a partial export's role member, grantee or owner) is disposed like a GRANT on a securable the
snapshot lacks: a membership or a permission row is ``unresolved`` with no plan item
(:func:`dispose_unknown`), an owned schema, object or role is ``approximated`` as dbo's
(:mod:`mapper.translate.ownership`); both with finding GB046 (:func:`unknown_finding`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from itertools import filterfalse

from mapper import findings
from mapper.graph import UnknownPrincipal
from mapper.plan import Disposition
from mapper.translate.items import copy_with
from mapper.translate.state import SERVER, PlanState, fact_key
from mssql_extract.snapshot import Keyed, SecuritySnapshot


def source_facts(snapshot: SecuritySnapshot) -> Iterator[str]:
    """Keys of every fact that needs a disposition, in a stable order."""
    server: list[Keyed] = [*snapshot.logins, *snapshot.server_roles, *snapshot.server_memberships,
                           *snapshot.server_permissions, *snapshot.databases,
                           *snapshot.audit_specifications]  # fmt: skip
    yield from (fact_key(SERVER, item.key) for item in server)
    for db in snapshot.databases:
        facts: list[Keyed] = [*db.users, *db.roles, *db.application_roles, *db.memberships,
                              *db.permissions, *db.schemas, *db.objects, *db.security_policies,
                              *db.masked_columns, *db.audit_specifications]  # fmt: skip
        yield from (fact_key(db.name, item.key) for item in facts)


def not_held(unknown: UnknownPrincipal) -> str:
    """``the snapshot has no member [x]``, ``… no member [a] and role [b]``."""
    return f"the snapshot has no {unknown.describe()}"


def unknown_finding(
    state: PlanState, unknown: UnknownPrincipal, statement: str, action: str, *,
    securable: str, ref: str,
) -> str:  # fmt: skip
    """Finding GB046 for a fact naming a principal the snapshot does not hold; its key.

    Args:
        unknown: the engine's record of the row (:meth:`EffectivePermissions.unknown`).
        statement: the source statement, as T-SQL (``ALTER ROLE [r] ADD MEMBER [m]``).
        action: what the plan did.
        securable: what the fact is on (a role, a securable, an owned schema).
        ref: the fact's source reference.
    """
    finding = findings.make(
        "GB046", f"{statement}: {not_held(unknown)}", action,
        principal=unknown.names[0][1], securable=securable, source_ref=ref,
    )  # fmt: skip
    return state.finding(finding)


def dispose_unknown(
    state: PlanState, fact: str, kind: str, unknown: UnknownPrincipal, statement: str,
    action: str, *, securable: str, ref: str,
) -> None:  # fmt: skip
    """A membership or permission row naming a principal the snapshot does not hold:
    ``unresolved``, no plan item, finding GB046 (as a GRANT on a securable it lacks: GB042)."""
    key = unknown_finding(state, unknown, statement, action, securable=securable, ref=ref)
    them = "them" if len(unknown.names) > 1 else "it"
    state.dispose(fact, kind, ref, Disposition.UNRESOLVED, findings=[key],
                  reason=f"{not_held(unknown)}: extract {them} too, or drop the fact")  # fmt: skip


def plan_fixed_role_facts(state: PlanState) -> None:
    """Fixed database roles listed in the snapshot: mapped when the plan made their role."""
    for db in state.snapshot.databases:
        for role in db.roles:
            fact = fact_key(db.name, role.key)
            if fact in state.dispositions:
                continue
            name = state.role_of(db.name, role.name)
            if name and name != "PUBLIC":
                state.roles[name].facts.add(fact)
                state.dispose(
                    fact, "role", str(role.source_ref), Disposition.MAPPED, items=[f"role:{name}"]
                )
            else:
                reason = (
                    "public is PostgreSQL's PUBLIC"
                    if role.name.lower() == "public"
                    else ("fixed role: its members are mapped by the membership rules")
                )
                state.dispose(
                    fact, "role", str(role.source_ref), Disposition.NOT_APPLICABLE, reason=reason
                )


def finalize(state: PlanState, held: Iterable[str] = ()) -> None:
    """Point dispositions at items that still exist (DENY restructuring replaces some).

    ``held``: keys of plan items kept outside the state (row security, routines, parameters).
    """
    roles = {f"role:{r}" for r in state.roles} | {"PUBLIC"} | set(held)
    in_plan = state.items.__contains__
    # in C throughout (filter, map, issuperset): millions of item keys at scale, nearly all of
    # them still there; a key that is no item may still be a role's
    stale = {
        fact: disposition
        for fact, disposition in state.dispositions.items()
        if not all(map(in_plan, disposition.items))
        and not roles.issuperset(filterfalse(in_plan, disposition.items))
    }
    by_fact = keys_of(state, stale)  # the current items of the stale facts
    for fact, disposition in stale.items():
        kept = {*filter(in_plan, disposition.items), *filter(roles.__contains__, disposition.items)}
        kept.update(by_fact.get(fact, ()))
        state.dispositions[fact] = copy_with(disposition, items=tuple(sorted(kept)))


def keys_of(state: PlanState, facts: Collection[str]) -> dict[str, set[str]]:
    """The keys of the items each of ``facts`` is a fact of (a fact of none: no entry).

    One pass over every item (millions at scale), shared by :func:`finalize` and
    :func:`~mapper.translate.implied.prune_implied`: most items have one fact, kept as a plain
    string (:attr:`PlanState.item_facts`), the rest a set.
    """
    found: dict[str, set[str]] = {}
    if not facts:
        return found
    for key, held in state.item_facts.items():
        if held.__class__ is str:
            if held in facts:
                found.setdefault(held, set()).add(key)
        else:
            for fact in held:
                if fact in facts:
                    found.setdefault(fact, set()).add(key)
    return found


def assert_complete(state: PlanState) -> None:
    """Every source fact has a disposition (a fact without one is a bug in the planner)."""
    missing = [f for f in source_facts(state.snapshot) if f not in state.dispositions]
    if missing:
        raise AssertionError(f"facts without a disposition: {missing[:10]}")


def taken_away(
    state: PlanState, facts: Iterable[str], taken: set[str], reason: str, finding: str | None
) -> None:
    """Each of ``facts`` whose every item is among the ``taken`` keys (removed by a DENY)
    becomes ``not_applicable`` with ``reason`` and ``finding``, instead of staying ``mapped``
    with nothing in the plan. A fact with items left elsewhere, or not disposed yet, keeps its
    disposition."""
    for fact in sorted(facts):
        done = state.dispositions.get(fact)
        if done is None or set(done.items) - taken:
            continue
        state.dispositions[fact] = copy_with(
            done, disposition=Disposition.NOT_APPLICABLE, items=(), reason=reason,
            findings=tuple(sorted({*done.findings, *([finding] if finding else [])})),
        )  # fmt: skip
