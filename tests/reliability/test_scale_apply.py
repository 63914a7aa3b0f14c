"""Idempotence, atomicity and rollback on generated estates (issue 8, item 5), CI-sized.

The estates come from the benchmark generator (``bench.generate``): one database with 80
principals and 1,500 permission rows (roles nested five deep, DENYs, column grants), and XS (two
databases, so the apply is one transaction per script section). On each, with the checks of
``tests/reliability/scale_apply.py`` (the runner for the benchmark's M estate and any other
scale — see its docstring; the catalog is read by ``catalog.py``): applying twice leaves the
catalog byte-identical; ``rollback.sql`` gives back the state before the apply; a failure
injected before a seeded random statement leaves the catalog exactly as before (for two
databases: as after the sections that committed before the failing one), and ``rollback.sql``
then gives back the state before.

Rollback is compared with ACLs read through ``acldefault()`` — PostgreSQL never turns an ACL back
into NULL, so an object whose ACL was NULL has the same privileges spelled out after rollback;
``test_the_normalized_catalog_is_acldefault`` shows what that does and does not forgive.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pglast
import pytest

from bench.scales import Scale, get_scale
from mapper.plan import MigrationPlan, PgDatabase
from pg_emit.apply import APPLY_ORDER, apply_plan_dir
from pg_emit.psql import parse_script
from pg_emit.render import render_sql
from pg_emit.server import connect
from tests.reliability.catalog import Catalog, read_catalog
from tests.reliability.scale_apply import (
    FAILING,
    ROLLBACK,
    check_apply_twice,
    check_failure,
    check_rollback,
    inject_failure,
)
from tests.reliability.target import Target, estate_plan, unique_prefix, write_plan_dir

pytestmark = pytest.mark.postgres

SCALES = (Scale("reliability", databases=1, principals=80, permission_rows=1_500), get_scale("XS"))


@dataclass(frozen=True)
class Estate:
    scale: Scale
    target: Target
    scripts: dict[str, str]
    before: Catalog

    @property
    def plan(self) -> MigrationPlan:
        return self.target.plan


@pytest.fixture(scope="module", params=SCALES, ids=[s.name for s in SCALES])
def estate(request: pytest.FixtureRequest, embedded_pg: str) -> Iterator[Estate]:
    """The estate's databases and stubs on the embedded server, and its catalog before apply."""
    # a unique prefix: other tests leave their own databases on the shared server
    plan = estate_plan(request.param, seed=8, prefix=unique_prefix())
    target = Target(embedded_pg, plan)
    try:
        target.create()
        yield Estate(request.param, target, render_sql(plan), read_catalog(embedded_pg, plan))
    finally:
        target.drop()


@pytest.fixture
def fresh(estate: Estate) -> Estate:
    """The estate on a fresh copy of its databases."""
    estate.target.reset()
    return estate


def test_the_generated_estate_is_substantial(estate: Estate) -> None:
    assert len(estate.plan.grants) > 300
    assert any(r.kind == "derived" for r in estate.plan.roles)  # DENYs were restructured
    assert estate.before.acl_entries > 50
    assert len(estate.plan.databases) == estate.scale.databases


def test_a_fresh_copy_is_the_state_before(fresh: Estate, tmp_path: Path) -> None:
    apply_plan_dir(write_plan_dir(tmp_path, fresh.plan), fresh.target.dsn)
    fresh.target.reset()
    assert fresh.before.differences(read_catalog(fresh.target.dsn, fresh.plan)) == []


def test_apply_twice_is_identical(fresh: Estate, tmp_path: Path) -> None:
    check = check_apply_twice(fresh.target, write_plan_dir(tmp_path, fresh.plan), fresh.before)
    assert check.differences == ()
    assert check.rows > len(fresh.before.rows)  # the apply added rows (roles, memberships)


def test_rollback_gives_back_the_state_before(fresh: Estate, tmp_path: Path) -> None:
    apply_plan_dir(write_plan_dir(tmp_path, fresh.plan), fresh.target.dsn)
    assert fresh.before.differences(read_catalog(fresh.target.dsn, fresh.plan), normalized=True)
    check = check_rollback(fresh.target, fresh.scripts, fresh.before, "rollback")
    assert check.differences == ()
    again = check_rollback(fresh.target, fresh.scripts, fresh.before, "rollback twice")
    assert again.differences == ()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_failure_at_a_random_statement_leaves_the_catalog_unchanged(
    estate: Estate, seed: int
) -> None:
    failure, recovered = check_failure(estate.target, estate.scripts, seed, estate.before)
    assert failure.differences == (), failure.name
    assert recovered.differences == (), recovered.name


def test_the_failure_is_where_the_seed_says(estate: Estate) -> None:
    injection = inject_failure(estate.scripts, 2)
    failing = dict(injection.scripts)[injection.script]
    assert "grantbridge_no_such_table" in failing.splitlines()[injection.line - 1]
    original = estate.scripts[injection.script]
    offset = len("".join(original.splitlines(keepends=True)[: injection.line - 1]))
    assert failing == original[:offset] + FAILING + original[offset:]
    # what commits first: the scripts before, and this one up to the failing section's BEGIN
    committed = dict(injection.committed)
    assert list(committed) == [n for n in APPLY_ORDER if n <= injection.script]
    cut = committed[injection.script]
    assert original.startswith(cut)
    assert original[len(cut) :].startswith("BEGIN;\n")
    assert "COMMIT;" not in original[len(cut) : offset]
    assert injection == inject_failure(estate.scripts, 2)
    assert ROLLBACK not in dict(injection.scripts)


def test_the_normalized_catalog_is_acldefault(embedded_pg: str) -> None:
    """NULL and PostgreSQL's default spelled out compare equal; any other change does not."""
    name = f"gbacl{uuid.uuid4().hex[:8]}"
    with connect(embedded_pg) as conn:
        user = str(conn.execute("SELECT current_user").fetchone()[0])  # type: ignore[index]
        conn.execute(f'CREATE DATABASE "{name}"'.encode())
    plan = MigrationPlan(
        fingerprint="test", target="postgresql", databases=(PgDatabase(name=name, owner=user),)
    )
    try:
        with connect(embedded_pg, name) as conn:
            conn.execute("CREATE TABLE t (a int)")
            conn.execute("CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'")
        before = read_catalog(embedded_pg, plan)
        with connect(embedded_pg, name) as conn:  # NULL → the same privileges spelled out
            conn.execute("GRANT SELECT ON t TO PUBLIC")
            conn.execute("REVOKE SELECT ON t FROM PUBLIC")
            conn.execute("REVOKE EXECUTE ON FUNCTION f() FROM PUBLIC")
            conn.execute("GRANT EXECUTE ON FUNCTION f() TO PUBLIC")
        spelled = read_catalog(embedded_pg, plan)
        assert len(before.differences(spelled)) == 2  # the exact text differs: t and f
        assert before.differences(spelled, normalized=True) == []
        for change in (
            "GRANT SELECT ON t TO PUBLIC",  # a grant
            "REVOKE TRUNCATE ON t FROM CURRENT_USER",  # the owner's own entry
            "GRANT SELECT ON t TO pg_monitor",  # a grant to a role
            "GRANT SELECT ON t TO pg_monitor WITH GRANT OPTION",  # an option
            "REVOKE EXECUTE ON FUNCTION f() FROM PUBLIC",  # a default taken away
        ):
            with connect(embedded_pg, name) as conn:
                conn.execute(change.encode())
            changed = read_catalog(embedded_pg, plan)
            assert before.differences(changed, normalized=True), change
            assert len(spelled.differences(changed, normalized=True)) == 1, change
            spelled = changed
    finally:
        with connect(embedded_pg) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


def test_rollback_gives_public_create_on_schema_public_back_only_if_it_had_it(
    estate: Estate,
) -> None:
    """06 revokes it everywhere (a no-op from 15 on); giving it back on 15+ would add a right.
    Rollback gives it back only from 06's record, where PUBLIC had it before the apply."""
    rollback = estate.scripts[ROLLBACK]
    assert "GRANT CREATE ON SCHEMA public TO PUBLIC" not in rollback
    recorded = "NOT (lacked -> 'privileges') ?"
    assert rollback.count(recorded) == estate.scale.databases
    assert rollback.count("('CREATE', 'SCHEMA', 'public')") == estate.scale.databases
    for section in parse_script(rollback, ROLLBACK):
        for statement in section.statements:
            pglast.parse_sql(statement)
