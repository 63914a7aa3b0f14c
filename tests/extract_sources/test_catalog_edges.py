"""Catalog rows at the edges: nothing widened, nothing dropped in silence, bad rows located.

Every case is the captured contoso rows (``fixtures/estates/contoso/catalog``) plus one row in
SQL Server's exact column shape, built from a captured row of the same view:

* a column permission whose column was not found is skipped, never read at the table's level;
* a row naming a principal id that no principal has (grantee, member) is skipped with the id;
* an unknown owner or EXECUTE AS principal, an unknown principal type, a predicate or masked
  column whose table was not found: skipped with the reason;
* an availability-group permission without a name is skipped; a system object's is kept;
* Azure SQL Database (EngineEdition 5): one skipped entry says server-level security was not
  read, and no user is called orphaned for want of logins;
* a malformed row stops the extraction naming the file, the section, the row and the column.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from grantbridge.cli import main
from grantbridge.errors import ExtractError
from mapper.planner import plan
from mapper.policy import Policy
from mssql_extract.catalog import CatalogRows, snapshot_from_rows
from mssql_extract.catalog_check import COLUMNS
from mssql_extract.catalog_document import extract_catalog_json
from mssql_extract.snapshot import ObjectKind, SecuritySnapshot, Skipped
from tests.extract_sources.support import catalog_document, load_rows

Edit = Callable[[dict[str, Any], dict[str, dict[str, Any]]], None]

CUSTOMER_CARDS = 581625119  # sales.CustomerCards (columns 1–3 captured)
CURRENCY = 581577110  # dbo.Currency
SALES_BOT, SALES_STAFF = 12, 14
ETL_LOADER = 7  # a user with a login (sales.database_principals)


def rows_with(edit: Edit) -> CatalogRows:
    """The captured rows after ``edit(server, databases)`` (on a deep copy)."""
    rows = load_rows()
    server = copy.deepcopy(dict(rows.server))
    databases = {name: copy.deepcopy(dict(q)) for name, q in rows.databases.items()}
    edit(server, databases)
    return CatalogRows(server=server, databases=databases)


def like(rows: list[dict[str, Any]], **changes: Any) -> dict[str, Any]:
    """A new row shaped like the first captured one, with ``changes``."""
    assert set(changes) <= set(rows[0]), set(changes) - set(rows[0])
    return {**rows[0], **changes}


def add(section: str, database: str | None = "Sales", **changes: Any) -> Edit:
    def edit(server: dict[str, Any], databases: dict[str, dict[str, Any]]) -> None:
        rows = server[section] if database is None else databases[database][section]
        rows.append(like(rows, **changes))

    return edit


def grant(**changes: Any) -> Edit:
    """A sys.database_permissions row of Sales (SELECT granted by dbo unless changed)."""
    base = {
        "class": 1, "class_desc": "OBJECT_OR_COLUMN", "major_id": CURRENCY, "minor_id": 0,
        "grantee_principal_id": SALES_BOT, "grantor_principal_id": 1, "type": "SL  ",
        "permission_name": "SELECT", "state": "G", "state_desc": "GRANT",
        "securable_schema_name": "dbo", "securable_name": "Currency", "column_name": None,
    }  # fmt: skip
    return add("database_permissions", **(base | changes))


def skipped_rows(snapshot: SecuritySnapshot) -> list[Skipped]:
    return [s for s in snapshot.skipped if s.kind == "row"]


def only_skipped(snapshot: SecuritySnapshot) -> Skipped:
    [entry] = skipped_rows(snapshot)
    return entry


# --------------------------------------------------------------------------- column permissions


@pytest.mark.parametrize(("state", "desc"), [("G", "GRANT"), ("D", "DENY")])
def test_column_permission_without_its_column_is_skipped_not_widened(state: str, desc: str) -> None:
    snapshot = snapshot_from_rows(rows_with(grant(
        major_id=CUSTOMER_CARDS, minor_id=42, state=state, state_desc=desc,
        securable_schema_name="sales", securable_name="CustomerCards", column_name=None,
    )))  # fmt: skip
    sales = snapshot.database("Sales")
    assert sales is not None
    on_cards = [p for p in sales.permissions if p.grantee == "sales_bot" and p.object_name == "CustomerCards"]  # fmt: skip
    assert on_cards == []
    entry = only_skipped(snapshot)
    assert "[sales].[CustomerCards]" in entry.reason
    assert "column_id 42" in entry.reason
    assert entry.text == f"{'DENY' if state == 'D' else 'GRANT'} SELECT TO [sales_bot]"
    assert "minor_id=42" in str(entry.source_ref)


def test_unresolved_column_grant_plans_no_table_grant_but_gb045() -> None:
    edit = grant(
        major_id=CUSTOMER_CARDS, minor_id=3, securable_schema_name="sales",
        securable_name="CustomerCards", column_name=None,
    )  # fmt: skip
    result = plan(snapshot_from_rows(rows_with(edit)), Policy())
    widened = [
        g for g in result.grants
        if g.name == "customercards" and not g.columns and "sales_bot" in g.grantee
    ]  # fmt: skip
    assert widened == []
    assert any(f.rule_id == "GB045" and "column_id 3" in f.evidence for f in result.findings)


def test_a_resolved_column_permission_stays_a_column_permission() -> None:
    snapshot = snapshot_from_rows(rows_with(grant(
        major_id=CUSTOMER_CARDS, minor_id=3, securable_schema_name="sales",
        securable_name="CustomerCards", column_name="Last4",
    )))  # fmt: skip
    sales = snapshot.database("Sales")
    assert sales is not None
    [perm] = [p for p in sales.permissions if p.grantee == "sales_bot" and p.object_name == "CustomerCards"]  # fmt: skip
    assert perm.column_name == "Last4"
    assert skipped_rows(snapshot) == []


# --------------------------------------------------------------------------- unknown principals

UNKNOWN_PRINCIPALS: dict[str, tuple[Edit, str, str]] = {
    "database grantee": (
        grant(grantee_principal_id=99),
        "sys.database_permissions", "grantee principal_id 99 is not in sys.database_principals",
    ),
    "database member": (
        add("database_role_members", role_principal_id=16390, member_principal_id=98),
        "sys.database_role_members", "member principal_id 98 is not in sys.database_principals",
    ),
    "database role and member": (
        add("database_role_members", role_principal_id=97, member_principal_id=98),
        "sys.database_role_members",
        "role principal_id 97 and member principal_id 98 are not in sys.database_principals",
    ),
    "server member": (
        add("server_role_members", None, role_principal_id=3, member_principal_id=999),
        "sys.server_role_members", "member principal_id 999 is not in sys.server_principals",
    ),
    "server grantee": (
        add("server_permissions", None, grantee_principal_id=998, type="CL  ",
            permission_name="CONTROL SERVER"),
        "sys.server_permissions", "grantee principal_id 998 is not in sys.server_principals",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(UNKNOWN_PRINCIPALS))
def test_row_naming_an_unknown_principal_is_recorded(case: str) -> None:
    edit, view, reason = UNKNOWN_PRINCIPALS[case]
    entry = only_skipped(snapshot_from_rows(rows_with(edit)))
    assert entry.source_ref.origin == view
    assert entry.reason == reason


def test_unknown_server_grantee_becomes_gb045() -> None:
    edit = add("server_permissions", None, grantee_principal_id=998, type="CL  ",
               permission_name="CONTROL SERVER")  # fmt: skip
    result = plan(snapshot_from_rows(rows_with(edit)), Policy())
    assert any(f.rule_id == "GB045" and "998" in f.evidence for f in result.findings)


def test_revoke_rows_are_still_not_facts() -> None:
    snapshot = snapshot_from_rows(rows_with(grant(state="R", state_desc="REVOKE")))
    assert skipped_rows(snapshot) == []


# --------------------------------------------------------------------------- owners


def test_schema_with_an_unknown_owner_is_recorded_not_given_to_dbo_silently() -> None:
    snapshot = snapshot_from_rows(
        rows_with(add("schemas", name="audit", schema_id=7, principal_id=97))
    )
    sales = snapshot.database("Sales")
    assert sales is not None
    assert [s for s in sales.schemas if s.name == "audit"] == []
    entry = only_skipped(snapshot)
    assert entry.source_ref.origin == "sys.schemas"
    assert entry.reason == (
        "the owner of schema [audit] (principal_id 97) is not in sys.database_principals; "
        "planned as owned by dbo"
    )


def test_object_with_an_unknown_owner_is_recorded() -> None:
    def edit(server: dict[str, Any], databases: dict[str, dict[str, Any]]) -> None:
        for row in databases["Sales"]["objects"]:
            if row["object_id"] == CURRENCY:
                row["principal_id"] = 96

    snapshot = snapshot_from_rows(rows_with(edit))
    sales = snapshot.database("Sales")
    assert sales is not None
    currency = next(o for o in sales.objects if o.name == "Currency")
    assert currency.owner is None  # owned by its schema's owner, as the entry says
    entry = only_skipped(snapshot)
    assert entry.reason.startswith("the owner of [dbo].[Currency] (principal_id 96)")
    assert entry.reason.endswith("planned as owned by its schema's owner")


def test_unknown_execute_as_principal_is_recorded() -> None:
    usp_cardlast4 = 581753143

    def edit(server: dict[str, Any], databases: dict[str, dict[str, Any]]) -> None:
        for row in databases["Sales"]["sql_modules"]:
            if row["object_id"] == usp_cardlast4:
                row["execute_as_principal_id"] = 95

    snapshot = snapshot_from_rows(rows_with(edit))
    entry = only_skipped(snapshot)
    assert (entry.source_ref.origin, entry.source_ref.key) == (
        "sys.sql_modules",
        f"Sales:object_id={usp_cardlast4}",
    )
    assert entry.reason == (
        "the EXECUTE AS principal of [sales].[usp_CardLast4] (principal_id 95) is not in "
        "sys.database_principals; recorded without EXECUTE AS"
    )


# --------------------------------------------------------------------------- other unread rows


def test_principals_of_unknown_types_are_recorded() -> None:
    server_row = add("server_principals", None, name="weird", principal_id=400, type="Z",
                     sid="0x99")  # fmt: skip
    user_row = add("database_principals", name="weird_u", principal_id=30, type="Z")

    def edit(server: dict[str, Any], databases: dict[str, dict[str, Any]]) -> None:
        server_row(server, databases)
        user_row(server, databases)

    entries = skipped_rows(snapshot_from_rows(rows_with(edit)))
    assert sorted((e.reason, e.text) for e in entries) == [
        ("database principal of unknown type 'Z'", "weird_u"),
        ("server principal of unknown type 'Z'", "weird"),
    ]


def test_predicate_and_masked_column_of_a_missing_table_are_recorded() -> None:
    predicate = add("security_predicates", target_object_id=123)
    masked = add("masked_columns", object_id=124, column_id=2, name="Salary")

    def edit(server: dict[str, Any], databases: dict[str, dict[str, Any]]) -> None:
        predicate(server, databases)
        masked(server, databases)

    entries = skipped_rows(snapshot_from_rows(rows_with(edit)))
    assert sorted(e.source_ref.origin for e in entries) == [
        "sys.masked_columns",
        "sys.security_predicates",
    ]


def test_availability_group_permission_without_a_name_is_recorded() -> None:
    edit = add("server_permissions", None, **{
        "class": 108, "class_desc": "AVAILABILITY GROUP", "major_id": 65536,
        "grantee_principal_id": 265, "type": "AL  ", "permission_name": "ALTER",
        "securable_name": None,
    })  # fmt: skip
    snapshot = snapshot_from_rows(rows_with(edit))
    assert [p for p in snapshot.server_permissions if p.securable_class == "AVAILABILITY GROUP"] == []  # fmt: skip
    entry = only_skipped(snapshot)
    assert entry.reason == "the AVAILABILITY GROUP securable with major_id 65536 was not found"


def test_availability_group_permission_keeps_its_name() -> None:
    edit = add("server_permissions", None, **{
        "class": 108, "class_desc": "AVAILABILITY GROUP", "major_id": 65536,
        "grantee_principal_id": 265, "type": "AL  ", "permission_name": "ALTER",
        "securable_name": "AG1",
    })  # fmt: skip
    snapshot = snapshot_from_rows(rows_with(edit))
    [perm] = [p for p in snapshot.server_permissions if p.securable_class == "AVAILABILITY GROUP"]
    assert (perm.object_name, perm.grantee) == ("AG1", "CONTOSO\\DBAs")


def test_permission_on_a_system_object_is_kept() -> None:
    # DENY SELECT ON sys.objects TO public: negative major_id, resolved through sys.all_objects
    edit = grant(major_id=-385, grantee_principal_id=0, state="D", state_desc="DENY",
                 securable_schema_name="sys", securable_name="objects")  # fmt: skip
    snapshot = snapshot_from_rows(rows_with(edit))
    sales = snapshot.database("Sales")
    assert sales is not None
    [perm] = [p for p in sales.permissions if p.schema_name == "sys"]
    assert (perm.object_name, perm.grantee, perm.state.value) == ("objects", "public", "D")
    assert skipped_rows(snapshot) == []


def test_authentication_code_is_read_when_its_description_is_missing() -> None:
    def edit(server: dict[str, Any], databases: dict[str, dict[str, Any]]) -> None:
        rows = databases["Sales"]["database_principals"]
        rows.append(like(rows, name="contained_u", principal_id=20, type="S",
                         type_desc="SQL_USER", sid="0x0105", authentication_type=2))  # fmt: skip
        for row in rows:
            del row["authentication_type_desc"]

    sales = snapshot_from_rows(rows_with(edit)).database("Sales")
    assert sales is not None
    users = {u.name: u for u in sales.users}
    assert (users["contained_u"].authentication_type.value, users["contained_u"].has_password) == (
        "DATABASE",
        True,
    )
    assert users["sales_app"].authentication_type.value == "INSTANCE"


def test_entra_logins_and_users_keep_their_external_types() -> None:
    # The converter's part of Entra ID: E/X become EXTERNAL_* without a password. (What the
    # planner makes of them is mapper/translate/auth.py's, see the report of this change.)
    login = add("server_principals", None, name="bob@contoso.com", principal_id=300, type="E",
                type_desc="EXTERNAL_LOGIN", sid="0xAAAA0001")  # fmt: skip
    group = add("database_principals", name="DBA Group", principal_id=22, type="X",
                type_desc="EXTERNAL_GROUPS", sid="0x5678ABCD", authentication_type=4,
                authentication_type_desc="EXTERNAL")  # fmt: skip

    def edit(server: dict[str, Any], databases: dict[str, dict[str, Any]]) -> None:
        login(server, databases)
        group(server, databases)

    snapshot = snapshot_from_rows(rows_with(edit))
    bob = next(x for x in snapshot.logins if x.name == "bob@contoso.com")
    assert (bob.type.value, bob.has_password, bob.check_policy) == ("EXTERNAL_LOGIN", False, None)
    sales = snapshot.database("Sales")
    assert sales is not None
    dbas = next(u for u in sales.users if u.name == "DBA Group")
    assert (dbas.type.value, dbas.authentication_type.value, dbas.has_password) == (
        "EXTERNAL_GROUPS",
        "EXTERNAL",
        False,
    )


def test_azure_sql_database_says_server_level_security_was_not_read() -> None:
    def edit(server: dict[str, Any], databases: dict[str, dict[str, Any]]) -> None:
        server["server_properties"][0]["engine_edition"] = 5
        for name in ("server_principals", "sql_logins", "server_role_members",
                     "server_permissions", "server_audit_specifications"):  # fmt: skip
            server[name] = []

    snapshot = snapshot_from_rows(rows_with(edit))
    entry = only_skipped(snapshot)
    assert entry.reason.startswith("Azure SQL Database: server-level security was not read")
    assert str(entry.source_ref) == "SERVERPROPERTY[EngineEdition=5]"
    sales = snapshot.database("Sales")
    assert sales is not None
    assert [u.name for u in sales.users if u.orphaned] == []  # not known without the logins
    result = plan(snapshot, Policy())
    assert any(f.rule_id == "GB045" and "Azure SQL Database" in f.evidence for f in result.findings)


# --------------------------------------------------------------------------- malformed rows

#: name → (edit, the location key, words of the message)
BAD_ROWS: dict[str, tuple[Edit, str, str]] = {
    "class NULL": (grant(**{"class": None}), "Sales.database_permissions row 34",
                   "column 'class' of sys.database_permissions is NULL; it must be an integer"),
    "class not a number": (grant(**{"class": "one"}), "Sales.database_permissions row 34",
                           "column 'class' of sys.database_permissions holds 'one', not an integer"),
    "major_id NULL": (grant(major_id=None), "Sales.database_permissions row 34", "'major_id'"),
    "unknown authentication": (
        add("database_principals", name="weird", principal_id=31, authentication_type_desc="NEW"),
        "Sales.database_principals row 26", "column 'authentication_type_desc' of "
        "sys.database_principals holds 'NEW', not one of DATABASE, EXTERNAL, INSTANCE",
    ),
    "name NULL": (add("database_principals", name=None, principal_id=32),
                  "Sales.database_principals row 26",
                  "column 'name' of sys.database_principals is NULL; it must be a string"),
    "state lower case": (grant(state="g"), "Sales.database_permissions row 34",
                         "column 'state' of sys.database_permissions holds 'g', not one of D, G, R, W"),
    "schema that is not there": (
        add("objects", name="t_orphan", object_id=42, schema_id=77),
        "Sales.objects row 15",
        "column 'schema_id' of sys.objects holds 77, which no row of Sales.schemas has",
    ),
    "server row": (add("server_role_members", None, role_principal_id="three"),
                   "server_role_members row 10", "'role_principal_id'"),
}  # fmt: skip


def _without_grantee(server: dict[str, Any], databases: dict[str, dict[str, Any]]) -> None:
    grant()(server, databases)
    del databases["Sales"]["database_permissions"][-1]["grantee_principal_id"]


BAD_ROWS["missing column"] = (
    _without_grantee,
    "Sales.database_permissions row 34",
    "column 'grantee_principal_id' of sys.database_permissions is missing",
)


def _write(tmp_path: Path, rows: CatalogRows) -> Path:
    path = tmp_path / "result.json"
    path.write_text(json.dumps(catalog_document(rows)), encoding="utf-8")
    return path


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_bad_row_names_file_section_row_and_column(case: str, tmp_path: Path) -> None:
    edit, key, words = BAD_ROWS[case]
    path = _write(tmp_path, rows_with(edit))
    with pytest.raises(ExtractError) as caught:
        extract_catalog_json(path)
    error = caught.value
    assert (error.location.file, error.location.key) == (str(path), key)
    assert words in error.message
    assert "\n" not in str(error)


@pytest.mark.parametrize("case", ["class NULL", "missing column", "schema that is not there"])
def test_cli_bad_row_exits_2_with_one_line(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit, key, words = BAD_ROWS[case]
    path = _write(tmp_path, rows_with(edit))
    assert main(["extract", "--catalog-json", str(path), "-o", str(tmp_path / "s.json")]) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    [line] = [x for x in captured.err.splitlines() if x.strip()]
    assert line.startswith(f"error: {path} [{key}]: ")
    assert words in line
    assert not (tmp_path / "s.json").exists()


def test_live_rows_name_the_section_and_row_without_a_file() -> None:
    with pytest.raises(ExtractError) as caught:
        snapshot_from_rows(rows_with(grant(major_id=None)), source="live")
    assert str(caught.value).startswith("Sales.database_permissions row 34: column 'major_id'")


# The converters read no column that COLUMNS leaves out, and each column COLUMNS lists is
# checked: emptying, NULLing or mistyping any of them in any captured view is either read
# (optional columns) or an ExtractError naming that row and column, never another exception.

WRONG = {"an integer": "x", "a string": 7, "a bit (true, false, 0 or 1)": "maybe",
         "0x… hex text or bytes": 7}  # fmt: skip


def _cells() -> list[tuple[str | None, str, str]]:
    rows = load_rows()
    found: list[tuple[str | None, str, str]] = [
        (None, section, column) for section, r in rows.server.items() if r for column in r[0]
        if column in COLUMNS.get(section, {})
    ]  # fmt: skip
    for section, r in rows.databases["Sales"].items():
        found += [("Sales", section, c) for c in r[0] if c in COLUMNS.get(section, {})] if r else []
    return found


def _set_first(
    database: str | None, section: str, change: Callable[[dict[str, Any]], None]
) -> Edit:
    def edit(server: dict[str, Any], databases: dict[str, dict[str, Any]]) -> None:
        change((server if database is None else databases[database])[section][0])

    return edit


def _change(column: str, how: str, wrong: Any) -> Callable[[dict[str, Any]], None]:
    def change(row: dict[str, Any]) -> None:
        if how == "missing":
            del row[column]
        else:
            row[column] = None if how == "null" else wrong

    return change


def _error(rows: CatalogRows) -> ExtractError | None:
    try:
        snapshot_from_rows(rows)
    except ExtractError as exc:
        return exc
    return None


@pytest.mark.parametrize("how", ["missing", "null", "wrong type"])
def test_every_checked_cell_is_read_or_located(how: str) -> None:
    for database, section, column in _cells():
        spec = COLUMNS[section][column]
        change = _change(column, how, WRONG[spec.what])
        error = _error(rows_with(_set_first(database, section, change)))
        where = section if database is None else f"{database}.{section}"
        if error is None:
            assert spec.nullable, (where, column, how)
            assert how != "wrong type", (where, column)
        else:
            assert error.location.key == f"{where} row 1", (where, column, how, str(error))
            assert repr(column) in error.message, (where, column, how, str(error))


def test_columns_the_checks_leave_out_are_not_read() -> None:
    def edit(server: dict[str, Any], databases: dict[str, dict[str, Any]]) -> None:
        for scope in (server, *databases.values()):
            for section, rows in scope.items():
                checked = COLUMNS[section]
                scope[section] = [{k: v for k, v in r.items() if k in checked} for r in rows]

    reduced = snapshot_from_rows(rows_with(edit))
    assert reduced.to_json() == snapshot_from_rows(load_rows()).to_json()


# --------------------------------------------------------------------------- CONNECT, grantors


def _drop_rows(section: str, database: str | None, **match: Any) -> Edit:
    def edit(server: dict[str, Any], databases: dict[str, dict[str, Any]]) -> None:
        holder = server if database is None else databases[database]
        holder[section] = [r for r in holder[section] if any(r[k] != v for k, v in match.items())]

    return edit


def test_a_login_or_user_without_its_connect_row_had_it_revoked() -> None:
    """CREATE LOGIN grants CONNECT SQL and CREATE USER grants CONNECT, each a catalog row; a
    login without the row (sp_help_revlogin's hasaccess = 0) cannot log in and a user without
    it cannot enter the database. Regression: both were planned with LOGIN and CONNECT."""
    legacy = _server_id("legacy_crm")
    rows = rows_with(_two(
        _drop_rows("server_permissions", None, permission_name="CONNECT SQL",
                   grantee_principal_id=legacy),
        _drop_rows("database_permissions", "Sales", permission_name="CONNECT",
                   grantee_principal_id=ETL_LOADER),
    ))  # fmt: skip
    snapshot = snapshot_from_rows(rows)
    assert {x.name for x in snapshot.logins if x.connect_revoked} == {"legacy_crm"}
    sales = next(db for db in snapshot.databases if db.name == "Sales")
    assert {u.name for u in sales.users if u.connect_revoked} == {"etl_loader"}
    migration = plan(snapshot, Policy())
    role = migration.role("legacy_crm")
    assert role is not None
    assert not role.login
    connects = {(g.database, g.grantee) for g in migration.grants if g.privilege == "CONNECT"}
    assert ("sales", "etl_loader") not in connects
    assert ("sales", "sales_app") in connects


def test_the_captured_logins_and_users_all_hold_connect() -> None:
    snapshot = snapshot_from_rows(load_rows())
    assert not [x.name for x in snapshot.logins if x.connect_revoked]
    assert not [u.name for db in snapshot.databases for u in db.users if u.connect_revoked]


def test_the_same_grant_from_two_grantors_is_one_fact() -> None:
    """sys.database_permissions keeps a row per grantor; the snapshot holds one fact (regression:
    extract stopped with "inconsistent catalog rows")."""
    snapshot = snapshot_from_rows(rows_with(_two(grant(), grant(grantor_principal_id=SALES_STAFF))))
    sales = next(db for db in snapshot.databases if db.name == "Sales")
    rows = [
        p for p in sales.permissions if p.object_name == "Currency" and p.grantee == "sales_bot"
    ]
    assert [(p.permission, p.grantor) for p in rows] == [("SELECT", "dbo")]


def _two(first: Edit, second: Edit) -> Edit:
    def edit(server: dict[str, Any], databases: dict[str, dict[str, Any]]) -> None:
        first(server, databases)
        second(server, databases)

    return edit


def _server_id(name: str) -> int:
    return next(int(r["principal_id"]) for r in load_rows().server["server_principals"]
                if r["name"] == name)  # fmt: skip


def test_a_type_named_like_a_table_of_its_schema_is_skipped_and_the_table_kept() -> None:
    """sys.types and sys.objects are apart in SQL Server; a snapshot (and PostgreSQL, where a
    table's row type takes its name) holds one of them. Regression: extract stopped with
    "inconsistent catalog rows: duplicate item 'object:dbo.currency'"."""

    def edit(server: dict[str, Any], databases: dict[str, dict[str, Any]]) -> None:
        databases["Sales"]["types"].append(
            {"name": "Currency", "schema_id": 1, "principal_id": None, "user_type_id": 257}
        )

    snapshot = snapshot_from_rows(rows_with(edit))
    sales = next(db for db in snapshot.databases if db.name == "Sales")
    assert [o.kind for o in sales.objects if o.name == "Currency"] == [ObjectKind.TABLE]
    [skipped] = [s for s in snapshot.skipped if "named like another object" in s.reason]
    assert skipped.text == "TYPE [dbo].[Currency]"
    assert "(TABLE)" in skipped.reason
