"""Bind the plan's routines, named without their arguments, to the target's real signatures.

SQL Server has no overloading, and the argument types a conversion (AWS SCT, by hand) gives a
routine are not in the source's permission model, so the planner leaves a routine's
``signature`` None and the scripts name it alone (``GRANT EXECUTE ON FUNCTION s.f``), which
PostgreSQL resolves when the name is unique in its schema. Reading a live database back gives
each routine with its argument list (``s.f(integer, text)``); before the two are compared
(``verify``, ``drift``), every plan item on a routine without a signature takes the signature
of the one live routine of that schema and name. None found, or several (overloads the
conversion made): the item stays unbound, so the comparison reports it missing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from mapper.plan import MigrationPlan, PgObject

#: Plan object kinds and grant object types that are routines.
ROUTINE_KINDS = frozenset({"function", "procedure"})
ROUTINE_TYPES = frozenset({"FUNCTION", "PROCEDURE"})

Where = tuple[str, str | None, str]  # database, schema, name


def live_signatures(objects: Iterable[PgObject]) -> dict[Where, str]:
    """(database, schema, name) → signature, for the routines whose name is unique there."""
    found: dict[Where, set[str]] = defaultdict(set)
    for obj in objects:
        if obj.kind in ROUTINE_KINDS and obj.signature is not None:
            found[obj.database, obj.schema_name, obj.name].add(obj.signature)
    return {where: next(iter(sigs)) for where, sigs in found.items() if len(sigs) == 1}


def bind_signatures(plan: MigrationPlan, live: Iterable[PgObject]) -> MigrationPlan:
    """``plan`` with each unbound routine reference bound to its live signature."""
    signatures = live_signatures(live)
    if not signatures:
        return plan

    def bound(item: Any, is_routine: bool) -> Any:
        if not is_routine or item.signature is not None:
            return item
        found = signatures.get((item.database, item.schema_name, item.name))
        return item if found is None else item.model_copy(update={"signature": found})

    return plan.model_copy(
        update={
            "objects": tuple(bound(o, o.kind in ROUTINE_KINDS) for o in plan.objects),
            "grants": tuple(bound(g, g.object_type in ROUTINE_TYPES) for g in plan.grants),
            "revokes": tuple(bound(r, r.object_type in ROUTINE_TYPES) for r in plan.revokes),
            "routine_security": tuple(bound(r, True) for r in plan.routine_security),
        }
    )
