"""The example estate extracts completely, with the facts its README promises."""

from __future__ import annotations

from pathlib import Path

import pytest

from mssql_extract.snapshot import SecuritySnapshot
from mssql_extract.tsql import extract_scripts
from tests.conftest import CONTOSO


@pytest.fixture(scope="module")
def contoso() -> SecuritySnapshot:
    return extract_scripts([CONTOSO])


def _db(s: SecuritySnapshot, name: str):  # type: ignore[no-untyped-def]
    found = s.database(name)
    assert found is not None
    return found


def test_every_statement_is_read(contoso: SecuritySnapshot) -> None:
    assert [x for x in contoso.skipped if x.kind == "error"] == []
    assert {d.name for d in contoso.databases} == {"Sales", "HR", "Reporting"}


def test_server_facts(contoso: SecuritySnapshot) -> None:
    logins = {x.name: x for x in contoso.logins}
    assert logins["sa"].disabled
    assert logins["old_vendor"].disabled
    assert logins["sales_app"].sid == "0x76BE217AE4FA674FF22C460EAB6B4D46"
    members = {(m.role, m.member) for m in contoso.server_memberships}
    assert ("sysadmin", "CONTOSO\\DBAs") in members
    assert ("securityadmin", "CONTOSO\\jdoe") in members
    perms = {(p.permission, p.grantee) for p in contoso.server_permissions}
    assert ("VIEW SERVER STATE", "monitor_agent") in perms


def test_sales_facts(contoso: SecuritySnapshot) -> None:
    sales = _db(contoso, "Sales")
    users = {u.name: u for u in sales.users}
    assert users["old_app"].orphaned
    assert users["old_app"].login is None
    assert users["sales_app"].login == "sales_app"
    assert not users["sales_app"].orphaned
    perms = {(p.object_name, p.column_name, p.permission, p.state.value, p.grantee)
             for p in sales.permissions}  # fmt: skip
    assert ("CustomerCards", None, "SELECT", "D", "sales_staff") in perms
    assert ("CustomerCards", "Last4", "SELECT", "G", "sales_staff") in perms
    assert ("Products", None, "SELECT", "W", "sales_managers") in perms
    masked = {(m.table_name, m.column_name) for m in sales.masked_columns}
    assert ("Customers", "Email") in masked
    objects = {o.name: o for o in sales.objects}
    assert objects["usp_PlaceOrder"].execute_as == "OWNER"
    assert objects["Leads"].owner == "sales_bot"
    assert objects["vw_OrderSummary"].columns[:3] == ("OrderId", "OrderDate", "CustomerName")
    assert len(sales.security_policies[0].predicates) == 2
    assert _db(contoso, "Reporting").trustworthy


def test_round_trip_byte_identical(contoso: SecuritySnapshot, tmp_path: Path) -> None:
    text = contoso.to_json()
    assert SecuritySnapshot.from_json(text).to_json() == text
    assert extract_scripts([CONTOSO]).to_json() == text  # deterministic
