"""The SQL of the effective-privilege check (:mod:`pg_emit.effective`), kept apart from its logic.

What is asked of the server, as text: the ``has_*_privilege`` expression per securable kind
(:data:`CHECKS`, :data:`RESOLVED`), the live ACL entries and owners of the plan's securables
(:data:`LIVE_ACL_SQL`), the live membership edges (:data:`LIVE_MEMBERS_SQL`), each securable's
OID (:data:`RESOLVE_SQL`) and the set-based comparison that returns only the disagreements
(:data:`DISAGREE_SQL`, its parameters packed by :func:`disagree_params`), in batches of
about :data:`CHECK_BATCH` checks. :data:`QUERY` is the straightforward one-call-per-check form, the
reference the tests hold the set-based one to.
"""

from __future__ import annotations

from itertools import accumulate
from typing import Any

#: securable kind → (privileges checked, SQL expression answering for role ``r``).
CHECKS: dict[str, tuple[tuple[str, ...], str]] = {
    "DATABASE": (("CONNECT", "CREATE", "TEMPORARY"), "has_database_privilege(c.r, c.target, c.p)"),
    "SCHEMA": (("USAGE", "CREATE"), "has_schema_privilege(c.r, c.target, c.p)"),
    "TABLE": (("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"),
              "has_table_privilege(c.r, c.target, c.p)"),
    "COLUMN": (("SELECT", "INSERT", "UPDATE", "REFERENCES"),
               "has_column_privilege(c.r, c.target, c.col, c.p)"),
    "SEQUENCE": (("USAGE", "SELECT", "UPDATE"), "has_sequence_privilege(c.r, c.target, c.p)"),
    "FUNCTION": (("EXECUTE",), "has_function_privilege(c.r, c.target, c.p)"),
    "PROCEDURE": (("EXECUTE",), "has_function_privilege(c.r, c.target, c.p)"),
    "TYPE": (("USAGE",), "has_type_privilege(c.r, c.target, c.p)"),
}  # fmt: skip

#: ``has_*_privilege`` by name for each check of a JSON array (i, k, r, target, col, p): the
#: straightforward form, kept for tests/emit/fidelity.py and as the reference in tests.
QUERY = (
    "SELECT c.i, CASE c.k "
    + " ".join(f"WHEN '{kind}' THEN {expr}" for kind, (_, expr) in CHECKS.items())
    + " END FROM jsonb_to_recordset(%s::jsonb) AS c(i int, k text, r text, target text, col text, p text)"
)

#: PostgreSQL's name for the PUBLIC pseudo-role in ``has_*_privilege`` (lower case only).
PUBLIC_ROLE = "public"

#: Owner and ACL entries (grantee ``PUBLIC`` for PUBLIC) of each securable sent, resolved the
#: way ``has_*_privilege`` resolves its text argument; a column gets its table's entries too
#: (a table privilege answers for every column), a type its element type's as well (PostgreSQL
#: checks an array type's element type). A securable that does not resolve yields no row.
LIVE_ACL_SQL = """
SELECT c.n - 1, pg_get_userbyid(s.owner),
       CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END, a.privilege_type
FROM unnest(%b::text[], %b::text[], %b::text[]) WITH ORDINALITY AS c(k, target, col, n)
CROSS JOIN LATERAL (
  SELECT d.datdba AS owner, coalesce(d.datacl, acldefault('d', d.datdba)) AS acl
  FROM pg_catalog.pg_database d WHERE c.k = 'DATABASE' AND d.datname = c.target
  UNION ALL
  SELECT n.nspowner, coalesce(n.nspacl, acldefault('n', n.nspowner))
  FROM pg_catalog.pg_namespace n WHERE c.k = 'SCHEMA' AND n.nspname = c.target
  UNION ALL
  SELECT r.relowner, coalesce(r.relacl, acldefault(
           CASE r.relkind WHEN 'S' THEN 's'::"char" ELSE 'r'::"char" END, r.relowner))
  FROM pg_catalog.pg_class r
  WHERE c.k IN ('TABLE', 'SEQUENCE', 'COLUMN') AND r.oid = to_regclass(c.target)
  UNION ALL
  SELECT r.relowner, att.attacl
  FROM pg_catalog.pg_class r JOIN pg_catalog.pg_attribute att ON att.attrelid = r.oid
  WHERE c.k = 'COLUMN' AND r.oid = to_regclass(c.target) AND att.attname = c.col
    AND att.attacl IS NOT NULL
  UNION ALL
  SELECT p.proowner, coalesce(p.proacl, acldefault('f', p.proowner))
  FROM pg_catalog.pg_proc p
  WHERE c.k IN ('FUNCTION', 'PROCEDURE') AND p.oid = to_regprocedure(c.target)
  UNION ALL
  SELECT t.typowner, coalesce(t.typacl, acldefault('T', t.typowner))
  FROM pg_catalog.pg_type t
  WHERE c.k = 'TYPE' AND t.oid IN (to_regtype(c.target),
                                   (SELECT typelem FROM pg_catalog.pg_type
                                    WHERE oid = to_regtype(c.target)))
) s
LEFT JOIN LATERAL aclexplode(s.acl) a ON true
"""

#: Live membership edges (member, role), inherit flags ignored, plus the database owner's
#: implicit membership in pg_database_owner. Names by ``pg_get_userbyid``, not joins with
#: ``pg_roles``, for the reason ``pg_emit.inspect.MEMBERS_SQL`` gives.
LIVE_MEMBERS_SQL = """
SELECT pg_get_userbyid(a.member), pg_get_userbyid(a.roleid) FROM pg_catalog.pg_auth_members a
UNION ALL
SELECT pg_get_userbyid(datdba), 'pg_database_owner' FROM pg_catalog.pg_database
WHERE datname = current_database()
"""

#: kind → ``has_*_privilege`` for role ``c.r`` (a name) on a securable resolved once
#: beforehand (RESOLVE_SQL: OID ``c.o``, column number ``c.a``): the same answers as CHECKS'
#: expressions, which parse the securable's name again on every call.
RESOLVED: dict[str, str] = {
    "DATABASE": "has_database_privilege(c.r, c.o, c.p)",
    "SCHEMA": "has_schema_privilege(c.r, c.o, c.p)",
    "TABLE": "has_table_privilege(c.r, c.o, c.p)",
    "COLUMN": "has_column_privilege(c.r, c.o, c.a::int2, c.p)",
    "SEQUENCE": "has_sequence_privilege(c.r, c.o, c.p)",
    "FUNCTION": "has_function_privilege(c.r, c.o, c.p)",
    "PROCEDURE": "has_function_privilege(c.r, c.o, c.p)",
    "TYPE": "has_type_privilege(c.r, c.o, c.p)",
}

#: Kinds and privileges travel as numbers (1-based positions in these).
KINDS: tuple[str, ...] = tuple(CHECKS)
PRIVILEGES: tuple[str, ...] = tuple(
    sorted({p for privileges, _ in CHECKS.values() for p in privileges})
)

#: The OID of each securable sent and, for a column, its number — found as
#: ``has_*_privilege`` finds them from text (by exact name for databases and schemas); NULL
#: when absent.
RESOLVE_SQL = """
SELECT CASE s.k
         WHEN 'DATABASE' THEN
           (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = s.target)
         WHEN 'SCHEMA' THEN
           (SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname = s.target)
         WHEN 'FUNCTION' THEN to_regprocedure(s.target)::oid
         WHEN 'PROCEDURE' THEN to_regprocedure(s.target)::oid
         WHEN 'TYPE' THEN to_regtype(s.target)::oid
         ELSE to_regclass(s.target)::oid END,
       CASE s.k WHEN 'COLUMN' THEN
         (SELECT a.attnum FROM pg_catalog.pg_attribute a WHERE a.attrelid = to_regclass(s.target)
          AND a.attname = s.col AND NOT a.attisdropped) ELSE 0 END
FROM unnest(%b::text[], %b::text[], %b::text[]) WITH ORDINALITY AS s(k, target, col, n) ORDER BY n
"""

#: The positions (1-based) of the checks that the server answers otherwise than the plan.
#: Each role's checks are a run of positions (``firsts``..``lasts``); per position the slot
#: (``slots``, comma-separated 0-based slot numbers) and the plan's answer (a byte of
#: ``wants``); per slot its kind, OID, column number and privilege (array literals built once
#: per database: :func:`slot_arrays`). Everything is hoisted into one row and indexed
#: (fixed-width arrays: constant time); sending every check's role and securable as text
#: instead took three times as long, mostly in sending and unpacking.
DISAGREE_SQL = (
    """
WITH s AS MATERIALIZED (
  SELECT %(kinds)s::int4[] AS k, %(oids)s::oid[] AS o, %(attnums)s::int4[] AS a,
         %(privileges)s::int4[] AS p, %(names)b::text[] AS names,
         string_to_array(%(slots)s, ',')::int4[] AS slot, %(wants)b::bytea AS want
)
SELECT c.n FROM (
  SELECT g.n, r.r, get_byte(s.want, g.n - 1) = 1 AS want, s.k[x.i] AS k, s.o[x.i] AS o,
         s.a[x.i] AS a, s.names[s.p[x.i]] AS p
  FROM s, unnest(%(roles)b::text[], %(firsts)b::int4[], %(lasts)b::int4[]) AS r(r, first, last),
       generate_series(r.first, r.last) AS g(n),
       LATERAL (SELECT s.slot[g.n] + 1 AS i) AS x
) c
WHERE CASE c.k """
    + " ".join(f"WHEN {KINDS.index(kind) + 1} THEN {expr}" for kind, expr in RESOLVED.items())
    + " END IS DISTINCT FROM c.want"
)

#: The superusers: they pass every check, so the effective check leaves them out.
SUPERUSERS_SQL = "SELECT rolname FROM pg_catalog.pg_roles WHERE rolsuper"

#: Securables per query (RESOLVE_SQL, LIVE_ACL_SQL): one query for everything sent millions of
#: rows as one JSON value at scale S and the server's backend died; batches keep each query's
#: memory bounded.
BATCH = 50_000

#: Checks per DISAGREE_SQL query. A check costs the query about five bytes (its slot number and
#: the plan's answer) and returns a row only when the server disagrees; what each query sends
#: again is the per-slot arrays. With 50,000 checks a query, an M part's 10M checks took 200
#: queries and its verify 46 s; with 500,000, 37 s (session 16, pg_emit/effective.py).
CHECK_BATCH = 500_000

Checks = list[tuple[str, list[int], list[bool]]]  # per role: slots, the plan's answers
Encoded = tuple[list[int], list[int], list[int], list[int]]  # per slot: kind, OID, attnum, priv


def slot_arrays(encoded: Encoded) -> dict[str, str]:
    """DISAGREE_SQL's per-slot parameters (kind, OID, column number, privilege) as array
    literals, made once per database: text is sent as it is and parsed by the server, where a
    list is turned into an array element by element in Python, for every query."""
    names = ("kinds", "oids", "attnums", "privileges")
    return {
        name: "{" + ",".join(map(str, values)) + "}"
        for name, values in zip(names, encoded, strict=True)
    }


def disagree_params(checks: Checks, arrays: dict[str, str]) -> tuple[list[int], dict[str, Any]]:
    """Where each role's checks start (1-based positions) and DISAGREE_SQL's parameters for
    ``checks`` (``arrays``: :func:`slot_arrays`); no checks, no parameters."""
    if not any(slots for _, slots, _ in checks):
        return [], {}
    firsts = list(accumulate((len(slots) for _, slots, _ in checks[:-1]), initial=1))
    params = {
        **arrays, "names": list(PRIVILEGES),
        "slots": ",".join(",".join(map(str, slots)) for _, slots, _ in checks if slots),
        "wants": b"".join(bytes(wants) for _, _, wants in checks),
        "roles": [role for role, _, _ in checks],
        "firsts": firsts, "lasts": [f + len(c[1]) - 1 for f, c in zip(firsts, checks, strict=True)],
    }  # fmt: skip
    return firsts, params
