"""DENYs that shut principals out of a database (DESIGN §3.2: a DENY CONNECT, or a DENY of a
permission covering CONNECT, refuses everything in the database; :mod:`mapper.translate.deny`
tells the rest of the DENY story).

``DENY CONNECT``, and every DENY covering it — CONNECT REPLICATION or CONTROL on the database,
CONTROL SERVER on the server, not CONNECT ANY DATABASE (reference/mssql/
builtin_permissions_sql2022.csv; the engine's :meth:`~mapper.effective.EffectivePermissions.shuts_out`)
— leaves the principals it reaches nothing in the database: no GRANT, no role membership, not
public's grants, not even entry. So each of them loses, in that database's target: its
CONNECT (TEMPORARY follows CONNECT, :mod:`mapper.translate.hardening`), every grant and default
privilege of its own, and its membership in each role of the database (public's role, fixed
roles such as ``<db>_db_datareader``, user-defined and application roles, guest's, the owner
role), which the derived roles of restructuring would otherwise rebuild empty. A server DENY
shuts them out of every database. Each dropped membership is shown in a finding (GB020).

Shutting a principal out of a database refuses its DMVs too: :func:`predefined_denials` lets
DENY restructuring take the predefined roles (``pg_read_all_stats``) such a DENY takes part of
(:mod:`mapper.translate.deny_predefined`).

In schema mode every source database shares one target database: only the objects in the
database's own schemas go, and a database-level grant (CONNECT) only when no other source
database asked for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from grantbridge.errors import GrantbridgeError
from grantbridge.plural import plural
from mapper import findings
from mapper.effective import Securable
from mapper.plan import Finding, PgGrant, PgMembership
from mapper.translate.deny_attributes import held_pairs
from mapper.translate.deny_predefined import SCOPED, STANDS_FOR, cut
from mapper.translate.deny_roles import EVIDENCE_DENIES
from mapper.translate.dispositions import taken_away
from mapper.translate.items import Granted
from mapper.translate.objects import schema_name, schemas_of
from mapper.translate.state import SERVER, PlanState
from mssql_extract.snapshot import Database, fold

if TYPE_CHECKING:
    from mapper.translate.deny import Deny, _Denial
    from mapper.translate.deny_reach import Coverage, Holders


@dataclass
class ShutOut:
    """What the shutting DENYs did: per DENY fact, the plan items and roles it touched and its
    findings; and the (role, source database) pairs shut out."""

    touched: dict[str, set[str]] = field(default_factory=dict)
    found: dict[str, set[str]] = field(default_factory=dict)
    pairs: set[tuple[str, str]] = field(default_factory=set)


def shuts(state: PlanState, deny: Deny) -> bool:
    """Whether the DENY shuts the principals it reaches out of its database (or, on the
    server, out of every database)."""
    target = deny.target
    if target.securable_class not in ("DATABASE", "SERVER"):
        return False
    return any(state.engine.shuts_out(target.securable_class, p) for p in deny.permissions)


def shut_out(state: PlanState, denies: list[Deny], holders: Holders) -> ShutOut:
    """Take everything in a database from each principal a shutting DENY reaches there."""
    reaching: dict[tuple[str, str], list[Deny]] = {}
    databases = {db.name: db for db in state.snapshot.databases}
    for deny in sorted(denies, key=lambda d: d.fact):
        if not shuts(state, deny):
            continue
        for db in [deny.db] if deny.db else databases.values():
            for role in holders.affected(deny):
                reaching.setdefault((role, db.name), []).append(deny)
    done, ours = ShutOut(), _DatabaseRoles(state)
    for (role, name), by in sorted(reaching.items()):
        db = databases[name]
        removed = [key for key, item in state.granted_to(role) if _inside(state, db, key, item)]
        dropped = [
            m for m in state.memberships_of(role) if m.role in ours.of(db) and m.role != role
        ]
        taken = [*removed, *(m.key for m in dropped)]
        facts = {fact for key in taken for fact in state.facts_in(key)}
        for key in taken:
            state.remove(key)
        done.pairs.add((role, name))
        state.shut_out.add((role, name))
        finding = state.finding(_finding(role, db, dropped, by)) if dropped else None
        first = by[0]
        more = f" (and {plural(len(by) - 1, 'more DENY')})" if len(by) > 1 else ""
        why = f"taken by {first.statement}{more}, which {reason(state, first).removeprefix('it ')}"
        taken_away(state, facts, set(taken), why, finding)
        for deny in by:
            done.touched.setdefault(deny.fact, set()).update(
                {f"role:{role}", *removed, *(m.key for m in dropped)}
            )
            if finding:
                done.found.setdefault(deny.fact, set()).add(finding)
    return done


def predefined_denials(
    state: PlanState, denies: list[Deny], coverage: Coverage
) -> dict[str, _Denial]:
    """Per shutting DENY fact, the denial DENY restructuring applies for the predefined roles it
    takes part of (what else it takes, :func:`shut_out` took): those whose permissions it covers
    (CONTROL on a database covers VIEW DATABASE STATE; CONTROL SERVER, all of them), and, when
    it is a database's, ``scoped`` the rest of :data:`~mapper.translate.deny_predefined.SCOPED`.
    And the role attributes it takes part of (CONTROL on a database covers ALTER ANY USER, which
    CREATEROLE stands for: :mod:`mapper.translate.deny_attributes`). Its signatures are empty:
    it takes no grant. Empty when the plan gives no one a predefined role or an attribute such
    a DENY covers: most plans, whose DENY CONNECTs restructuring then never sees."""
    from mapper.translate.deny import _Denial  # deny imports this module

    found: dict[str, _Denial] = {}
    shutting = sorted((d for d in denies if shuts(state, d)), key=lambda d: d.fact)
    if not shutting:
        return found
    held = {m.role for by in state.by_member.values() for m in by.values()} & STANDS_FOR.keys()
    attributed = held_pairs(state)
    for deny in shutting:
        pairs = coverage.pairs(deny)
        roles, partial = cut(state, pairs, deny.db is None)
        scoped = frozenset() if deny.db is None else SCOPED - roles
        attributes = attributed.intersection(pairs)  # CONTROL on a database: ALTER ANY USER
        if held.isdisjoint(roles | scoped) and not attributes:
            continue
        # why it takes more than SQL Server does: from what it took (deny_predefined.why)
        found[deny.fact] = _Denial(deny, frozenset(), None, None, None, roles, partial=partial,
                                   scoped=scoped, attributes=attributes)  # fmt: skip
    return found


def reason(state: PlanState, deny: Deny) -> str:
    """The disposition's reason for a shutting DENY that reached a migrated principal."""
    where = f"[{deny.db.name}]" if deny.db else "every database"
    text = (
        f"it shuts [{deny.grantee}] and its members out of {where}, as in SQL Server: no "
        "CONNECT, no membership in the database's roles, none of their grants there"
    )
    barred = _barred(state, deny)
    if barred:
        text += f"; the logins it bars from logging in have NOLOGIN roles ({', '.join(barred)})"
    return text


def _inside(state: PlanState, db: Database, key: str, item: Granted) -> bool:
    """Whether a grant or default privilege is one of the database's (module docstring)."""
    if item.database != state.target_db(db):
        return False
    if state.policy.database_mode != "schema":
        return True
    schema = item.name if isinstance(item, PgGrant) and item.object_type == "SCHEMA" else None
    schema = schema or item.schema_name
    if schema is not None:
        return schema in {schema_name(state, db, s) for s in schemas_of(state, db)}
    prefix = f"{db.name}/"  # the shared database itself: only if no other source asked for it
    return all(fact.startswith(prefix) for fact in state.facts_in(key))


class _DatabaseRoles:
    """The roles of one database's principals (not those of logins or server roles, which are
    everybody's), worked out once per database."""

    def __init__(self, state: PlanState) -> None:
        self._state = state
        self._by_db: dict[str, frozenset[str]] = {}

    def of(self, db: Database) -> frozenset[str]:
        found = self._by_db.get(db.name)
        if found is None:
            bindings = self._state.principal_roles
            server = {role for (scope, _), role in bindings.items() if scope == SERVER}
            found = self._by_db[db.name] = frozenset(
                role for (scope, _), role in bindings.items()
                if scope == db.name and role not in server and role != "PUBLIC"
            )  # fmt: skip
        return found


def _finding(role: str, db: Database, dropped: list[PgMembership], by: list[Deny]) -> Finding:
    statements = [d.statement for d in by]
    evidence = "; ".join(statements[:EVIDENCE_DENIES])
    if len(statements) > EVIDENCE_DENIES:
        more = plural(len(statements) - EVIDENCE_DENIES, "more DENY")
        evidence += f"; and {more} (see the dispositions)"
    roles = ", ".join(repr(m.role) for m in sorted(dropped, key=lambda m: m.role))
    grantees = sorted({d.grantee for d in by}, key=fold)
    return findings.make(
        "GB020", evidence,
        f"{role!r} is no longer a member of {roles}: the DENY shuts it out of [{db.name}] "
        "(no CONNECT there), as SQL Server does.",
        principal=", ".join(grantees), securable=f"DATABASE {db.name}", source_ref=by[0].ref,
    )  # fmt: skip


def _barred(state: PlanState, deny: Deny) -> list[str]:
    """The roles of the logins a server DENY bars from logging in (CONTROL SERVER covers
    CONNECT SQL: :func:`mapper.translate.principals.barred_from_logging_in` made them NOLOGIN)."""
    if deny.db is not None:
        return []
    row = deny.fact.removeprefix(f"{SERVER}/")
    barred = []
    for login in state.snapshot.logins:
        role = state.role_of(SERVER, login.name)
        try:
            refused = state.engine.refusal(None, login.name, Securable("SERVER"), "CONNECT SQL")
        except GrantbridgeError:
            continue
        if role and refused is not None and refused.deny is not None and refused.deny.key == row:
            barred.append(role)
    return barred
