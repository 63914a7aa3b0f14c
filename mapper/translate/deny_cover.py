"""Which DENYs cover which grants, indexed once for all of DENY restructuring
(:mod:`mapper.translate.deny` tells the story; split out of it for length).

:class:`_Signatures` spells each grant's signature once; :class:`Covering` indexes every DENY's
signatures once, however many sets of DENYs it is in (at scale M, 1,242 sets had held 5.5M
entries when each set had its own index); :class:`Contested` works out once per role which
DENYs cover any of its grants; a :class:`_Subtraction` is one set of DENYs reaching a principal,
and what it leaves of items.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from mapper.plan import PgGrant
from mapper.translate.deny_reach import PLACEHOLDER, signature, signature_of
from mapper.translate.items import Granted, copy_with
from mapper.translate.state import PlanState

if TYPE_CHECKING:
    from mapper.translate.deny import _Denial


class _Signatures(dict[str, str]):
    """Plan item key → the item's :func:`~mapper.translate.deny_reach.signature` (``""``: none),
    each worked out once.

    DENY restructuring asks for the signature of the same grant again and again: once per set
    of DENYs reaching its role, and again when the role is split. Caching by key is safe: a
    signature is made of fields the key is made of (it is the key without grantee, owner and
    columns), and the plan holds one item per key.
    """

    def __init__(self, state: PlanState) -> None:
        super().__init__()
        self._items = state.items

    def __missing__(self, key: str) -> str:
        spelled = self[key] = signature_of(key, self._items[key]) or ""
        return spelled

    def each(self, granted: Iterable[tuple[str, Granted]]) -> list[str]:
        """The signatures of ``granted`` (key, item), in order.

        For a role's grants, looked up all at once: those not known yet are worked out here,
        with :func:`~mapper.translate.deny_reach.signature_of`'s slice inlined (a plain
        grant's key without its grantee), instead of two calls per grant through
        :meth:`__missing__`, which took half of the time the first lookups did at bench M.
        """
        found, known = [], self.get
        for key, item in granted:
            spelled = known(key)
            if spelled is None:
                if type(item) is PgGrant and not item.columns:
                    spelled = key[: len(key) - len(item.grantee)] + PLACEHOLDER
                else:
                    spelled = signature(item) or ""
                self[key] = spelled
            found.append(spelled)
        return found


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

    def denying(self, granted: Iterable[tuple[str, Granted]]) -> set[str]:
        """The facts of the DENYs that cover any of ``granted`` (key, item)."""
        covered = self.facts.keys() & set(self.signatures.each(granted))
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
        found = self[role] = self._covering.denying(self._state.granted_to(role))
        return found


#: What :meth:`_Subtraction.hits` finds for an item no DENY covers (shared: never changed).
_NONE: list[_Denial] = []


class _Subtraction:
    """The DENYs reaching one set of principals; what they leave of items.

    ``denials`` come sorted by fact (``deny._restructure`` makes every set so), the order
    :meth:`hits` returns them in. Their signatures are looked up in ``covering``, the index of
    every DENY being restructured, built once: an index per set cost the sum of its DENYs'
    signatures for every set (a role's members at scale M are reached by hundreds of DENYs, and
    one DENY on a database covers thousands of signatures), though most sets share most DENYs.
    """

    def __init__(
        self, denials: Iterable[_Denial], signatures: _Signatures, covering: Covering
    ) -> None:
        self.denials = tuple(denials)
        self.signatures = signatures
        self.covering = covering
        self.key = tuple(d.deny.fact for d in self.denials)
        self.facts = frozenset(self.key)
        #: id of a covering list (shared: Covering) → the denials of it in this set
        self._hits: dict[int, list[_Denial]] = {}
        #: column DENYs that turned a table-level grant into column grants (approximated)
        self.split: set[str] = set()

    def hits(self, key: str) -> list[_Denial]:
        """The denials that may take something from the item under ``key`` (by signature).

        Worked out once per covering list (many signatures share one: :class:`Covering`), so
        the list returned is shared: callers must not change it.
        """
        found = self.covering.get(self.signatures[key])
        if not found:
            return _NONE
        hit = self._hits.get(id(found))  # the lists live as long as the covering index
        return self._filter(found) if hit is None else hit

    def hits_each(self, granted: Iterable[tuple[str, Granted]]) -> list[list[_Denial]]:
        """:meth:`hits` of each of ``granted`` (key, item), in order (each list shared).

        For a role's grants at once, its lookups inlined instead of a call of :meth:`hits` per
        grant: most of them are taken by none of the DENYs (at bench M, 4,400 of the 110,000
        grants of roles reached by their own DENYs), and are passed over with two lookups.
        """
        known, none = self._hits, _NONE
        found: list[list[_Denial]] = []
        append = found.append
        for covered in map(self.covering.get, self.signatures.each(granted)):
            if covered:
                hit = known.get(id(covered))
                append(self._filter(covered) if hit is None else hit)
            else:
                append(none)
        return found

    def _filter(self, found: list[_Denial]) -> list[_Denial]:
        """The denials of a covering list in this set, kept for the list's next grant."""
        facts = self.facts
        hit = self._hits[id(found)] = [d for d in found if d.deny.fact in facts]
        return hit

    def apply(self, key: str, item: Granted) -> tuple[list[Granted], list[_Denial]]:
        """What is left of ``item`` (``[item]``: untouched) and the denials that took a part.

        A table-level DENY takes the whole item except a column grant (the column GRANT wins:
        "GRANT Object Permissions": "A table-level DENY does not take precedence over a
        column-level GRANT", as mapper.effective decides too; with the common criteria option
        on it takes that too); a container DENY takes it all; a column DENY takes its columns
        only.
        """
        hits = self.hits(key)
        if not hits:
            return [item], []
        columns = item.columns if isinstance(item, PgGrant) else ()
        whole = [
            h
            for h in hits
            if h.columns is None and not (h.table_level and h.spares_columns and columns)
        ]
        if whole:
            return [], whole
        by_column = [h for h in hits if h.columns is not None]
        if not by_column or not isinstance(item, PgGrant):
            return [item], []
        denied = frozenset().union(*(h.columns or () for h in by_column))
        if columns:
            takers = [h for h in by_column if h.columns and h.columns & set(columns)]
            left = tuple(c for c in columns if c not in denied)
            if not takers:
                return [item], []
            return ([copy_with(item, columns=left)] if left else []), takers
        known = next((h.table_columns for h in by_column if h.table_columns), None)
        self.split.update(h.deny.fact for h in by_column)
        if known is None:
            return [], by_column  # columns unknown: the whole privilege goes (fail closed)
        return [copy_with(item, columns=(c,)) for c in known if c not in denied], by_column
