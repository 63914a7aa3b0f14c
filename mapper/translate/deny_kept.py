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

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from mapper.translate.owner_members import roles_above
from mapper.translate.state import Granted, PlanState, copy_with

if TYPE_CHECKING:
    from mapper.translate.deny_owners import Owners


class Kept:
    """The grants reached owners inherit on what they own, noted before restructuring."""

    def __init__(self, state: PlanState, owners: Owners) -> None:
        self._state, self._owners = state, owners
        #: principal's role → (inherited grant, its facts, owner roles of what it is on)
        self._noted: dict[str, list[tuple[Granted, tuple[str, ...], set[str]]]] = {}

    def note(
        self, role: str, above: Iterable[str], taken: Callable[[str], object],
        signatures: Mapping[str, str],
    ) -> None:  # fmt: skip
        """Before restructuring: the grants of the roles ``above`` (the role's closure; itself
        left out: :class:`Owners` keeps its own) that the DENYs reaching it may take (``taken``,
        by key) on what its principal owns."""
        owners = self._owners
        owned = owners.owned_signatures(role)
        if not owned:
            return
        state, noted = self._state, []
        for parent in sorted(set(above) - {role}):
            for key, item in state.granted_to(parent):
                # on what it owns first: a set lookup, where taken() filters DENY lists
                if signatures[key] in owned and taken(key):
                    held = owners.owner_roles(role, signatures[key])
                    noted.append((item, state.facts_of(key), held))
        if noted:
            self._noted[role] = noted

    def keep(self) -> None:
        """After the ownership step: grant each noted role directly what it no longer holds
        (a group before its members, as noted: a member inheriting its group's kept grant
        needs no copy of its own), then say so in the facts' dispositions."""
        state = self._state
        kept: dict[str, dict[str, set[str]]] = {}  # fact → kept key → roles it is kept for
        for role, noted in self._noted.items():
            held = roles_above(state, role) | {role}
            for item, facts, owner_roles in noted:
                if held & owner_roles or self._holds(held, item):
                    continue
                copy = copy_with(item, grantee=role)
                for fact in facts:
                    state.add(copy, fact)
                    kept.setdefault(fact, {}).setdefault(copy.key, set()).add(role)
        for fact in sorted(kept):
            self._dispose(fact, kept[fact])

    def _holds(self, held: set[str], item: Granted) -> bool:
        """Whether one of the ``held`` roles has ``item``'s grant (its table-level one too).

        Keys are spelled from the item's key with each role put in for its grantee (a grant's
        and a default privilege's key ends in its grantee, as
        :meth:`~mapper.translate.state.PlanState.move_grants` uses): a copy per role only to
        spell its key cost most of the plan's time at bench rows100000.
        """
        items = self._state.items
        stems = [_stem(item)]
        if getattr(item, "columns", ()):
            stems.append(_stem(copy_with(item, columns=())))
        return any(stem + r in items for stem in stems for r in held)

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


def _stem(item: Granted) -> str:
    """The item's key without its grantee, at the end of every grant's key."""
    key = item.key
    return key[: len(key) - len(item.grantee)]
