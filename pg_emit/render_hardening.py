"""``06_hardening.sql``: revoke PostgreSQL's defaults from PUBLIC, after recording what it lacked.

PostgreSQL gives PUBLIC CONNECT and TEMPORARY on every database, EXECUTE on every routine, USAGE
on every type and, before version 15, CREATE on schema ``public``; the plan revokes those SQL
Server's public never had (:mod:`mapper.translate.hardening`): on existing objects
(``plan.revokes``, grouped like 04's grants) and, per creating role, on routines created later
(``plan.default_revokes``: ``ALTER DEFAULT PRIVILEGES FOR ROLE o REVOKE EXECUTE ON FUNCTIONS FROM
PUBLIC``). A DBA has often revoked some of them already. Before its first revoke, 06 writes into
the database's comment, once, which of them PUBLIC lacked then (:data:`HARDENING_MARK`), and
``rollback.sql`` gives PUBLIC back only the others.

When does PUBLIC hold a privilege? ``aclexplode`` names PUBLIC as grantee 0::

    the object's ACL   PUBLIC holds the privilege when
    NULL               PostgreSQL's built-in default gives it (acldefault): CONNECT, TEMPORARY
                       on a database, EXECUTE on a routine, USAGE on a type, nothing on a schema
    not NULL           the ACL has an entry for grantee 0 with that privilege (any grantor)
    (object missing)   never; 06's REVOKE on it fails, so nothing commits

For routines created later the ACL is the role's global default ACL (``pg_default_acl``, no
schema): without that row the built-in default applies, where PUBLIC may EXECUTE (and
PostgreSQL drops the row again once it equals that default).
"""

from __future__ import annotations

from collections.abc import Sequence

from mapper.plan import MigrationPlan, PgDefaultRevoke, PgGrant, PgRevoke
from pg_emit import intent
from pg_emit import render_grants as grants
from pg_emit.quoting import quote_literal
from pg_emit.script import Statement, dollar_quote, facts_note

#: The first line of a database's comment once 06 revoked PUBLIC's defaults there. The rest of
#: the line is a JSON object of what PUBLIC lacked before 06, and so gets nothing back from
#: ``rollback.sql``: ``privileges`` on existing objects (each as ``<privilege> ON <kind>
#: <object>``, what follows GRANT; usually the ones a DBA revoked, and CREATE on schema public
#: from PostgreSQL 15 on) and ``future_routines_of``, the roles whose routines created later
#: PUBLIC could not run (a DBA's own ``ALTER DEFAULT PRIVILEGES FOR ROLE … REVOKE EXECUTE ON
#: FUNCTIONS FROM PUBLIC``, a common hardening step). Only these exceptions are kept, sorted, so
#: the record stays small. Above the comment the database had, it reads (the first three lines
#: here are one)::
#:
#:     grantbridge: PUBLIC defaults revoked; PUBLIC lacked before: {"privileges": ["CONNECT ON
#:     DATABASE sales", "CREATE ON SCHEMA public", "EXECUTE ON FUNCTION sales.f(integer)"],
#:     "future_routines_of": ["legacy_owner"]}
#:     Sales (from MS_Description)
HARDENING_MARK = "grantbridge: PUBLIC defaults revoked; PUBLIC lacked before: "

#: A revoke's privilege, object kind (as GRANT names it) and object: its record's label is
#: ``<privilege> ON <kind> <object>`` (:data:`LABEL_SQL` over ``i``).
RevokeClause = tuple[str, str, str]

#: SQL for a clause's label over VALUES rows ``i (privilege, keyword, target, …)``.
LABEL_SQL = "i.privilege || ' ON ' || i.keyword || ' ' || i.target"

#: GRANT's object kind → where PUBLIC's privileges on such an object are: its catalog, ACL
#: column, owner column and ``acldefault``'s letter (NULL ACL: ``acldefault(letter, owner)``).
#: These are the kinds PostgreSQL gives PUBLIC privileges on, the only ones 06 revokes.
ACL_OF: dict[str, tuple[str, str, str, str]] = {
    "DATABASE": ("pg_database", "datacl", "datdba", "d"),
    "SCHEMA": ("pg_namespace", "nspacl", "nspowner", "n"),
    "FUNCTION": ("pg_proc", "proacl", "proowner", "f"),
    "PROCEDURE": ("pg_proc", "proacl", "proowner", "f"),
    "ROUTINE": ("pg_proc", "proacl", "proowner", "f"),
    "TYPE": ("pg_type", "typacl", "typowner", "T"),
}

#: Object kind → SQL for its oid, NULL when it is missing: ``{name}`` is its name as a literal,
#: ``{target}`` the object as GRANT names it (routines: :func:`_lookup_sql`).
LOOKUP = {
    "DATABASE": "(SELECT oid FROM pg_catalog.pg_database WHERE datname = {name})",
    "SCHEMA": "(SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = {name})",
    "TYPE": "to_regtype({target})::oid",
}

#: ``ALTER DEFAULT PRIVILEGES`` object type → its ``pg_default_acl.defaclobjtype``.
DEFAULT_ACL_TYPE = {
    "TABLES": "r",
    "SEQUENCES": "S",
    "FUNCTIONS": "f",
    "ROUTINES": "f",
    "TYPES": "T",
}


def revoke_clause(revoke: PgRevoke) -> RevokeClause:
    """(privilege, kind, object) of a revoke, as 06's REVOKE and rollback's GRANT name it."""
    keyword = grants.routine_keyword(revoke.object_type, revoke.signature)
    target = grants.securable_sql(keyword, revoke.schema_name, revoke.name, revoke.signature)
    return intent.normalize_privilege(revoke.privilege), keyword, target


def record_variables() -> list[str]:
    """The PL/pgSQL declarations 06's record and its undo in ``rollback.sql`` start with: the
    mark and the current database's comment (NULL when it has none)."""
    return [
        f"  mark text := {quote_literal(HARDENING_MARK)};",
        "  remark text := shobj_description(",
        "    (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()),",
        "    'pg_database');",
    ]


def _lookup_sql(revoke: PgRevoke, target: str) -> str:
    """SQL for the object's oid (:data:`LOOKUP`); a routine named without its arguments by its
    name alone, as 06's REVOKE finds it."""
    if revoke.object_type in ("FUNCTION", "PROCEDURE"):
        template = (
            "to_regprocedure({target})::oid" if revoke.signature else "to_regproc({target})::oid"
        )
    else:
        template = LOOKUP[revoke.object_type]
    return template.format(name=quote_literal(revoke.name), target=quote_literal(target))


def _acl_case(keywords: set[str]) -> list[str]:
    """``CASE WHEN … THEN … END``, without its END: row ``i``'s ACL from its catalog, NULL read
    as ``acldefault``, one WHEN per catalog among ``keywords``."""
    by_catalog: dict[tuple[str, str, str, str], list[str]] = {}
    for keyword in sorted(keywords):
        by_catalog.setdefault(ACL_OF[keyword], []).append(quote_literal(keyword))
    lines: list[str] = []
    for (catalog, acl, owner, letter), names in sorted(by_catalog.items()):
        lines += [
            f"{'     ' if lines else 'CASE '}WHEN i.keyword IN ({', '.join(names)})",
            f"     THEN (SELECT coalesce(x.{acl}, acldefault('{letter}', x.{owner}))",
            f"           FROM pg_catalog.{catalog} x WHERE x.oid = i.obj)",
        ]
    return lines


def _lacked_privileges(revokes: Sequence[PgRevoke]) -> list[str]:
    """PL/pgSQL: the labels of the revokes whose privilege PUBLIC lacks now, into
    ``privileges`` (a JSON array, sorted bytewise)."""
    rows, keywords = [], set()
    for revoke in revokes:
        privilege, keyword, target = revoke_clause(revoke)
        keywords.add(keyword)
        literals = ", ".join(quote_literal(text) for text in (privilege, keyword, target))
        rows.append(f"({literals}, {_lookup_sql(revoke, target)})")
    values = ",\n                   ".join(rows)
    return [
        "SELECT coalesce(jsonb_agg(o.label ORDER BY o.label COLLATE \"C\"), '[]')",
        "  INTO privileges",
        f"  FROM (VALUES {values})",
        "       AS i (privilege, keyword, target, obj),",
        f"       LATERAL (SELECT {LABEL_SQL} AS label,",
        *(f"                       {line}" for line in _acl_case(keywords)),
        "                       END AS acl) o",
        " WHERE NOT EXISTS (SELECT FROM aclexplode(o.acl) a",
        "                   WHERE a.grantee = 0 AND a.privilege_type = i.privilege);",
    ]


def _lacked_future_routines(items: Sequence[PgDefaultRevoke]) -> list[str]:
    """PL/pgSQL: the roles whose global default ACL gives PUBLIC nothing of what the items
    revoke, into ``owners`` (a JSON array). Without a global row the built-in default applies,
    which gives PUBLIC EXECUTE, so only an existing row without PUBLIC's entry counts."""
    rows = ",\n                   ".join(
        f"({quote_literal(i.owner)}, {quote_literal(DEFAULT_ACL_TYPE[i.object_type])}, "
        f"{quote_literal(intent.normalize_privilege(i.privilege))})"
        for i in items
    )
    return [
        "SELECT coalesce(jsonb_agg(DISTINCT i.owner ORDER BY i.owner), '[]')",
        "  INTO owners",
        f"  FROM (VALUES {rows}) AS i (owner, objtype, privilege)",
        "  JOIN pg_catalog.pg_roles r ON r.rolname = i.owner",
        "  JOIN pg_catalog.pg_default_acl d ON d.defaclrole = r.oid AND d.defaclnamespace = 0",
        '                                  AND d.defaclobjtype = i.objtype::"char"',
        " WHERE NOT EXISTS (SELECT FROM aclexplode(d.defaclacl) a",
        "                   WHERE a.grantee = 0 AND a.privilege_type = i.privilege);",
    ]


def record_public_defaults(
    revokes: Sequence[PgRevoke], default_revokes: Sequence[PgDefaultRevoke]
) -> Statement:
    """06's record, before its first revoke: a DO block writing :data:`HARDENING_MARK` and what
    PUBLIC lacks now of what 06 revokes into the database's comment, above the comment it had,
    unless 06 recorded it already. A second run finds its own revokes in place and would say
    PUBLIC lacked everything: the first record is kept."""
    found: list[str] = []
    if revokes:
        found += _lacked_privileges(revokes)
    if default_revokes:
        found += _lacked_future_routines(default_revokes)
    body = [
        "DECLARE",
        *record_variables(),
        "  privileges jsonb := '[]';  -- '<privilege> ON <kind> <object>' PUBLIC lacks",
        "  owners jsonb := '[]';  -- the roles whose routines created later PUBLIC may not run",
        "BEGIN",
        "  IF coalesce(remark, '') NOT LIKE mark || '%' THEN",
        *(f"    {line}" for line in found),
        "    EXECUTE format('COMMENT ON DATABASE %I IS %L', current_database(), mark",
        "                   || jsonb_build_object('privileges', privileges,",
        "                                         'future_routines_of', owners)::text",
        "                   || coalesce(E'\\n' || remark, ''));",
        "  END IF;",
        "END",
    ]
    note = "record what PUBLIC lacks already of what follows (rollback.sql gives it none of it)"
    return Statement("DO " + dollar_quote("\n".join(body)), (note,))


def _revoke_statements(
    plan: MigrationPlan, database: str, revokes: Sequence[PgRevoke]
) -> list[Statement]:
    """The revokes on existing objects, grouped like 04's grants, each statement preceded by
    its revokes' facts and reasons."""
    as_grants = [
        PgGrant(
            database=r.database, object_type=r.object_type, schema_name=r.schema_name,
            name=r.name, signature=r.signature, privilege=intent.normalize_privilege(r.privilege),
            grantee=r.grantee, facts=(*r.facts, r.reason),
        )
        for r in revokes
    ]  # fmt: skip
    return grants.grant_statements(plan, database, as_grants, verb="REVOKE")


def hardening_statements(plan: MigrationPlan, database: str) -> list[Statement]:
    """06 in one database: the record (:func:`record_public_defaults`), the revokes on existing
    objects, then the global default-privilege revokes, one per role (key order)."""
    revokes = [r for r in plan.revokes if r.database == database]
    default_revokes = [d for d in plan.default_revokes if d.database == database]
    if not (revokes or default_revokes):
        return []
    return [
        record_public_defaults(revokes, default_revokes),
        *_revoke_statements(plan, database, revokes),
        *(
            Statement(grants.default_revoke_sql(d), (facts_note(d.facts), d.reason))
            for d in default_revokes
        ),
    ]
