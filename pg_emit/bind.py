"""Bind the plan's routines, named without their arguments, to the target's real signatures.

SQL Server has no overloading, and the argument types a conversion (AWS SCT, by hand) gives a
routine are not in the source's permission model, so the planner leaves a routine's
``signature`` None and the scripts name it alone (``GRANT EXECUTE ON FUNCTION s.f``, and
``ON ROUTINE s.p`` for a procedure, which the conversion may have made a function), which
PostgreSQL resolves when the name is unique in its schema. Reading a live database back gives
each routine with its kind and argument list (``FUNCTION s.f(integer, text)``); before the two
are compared (``verify``, ``drift``), every plan item on a routine without a signature takes the
signature of the one live routine of that schema and name, and a procedure takes the live kind
too. None found, several (overloads the conversion made), or a source function that is a live
procedure: the item stays unbound, so the comparison reports it missing.
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
Live = tuple[str, str]  # kind ("function" / "procedure"), signature


def live_signatures(objects: Iterable[PgObject]) -> dict[Where, Live]:
    """(database, schema, name) → (kind, signature), for the routines unique by name there."""
    found: dict[Where, set[Live]] = defaultdict(set)
    for obj in objects:
        if obj.kind in ROUTINE_KINDS and obj.signature is not None:
            found[obj.database, obj.schema_name, obj.name].add((obj.kind, obj.signature))
    return {where: next(iter(live)) for where, live in found.items() if len(live) == 1}


def bind_signatures(plan: MigrationPlan, live: Iterable[PgObject]) -> MigrationPlan:
    """``plan`` with each unbound routine reference bound to its live kind and signature."""
    signatures = live_signatures(live)
    if not signatures:
        return plan

    def bound(item: Any, kind: str | None, field: str) -> Any:
        """``item`` bound, when it is a routine (``kind``) named alone that the target has."""
        if kind not in ROUTINE_KINDS or item.signature is not None:
            return item
        found = signatures.get((item.database, item.schema_name, item.name))
        if found is None or (kind == "function" and found[0] != "function"):
            return item
        live_kind = found[0].upper() if field == "object_type" else found[0]
        return item.model_copy(update={"signature": found[1], field: live_kind})

    def kind_of(object_type: str) -> str | None:
        return object_type.lower() if object_type in ROUTINE_TYPES else None

    return plan.model_copy(
        update={
            "objects": tuple(bound(o, o.kind, "kind") for o in plan.objects),
            "grants": tuple(bound(g, kind_of(g.object_type), "object_type") for g in plan.grants),
            "revokes": tuple(bound(r, kind_of(r.object_type), "object_type") for r in plan.revokes),
            "routine_security": tuple(bound(r, r.kind, "kind") for r in plan.routine_security),
        }
    )
