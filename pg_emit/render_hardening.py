"""``06_hardening.sql``: revoke PostgreSQL's defaults from PUBLIC, after recording what it lacked.

Also 04's like record, of what PUBLIC lacked of the privileges 04 grants it.

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

04 may grant PUBLIC one of those very privileges: contoso's ``GRANT EXECUTE ON FUNCTION
rpt.fn_fiscalyear TO PUBLIC`` (SQL Server's public could run it) gives PUBLIC what PostgreSQL
gave it already. So 04 too records, once and before its first grant, which of its grants to
PUBLIC on a database, schema, routine or type PUBLIC lacked then (:data:`GRANTED_MARK`, read the
same way, below 06's record), and ``rollback.sql`` revokes from PUBLIC only those. The plan's
grants to PUBLIC on other objects (a table's SELECT, which PostgreSQL never gives PUBLIC) are
revoked as any other grantee's.
"""

from __future__ import annotations

from collections.abc import Sequence

from mapper.plan import MigrationPlan, PgDefaultRevoke, PgGrant, PgRevoke
from mapper.quoting import quote_literal, routine_keyword, securable_sql
from pg_emit import intent
from pg_emit import render_grants as grants
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
#: These are the kinds PostgreSQL gives PUBLIC privileges on, the only ones 06 revokes and the
#: only ones 04's record covers.
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
    keyword = routine_keyword(revoke.object_type, revoke.signature)
    target = securable_sql(keyword, revoke.schema_name, revoke.name, revoke.signature)
    return intent.normalize_privilege(revoke.privilege), keyword, target


def record_variables(mark: str = HARDENING_MARK) -> list[str]:
    """The PL/pgSQL declarations a record (06's, or 04's with ``mark``) and its undo in
    ``rollback.sql`` start with: the mark and the current database's comment (NULL when it has
    none)."""
    return [
        f"  mark text := {quote_literal(mark)};",
        "  remark text := shobj_description(",
        "    (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()),",
        "    'pg_database');",
    ]


def _lookup_sql(object_type: str, name: str, signature: str | None, target: str) -> str:
    """SQL for the object's oid (:data:`LOOKUP`); a routine named without its arguments by its
    name alone, as 04's GRANT and 06's REVOKE find it."""
    if object_type in ("FUNCTION", "PROCEDURE"):
        template = "to_regprocedure({target})::oid" if signature else "to_regproc({target})::oid"
    else:
        template = LOOKUP[object_type]
    return template.format(name=quote_literal(name), target=quote_literal(target))


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
        lookup = _lookup_sql(revoke.object_type, revoke.name, revoke.signature, target)
        rows.append(f"({literals}, {lookup})")
    values = ",\n                   ".join(rows)
    return _lacked(f"(VALUES {values})", keywords)


def _lacked(source: str, keywords: set[str]) -> list[str]:
    """PL/pgSQL: the labels of the rows ``i (privilege, keyword, target, obj)`` of ``source``
    (a FROM item) whose privilege PUBLIC lacks now, into ``privileges`` (a JSON array, sorted
    bytewise); ``keywords``: the object kinds among them."""
    return [
        "SELECT coalesce(jsonb_agg(o.label ORDER BY o.label COLLATE \"C\"), '[]')",
        "  INTO privileges",
        f"  FROM {source}",
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


# --- 04's record: which of its grants to PUBLIC PUBLIC held already ---------------------------

#: The line 04 writes into the database's comment before its first grant to PUBLIC on an object
#: of a kind PostgreSQL gives PUBLIC privileges on (:data:`ACL_OF`: a database, a schema, a
#: routine, a type), once: the rest of the line is a JSON object whose ``privileges`` are the
#: grants PUBLIC lacked before 04 (labelled like 06's record), and only those ``rollback.sql``
#: revokes from PUBLIC again. PUBLIC usually held them: contoso's ``GRANT EXECUTE ON FUNCTION
#: rpt.fn_fiscalyear TO PUBLIC`` gives PUBLIC what PostgreSQL gave it already, and a rollback
#: that revoked it would leave PUBLIC with less than before the apply. The line goes below 06's
#: record when 06 wrote one first (06 then reads its own as the first line, as always)::
#:
#:     grantbridge: PUBLIC defaults revoked; PUBLIC lacked before: {…}       (06, when it ran)
#:     grantbridge: granted to PUBLIC; PUBLIC lacked before: {"privileges": ["USAGE ON SCHEMA
#:     rpt"]}
#:     Reporting (from MS_Description)
GRANTED_MARK = "grantbridge: granted to PUBLIC; PUBLIC lacked before: "

#: ``ALL … IN SCHEMA`` keyword (04's :data:`~pg_emit.render_grants.ALL_IN_SCHEMA`) → the kind
#: GRANT names each of its routines by, and the ``pg_proc.prokind`` values it reaches (``ALL
#: FUNCTIONS``: aggregate and window functions too, no procedure).
ALL_ROUTINES = {"FUNCTIONS": ("FUNCTION", "'f', 'a', 'w'"), "PROCEDURES": ("PROCEDURE", "'p'")}

#: PL/pgSQL declarations after :func:`record_variables`: the database's comment split into 06's
#: record (``head``, NULL when there is none) and what follows it (``rest``), where 04's is.
BELOW_HARDENING = (
    f"  head text := CASE WHEN remark LIKE {quote_literal(HARDENING_MARK + '%')}",
    "                    THEN split_part(remark, E'\\n', 1) END;  -- 06's record stays first",
    "  rest text := CASE WHEN head IS NULL THEN remark",
    "                    ELSE nullif(substr(remark, length(head) + 2), '') END;",
)


def recorded_for_public(clause: grants.Clause) -> bool:
    """True when a clause of 04 (no grant option) grants PUBLIC something 04's record covers:
    a privilege on a kind of object PostgreSQL gives PUBLIC privileges on. A table, sequence,
    column or parameter PUBLIC never holds by default: the plan's grant is revoked as others."""
    kinds = clause.kind in ACL_OF or clause.kind in ALL_ROUTINES
    return kinds and "PUBLIC" in clause.grantee_names


def public_grant_clauses(clauses: grants.PrivilegeClauses, database: str) -> list[grants.Clause]:
    """04's clauses in ``database`` that its record covers (:func:`recorded_for_public`)."""
    return [
        clause
        for grant_option, group in clauses.of(database)
        if not grant_option  # PostgreSQL gives PUBLIC no grant option
        for clause in group
        if recorded_for_public(clause)
    ]


def _routines_in_schema(clause: grants.Clause, privilege: str, indent: str) -> str:
    """SQL rows ``(privilege, keyword, target, obj)`` of the routines ``ALL … IN SCHEMA`` reaches
    now, each named by its identity (schema-qualified whatever the search_path)."""
    keyword, prokinds = ALL_ROUTINES[clause.kind]
    schema = quote_literal(clause.in_schema or "")
    return "\n".join([
        f"SELECT {quote_literal(privilege)}, {quote_literal(keyword)},",
        f"{indent}       (pg_identify_object('pg_catalog.pg_proc'::regclass, x.oid, 0)).identity,",
        f"{indent}       x.oid",
        f"{indent}  FROM pg_catalog.pg_proc x",
        f"{indent} WHERE x.pronamespace = (SELECT oid FROM pg_catalog.pg_namespace",
        f"{indent}                         WHERE nspname = {schema})",
        f"{indent}   AND x.prokind IN ({prokinds})",
    ])  # fmt: skip


def granted_rows(clauses: Sequence[grants.Clause], indent: str) -> tuple[str, set[str]]:
    """A FROM item of rows ``(privilege, keyword, target, obj)``, one per privilege and object
    the clauses grant PUBLIC, and the object kinds among them (``indent``: as many spaces as
    precede the item, for its continuation lines). 04's record and its undo in
    ``rollback.sql`` read the same rows."""
    values, selects, keywords = [], [], set()
    inner = indent + " "
    for clause in clauses:
        if clause.in_schema is not None:
            keywords.add(ALL_ROUTINES[clause.kind][0])
            selects += [_routines_in_schema(clause, p, inner) for p in clause.privilege_names]
            continue
        keywords.add(clause.kind)
        for object_type, schema, name, signature in clause.objects:
            target = securable_sql(clause.kind, schema, name, signature)
            lookup = _lookup_sql(object_type, name, signature, target)
            for privilege in clause.privilege_names:
                literals = ", ".join(quote_literal(t) for t in (privilege, clause.kind, target))
                values.append(f"({literals}, {lookup})")
    branches = ["VALUES " + f",\n{inner}       ".join(values)] if values else []
    return "(" + f"\n{inner}UNION ALL\n{inner}".join(branches + selects) + ")", keywords


def record_public_grants(clauses: Sequence[grants.Clause]) -> list[Statement]:
    """04's record, before its first grant: a DO block writing :data:`GRANTED_MARK` and which of
    the clauses' grants PUBLIC lacks now into the database's comment, below 06's record if any,
    unless 04 recorded it already (a second run finds its grants in place: the first is kept).
    Nothing when the clauses grant PUBLIC nothing the record covers."""
    if not clauses:
        return []
    source, keywords = granted_rows(clauses, " " * len("    " + "  FROM "))
    body = [
        "DECLARE",
        *record_variables(GRANTED_MARK),
        *BELOW_HARDENING,
        "  privileges jsonb := '[]';  -- '<privilege> ON <kind> <object>' PUBLIC lacks",
        "BEGIN",
        "  IF coalesce(rest, '') NOT LIKE mark || '%' THEN",
        *(f"    {line}" for line in _lacked(source, keywords)),
        "    EXECUTE format('COMMENT ON DATABASE %I IS %L', current_database(), concat_ws(E'\\n',",
        "                   head, mark || jsonb_build_object('privileges', privileges)::text, rest));",
        "  END IF;",
        "END",
    ]
    notes = (
        "record which of the grants to PUBLIC below PUBLIC lacks already: rollback.sql revokes",
        "only those (PostgreSQL gives PUBLIC the others by default, or a DBA granted them)",
    )
    return [Statement("DO " + dollar_quote("\n".join(body)), notes)]
