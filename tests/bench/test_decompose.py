"""bench.decompose: planning one database at a time against the whole (issue 7, scale L)."""

from __future__ import annotations

from bench.decompose import Counts, decompose, merged, parts, report
from bench.generate import generate_snapshot
from bench.scales import Scale
from mapper.planner import plan
from mapper.policy import Policy
from mssql_extract.snapshot import Membership, SecuritySnapshot, SourceRef
from tests.mapper.estate import database, login, member, perm, role, snapshot, user


def two_database_estate(*, sysadmin: bool = False) -> SecuritySnapshot:
    sales = database("Sales", users=(user("app", "app"),),
                     permissions=(perm("SELECT", "app", "SCHEMA", object_name="dbo"),))  # fmt: skip
    hr_rows = [perm("SELECT", "app", schema_name="dbo", object_name="Orders"),
               perm("EXECUTE", "readers", schema_name="dbo", object_name="usp_Report")]  # fmt: skip
    hr = database("HR", users=(user("app", "app"),), roles=(role("readers"),),
                  memberships=(member("readers", "app"),), permissions=tuple(hr_rows))  # fmt: skip
    server: dict[str, object] = {}
    if sysadmin:
        ref = SourceRef(origin="test.sql", line=2)
        server["server_memberships"] = (Membership(role="sysadmin", member="app", source_ref=ref),)
    return snapshot(sales, hr, logins=(login("app"),), **server)


def _differing(counts: Counts, kind: str) -> dict[str, int]:
    return {cause: n for cause, n in counts[kind].items() if cause != "total" and n}


def test_independent_databases_plan_the_same_one_at_a_time() -> None:
    estate = two_database_estate()
    counts = decompose(estate, Policy())
    assert counts["grants"]["total"] > 0
    assert counts["memberships"]["total"] == 1
    assert all(not _differing(counts, kind) for kind in counts), report(counts)
    roles = merged(parts(estate, Policy()))["roles"]
    assert roles["role:app"].facts == ("HR/user:app", "Sales/user:app", "server/login:app")


def test_a_part_is_named_as_in_the_whole_estate() -> None:
    estate = two_database_estate()
    hr_alone = estate.model_copy(update={"databases": estate.databases[:1]})
    assert hr_alone.databases[0].name == "HR"
    assert "hr_readers" in {r.name for r in plan(hr_alone, Policy(), part_of=2).roles}
    assert "readers" in {r.name for r in plan(hr_alone, Policy()).roles}  # one database: bare


def test_a_sysadmin_member_couples_the_databases() -> None:
    counts = decompose(two_database_estate(sysadmin=True), Policy())
    # GB002's action and the membership's disposition list every database's db_owner role
    assert _differing(counts, "findings") == {"server fact": 1}, report(counts)
    assert _differing(counts, "dispositions") == {"server fact": 1}, report(counts)
    assert not _differing(counts, "grants")


def test_a_login_whose_column_grant_outlives_a_table_deny_is_not_split() -> None:
    # a generated estate where a login's column GRANT outlives its role's table DENY (SQL
    # Server's documented exception) in one database: its own DENYs met its own grants already,
    # so its role is not split (it was, into <login>_common holding its grants in every
    # database, and <login>_part_…, which the login joined again)
    estate = generate_snapshot(Scale("decompose", databases=3, principals=200,
                                     permission_rows=6_000), seed=3)  # fmt: skip
    counts = decompose(estate, Policy())
    for kind in ("roles", "memberships", "grants", "default_privileges", "default_revokes"):
        assert not _differing(counts, kind), report(counts)
    assert counts["grants"]["total"] > 10_000
