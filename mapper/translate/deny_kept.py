"""An owner keeps what it inherits on what it owns through DENY restructuring
(:mod:`mapper.translate.deny` tells the whole story; split out of it for length).

SQL Server checks ownership before any DENY, and a principal's security context includes the
roles it is a member of, so a member of a role that owns a schema is never denied on the schema
or anything in it (:mod:`mapper.translate.deny_owners`, whose :class:`Owners` keeps such a
principal's *own* grants there). What it *inherits* there is another matter: restructuring moves
it to a derived role without the grant, or out of the role altogether, or takes the grant from
the role's grantee when a DENY reaches that too; and the downscoped ownership (DML and EXECUTE,
:mod:`mapper.translate.ownership`) gives none of the rest back. So a member of the role owning
schema ``s`` and of a role granted REFERENCES on ``s`` lost REFERENCES on ``s`` to any DENY
covering it, though SQL Server (and the semantics engine: "owner of SCHEMA::s is never denied
on it") still allows it.

:class:`Kept` notes, before restructuring, each grant a reached principal inherits on what it
owns that the DENYs reaching it may take. Once the ownership step has given owners their rights
(the planner calls :meth:`Kept.keep` after it), it grants the principal directly each one it no
longer holds, with the facts of the grant it came from: not one the principal inherits still
(through another role, or the owner's DML and EXECUTE), nor one a table-level grant covers, nor
anything where it inherits the owner role itself (faithful ownership: it owns it in PostgreSQL).
What the plan gives an owner on what it owns then no longer depends on DENYs, as in SQL Server;
what the DENYs take anywhere else stays taken (:meth:`Owners.owns`: the coverage of CONTROL on
what it owns, without the schema's CREATE, which also stands for a database permission).

Each such fact keeps its disposition (``mapped``, or ``approximated`` where restructuring took
more from its grantee than SQL Server does), lists the kept grants among its items and says who
keeps them. None was ``not_applicable``: a GRANT SQL Server refuses its grantee is never planned
(:func:`mapper.translate.permissions._denied_by`), so no grant carries it to be noted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import chain
from operator import itemgetter
from typing import TYPE_CHECKING

from mapper.translate.items import Granted, copy_with
from mapper.translate.owner_members import roles_above
from mapper.translate.state import PlanState

if TYPE_CHECKING:
    from mapper.translate.deny_cover import _Signatures
    from mapper.translate.deny_owners import Owners

#: A role DENYs reach, its closure, and which of its keys they may take (a truthy answer).
Reached = tuple[str, Iterable[str], Callable[[str], object]]


class Kept:
    """The grants reached owners inherit on what they own, noted before restructuring."""

    def __init__(self, state: PlanState, owners: Owners) -> None:
        self._state, self._owners = state, owners
        #: principal's role → (inherited grant, its facts, owner roles of what it is on)
        self._noted: dict[str, list[tuple[Granted, tuple[str, ...], set[str]]]] = {}

    def note(self, reached: Iterable[Reached], signatures: _Signatures) -> None:
        """Before restructuring, per role reached (in order): the grants of the roles ``above``
        it (its closure; itself left out: :class:`Owners` keeps its own) that the DENYs reaching
        it may take (``taken``, by key) on what its principal owns.

        A role above many members is read once, into its grants by signature, so each member
        looks up only what it owns (a parent's grants, scanned once per member, were most of
        the time spent here at bench rows100000); a role whose principal owns nothing is passed
        over at once. Nothing changes the plan until every role is noted.
        """
        state, owners = self._state, self._owners
        indexes: dict[str, dict[str, list[tuple[int, str, Granted]]]] = {}
        for role, above, taken in reached:
            owned = owners.owned_signatures(role)
            if not owned:
                continue
            noted = []
            for parent in sorted(set(above) - {role}):
                index = indexes.get(parent)
                if index is None:
                    index = indexes[parent] = _by_signature(state, parent, signatures)
                for key, item in _on(index, owned):
                    if taken(key):
                        held = owners.owner_roles(role, signatures[key])
                        noted.append((item, state.facts_of(key), held))
            if noted:
                self._noted[role] = noted

    def keep(self) -> None:
        """After the ownership step: grant each noted role directly what it no longer holds
        (a group before its members, as noted: a member inheriting its group's kept grant
        needs no copy of its own), then say so in the facts' dispositions."""
        if not self._noted:
            return
        state = self._state
        above = _inheritance(state, self._noted)
        todo = [
            (role, item, facts, _stems(item))
            for role, noted in self._noted.items()
            for item, facts, owner_roles in noted
            if above[role].isdisjoint(owner_roles)  # else it owns it in PostgreSQL too
        ]  # fmt: skip
        holders = _holders(state, {s for *_, stems in todo for s in stems}, above.values())
        kept: dict[str, dict[str, set[str]]] = {}  # fact → kept key → roles it is kept for
        for role, item, facts, stems in todo:
            if self._held(above[role], item, stems, holders):
                continue
            copy = copy_with(item, grantee=role)
            for fact in facts:
                state.add(copy, fact)
                kept.setdefault(fact, {}).setdefault(copy.key, set()).add(role)
            if holders is not None:
                holders[stems[0]].add(role)  # the copy's stem is the item's
        for fact in sorted(kept):
            self._dispose(fact, kept[fact])

    def _held(
        self, held: set[str], item: Granted, stems: list[str], holders: dict[str, set[str]] | None
    ) -> bool:
        """Whether one of the ``held`` roles has ``item``'s grant (its table-level one too):
        looked up in ``holders`` (:func:`_holders`), else asked of the plan's items."""
        if holders is None:
            return self._holds(held, item)
        return any(not holders[stem].isdisjoint(held) for stem in stems)

    def _holds(self, held: set[str], item: Granted) -> bool:
        """Whether one of the ``held`` roles has ``item``'s grant (its table-level one too),
        asked of the plan's items: what :func:`_holders` answers by lookup.

        Keys are spelled from the item's key with each role put in for its grantee (a grant's
        and a default privilege's key ends in its grantee, as
        :meth:`~mapper.translate.state.PlanState.move_grants` uses): a copy per role only to
        spell its key cost most of the plan's time at bench rows100000.
        """
        items = self._state.items
        return any(stem + r in items for stem in _stems(item) for r in held)

    def _dispose(self, fact: str, kept: dict[str, set[str]]) -> None:
        state = self._state
        done = state.dispositions.get(fact)
        if done is None:
            return  # disposed later by its own step, which sees the kept grant's facts
        roles = sorted({r for rs in kept.values() for r in rs})
        reason = (
            f"kept for {', '.join(f'[{r}]' for r in roles)} on what "
            f"{'it owns' if len(roles) == 1 else 'they own'}: a member of its owner, never "
            "denied in SQL Server, from which DENY restructuring took it"
        )
        reason = f"{done.reason}; {reason}" if done.reason else reason
        items = tuple(sorted({*done.items, *kept}))
        state.dispositions[fact] = copy_with(done, items=items, reason=reason)


def _inheritance(state: PlanState, roles: Iterable[str]) -> dict[str, set[str]]:
    """Each role with the roles it inherits (:func:`roles_above`), worked out from those of its
    direct roles, each once: the noted roles share most of theirs. Memberships do not change
    while grants are kept (only grants are added), so each answer holds throughout."""
    above: dict[str, set[str]] = {}  # a direct role → roles_above of it
    found: dict[str, set[str]] = {}
    for role in roles:
        held = found[role] = {role}
        for membership in state.memberships_of(role):
            if membership.inherit:
                parent = membership.role
                if parent not in above:
                    above[parent] = roles_above(state, parent)
                held.add(parent)
                held |= above[parent]
    return found


def _by_signature(
    state: PlanState, role: str, signatures: _Signatures
) -> dict[str, list[tuple[int, str, Granted]]]:
    """The role's grants and default privileges by signature: (position, key, item) each."""
    index: dict[str, list[tuple[int, str, Granted]]] = {}
    granted = state.granted_to(role)
    for position, ((key, item), spelled) in enumerate(
        zip(granted, signatures.each(granted), strict=True)
    ):
        index.setdefault(spelled, []).append((position, key, item))
    return index


def _on(
    index: dict[str, list[tuple[int, str, Granted]]], owned: frozenset[str]
) -> list[tuple[str, Granted]]:
    """The grants of ``index`` on a signature in ``owned`` (key, item), in their role's order:
    the smaller side is walked."""
    if len(owned) < len(index):
        found = [g for spelled in owned if spelled in index for g in index[spelled]]
    else:
        found = [g for spelled, grants in index.items() if spelled in owned for g in grants]
    found.sort(key=itemgetter(0))
    return [(key, item) for _, key, item in found]


def _holders(
    state: PlanState, stems: set[str], above: Iterable[set[str]]
) -> dict[str, set[str]] | None:
    """Per stem in ``stems``, the roles (among those ``above``, the noted roles' inheritance)
    holding a grant or default privilege spelled the stem and the role: whether ``stem + r``
    is a key of the plan, for each such role ``r``, is then a lookup.

    Every such key ends in its grantee after a colon, so it splits into stem and role in one
    way only while no role's name has a colon: if one has, None (ask :meth:`Kept._holds`).
    """
    roles = set().union(*above)
    if any(":" in r for r in chain(roles, state.by_grantee)):
        return None
    found: dict[str, set[str]] = {stem: set() for stem in stems}
    for role in roles:
        cut = len(role)
        for key in state.granted_keys(role):
            holding = found.get(key[: len(key) - cut])
            if holding is not None:
                holding.add(role)
    return found


def _stems(item: Granted) -> list[str]:
    """The stems whose grant, held by a role, means it holds ``item``: its own, and for a
    column grant the table-level grant's."""
    stems = [_stem(item)]
    if getattr(item, "columns", ()):
        stems.append(_stem(copy_with(item, columns=())))
    return stems


def _stem(item: Granted) -> str:
    """The item's key without its grantee, at the end of every grant's key."""
    key = item.key
    return key[: len(key) - len(item.grantee)]
