"""rollback.sql gives PUBLIC back only what it held before 06 revoked it from existing objects.

06 revokes PostgreSQL's defaults from PUBLIC: CONNECT and TEMPORARY on the database, EXECUTE on
each routine, USAGE on each type, CREATE on schema ``public``. A DBA often revoked some of them
before grantbridge ran; a rollback that gave them all back would leave PUBLIC with more than it
had. 06 records, once and before its first revoke, which of them PUBLIC lacked (in the
database's comment, the comment it had kept below), and rollback gives back only the others.
The state is read from the catalogs directly: PUBLIC's entries (grantee 0) in each object's ACL,
NULL read as PostgreSQL's built-in default (``acldefault``), and ``has_*_privilege('public',
…)``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from mapper.plan import MigrationPlan, PgObject, PgRevoke
from pg_emit.apply import apply_plan_dir, run_scripts
from pg_emit.render_hardening import HARDENING_MARK
from pg_emit.server import connect
from tests.emit.conftest import Scratch, write_plan_dir
from tests.emit.test_security_rollback import _read, _round_trip

pytestmark = pytest.mark.postgres

#: The objects the tests look at, beyond the realistic plan's: a type with an odd name (a space,
#: a double quote) and a procedure named without its arguments (06 names it ``ROUTINE``).
TYPE, ROUTINE = '"Odd Schema"."Order ""Status"""', "sales.ship"

#: PUBLIC's privileges on each object 06 touches (through acldefault where the ACL is NULL),
#: and the database's comment.
STATE_SQL = """
SELECT jsonb_object_agg(o.label, coalesce(
         (SELECT jsonb_agg(a.privilege_type ORDER BY a.privilege_type)
          FROM aclexplode(o.acl) a WHERE a.grantee = 0), '[]')),
       shobj_description((SELECT oid FROM pg_database WHERE datname = current_database()),
                         'pg_database')
FROM (SELECT 'database' AS label, coalesce(datacl, acldefault('d', datdba)) AS acl
      FROM pg_database WHERE datname = current_database()
      UNION ALL
      SELECT 'schema public', coalesce(nspacl, acldefault('n', nspowner))
      FROM pg_namespace WHERE nspname = 'public'
      UNION ALL
      SELECT oid::regprocedure::text, coalesce(proacl, acldefault('f', proowner))
      FROM pg_proc WHERE pronamespace = 'sales'::regnamespace
      UNION ALL
      SELECT oid::regtype::text, coalesce(typacl, acldefault('T', typowner))
      FROM pg_type WHERE typnamespace = '"Odd Schema"'::regnamespace AND typtype = 'e') o
"""

#: ``has_*_privilege`` for the PUBLIC pseudo-role, as PostgreSQL itself answers it.
PUBLIC_MAY_SQL = f"""
SELECT has_database_privilege('public', current_database(), 'CONNECT'),
       has_database_privilege('public', current_database(), 'TEMPORARY'),
       has_function_privilege('public', 'sales.total_of(integer)', 'EXECUTE'),
       has_function_privilege('public', 'sales.add_order(integer, text)', 'EXECUTE'),
       has_function_privilege('public', 'sales.ship()', 'EXECUTE'),
       has_type_privilege('public', '{TYPE.replace("'", "''")}', 'USAGE'),
       has_schema_privilege('public', 'public', 'CREATE')
"""

#: What a DBA revokes before grantbridge runs: CONNECT on the database, EXECUTE on a function,
#: USAGE on the type (what 06 revokes too).
DBA_REVOKES = [
    "DO $$ BEGIN EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM PUBLIC', current_database());"
    " END $$",
    "REVOKE EXECUTE ON FUNCTION sales.total_of(integer) FROM PUBLIC",
    f"REVOKE USAGE ON TYPE {TYPE} FROM PUBLIC",
]

#: Everything PostgreSQL gives PUBLIC on these objects by default (from 15 on, no CREATE on
#: schema public); ``without`` takes some out.
DEFAULTS = {
    "database": ["CONNECT", "TEMPORARY"],
    "schema public": ["USAGE"],
    "sales.add_order(integer,text)": ["EXECUTE"],
    "sales.ship()": ["EXECUTE"],
    "sales.total_of(integer)": ["EXECUTE"],
    TYPE: ["USAGE"],
}


def _without(**taken: list[str]) -> dict[str, list[str]]:
    """:data:`DEFAULTS` less ``taken`` (keys: ``database``, ``total_of``, ``type``)."""
    names = {"database": "database", "total_of": "sales.total_of(integer)", "type": TYPE}
    state = {key: list(value) for key, value in DEFAULTS.items()}
    for key, privileges in taken.items():
        state[names[key]] = [p for p in state[names[key]] if p not in privileges]
    return state


def _with_type_and_routine(scratch: Scratch) -> Scratch:
    """The realistic plan plus an enum type and a procedure without its arguments (both made
    as stubs here), and 06's revokes on them and on schema public."""
    db, owner = scratch.database, f"{scratch.prefix}_sales_owner"
    objects = (
        PgObject(database=db, schema_name="Odd Schema", name='Order "Status"', kind="type",
                 owner=owner),
        PgObject(database=db, schema_name="sales", name="ship", kind="procedure", owner=owner),
    )  # fmt: skip
    reason = "hardening: SQL Server gives PUBLIC nothing here"
    revokes = (
        PgRevoke(database=db, object_type="TYPE", schema_name="Odd Schema",
                 name='Order "Status"', privilege="USAGE", grantee="PUBLIC", reason=reason),
        PgRevoke(database=db, object_type="PROCEDURE", schema_name="sales", name="ship",
                 privilege="EXECUTE", grantee="PUBLIC", reason=reason),
        PgRevoke(database=db, object_type="SCHEMA", name="public", privilege="CREATE",
                 grantee="PUBLIC", reason=reason),
    )  # fmt: skip
    plan = scratch.plan
    data = {
        **plan.model_dump(),
        "objects": (*plan.objects, *objects),  # validated again: the plan sorts them
        "revokes": (*plan.revokes, *revokes),
    }
    with connect(scratch.dsn, db) as conn:
        conn.execute(f"CREATE TYPE {TYPE} AS ENUM ()".encode())
        conn.execute(f"CREATE PROCEDURE {ROUTINE}() LANGUAGE sql AS ''".encode())
    return dataclasses.replace(scratch, plan=MigrationPlan.model_validate(data))


def _record(comment: Any) -> dict[str, list[str]]:
    """06's record: the JSON on the first line of the database's comment, after the mark."""
    line = str(comment).split("\n", 1)[0]
    assert line.startswith(HARDENING_MARK), comment
    found: dict[str, list[str]] = json.loads(line[len(HARDENING_MARK) :])
    return found


def _lacked(*labels: str) -> list[str]:
    """The record's privileges: what PUBLIC lacked before 06 (CREATE on schema public from
    PostgreSQL 15 on: every server under test), sorted as 06 writes them."""
    return sorted({*labels, "CREATE ON SCHEMA public"})


def test_rollback_keeps_what_a_dba_revoked_before(scratch: Scratch, tmp_path: Path) -> None:
    """A DBA revoked CONNECT on the database, EXECUTE on a function and USAGE on a type from
    PUBLIC before the apply: after the apply (twice) and each rollback PUBLIC still lacks them,
    and gets back the rest (TEMPORARY, EXECUTE on the other routines)."""
    scratch = _with_type_and_routine(scratch)
    original, applied = _round_trip(scratch, tmp_path, DBA_REVOKES, STATE_SQL)
    assert original == (_without(database=["CONNECT"], total_of=["EXECUTE"], type=["USAGE"]), None)
    assert applied[0] == {**{key: [] for key in DEFAULTS}, "schema public": ["USAGE"]}
    assert _record(applied[1])["privileges"] == _lacked(
        f"CONNECT ON DATABASE {scratch.database}",
        "EXECUTE ON FUNCTION sales.total_of(integer)",
        f"USAGE ON TYPE {TYPE}",
    )
    assert _read(scratch, PUBLIC_MAY_SQL) == (False, True, False, True, True, False, False)


def test_rollback_gives_public_back_exactly_what_06_took(scratch: Scratch, tmp_path: Path) -> None:
    """Nothing revoked before: the record names only what PostgreSQL itself does not give PUBLIC
    (CREATE on schema public from 15 on), and rollback gives back everything else 06 took, to
    PUBLIC only, with the database's own comment."""
    scratch = _with_type_and_routine(scratch)
    own = "Sales (from MS_Description);\nline two"
    before = [f"COMMENT ON DATABASE {scratch.database} IS '{own}'"]
    original, applied = _round_trip(scratch, tmp_path, before, STATE_SQL)
    assert original == (DEFAULTS, own)
    assert applied[0] == {**{key: [] for key in DEFAULTS}, "schema public": ["USAGE"]}
    record = _record(applied[1])
    assert record == {"privileges": _lacked(), "future_routines_of": []}
    assert str(applied[1]).endswith(f"\n{own}")
    assert _read(scratch, PUBLIC_MAY_SQL) == (True, True, True, True, True, True, False)


def test_rollback_gives_back_create_on_schema_public_when_public_had_it(
    scratch: Scratch, tmp_path: Path
) -> None:
    """A database upgraded from PostgreSQL 14 keeps PUBLIC's CREATE on schema public: 06 takes
    it, and rollback gives it back (as it was), whatever the server's version."""
    scratch = _with_type_and_routine(scratch)
    before = ["GRANT CREATE ON SCHEMA public TO PUBLIC"]
    original, applied = _round_trip(scratch, tmp_path, before, STATE_SQL)
    assert original[0] == {**DEFAULTS, "schema public": ["CREATE", "USAGE"]}
    assert _record(applied[1])["privileges"] == []


def _after_dba_revokes(scratch: Scratch) -> tuple[Scratch, tuple[Any, ...]]:
    """The scratch plan with a type and a routine, once a DBA has made DBA_REVOKES; the state
    (STATE_SQL) then."""
    scratch = _with_type_and_routine(scratch)
    with connect(scratch.dsn, scratch.database) as conn:
        for statement in DBA_REVOKES:
            conn.execute(statement.encode())
    return scratch, _read(scratch, STATE_SQL)


def test_a_second_06_keeps_the_first_record(scratch: Scratch, tmp_path: Path) -> None:
    """06 run again after the apply finds its own revokes in place: it keeps the first record
    (the second would say PUBLIC lacked everything), so rollback still gives back what PUBLIC
    had before the apply."""
    scratch, original = _after_dba_revokes(scratch)
    plan_dir = write_plan_dir(tmp_path, scratch.plan)
    apply_plan_dir(plan_dir, scratch.dsn)
    first = _read(scratch, STATE_SQL)
    hardening = (plan_dir / "sql" / "06_hardening.sql").read_text(encoding="utf-8")
    for _ in range(2):
        run_scripts(scratch.dsn, [("06_hardening.sql", hardening)])
        assert _read(scratch, STATE_SQL) == first
    rollback = (plan_dir / "sql" / "rollback.sql").read_text(encoding="utf-8")
    run_scripts(scratch.dsn, [("rollback.sql", rollback)])
    assert _read(scratch, STATE_SQL) == original
    assert _read(scratch, PUBLIC_MAY_SQL) == (False, True, False, True, True, False, False)


def test_rollback_without_the_record_gives_public_nothing(scratch: Scratch, tmp_path: Path) -> None:
    """06 never committed in the database (the apply stopped before it): no record, so rollback
    gives PUBLIC nothing of what a DBA had revoked, and leaves the comment alone."""
    scratch, original = _after_dba_revokes(scratch)
    plan_dir = write_plan_dir(tmp_path, scratch.plan)
    rollback = (plan_dir / "sql" / "rollback.sql").read_text(encoding="utf-8")
    run_scripts(scratch.dsn, [("rollback.sql", rollback)])
    assert _read(scratch, STATE_SQL) == original
    assert original[1] is None
