"""The chain walk's permission checks answer as the engine does, with or without the pre-filter.

:class:`mapper.module_reach.Checker` refuses an object outside the engine's
:meth:`~mapper.effective.EffectivePermissions.object_grants` without asking ``explain()``.
Here every principal of an estate is asked about every object and permission both ways, on an
estate holding each way SQL Server allows an object-level permission (step numbers of
:mod:`mapper.effective`): object GRANTs and CONTROL, schema and database GRANTs (6), fixed
roles, ownership of a schema and of an object (4), DENYs through a role (5), column GRANTs,
public's GRANTs, an application role, and dbo and a sysadmin member (2).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.modules import estate_script
from mapper.effective import EffectivePermissions
from mapper.module_findings import allowed
from mapper.module_reach import Checker
from mssql_extract.snapshot import Database, SecuritySnapshot
from mssql_extract.tsql import extract_scripts

NAMES = ("schema_exec", "object_control", "schema_owner", "object_owner", "dbowner", "reader",
         "denied", "columns", "plain", "writer", "admin", "mate1", "mate2")  # fmt: skip
ESTATE = (
    "CREATE DATABASE [D1]\nGO\n"
    + "".join(f"CREATE LOGIN [{n}] WITH PASSWORD = N'x'\nGO\n" for n in NAMES)
    + "ALTER SERVER ROLE [sysadmin] ADD MEMBER [admin]\nGO\nUSE [D1]\nGO\n"
    + "".join(f"CREATE USER [{n}] FOR LOGIN [{n}]\nGO\n" for n in NAMES)
    + """CREATE SCHEMA [s] AUTHORIZATION [dbo]
GO
CREATE SCHEMA [x] AUTHORIZATION [schema_owner]
GO
CREATE TABLE [s].[t] ([id] int, [v] int)
GO
CREATE TABLE [s].[Mixed] ([id] int)
GO
CREATE TABLE [x].[t2] ([id] int)
GO
CREATE PROCEDURE [s].[p1] AS SELECT id FROM s.t
GO
CREATE PROCEDURE [s].[p2] AS EXEC s.p1
GO
CREATE PROCEDURE [x].[p3] AS SELECT id FROM x.t2
GO
ALTER AUTHORIZATION ON OBJECT::[s].[Mixed] TO [object_owner]
GO
CREATE ROLE [runners]
GO
CREATE APPLICATION ROLE [app] WITH PASSWORD = N'x'
GO
ALTER ROLE [runners] ADD MEMBER [denied]
GO
CREATE ROLE [callers]
GO
ALTER ROLE [callers] ADD MEMBER [mate1]
GO
ALTER ROLE [callers] ADD MEMBER [mate2]
GO
GRANT EXECUTE ON OBJECT::[s].[p1] TO [callers]
GO
ALTER ROLE [db_owner] ADD MEMBER [dbowner]
GO
ALTER ROLE [db_datareader] ADD MEMBER [reader]
GO
GRANT EXECUTE ON SCHEMA::[s] TO [schema_exec]
GO
GRANT CONTROL ON OBJECT::[s].[p2] TO [object_control]
GO
GRANT EXECUTE ON OBJECT::[s].[p1] TO [denied]
GO
DENY EXECUTE ON OBJECT::[s].[p1] TO [runners]
GO
GRANT SELECT ON OBJECT::[s].[t] ([id]) TO [columns]
GO
GRANT EXECUTE ON OBJECT::[s].[p2] TO [public]
GO
GRANT SELECT ON OBJECT::[s].[Mixed] TO [app]
GO
GRANT INSERT ON OBJECT::[s].[t] TO [writer]
GO
"""
)
#: What module links ask (and ALTER, which none asks)
PERMISSIONS = ("EXECUTE", "SELECT", "INSERT", "UPDATE", "DELETE", "REFERENCES", "ALTER")


def snapshot_of(tmp_path: Path, text: str) -> SecuritySnapshot:
    script = tmp_path / "estate.sql"
    script.write_text(text, encoding="utf-8")
    return extract_scripts([script], include_definitions=True)


def principals_of(database: Database) -> list[str]:
    return sorted(
        {u.name for u in database.users} | {r.name for r in database.roles}
        | {a.name for a in database.application_roles} | {"public"}
    )  # fmt: skip


def _pairs(snapshot: SecuritySnapshot) -> tuple[int, int, int]:
    """Asks every (principal, object, permission) both ways; counts how often the pre-filter
    answered alone, how often it asked, and how many questions were allowed."""
    perms = EffectivePermissions(snapshot)
    filtered = asked = allowed_count = 0
    for database in snapshot.databases:
        for principal in principals_of(database):
            checker = Checker(perms, database, principal)
            for permission in PERMISSIONS:
                bound = perms.object_grants(database.name, principal, permission)
                for obj in database.objects:
                    plain = allowed(perms, database, principal, obj, permission)
                    assert checker(obj, permission) == plain, (principal, obj.key, permission)
                    assert checker(obj, permission, obj.key) == plain  # remembered: the same
                    folded = {(s.schema_name, s.name) for s in bound or ()}
                    inside = bound is None or (obj.schema_name.lower(), obj.name.lower()) in folded
                    assert inside or not plain, (principal, obj.key, permission)
                    filtered += not inside
                    asked += inside
                    allowed_count += plain
    return filtered, asked, allowed_count


def test_checker_answers_as_the_engine_on_every_way_to_a_permission(tmp_path: Path) -> None:
    filtered, asked, allowed_count = _pairs(snapshot_of(tmp_path, ESTATE))
    assert filtered > 0  # the pre-filter refuses without a question
    assert asked > allowed_count > 0  # and lets questions through, some answered yes


@pytest.mark.parametrize(
    ("principal", "permission", "expected"),
    [
        ("plain", "EXECUTE", {("s", "p2")}),  # public's GRANT
        ("object_control", "EXECUTE", {("s", "p2")}),  # CONTROL implies EXECUTE
        ("denied", "EXECUTE", {("s", "p1"), ("s", "p2")}),  # the DENY is explain()'s to weigh
        ("columns", "SELECT", set()),  # a column GRANT never answers for the table
        ("writer", "SELECT", set()),
        ("schema_exec", "EXECUTE", None),  # a schema GRANT: any object of it may be allowed
        ("reader", "SELECT", None),  # db_datareader: SELECT on the database
        ("dbowner", "EXECUTE", None),  # db_owner: CONTROL on the database
        ("schema_owner", "EXECUTE", None),  # an owner: ownership is explain()'s to weigh
        ("object_owner", "SELECT", None),
        ("dbo", "EXECUTE", None),  # never denied
        ("admin", "SELECT", None),  # a sysadmin member: never denied, and owns nothing
        ("app", "SELECT", {("s", "mixed")}),
    ],
)
def test_object_grants_bound(
    tmp_path: Path, principal: str, permission: str, expected: set[tuple[str, str]] | None
) -> None:
    perms = EffectivePermissions(snapshot_of(tmp_path, ESTATE))
    bound = perms.object_grants("D1", principal, permission)
    assert (None if bound is None else {(s.schema_name, s.name) for s in bound}) == expected


def test_checker_on_a_call_heavy_estate(tmp_path: Path) -> None:
    """The estate of ``python -m bench.modules``, small: users holding EXECUTE directly and
    through roles, a table owner, DENYs through roles."""
    filtered, asked, allowed_count = _pairs(
        snapshot_of(tmp_path, estate_script(24, users=12, tables=15, roles=4))
    )
    assert filtered > asked > allowed_count > 0
