"""End-to-end fidelity: PostgreSQL's answers equal SQL Server's effective answers (mapper).

For every (database user, object, privilege) of a small estate, ``has_*_privilege`` on the
applied plan must equal ``EffectivePermissions.explain``; principals whose facts were
downscoped, approximated, not applicable or excluded are exceptions, printed by kind.
"""

from __future__ import annotations

from collections import Counter

import pytest

from mapper.effective import EffectivePermissions, Securable
from mapper.plan import Disposition, MigrationPlan
from mapper.planner import plan
from mapper.policy import Policy
from mapper.quoting import quote_qualified
from pg_emit.render import render_sql
from pg_emit.verify import applied, ensure_databases
from tests.mapper import estate

pytestmark = pytest.mark.postgres

EXCEPTIONS = {Disposition.DOWNSCOPED, Disposition.APPROXIMATED, Disposition.NOT_APPLICABLE,
              Disposition.EXCLUDED}  # fmt: skip
CHECKS = {"table": ("SELECT", "INSERT", "UPDATE", "DELETE"), "procedure": ("EXECUTE",)}


def _snapshot():  # type: ignore[no-untyped-def]
    db = estate.database(
        "Fidelity",
        users=(estate.user("app", "fid_app"), estate.user("rep", "fid_rep"),
               estate.user("boss", "fid_boss")),
        roles=(estate.role("reader"), estate.role("db_owner", fixed=True),
               estate.role("db_datareader", fixed=True)),
        memberships=(estate.member("reader", "app"), estate.member("db_datareader", "rep"),
                     estate.member("db_owner", "boss")),
        permissions=(
            estate.perm("SELECT", "reader", schema_name="dbo", object_name="Orders"),
            estate.perm("EXECUTE", "app", schema_name="dbo", object_name="usp_Report"),
            estate.perm("UPDATE", "app", schema_name="dbo", object_name="Customers"),
            estate.perm("SELECT", "rep", state="D", schema_name="dbo", object_name="Customers"),
        ),
    )  # fmt: skip
    logins = tuple(estate.login(n) for n in ("fid_app", "fid_rep", "fid_boss"))
    return estate.snapshot(db, logins=logins)


def _role_of(migration: MigrationPlan, user: str) -> str:
    return next(r.name for r in migration.roles if f"Fidelity/user:{user}" in r.facts)


def _exceptions(migration: MigrationPlan, user: str) -> set[str]:
    return {
        d.disposition.value for d in migration.dispositions
        if d.disposition in EXCEPTIONS and user in d.fact.lower()
    }  # fmt: skip


def test_postgres_answers_equal_sql_server(embedded_pg: str) -> None:
    snapshot = _snapshot()
    migration = plan(snapshot, Policy())
    engine = EffectivePermissions(snapshot)
    ensure_databases(embedded_pg, migration, create=True)
    (database,) = {d.name for d in migration.databases}
    disagreements, exceptions = [], Counter[str]()
    answers: set[tuple[str, str, str, bool]] = set()
    with applied(embedded_pg, migration, render_sql(migration), database) as conn:
        for user in ("app", "rep", "boss"):
            role = _role_of(migration, user)
            for obj in migration.objects:
                for privilege in CHECKS.get(obj.kind, ()):
                    source = Securable("OBJECT", obj.schema_name, obj.name)
                    want = engine.explain("Fidelity", user, source, privilege).allowed
                    # the stub of a routine named alone has no arguments
                    stub = "()" if obj.kind == "procedure" else ""
                    target = quote_qualified(obj.schema_name, obj.name) + (obj.signature or stub)
                    function = (
                        "has_function_privilege"
                        if obj.kind == "procedure"
                        else "has_table_privilege"
                    )
                    row = conn.execute(
                        f"SELECT {function}(%s, %s, %s)".encode(), [role, target, privilege]
                    ).fetchone()
                    assert row is not None
                    answers.add((user, obj.name, privilege, bool(row[0])))
                    if bool(row[0]) == want:
                        continue
                    kinds = _exceptions(migration, user)
                    if kinds:
                        exceptions.update(kinds)
                    else:
                        disagreements.append((user, obj.name, privilege, want))
    print("exceptions by kind:", dict(sorted(exceptions.items())))
    assert disagreements == []
    assert len(answers) == 3 * (2 * 4 + 1)
    assert ("rep", "customers", "SELECT", False) in answers  # the DENY holds
    assert ("boss", "orders", "DELETE", True) in answers  # db_owner, downscoped to DML
