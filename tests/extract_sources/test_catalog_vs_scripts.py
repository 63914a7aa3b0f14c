"""Captured catalog rows and the T-SQL scripts of contoso give the same facts.

Differences allowed, each for a stated reason (anything else fails, and every difference is
printed):

* a field the scripts leave unknown (``None``): Windows SIDs, grantors, default languages,
  collations, owner SIDs are not in the scripts;
* ``missing_login``, the login an orphaned user was created for: the scripts name it, the
  catalog holds only the user's SID, which matches no login;
* ``CREATE LOGIN … FROM WINDOWS`` does not say user or group: a script WINDOWS_LOGIN /
  WINDOWS_USER may be a catalog WINDOWS_GROUP, and the script marks it ``type_inferred``;
* facts SQL Server creates by itself: ``CONNECT SQL`` for each login, ``CONNECT`` for each user,
  the default grants of ``public``, the logins SQL Server setup creates (``NT SERVICE\\…``,
  ``NT AUTHORITY\\…``), and ``sa`` (its membership in sysadmin; the scripts only disable it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mssql_extract import tsql
from mssql_extract.catalog import snapshot_from_rows
from mssql_extract.catalog_document import extract_catalog_json
from mssql_extract.snapshot import SecuritySnapshot
from tests.conftest import CONTOSO
from tests.extract_sources.support import catalog_document, facts, load_rows

WINDOWS_GROUP_ALIASES = {("WINDOWS_GROUP", "WINDOWS_LOGIN"), ("WINDOWS_GROUP", "WINDOWS_USER")}
SETUP_PREFIXES = ("nt service\\", "nt authority\\")
PUBLIC_DEFAULTS = {
    "server:view any database:public:grant",
    "database:view any column encryption key definition:public:grant",
    "database:view any column master key definition:public:grant",
}


def implicit(key: str, fact: dict[str, Any]) -> bool:
    """True for a catalog-only fact that SQL Server creates by itself."""
    tail = key.rsplit("/", 1)[-1]
    if fact.get("permission") in {"CONNECT SQL", "CONNECT"} and fact.get("grantor") in {
        "sa",
        "dbo",
    }:
        return fact["securable_class"] in {"SERVER", "DATABASE"} or fact["grantee"] == "public"
    if tail in PUBLIC_DEFAULTS or key == "server/server_roles/public":
        return True
    if tail.startswith("endpoint:tsql ") or tail == "sysadmin:sa":
        return True
    return any(tail.startswith(p) or f":{p}" in tail for p in SETUP_PREFIXES)


def field_differences(catalog: dict[str, Any], script: dict[str, Any], key: str) -> list[str]:
    """Fields that differ, after the allowances above."""
    found = []
    for name, value in script.items():
        other = catalog.get(name)
        if value is None or other == value or (other, value) in WINDOWS_GROUP_ALIASES:
            continue
        if name == "missing_login" and other is None:
            continue  # the catalog has the orphaned user's SID, not its login's name
        if name == "type_inferred" and (other, value) == (False, True):
            continue  # the catalog knows the type; the script only guessed it
        if key == "server/logins/sa" and name != "disabled":
            continue  # sa exists before any script; the script only disables it
        found.append(f"{key}.{name}: catalog={other!r} script={value!r}")
    return found


def differences(catalog: SecuritySnapshot, script: SecuritySnapshot) -> list[str]:
    """Every difference between the two snapshots' facts, ignoring provenance."""
    cat, scr = facts(catalog), facts(script)
    found = []
    for key in sorted(set(cat) | set(scr)):
        if key not in scr:
            if not implicit(key, cat[key]):
                found.append(f"only in catalog rows: {key} {cat[key]}")
        elif key not in cat:
            found.append(f"only in scripts: {key} {scr[key]}")
        else:
            found += field_differences(cat[key], scr[key], key)
    return found


@pytest.fixture(scope="module")
def script_snapshot() -> SecuritySnapshot:
    snapshot: SecuritySnapshot = tsql.extract_scripts([CONTOSO])
    return snapshot


def test_catalog_rows_and_scripts_agree(script_snapshot: SecuritySnapshot) -> None:
    found = differences(snapshot_from_rows(load_rows()), script_snapshot)
    print("\n".join(found))
    assert found == []


def test_the_comparison_sees_a_changed_fact(script_snapshot: SecuritySnapshot) -> None:
    rows = load_rows()
    perms = rows.databases["Sales"]["database_permissions"]
    changed = [dict(r, state="G") if r["state"] == "D" else r for r in perms]
    altered = type(rows)(
        server=rows.server,
        databases={
            **rows.databases,
            "Sales": {**rows.databases["Sales"], "database_permissions": changed},
        },
    )
    found = differences(snapshot_from_rows(altered), script_snapshot)
    assert any("customercards:select:sales_staff:deny" in line for line in found)


def test_extraction_script_document_reads_the_same(tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    path.write_text("\n" + json.dumps(catalog_document(load_rows())) + "\n", encoding="utf-8")
    from_file = extract_catalog_json(path)
    assert from_file.to_json() == snapshot_from_rows(load_rows()).to_json()
    assert from_file.source == "catalog"


def test_offline_database_is_reported_not_dropped() -> None:
    snapshot = snapshot_from_rows(load_rows())
    skipped = [s for s in snapshot.skipped if s.kind == "database"]
    assert [s.text for s in skipped] == ["Archive2015"]
    assert "OFFLINE" in skipped[0].reason
    assert snapshot.database("Archive2015") is None


def test_catalog_facts_the_scripts_cannot_state() -> None:
    snapshot = snapshot_from_rows(load_rows())
    sales = snapshot.database("Sales")
    assert sales is not None
    old_app = next(u for u in sales.users if u.name == "old_app")
    assert (old_app.orphaned, old_app.login, old_app.sid) == (
        True, None, "0x2A54FA47F8179BAEB220D60236169CBE",
    )  # fmt: skip
    analysts = next(x for x in snapshot.logins if x.name == "CONTOSO\\Analysts")
    assert analysts.type.value == "WINDOWS_GROUP"
    assert not any(x.name.startswith("##") for x in snapshot.logins)
    reporting = snapshot.database("Reporting")
    assert reporting is not None
    assert reporting.trustworthy
    assert reporting.guest_enabled


def test_bad_catalog_json_names_the_file(tmp_path: Path) -> None:
    from grantbridge.errors import ExtractError

    path = tmp_path / "truncated.json"
    path.write_text('{"server_principals": [{"name": "sa"', encoding="utf-8")
    with pytest.raises(ExtractError, match=r"truncated\.json"):
        extract_catalog_json(path)
