"""Effective permissions: what SQL Server actually allows each principal (DESIGN §3.2).

API (the translator codes against it):

* :class:`Securable` and :class:`Decision` (re-exported from :mod:`mapper.securables` and
  :mod:`mapper.decision`);
* ``EffectivePermissions(snapshot)`` with
  ``.explain(database, principal, securable, permission) -> Decision`` (``database=None`` =
  server scope), ``.memberships(database, principal) -> frozenset[str]`` (roles in the same
  scope, transitive, incl. ``public`` and fixed roles; names in source spelling),
  ``.effective(database, principal) -> frozenset[tuple[Securable, str]]`` (over the securables
  that exist in the snapshot, names case-folded; see :meth:`EffectivePermissions.effective`),
  ``.principals(database) -> tuple[str, ...]``, ``.object_grants(database, principal,
  permission) -> frozenset[Securable] | None`` (the objects it could be allowed on),
  ``.verdict_key(database, principal)`` (equal: the same verdicts),
  ``.is_never_denied(database, principal) -> bool``,
  ``.enters_as_guest(database, login) -> bool``, ``.knows(database, principal) -> bool``,
  ``.unknown(database, key) -> UnknownPrincipal | None`` (a row left out for naming a principal
  the snapshot does not hold: :mod:`mapper.graph`, :mod:`mapper.permission_index`),
  ``.covering(securable_class, permission) -> tuple[(class, permission), ...]``,
  ``.covers(securable_class, permission) -> tuple[(class, permission), ...]`` (what a GRANT or a
  DENY of it covers), ``.shuts_out(securable_class, permission) -> bool`` (whether a DENY of it
  shuts its holders out of a database) and ``.graph`` (the networkx DiGraph of
  :mod:`mapper.graph`).

The algorithm, in the order explain() applies it ("Permissions (Database Engine)", "Summary of
the permission check algorithm", https://learn.microsoft.com/sql/relational-databases/security/
permissions-database-engine):

1. The *security context*: the principal, its roles (transitively, incl. ``public``), and for a
   user the login it maps to with that login's server roles (server ``public`` too). An
   application role's context is the application role and ``public`` only ("Application
   Roles": the user's own permissions are gone once the role is activated; grantbridge also
   drops the login's server permissions — documented decision). A login asked about a database
   where it has no user enters as ``dbo`` (database owner, sysadmin), else through ``guest``
   when guest is enabled, else with its server permissions plus ``public`` when it holds
   CONNECT ANY DATABASE; otherwise it cannot enter and everything there is denied.
2. sysadmin members and ``dbo`` (the owner's login maps to it) are never denied ("Server-level
   roles": sysadmin members enter every database as dbo and permission checks are skipped).
3. A DENY CONNECT on the database shuts the principal out of it, and so does a DENY of any
   permission covering CONNECT (CONNECT REPLICATION or CONTROL on the database; CONTROL SERVER
   on the server): "if CONTROL was denied on the table, SELECT on the table is denied" (same
   article, step 4), and without CONNECT the database cannot be used. DENY CONNECT ANY DATABASE
   is not one of them: it denies only the entry that permission gives a login without a user
   (``_GRANT_ONLY_PARENTS`` in :mod:`mapper.permissions` says why).
4. Owners are never denied on what they own and below: an object's individual owner, else its
   schema's owner; a schema's owner; a role's owner. Ownership is checked against every
   principal of the context (a role that owns a schema gives its members the owner's rights —
   grantbridge's reading of "ownership" via the security token).
5. DENY: any principal of the context denied the permission, a permission covering it on the
   same securable, or a parent covering permission on a container → denied; except that a
   column-level GRANT beats a DENY on its table ("GRANT Object Permissions": "A table-level
   DENY does not take precedence over a column-level GRANT"; true while the *common criteria
   compliance enabled* option is off, the default: with it on, "a table-level DENY takes
   precedence over a column-level GRANT", Microsoft Learn, "common criteria compliance enabled
   Server Configuration Option"; ``Server.common_criteria``). Denies on the schema or above
   still win.
6. GRANT: any principal of the context granted the permission or anything implying it.
7. Nothing → denied.

This module builds the indexes and the contexts (:mod:`mapper.context`) and applies the steps
in that order; the steps themselves are in :mod:`mapper.permission_check`, the wording of the
answers in :mod:`mapper.decision`, and :meth:`~EffectivePermissions.effective`'s set in
:mod:`mapper.effective_set`.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Hashable, Iterator
from contextlib import contextmanager

from grantbridge.errors import GrantbridgeError
from mapper.context import GUEST_ENTRY, ContextBuilder, SecurityContext
from mapper.decision import DATABASE, Decision, chain, denied, label, shut_out, statement
from mapper.effective_set import effective_set
from mapper.graph import (
    SERVER_SCOPE,
    PrincipalGraph,
    PrincipalKind,
    UnknownPrincipal,
    database_scope,
)
from mapper.permission_check import Candidates, checked, effective_deny, hits, implying, owner
from mapper.permission_index import PermissionIndex
from mapper.permissions import CATALOG, Pair
from mapper.securables import Securable, SecurableTree, database_securables, server_securables
from mapper.verdicts import object_grants, verdict_key
from mssql_extract.snapshot import SecuritySnapshot, fold

__all__ = ["Decision", "EffectivePermissions", "Securable"]


@contextmanager
def _bulk() -> Iterator[None]:
    """Pause the cyclic garbage collector while building large acyclic indexes, then freeze.

    With a 100k-row snapshot alive, every generation-2 pass walks all of its objects: building
    the indexes, and later every explain()/effective() that allocates, grew faster than the
    number of rows (measured at 100k rows: 10k explain() calls 2.5 s with the collector,
    0.3 s without). Nothing built here forms reference cycles, so reference counting frees it;
    ``gc.freeze()`` then moves the snapshot and the indexes out of the collector's sight (they
    live as long as the engine), which is what the gc documentation recommends for large
    long-lived data. Frozen objects are still freed by reference counting when dropped.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


#: a securable, folded, with its ancestors
_Checked = tuple[Securable, tuple[Securable, ...]]


class EffectivePermissions:
    """Effective-permission engine over one snapshot (indexes built once, answers memoized)."""

    def __init__(self, snapshot: SecuritySnapshot) -> None:
        self.snapshot = snapshot
        with _bulk():
            self.principal_graph = PrincipalGraph(snapshot)
            self._index = PermissionIndex(snapshot, self.principal_graph)
        self.graph = self.principal_graph.graph
        # the builder asks back through a weak reference: a bound method would make a cycle
        # (engine → builder → engine) that keeps the indexes alive after the planner is done,
        # until a full collection walks them (seconds at bench M)
        anywhere = weakref.WeakMethod(self._connects_anywhere)
        self._contexts = ContextBuilder(
            snapshot, self.principal_graph, self._index,
            lambda login: bool((method := anywhere()) is not None and method(login)),
            implying(DATABASE, "CONNECT", grant=False),
        )  # fmt: skip
        self._databases = {fold(db.name): db for db in snapshot.databases}
        #: step 5's exception, unless the common criteria option is on (module docstring)
        self._column_grant_wins = not snapshot.server.common_criteria
        self._trees: dict[str, SecurableTree] = {}
        self._candidate_cache: dict[tuple[Securable, str, bool], Candidates] = {}
        #: (securable, permission) → the folded securable and its ancestors (refusal())
        self._checked_cache: dict[tuple[Securable, str], _Checked] = {}

    def _connects_anywhere(self, login: str) -> bool:
        return self.explain(None, login, Securable("SERVER"), "CONNECT ANY DATABASE").allowed

    def _context(self, database: str | None, principal: str) -> SecurityContext:
        return self._contexts.context(database, principal)

    def _tree(self, scope: str) -> SecurableTree:
        tree = self._trees.get(scope)
        if tree is None:
            if scope == SERVER_SCOPE:
                tree = SecurableTree(server_securables(self.snapshot), server_root=True)
            else:
                tree = SecurableTree(database_securables(self._databases[scope]), server_root=True)
            self._trees[scope] = tree
        return tree

    # ------------------------------------------------------------------ the check

    def _candidates(self, securable: Securable, permission: str, grant: bool = True) -> Candidates:
        """:func:`~mapper.permission_check.implying`, memoized."""
        key = (securable, permission, grant)
        cached = self._candidate_cache.get(key)
        if cached is None:
            cached = self._candidate_cache[key] = implying(securable, permission, grant)
        return cached

    def _decide(self, context: SecurityContext, securable: Securable, permission: str) -> Decision:
        """The check, in the order of the module docstring (step 1 built the context)."""
        graph, grants = self.principal_graph, self._index.grants
        start = (label(graph, context.start),) + ((context.entry,) if context.entry else ())
        if context.blocked:
            return Decision(False, context.blocked, start)
        if context.bypass:
            return Decision(True, context.bypass, start)
        gate = None if securable.is_server_level else context.connect_deny
        if gate is not None:
            return denied(graph, context, gate, shut_out(gate))
        owned = owner(context, self._index.owners, securable)
        if owned is not None:
            level, node = owned
            reason = f"owner of {level} is never denied on it"
            return Decision(True, reason, chain(graph, context, node), owned=level)
        candidates = self._candidates(securable, permission)
        deny, overridden = effective_deny(
            context, grants, securable, self._candidates(securable, permission, grant=False),
            column_grant_wins=self._column_grant_wins,
        )  # fmt: skip
        if deny is not None:
            return denied(graph, context, deny, f"DENY {deny[1]} on {deny[0]} beats any GRANT")
        grant = next(hits(grants, context, candidates), None)
        if grant is None:
            return Decision(False, f"no GRANT implies {permission} on {securable}", start)
        target, perm, node, row = grant
        reason = f"GRANT {perm} on {target}"
        if (target, perm) != (securable, permission):
            reason += f" implies {permission} on {securable}"
        if overridden:
            reason += "; a column-level GRANT beats the table-level DENY"
        path = (*chain(graph, context, node), statement(row, target))
        return Decision(True, reason, path, grant=row)

    # ------------------------------------------------------------------ public API

    def explain(
        self, database: str | None, principal: str, securable: Securable, permission: str
    ) -> Decision:
        """May ``principal`` exercise ``permission`` on ``securable``, and what decided it?

        Args:
            database: the database the question is asked in; ``None`` for server scope.
            principal: a user, database role or application role of that database (a login
                name works too: it enters as its user, dbo, guest, or not at all); at server
                scope a login or server role.
            securable: what the permission is on (names in any case).
            permission: a SQL Server permission name, e.g. ``"SELECT"``, ``"IMPERSONATE"``.

        Raises:
            MappingError: unknown database, principal, or a permission the class lacks.
        """
        folded = checked(securable, permission)
        return self._decide(self._context(database, principal), folded, permission)

    def refusal(
        self, database: str | None, principal: str, securable: Securable, permission: str
    ) -> Decision | None:
        """What :meth:`explain` answers when a DENY refuses the permission, else None.

        The planner asks this of every GRANT row (is it overridden?). Most are allowed, and
        the path of an allowed answer costs more to spell out than the check itself, so this
        takes only the steps of :meth:`_decide` that can end in a DENY, in the same order:
        the DENY CONNECT gate (3), ownership, which no DENY overrides (4), and the DENYs (5).

        Raises:
            MappingError: as :meth:`explain`.
        """
        folded, levels = self._checked(securable, permission)
        context = self._context(database, principal)
        if context.blocked or context.bypass or not context.denies:
            return None  # shut out (no DENY decides that), never denied, or nothing denied
        gate = None if folded.is_server_level else context.connect_deny
        if gate is not None:
            return denied(self.principal_graph, context, gate, shut_out(gate))
        if context.denied.isdisjoint(levels):
            return None  # most rows: every DENY that could decide (5) is on one of these
        if owner(context, self._index.owners, folded, levels) is not None:
            return None
        candidates = self._candidates(folded, permission, grant=False)
        deny, _ = effective_deny(
            context, self._index.grants, folded, candidates,
            column_grant_wins=self._column_grant_wins,
        )  # fmt: skip
        if deny is None:
            return None
        reason = f"DENY {deny[1]} on {deny[0]} beats any GRANT"
        return denied(self.principal_graph, context, deny, reason)

    def object_grants(
        self, database: str, principal: str, permission: str
    ) -> frozenset[Securable] | None:
        """The objects (folded) outside which :meth:`explain` refuses ``permission`` on any
        object to ``principal``, or ``None`` when no such bound is cheap to know (a pre-filter
        for many questions: :mod:`mapper.verdicts`).

        Raises:
            MappingError: unknown database or principal.
        """
        return object_grants(self._context(database, principal), self._index, permission)

    def verdict_key(self, database: str | None, principal: str) -> Hashable:
        """Equal for two principals only if :meth:`explain` allows both the same on every
        question in ``database``: a caller asking many may ask once per key
        (:mod:`mapper.verdicts`).

        Raises:
            MappingError: unknown database or principal.
        """
        return verdict_key(self._context(database, principal), self._index)

    def _checked(self, securable: Securable, permission: str) -> _Checked:
        """:func:`~mapper.permission_check.checked` and the folded securable's ancestors, once
        per question: the planner asks :meth:`refusal` of every GRANT row, several per securable."""
        key = (securable, permission)
        found = self._checked_cache.get(key)
        if found is None:
            folded = checked(securable, permission)
            found = self._checked_cache[key] = (folded, folded.ancestors())
        return found

    def memberships(self, database: str | None, principal: str) -> frozenset[str]:
        """Every role of the principal's scope it belongs to, transitively (incl. public)."""
        context = self._context(database, principal)
        graph = self.principal_graph
        return frozenset(
            graph.display(node)
            for node, _ in context.token
            if node != context.start and node[0] == context.scope
            and graph.kind(node) in (PrincipalKind.ROLE, PrincipalKind.SERVER_ROLE)
        )  # fmt: skip

    def enters_as_guest(self, database: str, login: str) -> bool:
        """Whether a login enters ``database`` as ``guest`` (no user there, not dbo, guest
        enabled): guest's permissions are then its own in that database."""
        return self._contexts.login_context(database, login).entry == GUEST_ENTRY

    def allows(
        self, database: str | None, principal: str, securable: Securable, permission: str
    ) -> bool:
        """:meth:`explain`'s verdict, failing closed: False where it would raise (a principal
        or permission the engine does not know there). For the planner's yes/no questions."""
        try:
            return self.explain(database, principal, securable, permission).allowed
        except GrantbridgeError:
            return False

    def is_never_denied(self, database: str | None, principal: str) -> bool:
        """True for sysadmin members and dbo: no DENY applies to them (in that database)."""
        return self._context(database, principal).bypass is not None

    def principals(self, database: str | None) -> tuple[str, ...]:
        """Names (source spelling) of every principal of a database, or of the server."""
        return tuple(
            self.principal_graph.display(n) for n in self.principal_graph.principals(database)
        )

    def knows(self, database: str | None, principal: str) -> bool:
        """Whether the snapshot holds a principal of that name in the database (or server)."""
        return self.principal_graph.node(database, principal) is not None

    def unknown(self, database: str | None, key: str) -> UnknownPrincipal | None:
        """The unknown principals of a row the engine left out, else None.

        Args:
            database: the row's database (source spelling); ``None`` for a server row.
            key: a membership's or a permission row's key, or for an unknown owner the key of
                the schema, object or role it owns.
        """
        scope = database_scope(database)
        found = self.principal_graph.unknown.get((scope, key))
        return found if found is not None else self._index.unknown.get((scope, key))

    def covering(self, securable_class: str, permission: str) -> tuple[Pair, ...]:
        """The (class, permission) pairs that imply a permission, itself first, nearest first."""
        CATALOG.require(securable_class, permission)
        return CATALOG.implied_by(securable_class, permission)

    def covers(self, securable_class: str, permission: str) -> tuple[Pair, ...]:
        """The (class, permission) pairs a DENY of a permission covers (a GRANT too, but for
        CONNECT ANY DATABASE, whose GRANT alone implies CONNECT on each database), itself
        included, sorted: the hierarchy of :meth:`covering` read downwards ("Permissions
        (Database Engine)": "If CONTROL was denied on the table, SELECT on the table is
        denied"). A pair of a contained class is covered on every securable of that class in
        the securable the permission is on (CONTROL on a schema: SELECT on each of its objects).
        """
        CATALOG.require(securable_class, permission)
        return tuple(sorted(CATALOG.implies(securable_class, permission, grant=False)))

    def shuts_out(self, securable_class: str, permission: str) -> bool:
        """Whether a DENY of this permission shuts its holders out of a database (step 3):
        it is CONNECT on the database or covers it (CONNECT REPLICATION, CONTROL; on the
        server CONTROL SERVER, not CONNECT ANY DATABASE). A server DENY shuts them out of every
        database, a database DENY out of its own."""
        if securable_class not in ("DATABASE", "SERVER"):
            return False
        return ("DATABASE", "CONNECT") in CATALOG.implies(securable_class, permission, grant=False)

    def effective(self, database: str | None, principal: str) -> frozenset[tuple[Securable, str]]:
        """Everything the principal may do on the securables the snapshot knows, in one scope.

        Securables are case-folded. A database's set covers the DATABASE itself, its schemas,
        objects, principals and whatever its permission rows name; the server's covers SERVER,
        logins and server roles. Column entries appear only where the table-level permission is
        not effective: a column GRANT under a table that is not (or is DENY-ed), or, when some
        columns of a table are denied, the allowed columns instead of the table (failing
        closed: unknown columns are left out).
        """
        with _bulk():
            context = self._context(database, principal)
            if context.blocked:
                return frozenset()
            return effective_set(context, self._index, self._tree(context.scope), self._survives)

    def _survives(self, context: SecurityContext, securable: Securable, permission: str) -> bool:
        """Whether a (securable, permission) that a grant or ownership reaches is not denied.

        The lean form of :meth:`_decide` for :meth:`effective` (no path strings): every pair
        it is asked about is implied by something the context holds.
        """
        if not context.denies or owner(context, self._index.owners, securable) is not None:
            return True
        candidates = self._candidates(securable, permission, grant=False)
        found = effective_deny(
            context, self._index.grants, securable, candidates,
            column_grant_wins=self._column_grant_wins,
        )  # fmt: skip
        return found[0] is None
