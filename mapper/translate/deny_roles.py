"""The roles DENY restructuring makes (:mod:`mapper.translate.deny`, whose docstring tells
the whole story): a role's split into ``<role>_common`` and ``<role>_part_<holders>``, and the
derived ``<role>_minus_<holders>`` roles built along the role hierarchy. Split out of ``deny``
for length only; the two work on the same objects (a ``_Subtraction`` is one set of DENYs
reaching a principal, a ``_Denial`` one DENY with what it removes worked out).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from mapper.plan import PgMembership, RoleKind
from mapper.plan_base import trusted
from mapper.translate.deny_attributes import taken as attributes_taken
from mapper.translate.deny_predefined import cut_by, predefined
from mapper.translate.items import Granted, copy_with
from mapper.translate.state import SERVER, PlanState
from mssql_extract.snapshot import fold

if TYPE_CHECKING:
    from mapper.translate.deny import _Denial
    from mapper.translate.deny_cover import Contested, _Subtraction

#: Statements quoted in one GB020 finding's evidence, and in a derived role's source; the rest
#: are counted (each DENY fact is disposed with the finding, so none is lost).
EVIDENCE_DENIES = 5


def holder_names(state: PlanState, denials: Iterable[_Denial]) -> tuple[str, ...]:
    """The PostgreSQL roles of the DENYs' grantees, sorted, each once: what a ``_part_`` or
    ``_minus_`` name is made of.

    The plan's names for those principals (``fincorp_accountants``), not their SQL Server
    spellings (``FINCORP\\accountants``): a reviewer finds each part of a derived name among the
    plan's roles. A grantee the plan gives no role (excluded) keeps its folded spelling.
    """
    names = set()
    for denial in denials:
        deny = denial.deny
        scope = deny.db.name if deny.db else SERVER
        names.add(state.role_of(scope, deny.grantee) or fold(deny.grantee))
    return tuple(sorted(names))


def closure(state: PlanState, role: str) -> set[str]:
    seen, todo = {role}, [role]
    while todo:
        current = todo.pop()
        for m in state.memberships_of(current):
            if m.inherit and m.role not in seen:
                seen.add(m.role)
                todo.append(m.role)
    return seen


#: What :func:`derived_role` makes: the derived role ("": none) and the DENYs that took something.
Made = tuple[str, "list[_Denial]"]


class Derived(dict[tuple[str, "_Subtraction | None"], "Made | None"]):
    """(role, subtraction; None: every one) → what :func:`derived_role` made of it, or None.

    Keyed by the subtraction itself, which hashes by identity: plan_denies makes one per DENY
    set, and hashing the set's facts (hundreds of them at scale) cost more than the lookup.

    :attr:`leaves` serves a role with no memberships (most are a split role's parts) across DENY
    sets: what is derived from it depends only on its own grants and on which of the DENYs
    covering them (``Contested``) are in the set. A role split into hundreds of parts is asked
    about each of them once per set of DENYs reaching a member below it; at bench rows100000
    the 11,008 such questions whose DENYs cover some of its grants had 5,936 distinct answers.
    Exact because such a role's grants change only when it is a derived role made again under
    its name: its entry goes then, as its ``Contested`` entry does. (A column DENY splitting a
    grant is noted in the first set's ``_Subtraction.split``: the union over every set, which
    is all that is read, is the same.)
    """

    def __init__(self) -> None:
        super().__init__()
        #: role → (the set's DENYs covering its grants, by fact) → what derived_role made
        self.leaves: dict[str, dict[frozenset[str], Made | None]] = {}


#: A role is split into parts only from this many grants on. Below it a derived role copies
#: them: that reads better in review, and the copies cost little (contoso stays unsplit).
SPLIT_MIN = 50


def split_roles(
    state: PlanState,
    order: list[str],
    closures: dict[str, set[str]],
    reach: dict[str, list[_Denial]],
    subtraction: Callable[[list[_Denial]], _Subtraction],
) -> list[tuple[str, str, list[_Denial]]]:
    """Split each role whose members are denied part of its grants (see the module docstring).

    A grant is contested when a DENY reaching a member of the role (or the role itself) takes
    something from it. The uncontested grants move to ``<role>_common``; the contested ones to
    ``<role>_part_<holders>``, one role per set of denying principals (holders) that contest
    them; the role becomes a member of each. A derived role then joins the parts its DENYs leave
    alone instead of copying their grants. Returns (role, new role, contesting DENYs) per part.
    ``closures``: each member's :func:`closure` (as ``order`` was sorted by).
    """
    below: dict[str, dict[str, _Denial]] = {}
    for member in order:
        for role in closures[member] - {member}:  # its own DENYs met its own grants already
            below.setdefault(role, {}).update((d.deny.fact, d) for d in reach[member])
    parts: list[tuple[str, str, list[_Denial]]] = []
    holders: dict[tuple[str, ...], tuple[str, ...]] = {}  # contesting DENYs → their holders
    for role in sorted(below):
        spec = state.roles.get(role)
        items = state.granted_to(role)
        if spec is None or spec.kind == RoleKind.PREDEFINED or len(items) < SPLIT_MIN:
            continue
        sub = subtraction([below[role][fact] for fact in sorted(below[role])])
        groups: dict[tuple[str, ...], tuple[list[tuple[str, Granted]], dict[str, _Denial]]] = {}
        uncontested: list[tuple[str, Granted]] = []  # most grants: no holders, no DENYs
        # hits' lists are shared (one per set of covering DENYs: _Subtraction.hits), and so
        # is their group: worked out on a list's first grant only
        grouped: dict[int, tuple[list[tuple[str, Granted]], dict[str, _Denial]]] = {}
        for (key, item), hits in zip(items, sub.hits_each(items), strict=True):
            if not hits:
                uncontested.append((key, item))
                continue
            group = grouped.get(id(hits))
            if group is None:
                contesting = tuple(h.deny.fact for h in hits)
                names = holders.get(contesting)
                if names is None:  # the same DENYs contest many grants: name their holders once
                    names = holders[contesting] = holder_names(state, hits)
                group = grouped[id(hits)] = groups.setdefault(names, ([], {}))
                group[1].update((h.deny.fact, h) for h in hits)
            group[0].append((key, item))
        if not groups:
            continue  # nothing contested: no parts
        if uncontested:
            groups[()] = (uncontested, {})
        for names, (moved, contest) in sorted(groups.items(), key=lambda g: g[0]):
            takers = sorted(contest.values(), key=lambda d: d.deny.fact)
            if names:
                name = state.names.derived(f"{role}_part_{'_'.join(names)}",
                                           f"part of [{role}]")  # fmt: skip
                state.role(name, RoleKind.DERIVED, comment=f"what {', '.join(names)} is "
                           f"denied of {role}", source=f"{role}: the grants DENYs to "
                           f"{', '.join(names)} take")  # fmt: skip
                facts = {t.deny.fact for t in takers}
            else:
                name = state.names.derived(f"{role}_common", f"common part of [{role}]")
                state.role(name, RoleKind.DERIVED, comment=f"what every member of {role} keeps",
                           source=f"{role}: the grants no DENY takes from its members")  # fmt: skip
                facts = set(spec.facts) or {
                    t.deny.fact for d in groups.values() for t in d[1].values()
                }
            state.roles[name].facts.update(facts)
            state.move_grants(moved, role, name)
            state.add(PgMembership(role=name, member=role), min(facts))
            parts.append((role, name, takers))
    return parts


def derived_role(
    state: PlanState, role: str, sub: _Subtraction, cache: Derived, contested: Contested
) -> Made | None:
    """The derived role (role minus the DENYs) and the DENYs that took something, or None.

    Built along the hierarchy: what is left of the role's own grants and attributes (a member
    uses those after SET ROLE: :mod:`mapper.translate.deny_attributes`), and membership in each
    parent or in the parent's own derived role. Cached per (role, DENY set), and for a role with
    no memberships and no attributes per (role, the set's DENYs covering its grants):
    :class:`Derived`. When nothing would be left (every grant and attribute denied, no parent
    left to join) no role is made and the name is ``""``: a member gains nothing from the role
    in SQL Server, so it simply leaves it. ``contested``: per role, the DENYs covering any of
    its grants (worked out once per role, not per set of DENYs).
    """
    key = (role, sub)
    if key in cache:
        return cache[key]
    if (role, None) in cache:  # untouched by every DENY that can reach it (a _common part)
        return None
    spec = state.roles.get(role)
    # its memberships, or attributes (a DENY may take one)
    if state.by_member.get(role) or (spec is not None and spec.attributes):
        made = _derive(state, role, sub, cache, contested, state.memberships_of(role))
    else:  # all it depends on is which of the DENYs covering its grants are in the set
        # most parts of a split role: the set's DENYs take none of its grants (asked tens of
        # thousands of times at bench M: answered without sorting or intersecting anything)
        if sub.facts.isdisjoint(contested[role]):
            return None
        covering = sub.facts & contested[role]
        leaf = cache.leaves.setdefault(role, {})
        if covering not in leaf:
            leaf[covering] = _derive(state, role, sub, cache, contested, [])
        made = leaf[covering]
    cache[key] = made
    return made


def _derive(
    state: PlanState,
    role: str,
    sub: _Subtraction,
    cache: Derived,
    contested: Contested,
    memberships: list[PgMembership],
) -> Made | None:
    """:func:`derived_role`, worked out (``memberships``: the role's own, in key order)."""
    # (key: None for a new column grant, item); None: all of its own grants (listed when needed)
    kept: list[tuple[str | None, Granted]] | None = None
    takers: dict[str, _Denial] = {}
    # whether the DENYs may take any of its grants, from those worked out once for the role
    if not sub.facts.isdisjoint(contested[role]):  # most roles: the DENYs take none of its grants
        kept = []
        for item_key, item in state.granted_to(role):
            left, hit = sub.apply(item_key, item)
            if hit:
                kept += [(None, rest) for rest in left]
                takers.update((t.deny.fact, t) for t in hit)
            else:  # untouched: left is [item]
                kept.append((item_key, item))
    # its attributes a member uses after SET ROLE (mapper.translate.deny_attributes)
    gone = attributes_taken(state, role, sub.denials)
    for cutting in gone.values():
        takers.update((t.deny.fact, t) for t in cutting)
    own = state.roles.get(role)
    attributes = own.attributes - gone.keys() if own is not None else set()
    parents: list[tuple[PgMembership, str]] = []
    for m in memberships:
        spec = state.roles.get(m.role)  # None: one of PostgreSQL's own pg_* roles
        cutting = cut_by(state, sub.denials, m) if predefined(state, m) else []
        if cutting:  # PostgreSQL cannot take part of a predefined role: none of it is left
            takers.update((t.deny.fact, t) for t in cutting)
            continue
        made = None
        if m.inherit and spec is not None and spec.kind != RoleKind.PREDEFINED:
            made = derived_role(state, m.role, sub, cache, contested)
        if made is not None:
            takers.update((t.deny.fact, t) for t in made[1])
        if made is None or made[0]:  # "": the parent's derived role would hold nothing
            parents.append((m, made[0] if made else m.role))
    if not takers:
        return None
    # the recursion above only adds grants to roles derived from role's ancestors, never to
    # role itself: its own grants are still those ``contested`` looked at
    if kept is None:
        kept = list(state.granted_to(role))
    if not kept and not parents and not attributes:  # an empty role would stand for nothing
        return "", sorted(takers.values(), key=lambda t: t.deny.fact)
    by = sorted(takers.values(), key=lambda t: t.deny.fact)
    holders = holder_names(state, by)
    name = state.names.derived(f"{role}_minus_{'_'.join(holders)}", f"derived role of [{role}]")
    statements = "; ".join(t.deny.statement for t in by[:EVIDENCE_DENIES])
    more = f" and {len(by) - EVIDENCE_DENIES} more" if len(by) > EVIDENCE_DENIES else ""
    state.role(name, RoleKind.DERIVED, source=f"{role} minus {statements}{more}",
               comment=f"{role} without what {', '.join(holders)} is denied")  # fmt: skip
    state.roles[name].facts.update(t.deny.fact for t in by)
    state.roles[name].attributes.update(attributes)  # those no DENY takes: used after SET ROLE
    # in any order: the plan sorts its items by key, and nothing reads the insertion order
    # each copy names the first DENY only (the role itself lists them all): a derived role's
    # grants and memberships would otherwise repeat every DENY fact (plans grew 3× at scale)
    # a copy's key is its item's with the derived role's name at the end (keys end in the
    # grantee), as split_roles spells them
    fact, cut = by[0].deny.fact, len(role)
    for was, item in kept:
        copied = None if was is None else was[: len(was) - cut] + name
        state.add(copy_with(item, grantee=name), fact, copied)
    for m, parent in parents:  # names and a flag the plan holds already: no validation
        joined = {"role": parent, "member": name, "inherit": m.inherit}
        state.add(trusted(PgMembership, joined), fact)
    # an existing derived role (the same name) may have gained grants: what was worked out
    # from its grants is worked out again
    contested.pop(name, None)
    cache.leaves.pop(name, None)
    return name, by
