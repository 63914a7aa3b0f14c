"""Role LOGIN and attributes: ``inspect`` reads them, ``verify`` and ``drift`` compare them both
ways, and ``drift``'s script puts them back (the planned ones in either mode; taking away the
unplanned ones, ``--authoritative`` only). Predefined roles and the connected role are left
alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from grantbridge.cli import main
from mapper.plan import MigrationPlan, PgRole, RoleKind
from pg_emit.apply import apply_plan_dir, run_scripts
from pg_emit.compare import Mismatch, compare_roles, role_attributes
from pg_emit.drift import drift
from pg_emit.inspect import inspect_server
from pg_emit.server import connect
from pg_emit.verify import verify_plan
from tests.emit.conftest import Scratch, write_plan_dir

#: Every attribute ``inspect`` reports, and the CREATE ROLE options that give them.
EVERY_ATTRIBUTE = ("BYPASSRLS", "CONNECTION LIMIT 3", "CREATEDB", "CREATEROLE", "NOINHERIT",
                   "REPLICATION", "SUPERUSER")  # fmt: skip

#: What the writer role of :func:`with_attributes` is planned with.
PLANNED = ("CREATEROLE", "NOINHERIT", "CONNECTION LIMIT 5")


def _plan(roles: tuple[PgRole, ...]) -> MigrationPlan:
    return MigrationPlan(fingerprint="test", target="postgresql", roles=roles)


def role_mismatches(mismatches: list[Mismatch]) -> set[tuple[str, str, str]]:
    return {(m.subject, m.status, m.detail) for m in mismatches if m.kind == "role"}


def with_attributes(scratch: Scratch) -> MigrationPlan:
    """The scratch plan, its writer role planned with :data:`PLANNED`."""
    writer = f"{scratch.prefix}_sales_writer"
    roles = tuple(
        r.model_copy(update={"attributes": PLANNED}) if r.name == writer else r
        for r in scratch.plan.roles
    )
    return scratch.plan.model_copy(update={"roles": roles})


def _drift_cli(plan_dir: Path, dsn: str, *options: str) -> int:
    return main(["drift", str(plan_dir), "--dsn", dsn, *options])


# ---------------------------------------------------------------- comparison, no server


def test_defaults_and_spellings_ask_for_nothing_more() -> None:
    asked = ("INHERIT", "nosuperuser", "CONNECTION LIMIT -1", "createdb", "connection  limit 5")
    assert role_attributes(asked) == {"CREATEDB", "CONNECTION LIMIT 5"}


def test_attributes_are_compared_both_ways() -> None:
    plan = _plan((PgRole(name="dev", kind=RoleKind.LOGIN, login=True, attributes=("CREATEDB",)),))
    live = _plan((PgRole(name="dev", kind=RoleKind.LOGIN, login=False,
                         attributes=("SUPERUSER", "NOINHERIT")),))  # fmt: skip
    assert role_mismatches(compare_roles(plan, live)) == {
        ("dev", "different", "planned LOGIN"),
        ("dev", "missing", "attribute CREATEDB"),
        ("dev", "extra", "attribute NOINHERIT"),
        ("dev", "extra", "attribute SUPERUSER"),
    }


def test_predefined_roles_and_the_connected_role_are_left_alone() -> None:
    plan = _plan((PgRole(name="rds_superuser", kind=RoleKind.PREDEFINED),
                  PgRole(name="admin", kind=RoleKind.LOGIN, login=False)))  # fmt: skip
    live = _plan((PgRole(name="rds_superuser", kind=RoleKind.GROUP, attributes=("CREATEROLE",)),
                  PgRole(name="admin", kind=RoleKind.LOGIN, login=True,
                         attributes=("SUPERUSER",))))  # fmt: skip
    assert compare_roles(plan, live, applier="admin") == []
    assert role_mismatches(compare_roles(plan, live)) == {
        ("admin", "different", "planned NOLOGIN"),
        ("admin", "extra", "attribute SUPERUSER"),
    }


# ---------------------------------------------------------------- on PostgreSQL

postgres = pytest.mark.postgres


@postgres
def test_inspect_reads_every_attribute(scratch: Scratch) -> None:
    name = f"{scratch.prefix}_every"
    with connect(scratch.dsn) as conn:
        conn.execute(f"CREATE ROLE {name} NOLOGIN {' '.join(EVERY_ATTRIBUTE)}".encode())
    [role] = [r for r in inspect_server(scratch.dsn, []).roles if r.name == name]
    assert sorted(role.attributes) == sorted(EVERY_ATTRIBUTE)


@postgres
@pytest.mark.parametrize("embedded", [False, True], ids=["live", "embedded"])
def test_verify_reports_attributes_of_a_role_that_existed(scratch: Scratch, embedded: bool) -> None:
    """01 creates only the roles that are absent: a role that exists keeps its attributes, and
    verify says how they differ from the plan."""
    reader, writer = f"{scratch.prefix}_sales_reader", f"{scratch.prefix}_sales_writer"
    with connect(scratch.dsn) as conn:
        conn.execute(f"CREATE ROLE {reader} NOLOGIN CREATEDB BYPASSRLS".encode())
        conn.execute(f"CREATE ROLE {writer} NOLOGIN".encode())
    found = verify_plan(with_attributes(scratch), scratch.dsn, embedded=embedded)
    assert role_mismatches(found) == {
        (reader, "extra", "attribute BYPASSRLS"),
        (reader, "extra", "attribute CREATEDB"),
        (writer, "missing", "attribute CONNECTION LIMIT 5"),
        (writer, "missing", "attribute CREATEROLE"),
        (writer, "missing", "attribute NOINHERIT"),
    }


@postgres
def test_verify_passes_with_planned_attributes(scratch: Scratch) -> None:
    assert verify_plan(with_attributes(scratch), scratch.dsn, embedded=False) == []


@postgres
def test_drift_restores_login_and_attributes(scratch: Scratch, tmp_path: Path) -> None:
    """Additive: the planned LOGIN comes back, nothing is taken away. Authoritative (the CLI's
    ``--authoritative -o``): one run of the script and drift finds nothing."""
    plan_dir = write_plan_dir(tmp_path / "plan", scratch.plan)
    apply_plan_dir(plan_dir, scratch.dsn)
    reader, writer = f"{scratch.prefix}_sales_reader", f"{scratch.prefix}_sales_writer"
    alice = f"{scratch.prefix}_alice"
    with connect(scratch.dsn) as conn:
        conn.execute(f"ALTER ROLE {reader} {' '.join(EVERY_ATTRIBUTE)}".encode())
        conn.execute(f"ALTER ROLE {writer} LOGIN".encode())
        conn.execute(f"ALTER ROLE {alice} NOLOGIN".encode())
    taken = {(reader, "extra", f"attribute {a}") for a in EVERY_ATTRIBUTE}
    taken.add((writer, "different", "planned NOLOGIN"))
    mismatches, additive = drift(scratch.plan, scratch.dsn)
    assert role_mismatches(mismatches) == taken | {(alice, "different", "planned LOGIN")}
    assert f"ALTER ROLE {alice} LOGIN" in additive
    assert "NOLOGIN" not in additive
    assert "NOSUPERUSER" not in additive
    run_scripts(scratch.dsn, [("drift.sql", additive)])
    assert role_mismatches(drift(scratch.plan, scratch.dsn)[0]) == taken

    script = tmp_path / "d.sql"
    assert _drift_cli(plan_dir, scratch.dsn, "--authoritative", "-o", str(script)) == 3
    text = script.read_text(encoding="utf-8")
    assert (
        f"ALTER ROLE {reader} CONNECTION LIMIT -1 INHERIT NOBYPASSRLS NOCREATEDB NOCREATEROLE "
        "NOREPLICATION NOSUPERUSER" in text
    )
    assert f"ALTER ROLE {writer} NOLOGIN" in text
    run_scripts(scratch.dsn, [("d.sql", text)])
    assert _drift_cli(plan_dir, scratch.dsn) == 0
    assert drift(scratch.plan, scratch.dsn, authoritative=True)[0] == []


@postgres
def test_additive_drift_gives_the_planned_attributes_back(scratch: Scratch, tmp_path: Path) -> None:
    """A planned attribute is an addition: the additive script gives it back, and a planned
    connection limit replaces the one found."""
    plan = with_attributes(scratch)
    apply_plan_dir(write_plan_dir(tmp_path, plan), scratch.dsn)
    writer = f"{scratch.prefix}_sales_writer"
    with connect(scratch.dsn) as conn:
        conn.execute(f"ALTER ROLE {writer} NOCREATEROLE INHERIT CONNECTION LIMIT 2".encode())
    mismatches, additive = drift(plan, scratch.dsn)
    assert role_mismatches(mismatches) == {
        (writer, "missing", "attribute CONNECTION LIMIT 5"),
        (writer, "missing", "attribute CREATEROLE"),
        (writer, "missing", "attribute NOINHERIT"),
        (writer, "extra", "attribute CONNECTION LIMIT 2"),
    }
    assert f"ALTER ROLE {writer} CONNECTION LIMIT 5 CREATEROLE NOINHERIT" in additive
    _, authoritative = drift(plan, scratch.dsn, authoritative=True)
    assert f"ALTER ROLE {writer} CONNECTION LIMIT 5 CREATEROLE NOINHERIT;" in authoritative
    run_scripts(scratch.dsn, [("drift.sql", additive)])
    assert drift(plan, scratch.dsn, authoritative=True)[0] == []


@postgres
def test_drift_never_alters_the_connected_role(scratch: Scratch) -> None:
    """A plan that names the role drift connects as (here a superuser) as a plain NOLOGIN
    role: no mismatch and no ALTER ROLE that would lock it out."""
    with connect(scratch.dsn) as conn:
        me = str(conn.execute("SELECT session_user").fetchone()[0])  # type: ignore[index]
    plan = scratch.plan.model_copy(
        update={"roles": (*scratch.plan.roles, PgRole(name=me, kind=RoleKind.GROUP))}
    )
    mismatches, script = drift(plan, scratch.dsn, authoritative=True)
    assert not [m for m in mismatches if m.kind == "role" and m.subject == me]
    assert f"ALTER ROLE {me}" not in script
