"""Which role PostgreSQL checks at each link of a chain, once every module's plan is decided.

PostgreSQL's "current user" changes only inside a SECURITY DEFINER routine: "a SECURITY
DEFINER function is executed with the privileges of the user that owns it" (CREATE FUNCTION,
https://www.postgresql.org/docs/15/sql-createfunction.html). A view reads the relations it names
with its owner's privileges unless it is ``security_invoker``, and its functions are checked and
run as the current user ("Functions called in the view are treated the same as if they had been
called directly from the query using the view"); a ``security_invoker`` view "will always check
its underlying base relations using the permissions of the current user, even if it is accessed
from a view without the security_invoker property" (CREATE VIEW,
https://www.postgresql.org/docs/15/sql-createview.html).

So the GB306 of a link reached through other modules is preserved when a SECURITY DEFINER
routine is on the way (:meth:`Routes.definer_on`), and a caller that must now run a routine
itself also needs what that routine reaches through its chain (:meth:`Routes.below`). The owner
role of an ``EXECUTE AS OWNER`` routine is the current user in every module it reaches this way
(:mod:`mapper.translate.module_owner`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from mapper.module_findings import ObjectIndex
from mapper.module_reach import ChainReliance, Graph, Link
from mapper.translate.module_actions import ROUTINE_KINDS, PlannedModule
from mapper.translate.objects import pg_object
from mapper.translate.state import PlanState
from mssql_extract.snapshot import Database, DbObject, fold


@dataclass
class Routes:
    """Every module's plan (``as_owner``: it runs with its owner role's privileges), with what
    is asked of it for every reliance worked out once per way (many callers share one)."""

    state: PlanState
    db: Database
    graph: Graph
    modules: Mapping[str, PlannedModule]
    as_owner: Mapping[str, bool]
    index: ObjectIndex | None = None  # the database's objects, built once per database
    _keys: dict[str, str] = field(default_factory=dict)  # folded "schema.name" → module key
    _definer_on: dict[tuple[str, ...], str | None] = field(default_factory=dict)  # by ``via``

    def __post_init__(self) -> None:
        self._keys = {fold(node.qualified): key for key, node in self.graph.items()}

    def definer(self, key: str) -> bool:
        module = self.modules.get(key)
        return module is not None and module.kind == "routine" and self.as_owner.get(key, False)

    def routine(self, obj: DbObject) -> bool:
        target = pg_object(self.state, self.db, obj)
        return target is not None and target.kind in ROUTINE_KINDS

    def checks_user(self, key: str, link: Link) -> bool:
        """Whether PostgreSQL checks module ``key``'s link against the current user."""
        module = self.modules.get(key)
        if module is None or module.kind is None:
            return False
        if module.kind == "view" and self.routine(link.target):
            return True  # a view's functions: EXECUTE checked and run as the current user
        return not self.as_owner.get(key, False)

    def runs_as_user(self, key: str) -> bool:
        """Whether a module's links are checked against the role that uses it: a view (its
        functions, and its relations where security_invoker), or a SECURITY INVOKER routine."""
        module = self.modules.get(key)
        return module is not None and module.kind is not None and not self.definer(key)

    def definer_on(self, chain: ChainReliance) -> str | None:
        """The first SECURITY DEFINER routine on the way to a reliance's module, or None."""
        if chain.via not in self._definer_on:
            self._definer_on[chain.via] = next(
                (name for name in chain.via if self._key_is_definer(name)), None
            )
        return self._definer_on[chain.via]

    def _key_is_definer(self, name: str) -> bool:
        key = self._keys.get(fold(name))
        return key is not None and self.definer(key)
