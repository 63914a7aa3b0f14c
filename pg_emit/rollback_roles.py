"""The statements that take roles away, shared by a plan's ``rollback.sql``
(:mod:`pg_emit.render_rollback`) and a per-database plan set's (:mod:`pg_emit.render_set_rollback`):
each acts only on roles that exist and that 01_roles.sql created (their comment carries
:data:`pg_emit.render_roles.CREATED_MARK`), so running one twice changes nothing."""

from __future__ import annotations

from mapper.platforms import non_superuser
from mapper.quoting import quote_literal
from pg_emit import intent
from pg_emit.render_roles import CREATED_MARK, STANDIN_MARK
from pg_emit.script import Statement, do_block

#: Array elements per line. A long array on one line made rollback.sql unreadable at scale
#: (bench M: one line of 51 MB, every membership of the plan).
ARRAY_LINE = 10

#: Memberships revoked per statement, so that no single statement holds them all.
REVOKE_CHUNK = 1000


def text_array(names: list[str] | tuple[str, ...]) -> str:
    """``ARRAY['a', 'b']::text[]``, :data:`ARRAY_LINE` names per line."""
    return _array([quote_literal(n) for n in names])


def _array(quoted: list[str]) -> str:
    """:func:`text_array` of names quoted already."""
    if len(quoted) <= ARRAY_LINE:
        return "ARRAY[" + ", ".join(quoted) + "]::text[]"
    lines = (", ".join(quoted[i : i + ARRAY_LINE]) for i in range(0, len(quoted), ARRAY_LINE))
    return "ARRAY[\n    " + ",\n    ".join(lines) + "]::text[]"


def disown_notes(target: str) -> tuple[str, ...]:
    """Why rollback.sql joins a role before it takes the role's objects and privileges away."""
    return (
        "objects owned by roles this plan created go back to the user running rollback; REASSIGN",
        f"and DROP OWNED need the privileges of the role, so a non-superuser ({non_superuser(target)})",
        "first joins each role it is not yet a member of (DROP ROLE ends the membership)",
    )


#: What rollback.sql does, in each database, to a role it drops: takes its objects and
#: privileges away (:func:`disown_notes` says why it joins the role first).
DISOWN_ACTIONS = (
    "IF NOT pg_has_role(current_user, r, 'USAGE') THEN",
    "  EXECUTE format('GRANT %I TO CURRENT_USER', r);",
    "END IF;",
    "EXECUTE format('REASSIGN OWNED BY %I TO CURRENT_USER', r);",
    "EXECUTE format('DROP OWNED BY %I', r);",
)
DROP_ACTION = "EXECUTE format('DROP ROLE %I', r);"


def created_roles_loop(roles: tuple[str, ...], actions: tuple[str, ...], *note: str) -> Statement:
    """A DO block running ``actions`` (PL/pgSQL reading the role as ``r``) for each of
    ``roles`` that exists and that 01_roles.sql created (its comment carries the mark)."""
    body = [
        f"FOREACH r IN ARRAY {text_array(roles)} LOOP",
        "  IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = r",
        f"      AND shobj_description(oid, 'pg_authid') LIKE {quote_literal(CREATED_MARK + '%')}) THEN",
        *(f"    {action}" for action in actions),
        "  END IF;",
        "END LOOP;",
    ]
    sql = "DO $grantbridge$\nDECLARE r text;\n" + do_block(body)[len("DO $grantbridge$\n") :]
    return Statement(sql, note)


def revoke_memberships(pairs: list[tuple[str, str]]) -> list[Statement]:
    """REVOKE each (role, member) membership whose two roles exist, chunked."""
    # each name quoted once, not once per membership it is in (240,864 names in a bench scale
    # L part's memberships, 13,493 distinct)
    literal = {name: quote_literal(name) for name in {name for pair in pairs for name in pair}}
    statements = []
    for start in range(0, len(pairs), REVOKE_CHUNK):
        chunk = pairs[start : start + REVOKE_CHUNK]
        roles = _array([literal[role] for role, _ in chunk])
        members = _array([literal[member] for _, member in chunk])
        body = [
            f"FOR g, m IN SELECT * FROM unnest({roles}, {members}) LOOP",
            "  IF (SELECT count(*) FROM pg_catalog.pg_roles WHERE rolname IN (g, m)) = 2 THEN",
            "    EXECUTE format('REVOKE %I FROM %I', g, m);",
            "  END IF;",
            "END LOOP;",
        ]
        sql = (
            "DO $grantbridge$\nDECLARE g text; m text;\n"
            + do_block(body)[len("DO $grantbridge$\n") :]
        )
        statements.append(Statement(sql, ("revoke the memberships 02_memberships.sql granted",)))
    return statements


def drop_standins() -> Statement:
    """Drop the RDS stand-ins 01_roles.sql created, when nothing is a member of them."""
    body = [
        f"FOREACH r IN ARRAY {text_array(intent.RDS_ROLES)} LOOP",
        "  IF EXISTS (SELECT FROM pg_catalog.pg_roles o WHERE o.rolname = r",
        f"      AND shobj_description(o.oid, 'pg_authid') = {quote_literal(STANDIN_MARK)}",
        "      AND NOT EXISTS (SELECT FROM pg_catalog.pg_auth_members a WHERE a.roleid = o.oid",
        "        AND NOT (a.member = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user)",
        "                 AND a.admin_option))) THEN",
        "    EXECUTE format('DROP ROLE %I', r);",
        "  END IF;",
        "END LOOP;",
    ]
    sql = "DO $grantbridge$\nDECLARE r text;\n" + do_block(body)[len("DO $grantbridge$\n") :]
    notes = (
        "drop the RDS stand-ins grantbridge created, once nothing uses them (the ADMIN OPTION",
        "PostgreSQL 16+ gives a non-superuser on the roles it creates does not count as a use)",
    )
    return Statement(sql, notes)
