"""Least privilege on random small estates (hypothesis): the plan never gives a user what SQL
Server refuses it.

For each user, what PostgreSQL would let its role do is read off the plan — CONNECT on the
database, and SELECT / INSERT / UPDATE / DELETE on each table, through the role, the roles it
inherits (any depth) and PUBLIC — and every such privilege must be one
:meth:`EffectivePermissions.explain` allows on the snapshot. Schema USAGE is not asked, so the
plan's answers here are, if anything, wider than PostgreSQL's. The rows mix grants and DENYs on
objects, schemas, the database and the server, to users, roles and public, with fixed roles
(db_datareader, db_denydatareader …), in both database modes, including the DENYs whose covered
permissions the plan once ignored (CONTROL, CONNECT REPLICATION and ALTER on the database,
CONTROL SERVER, SELECT ALL USER SECURABLES: tests/mapper/test_deny_covering.py).
"""

from __future__ import annotations

from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mapper.effective import EffectivePermissions, Securable
from mapper.plan import MigrationPlan
from mapper.planner import plan
from mapper.policy import Policy
from mssql_extract.snapshot import Membership, Permission
from tests.mapper.estate import database, login, member, perm, reach, role, snapshot, table, user

USERS = ("alice", "bob", "carol")
TABLES = ("Orders", "Customers")
DML = ("SELECT", "INSERT", "UPDATE", "DELETE")
ROWS = (
    *((p, "OBJECT", {"schema_name": "dbo", "object_name": "Orders"}) for p in (*DML, "CONTROL")),
    *((p, "SCHEMA", {"object_name": "dbo"}) for p in ("SELECT", "UPDATE", "CONTROL", "ALTER")),
    *((p, "DATABASE", {}) for p in ("SELECT", "DELETE", "CONTROL", "CONNECT",
                                    "CONNECT REPLICATION", "ALTER")),
)  # fmt: skip
SERVER_ROWS = (
    ("CONTROL SERVER", "D"), ("CONTROL SERVER", "G"), ("SELECT ALL USER SECURABLES", "D"),
    ("SELECT ALL USER SECURABLES", "G"), ("CONNECT ANY DATABASE", "D"),
)  # fmt: skip
GRANTEES = (*USERS, "r1", "r2", "public")
# members only point "down" the role list, so no cycles
EDGES = (
    ("r1", "alice"), ("r2", "r1"), ("r2", "bob"), ("db_datareader", "alice"),
    ("db_datareader", "r2"), ("db_datawriter", "carol"), ("db_datawriter", "r1"),
    ("db_denydatareader", "bob"), ("db_denydatawriter", "r1"),
)  # fmt: skip

rows = st.builds(
    lambda row, state, grantee: perm(row[0], grantee, row[1], state=state, **row[2]),
    st.sampled_from(ROWS),
    st.sampled_from(("G", "D")),
    st.sampled_from(GRANTEES),
)

server_rows = st.builds(
    lambda row, grantee: perm(row[0], grantee, "SERVER", state=row[1]),
    st.sampled_from(SERVER_ROWS),
    st.sampled_from(USERS),
)


def _snapshot(  # type: ignore[no-untyped-def]
    perms: list[Permission], edges: list[Membership], server: list[Permission]
):
    connect = [perm("CONNECT", name, "DATABASE") for name in USERS]  # CREATE USER grants it
    perms = [*connect, *perms]
    db = database(
        objects=tuple(table("dbo", name, "id", "total") for name in TABLES),
        users=tuple(user(name, name) for name in USERS),
        roles=(role("r1"), role("r2"), *(role(f"db_{r}", fixed=True) for r in
               ("datareader", "datawriter", "denydatareader", "denydatawriter"))),
        memberships=tuple(edges),
        permissions=tuple({p.key: p for p in perms}.values()),
    )  # fmt: skip
    logins = tuple(login(name) for name in USERS)
    return snapshot(
        db, logins=logins, server_permissions=tuple({p.key: p for p in server}.values())
    )


def _inherited(migration: MigrationPlan, role_name: str) -> set[str]:
    return reach(migration, role_name) | {"PUBLIC"}


def _postgres(migration: MigrationPlan, role_name: str) -> set[tuple[str, str]]:
    """(object, privilege) the role may use on the plan's face: its grants, its roles'."""
    roles = _inherited(migration, role_name)
    return {
        (g.name, g.privilege) for g in migration.grants
        if g.grantee in roles and not g.columns and g.object_type in ("TABLE", "DATABASE")
    }  # fmt: skip


@pytest.mark.parametrize("mode", ["database", "schema"])
@settings(max_examples=100, deadline=None)
@given(
    st.lists(rows, max_size=7),
    st.lists(st.sampled_from(EDGES), max_size=4, unique=True),
    st.lists(server_rows, max_size=2),
)
def test_the_plan_gives_no_user_what_sql_server_refuses(
    mode: Literal["database", "schema"],
    perms: list[Permission],
    edges: list[tuple[str, str]],
    server: list[Permission],
) -> None:
    snap = _snapshot(perms, [member(r, m) for r, m in edges], server)
    migration = plan(snap, Policy(database_mode=mode))
    engine = EffectivePermissions(snap)
    (target,) = migration.databases
    for name in USERS:
        held = _postgres(migration, name)
        if (target.name, "CONNECT") in held:
            decision = engine.explain("Sales", name, Securable("DATABASE"), "CONNECT")
            assert decision.allowed, (name, "CONNECT", decision.reason)
        else:
            continue  # no CONNECT: PostgreSQL lets it use nothing in the database
        for obj in TABLES:
            for privilege in DML:
                if (obj.lower(), privilege) in held:
                    on = Securable("OBJECT", "dbo", obj)
                    decision = engine.explain("Sales", name, on, privilege)
                    assert decision.allowed, (name, obj, privilege, decision.reason)
