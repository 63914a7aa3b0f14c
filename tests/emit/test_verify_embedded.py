"""``verify`` on the embedded server: roles once, committed; the same mismatches as a live target.

The embedded path commits ``01_roles.sql`` / ``02_memberships.sql`` once before the databases
(pg_emit/verify.py); the live path (``--dsn``) runs them again in every database's rolled-back
transaction. Both run here on the session's embedded server, on a plan with two databases, and
must report exactly the same mismatches — none for the plan as rendered, the same ones for
scripts that lost a membership and one database's grant.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator

import pytest

from mapper.plan import MigrationPlan
from pg_emit import verify
from pg_emit.compare import Mismatch
from pg_emit.render import render_sql
from pg_emit.server import connect
from tests.emit.builders import realistic_plan
from tests.emit.conftest import _cleanup

pytestmark = pytest.mark.postgres

PER_DATABASE = ("databases", "schemas", "objects", "grants", "revokes", "default_privileges",
                "routine_security", "view_security", "row_security")  # fmt: skip


def two_database_plan(prefix: str) -> MigrationPlan:
    """The realistic plan in two databases, ``<prefix>_hr`` and ``<prefix>_sales``, one set of roles."""
    data = realistic_plan(prefix, f"{prefix}_sales").model_dump()
    other = realistic_plan(prefix, f"{prefix}_hr").model_dump()
    return MigrationPlan.model_validate(data | {f: [*data[f], *other[f]] for f in PER_DATABASE})


@pytest.fixture
def prefix(embedded_pg: str) -> Iterator[str]:
    """A unique role and database prefix; its databases and roles are dropped afterwards."""
    name = f"gbv{uuid.uuid4().hex[:8]}"
    try:
        yield name
    finally:
        for database in ("hr", "sales"):
            _cleanup(embedded_pg, name, f"{name}_{database}")


def _roles(dsn: str, prefix: str) -> dict[str, int]:
    """The committed roles named ``prefix…`` and their OIDs, seen from a separate session."""
    with connect(dsn) as conn:
        rows = conn.execute(
            "SELECT rolname, oid FROM pg_roles WHERE starts_with(rolname, %s)", [prefix]
        ).fetchall()
    return dict(rows)


def _run(
    monkeypatch: pytest.MonkeyPatch, dsn: str, prefix: str, *, embedded: bool
) -> tuple[list[Mismatch], int, list[dict[str, int]]]:
    """verify_plan's mismatches, how often it took the cluster-wide statements, and the
    committed roles another session sees as each database's verification starts."""
    plan = two_database_plan(prefix)
    calls: list[bool] = []
    real: Callable[[verify.Statements, str, bool], list[str]] = verify._statements

    def counting(scripts: verify.Statements, database: str, cluster: bool) -> list[str]:
        calls.append(cluster)
        return real(scripts, database, cluster)

    monkeypatch.setattr(verify, "_statements", counting)
    seen: list[dict[str, int]] = []

    def log(_message: str) -> None:
        seen.append(_roles(dsn, prefix))

    found = verify.verify_plan(plan, dsn, embedded=embedded, log=log)
    assert _roles(dsn, prefix) == {}  # nothing is left behind, either way
    return found, calls.count(True), seen


def test_embedded_commits_the_roles_once(
    monkeypatch: pytest.MonkeyPatch, embedded_pg: str, prefix: str
) -> None:
    planned = {r.name for r in two_database_plan(prefix).roles if r.name.startswith(prefix)}
    found, cluster_runs, seen = _run(monkeypatch, embedded_pg, prefix, embedded=True)
    assert found == []
    assert cluster_runs == 1
    assert len(seen) == 2
    assert seen[0] == seen[1]  # the same roles, with the same OIDs, in both databases
    assert set(seen[0]) == planned

    found, cluster_runs, seen = _run(monkeypatch, embedded_pg, prefix, embedded=False)
    assert found == []
    assert cluster_runs == 2  # live target: once per database, rolled back each time
    assert seen == [{}, {}]


def _statement(sql: str) -> re.Pattern[str]:
    """``sql`` as a whole line of a script, ended by ``;`` or a batch's ``\\;`` (not matched)."""
    return re.compile("\n" + re.escape(sql) + r"(?=;$| \\;$)", re.M)


def _broken(prefix: str) -> Callable[[MigrationPlan], dict[str, str]]:
    """render_sql without one membership (cluster-wide) and one grant of ``<prefix>_sales``.

    Each is replaced by ``SELECT 1``, keeping its terminator (``;`` or a batch's ``\\;``).
    """

    def render(plan: MigrationPlan) -> dict[str, str]:
        scripts = render_sql(plan)
        membership = _statement(f"GRANT {prefix}_sales_reader TO {prefix}_alice, {prefix}_app")
        grant = _statement(f"GRANT USAGE ON SEQUENCE sales.order_seq TO {prefix}_sales_writer")
        privileges = scripts["sql/04_privileges.sql"]
        assert len(membership.findall(scripts["sql/02_memberships.sql"])) == 1
        found = list(grant.finditer(privileges))
        assert len(found) == 2  # the second one is <prefix>_sales's
        assert privileges.index(f'\\connect "{prefix}_sales"') < found[1].start()
        scripts["sql/02_memberships.sql"] = membership.sub(
            "\nSELECT 1", scripts["sql/02_memberships.sql"]
        )
        last = found[1]
        scripts["sql/04_privileges.sql"] = (
            privileges[: last.start()] + "\nSELECT 1" + privileges[last.end() :]
        )
        return scripts

    return render


def test_embedded_reports_what_a_live_target_reports(
    monkeypatch: pytest.MonkeyPatch, embedded_pg: str, prefix: str
) -> None:
    monkeypatch.setattr(verify, "render_sql", _broken(prefix))
    embedded, _, _ = _run(monkeypatch, embedded_pg, prefix, embedded=True)
    live, _, _ = _run(monkeypatch, embedded_pg, prefix, embedded=False)
    assert embedded == live
    catalog = {(m.kind, m.database, m.subject, m.status) for m in embedded if m.kind != "effective"}
    assert catalog == {
        ("membership", "", f"{prefix}_alice in {prefix}_sales_reader", "missing"),
        ("membership", "", f"{prefix}_app in {prefix}_sales_reader", "missing"),
        ("acl", f"{prefix}_sales", f"SEQUENCE sales.order_seq USAGE to {prefix}_sales_writer",
         "missing"),
    }  # fmt: skip
    effective = {(m.database, m.subject) for m in embedded if m.kind == "effective"}
    assert (f"{prefix}_sales", f"{prefix}_sales_writer: USAGE on SEQUENCE sales.order_seq") in effective  # fmt: skip
    assert (f"{prefix}_hr", f"{prefix}_alice: SELECT on TABLE sales.orders") in effective
    assert not any(db == f"{prefix}_hr" and "order_seq" in what for db, what in effective)
    assert all(m.status == "missing" for m in embedded)
