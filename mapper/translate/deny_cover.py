"""Which DENYs cover which grants, indexed once for all of DENY restructuring
(:mod:`mapper.translate.deny` tells the story; split out of it for length).

:class:`Covering` indexes every DENY's signatures once, however many sets of DENYs it is in
(at scale M, 1,242 sets had held 5.5M entries when each set had its own index);
:class:`Contested` works out once per role which DENYs cover any of its grants.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from mapper.translate.state import PlanState

if TYPE_CHECKING:
    from mapper.translate.deny import _Denial, _Signatures


class Covering(dict[str, "list[_Denial]"]):
    """Signature → every DENY being restructured that covers it, sorted by fact: each DENY's
    signatures are indexed once, however many sets of DENYs it is in.

    Signatures covered by the same DENYs share one list (and one frozenset in :attr:`facts`):
    a DENY on a schema covers every grant in it, and :meth:`_Subtraction.hits` filters each
    shared list once per set of DENYs instead of once per grant.
    """

    def __init__(self, denials: dict[str, _Denial], signatures: _Signatures) -> None:
        super().__init__()
        self.signatures = signatures
        #: signature → the facts of the DENYs covering it
        self.facts: dict[str, frozenset[str]] = {}
        found: dict[str, list[_Denial]] = {}
        for fact in sorted(denials):
            for spelled in denials[fact].signatures:
                found.setdefault(spelled, []).append(denials[fact])
        shared: dict[tuple[str, ...], tuple[list[_Denial], frozenset[str]]] = {}
        for spelled, covering in found.items():
            facts = tuple(d.deny.fact for d in covering)
            one = shared.get(facts)
            if one is None:
                one = shared[facts] = (covering, frozenset(facts))
            self[spelled], self.facts[spelled] = one

    def denying(self, keys: Iterable[str]) -> set[str]:
        """The facts of the DENYs that cover any of the items under ``keys``."""
        covered = self.facts.keys() & set(map(self.signatures.__getitem__, keys))
        return set().union(*map(self.facts.__getitem__, covered))


class Contested(dict[str, set[str]]):
    """Role → the facts of the DENYs covering any of its grants, worked out once per role while
    derived roles are made (a role is asked about once per set of DENYs reaching a member
    below it: hundreds of times at scale). Then the only grants added are a derived role's
    copies, and :func:`~mapper.translate.deny_roles.derived_role` drops that role's entry."""

    def __init__(self, state: PlanState, covering: Covering) -> None:
        super().__init__()
        self._state, self._covering = state, covering

    def __missing__(self, role: str) -> set[str]:
        found = self[role] = self._covering.denying(self._state.granted_keys(role))
        return found
