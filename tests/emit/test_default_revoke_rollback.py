"""rollback.sql gives PUBLIC back EXECUTE on routines created later only where 06 took it away.

06 revokes PUBLIC's default EXECUTE for each role that creates objects (``ALTER DEFAULT
PRIVILEGES FOR ROLE o REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC``). A DBA often did the same
before grantbridge ran; undoing 06 with a plain ``GRANT … TO PUBLIC`` would then leave the role
weaker than before. 06 records, once, for which roles PUBLIC lacked it already (in the
database's comment, the comment it had kept below), and rollback leaves those roles so and gives
the comment back. The state is read from the catalogs directly: the role's global default ACL
for functions (``pg_default_acl``, expanded with ``aclexplode``) and the database's comment.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from mapper.plan import MigrationPlan, PgDefaultRevoke
from mapper.quoting import quote_ident, quote_literal
from pg_emit.apply import run_scripts
from pg_emit.render_hardening import HARDENING_MARK
from pg_emit.server import connect
from tests.emit.conftest import Scratch, write_plan_dir
from tests.emit.test_security_rollback import _read, _round_trip

pytestmark = pytest.mark.postgres


def _state_sql(owner: str) -> str:
    """SQL: the owner's global default ACL for functions (NULL: PostgreSQL's built-in default),
    whether it lets PUBLIC run the routines the owner creates later, and the database's
    comment."""
    return f"""
SELECT d.defaclacl::text,
       d.defaclacl IS NULL OR EXISTS (SELECT FROM aclexplode(d.defaclacl) a
                                      WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE'),
       shobj_description((SELECT oid FROM pg_database WHERE datname = current_database()),
                         'pg_database')
FROM (SELECT oid FROM pg_roles WHERE rolname = {quote_literal(owner)}) r
LEFT JOIN pg_default_acl d
  ON d.defaclrole = r.oid AND d.defaclnamespace = 0 AND d.defaclobjtype = 'f'
"""


def _revoked_by_dba(owner: str) -> str:
    """What a DBA runs to harden a role before grantbridge (what 06 runs too)."""
    return (
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {quote_ident(owner)} "
        "REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC"
    )


#: The database's own comment in case (c): a quote, a second line, and text like a record's.
OWN_COMMENT = 'Sales (from MS_Description); it\'s\nline two: ["not a record"]'


def _own_comment(scratch: Scratch) -> str:
    return f"COMMENT ON DATABASE {quote_ident(scratch.database)} IS {quote_literal(OWN_COMMENT)}"


@pytest.mark.parametrize(
    ("dba_revoked", "own_comment"),
    [(False, False), (True, False), (True, True), (False, True)],
    ids=["builtin-default", "dba-revoked", "dba-revoked-with-comment", "builtin-with-comment"],
)
def test_rollback_restores_public_default_execute_as_it_was(
    scratch: Scratch, tmp_path: Path, dba_revoked: bool, own_comment: bool
) -> None:
    """The plan's owner role exists before the apply: (a) with PostgreSQL's built-in default,
    rollback gives PUBLIC EXECUTE back; (b) after a DBA's own revoke, PUBLIC lacks it after the
    apply and after each rollback; (c) the database's own comment comes back exactly. The
    second apply keeps the first record (else it would list the role 06 itself revoked)."""
    owner = f"{scratch.prefix}_sales_owner"
    before = [f"CREATE ROLE {quote_ident(owner)} NOLOGIN"]
    before += [_revoked_by_dba(owner)] if dba_revoked else []
    before += [_own_comment(scratch)] if own_comment else []
    original, applied = _round_trip(scratch, tmp_path, before, _state_sql(owner))
    assert original[1] is not dba_revoked
    assert original[2] == (OWN_COMMENT if own_comment else None)
    assert applied[:2] == (f"{{{owner}=X/{owner}}}", False)  # PUBLIC's "=X/owner" entry is gone
    lacked = {"privileges": [], "future_routines_of": [owner] if dba_revoked else []}
    record = HARDENING_MARK + json.dumps(lacked)
    assert applied[2] == record + (f"\n{OWN_COMMENT}" if own_comment else "")


def test_rollback_keeps_each_roles_own_revoke(scratch: Scratch, tmp_path: Path) -> None:
    """Two creators in one database, one of them (an odd name: a quote, a space, a newline)
    revoked by a DBA before: the record names exactly that one, and rollback gives PUBLIC back
    EXECUTE for the other only."""
    owner, legacy = f"{scratch.prefix}_sales_owner", f'{scratch.prefix} Legacy "Owner"\nx'
    extra = PgDefaultRevoke(database=scratch.database, owner=legacy)
    revokes = (*scratch.plan.default_revokes, extra)  # validated again: the plan sorts them
    plan = MigrationPlan.model_validate({**scratch.plan.model_dump(), "default_revokes": revokes})
    two = dataclasses.replace(scratch, plan=plan)
    with connect(scratch.dsn, scratch.database) as conn:
        for role in (owner, legacy):
            conn.execute(f"CREATE ROLE {quote_ident(role)} NOLOGIN".encode())
        conn.execute(_revoked_by_dba(legacy).encode())
    legacy_before = _read(two, _state_sql(legacy))
    original, applied = _round_trip(two, tmp_path, [], _state_sql(owner))
    assert (original[1], applied[1], legacy_before[1]) == (True, False, False)
    lacked = {"privileges": [], "future_routines_of": [legacy]}
    assert applied[2] == HARDENING_MARK + json.dumps(lacked)  # JSON: one line, quote escaped
    assert _read(two, _state_sql(legacy)) == legacy_before


def test_rollback_without_the_record_gives_nothing_back(scratch: Scratch, tmp_path: Path) -> None:
    """06 never committed in the database (no record in its comment): a DBA's own revoke stays,
    and the comment is not touched."""
    owner = f"{scratch.prefix}_sales_owner"
    with connect(scratch.dsn, scratch.database) as conn:
        conn.execute(f"CREATE ROLE {quote_ident(owner)} NOLOGIN".encode())
        conn.execute(_revoked_by_dba(owner).encode())
        conn.execute(_own_comment(scratch).encode())
    original = _read(scratch, _state_sql(owner))
    plan_dir = write_plan_dir(tmp_path, scratch.plan)
    rollback = (plan_dir / "sql" / "rollback.sql").read_text(encoding="utf-8")
    run_scripts(scratch.dsn, [("rollback.sql", rollback)])
    assert _read(scratch, _state_sql(owner)) == original
    assert original[1:] == (False, OWN_COMMENT)
