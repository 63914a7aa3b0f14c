"""Grouping one database's grants for ``04_privileges.sql``: which securables share a GRANT.

:func:`hold` gathers each securable's grants, :func:`group_grants` splits them into (privileges, grantees) pairs
(:func:`split_privileges`) and gathers the securables that share a pair, with their facts and
whether a schema- or database-wide source grant stands behind each of their grants
(:func:`schema_wide`); :mod:`pg_emit.render_grants` turns the groups into clauses. It runs once
per grant of the plan, the costliest part of rendering at scale (issue 7).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping

from mapper.plan import PgGrant
from pg_emit import intent

Securable = tuple[str, str | None, str, str | None]  # object_type, schema, name, signature

Pair = tuple[frozenset[str], tuple[str, ...]]  # privileges, grantees (sorted)

#: A source fact that GRANTs on a whole schema or database (``<db>/perm:SCHEMA:s:SELECT:grant:r``,
#: ``<db>/perm:DATABASE:SELECT:grant:r``; keys from ``mssql_extract.snapshot.Permission.key``).
_SCHEMA_WIDE = re.compile(r"/perm:(?:DATABASE|SCHEMA:.*?):([A-Z][A-Z ]*):grant:")
#: Object type → source permissions whose schema-wide GRANT does not cover objects of that type:
#: INSERT does not apply to a sequence (fn_builtin_permissions), and the USAGE a sequence gets
#: from it (:mod:`mapper.translate.default_sequences`) is for the sequences the plan's tables
#: call, not for every sequence of the schema.
_NOT_COVERING = {"SEQUENCE": frozenset({"INSERT"})}


def schema_wide(facts: Iterable[str], object_type: str = "") -> bool:
    """True when one of ``facts`` is a GRANT on a whole schema or database in SQL Server (of a
    permission that covers objects of ``object_type``)."""
    return _wide(facts, _NOT_COVERING.get(object_type, frozenset()), {})


Group = dict[tuple[str, frozenset[str], tuple[str, ...]], list[tuple[Securable, list[str], bool]]]


def split_privileges(privileges_by_grantee: Mapping[str, Collection[str]]) -> list[Pair]:
    """One object's grants as few (privileges, grantees) pairs as the simpler split gives.

    Either one pair per distinct privilege set (``SELECT, INSERT`` to a, ``SELECT`` to b) or
    one per privilege (``SELECT`` to a and b, ``INSERT`` to a), whichever has fewer; a tie keeps
    the first, where every grantee appears once. Either covers exactly the grants given.
    """
    by_set: dict[frozenset[str], list[str]] = defaultdict(list)
    for grantee, privileges in privileges_by_grantee.items():
        by_set[frozenset(privileges)].append(grantee)
    every = frozenset().union(*by_set)
    if len(by_set) <= len(every):
        return [(privileges, tuple(sorted(grantees))) for privileges, grantees in by_set.items()]
    # each privilege's grantees gathered in one pass over the grantees, not one pass per privilege
    by_privilege: dict[str, list[str]] = defaultdict(list)
    for privileges, grantees in by_set.items():
        for privilege in privileges:
            by_privilege[privilege] += grantees
    return [(frozenset({p}), tuple(sorted(by_privilege[p]))) for p in sorted(every)]


#: grantee → privilege → the facts of that grant (one object's grants, :func:`group_grants`)
Held = dict[str, dict[str, tuple[str, ...]]]


def hold(held: dict[Securable, Held], grant: PgGrant) -> None:
    """Add one whole-object grant to ``held``: securable → grantee → privilege (normalised)
    → facts.

    One nested dict rather than a privilege set per grantee beside a facts dict keyed by
    (securable, grantee, privilege): it runs once per grant (122,667 in a bench scale M part),
    so it builds one key. Grouping that part took 0.77 s, 0.42 s with this and the facts'
    schema-wide permissions looked up once each. :class:`pg_emit.render_grants.PrivilegeClauses`
    calls it in its one pass over the plan's grants.
    """
    securable = (grant.object_type, grant.schema_name, grant.name, grant.signature)
    by_grantee = held.get(securable)
    if by_grantee is None:
        by_grantee = held[securable] = {}
    by_privilege = by_grantee.get(grant.grantee)
    if by_privilege is None:
        by_privilege = by_grantee[grant.grantee] = {}
    privilege = intent.normalize_privilege(grant.privilege)  # cached: a handful of spellings
    facts = by_privilege.get(privilege)  # nearly always None: the grant's own tuple
    by_privilege[privilege] = grant.facts if facts is None else facts + grant.facts


def held_grants(grants: Iterable[PgGrant]) -> dict[Securable, Held]:
    """Whole-object grants as :func:`hold` gathers them."""
    held: dict[Securable, Held] = {}
    for grant in grants:
        hold(held, grant)
    return held


def group_grants(held: Mapping[Securable, Held]) -> Group:
    """(object type, privileges, grantees) → securables sharing them, with their facts and
    whether every one of their grants came from a schema- or database-wide source grant
    (``held``: the grants as :func:`hold` gathers them)."""
    # a schema-wide source fact stands behind many grants (one per object of its schema)
    covering: dict[str, str | None] = {}  # fact → the permission it grants schema-wide, if any
    groups: Group = defaultdict(list)
    for securable in sorted(held, key=sort_key):
        by_grantee = held[securable]
        skip = _NOT_COVERING.get(securable[0], frozenset())
        for privileges, grantees in split_privileges(by_grantee):
            each = [by_grantee[g][p] for g in grantees for p in privileges]
            wide = all(_wide(fs, skip, covering) for fs in each)
            groups[securable[0], privileges, grantees].append(
                (securable, [f for fs in each for f in fs], wide)
            )
    return groups


def _wide(facts: Iterable[str], skip: frozenset[str], covering: dict[str, str | None]) -> bool:
    """:func:`schema_wide`, each fact's permission looked up once per ``covering`` (one
    :func:`group_grants`)."""
    for fact in facts:
        if fact not in covering:
            found = _SCHEMA_WIDE.search(fact)
            covering[fact] = None if found is None else found.group(1)
        permission = covering[fact]
        if permission is not None and permission not in skip:
            return True
    return False


def sort_key(securable: Securable) -> tuple[str, str, str, str]:
    object_type, schema, name, signature = securable
    return (object_type, schema or "", name, signature or "")
