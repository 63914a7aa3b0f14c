"""dacpac: the shapes SqlPackage and SSDT really write, read into the snapshot and the plan.

Each model below is built from the elements DacFx serialises (cited in mssql_extract/dacpac.py):
columns with a nested unnamed SqlTypeSpecifier, a user's login as an unresolved
PersistedResolvableAnnotation, booleans under ``Is…`` names, SqlApplicationRole, class words
such as ``Type`` and ``XmlSchemaCollection``, role memberships without a Name, and a database
extracted without its permission statements.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from grantbridge.cli import main
from grantbridge.errors import ExtractError
from mapper.plan import Disposition, MigrationPlan
from mapper.planner import plan
from mapper.policy import Policy
from mssql_extract import catalog, dacpac
from mssql_extract.dacpac import extract_dacpac
from mssql_extract.snapshot import Database, LoginType, ObjectKind, SecuritySnapshot, UserType

NS = "http://schemas.microsoft.com/sqlserver/dac/Serialization/2012/02"


def prop(name: str, value: str) -> str:
    return f'<Property Name="{name}" Value="{value}" />'


def ref(name: str, builtin: bool = False) -> str:
    external = ' ExternalSource="BuiltIns"' if builtin else ""
    return f'<Entry><References{external} Name="{name}" /></Entry>'


def unresolved(name: str) -> str:
    """A reference DacFx could not resolve: how SqlPackage writes a user's login (in master)."""
    return (f'<Entry><Annotation Type="PersistedResolvableAnnotation" Name="{name}">'
            '<Property Name="TargetTypeStorage" Value="SqlLogin" /></Annotation></Entry>')  # fmt: skip


def rel(name: str, *entries: str) -> str:
    return f'<Relationship Name="{name}">{"".join(entries)}</Relationship>'


def el(kind: str, name: str | None, *body: str) -> str:
    named = f' Name="{name}"' if name else ""
    return f'<Element Type="{kind}"{named}>{"".join(body)}</Element>'


def perm(name: str, grantee: str, secured: str | None = None, *props: str) -> str:
    body = [*props, rel("Grantee", ref(grantee)), rel("Grantor", ref("[dbo]", builtin=True))]
    return el("SqlPermissionStatement", name, *body,
              *([rel("SecuredObject", ref(secured))] if secured else []))  # fmt: skip


def column(name: str, builtin: str) -> str:
    specifier = el("SqlTypeSpecifier", None, rel("Type", ref(f"[{builtin}]", builtin=True)))
    return f"<Entry>{el('SqlSimpleColumn', name, rel('TypeSpecifier', f'<Entry>{specifier}</Entry>'))}</Entry>"


TABLE = el("SqlTable", "[dbo].[Orders]", prop("IsAnsiNullsOn", "True"),
           rel("Columns", column("[dbo].[Orders].[Id]", "int"), column("[dbo].[Orders].[Amount]", "money")),
           rel("Schema", ref("[dbo]", builtin=True)))  # fmt: skip
SELECT_ORDERS = perm("[Grant.Select.Object].[readers].[dbo].[dbo].[Orders]", "[readers]",
                     "[dbo].[Orders]", prop("Permission", "2"))  # fmt: skip
READERS = el("SqlRole", "[readers]", rel("Authorizer", ref("[dbo]", builtin=True)))
#: The table without columns, for the tests about something else (the columns have their own).
ORDERS = el("SqlTable", "[dbo].[Orders]", rel("Schema", ref("[dbo]", builtin=True)))


def write_dacpac(path: Path, *elements: str, database: str = "AppDb") -> Path:
    model = (f'<?xml version="1.0" encoding="utf-8"?>\n<DataSchemaModel FileFormatVersion="1.2" '
             f'SchemaVersion="2.9" xmlns="{NS}"><Model>\n' + "\n".join(elements) + "\n</Model></DataSchemaModel>")  # fmt: skip
    metadata = f'<?xml version="1.0" encoding="utf-8"?><DacType xmlns="{NS}"><Name>{database}</Name></DacType>'
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("model.xml", model)
        archive.writestr("DacMetadata.xml", metadata)
    return path


def read(tmp_path: Path, *elements: str, database: str = "AppDb") -> SecuritySnapshot:
    return extract_dacpac(write_dacpac(tmp_path / "db.dacpac", *elements, database=database))


def only_db(snapshot: SecuritySnapshot) -> Database:
    (db,) = snapshot.databases
    return db


def rules(migration: MigrationPlan) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for f in migration.findings:
        found.setdefault(f.rule_id, []).append(f.evidence)
    return found


# --------------------------------------------------------------------------- objects


def test_columns_are_the_direct_elements_not_their_nested_type_specifier(tmp_path: Path) -> None:
    db = only_db(read(tmp_path, TABLE, READERS, SELECT_ORDERS))
    (table,) = db.objects
    assert (table.name, table.columns) == ("Orders", ("Id", "Amount"))


def test_types_synonyms_and_xml_schema_collections_are_objects(tmp_path: Path) -> None:
    db = only_db(read(
        tmp_path, READERS, SELECT_ORDERS,
        el("SqlUserDefinedDataType", "[dbo].[Phone]", rel("Type", ref("[varchar]", builtin=True))),
        el("SqlTableType", "[dbo].[OrderList]"), el("SqlSynonym", "[dbo].[OrdersSyn]"),
        el("SqlXmlSchemaCollection", "[dbo].[OrderSchema]"),
    ))  # fmt: skip
    assert {(o.name, o.kind) for o in db.objects} == {
        ("Phone", ObjectKind.TYPE), ("OrderList", ObjectKind.TYPE),
        ("OrdersSyn", ObjectKind.SYNONYM), ("OrderSchema", ObjectKind.XML_SCHEMA_COLLECTION),
    }  # fmt: skip


# --------------------------------------------------------------------------- logins


def test_a_database_dacpac_keeps_the_login_of_each_user_and_calls_none_orphaned(
    tmp_path: Path,
) -> None:
    snapshot = read(
        tmp_path, ORDERS, READERS, SELECT_ORDERS,
        el("SqlUser", "[app_user]", prop("AuthenticationType", "1"), rel("Login", unresolved("[app_login]"))),
        el("SqlUser", "[CONTOSO\\jdoe]", prop("AuthenticationType", "3"), rel("Login", ref("[CONTOSO\\jdoe]"))),
        el("SqlRoleMembership", None, rel("Member", ref("[app_user]")), rel("Role", ref("[readers]"))),
    )  # fmt: skip
    users = {u.name: (u.login, u.orphaned, u.type) for u in only_db(snapshot).users}
    assert users == {
        "app_user": ("app_login", False, UserType.SQL),
        "CONTOSO\\jdoe": ("CONTOSO\\jdoe", False, UserType.WINDOWS_USER),
    }
    (skipped,) = snapshot.skipped
    assert skipped.text == "[app_login] (user [app_user]), [CONTOSO\\jdoe] (user [CONTOSO\\jdoe])"
    found = rules(plan(snapshot, Policy()))
    assert "GB013" not in found  # not orphaned: the login lives in master, not in the dacpac
    assert any("[app_login] (user [app_user])" in e for e in found["GB045"])


def test_a_model_that_scripts_logins_reads_a_missing_one_as_orphaned(tmp_path: Path) -> None:
    snapshot = read(
        tmp_path, READERS, SELECT_ORDERS, ORDERS, el("SqlLogin", "[app]"),
        el("SqlUser", "[app]", rel("Login", ref("[app]"))),
        el("SqlUser", "[old_app]", rel("Login", unresolved("[old_app]"))),
    )  # fmt: skip
    users = {u.name: (u.login, u.orphaned, u.missing_login) for u in only_db(snapshot).users}
    assert users == {"app": ("app", False, None), "old_app": (None, True, "old_app")}
    assert snapshot.skipped == ()
    assert any("created for login [old_app]" in e for e in rules(plan(snapshot, Policy()))["GB013"])


def test_serialised_login_properties(tmp_path: Path) -> None:
    snapshot = read(
        tmp_path, ORDERS, SELECT_ORDERS, READERS,
        el("SqlLogin", "[CONTOSO\\DBAs]", prop("IsMappedToWindowsLogin", "True")),
        el("SqlLogin", "[legacy]", prop("IsCheckPolicyOn", "False"), prop("Password", "Legacy#Pwd-4242")),
        el("SqlLogin", "[gone]", prop("IsDisabled", "True"), prop("Password", "Dis#Pwd-7777")),
        el("SqlUser", "[gone]", prop("AuthenticationType", "1"), rel("Login", ref("[gone]"))),
        el("SqlRoleMembership", None, rel("Member", ref("[gone]")), rel("Role", ref("[readers]"))),
        el("SqlUser", "[contained]", prop("AuthenticationType", "2"), prop("Password", "Cont#Pwd-1234")),
    )  # fmt: skip
    logins = {x.name: (x.type, x.disabled, x.check_policy) for x in snapshot.logins}
    assert logins == {
        "CONTOSO\\DBAs": (LoginType.WINDOWS_USER, False, None),
        "legacy": (LoginType.SQL, False, False),
        "gone": (LoginType.SQL, True, True),  # CHECK_POLICY left at its default: ON
    }
    contained = next(u for u in only_db(snapshot).users if u.name == "contained")
    assert contained.has_password
    text = snapshot.to_json()
    assert not any(secret in text for secret in ("Legacy#", "Dis#", "Cont#"))
    found = rules(plan(snapshot, Policy()))
    assert [e.split(":")[0] for e in found["GB010"]] == ["login [legacy]"]
    assert [e.split(":")[0] for e in found["GB014"]] == ["login [gone]"]
    assert not any("DBAs" in e for e in found["GB030"])  # a Windows login has no password
    assert any("DBAs" in e for e in found["GB034"])


# --------------------------------------------------------------------------- permissions


def test_serialised_grant_option_execute_as_and_database_options(tmp_path: Path) -> None:
    snapshot = read(
        tmp_path, ORDERS, READERS,
        el("SqlDatabaseOptions", None, prop("IsTrustworthyOn", "True"), prop("IsDbChainingOn", "True"),
           prop("Containment", "1")),
        el("SqlProcedure", "[dbo].[usp_Run]", prop("IsOwner", "True"), prop("IsCaller", "False")),
        perm("[Grant.Select.Object].[readers].[dbo].[dbo].[Orders]", "[readers]", "[dbo].[Orders]",
             prop("IsWithGrantOption", "True")),
    )  # fmt: skip
    db = only_db(snapshot)
    assert (db.trustworthy, db.db_chaining, db.containment) == (True, True, "PARTIAL")
    assert {o.name: o.execute_as for o in db.objects} == {"Orders": None, "usp_Run": "OWNER"}
    (grant,) = db.permissions
    assert grant.state.value == "W"
    found = rules(plan(snapshot, Policy()))
    assert len(found["GB007"]) == 1
    assert "[readers]" in found["GB007"][0]
    assert "GB300" in found  # EXECUTE AS OWNER


def test_application_roles_are_read_without_their_password(tmp_path: Path) -> None:
    snapshot = read(
        tmp_path, ORDERS,
        el("SqlApplicationRole", "[report_app]", prop("Password", "AppRole#Secret-9911"),
           rel("DefaultSchema", ref("[dbo]", builtin=True))),
        el("SqlRoleMembership", None, rel("Member", ref("[report_app]")),
           rel("Role", ref("[db_datareader]", builtin=True))),
        perm("[Grant.Select.Object].[report_app].[dbo].[dbo].[Orders]", "[report_app]", "[dbo].[Orders]"),
    )  # fmt: skip
    (app,) = only_db(snapshot).application_roles
    assert (app.name, app.default_schema) == ("report_app", "dbo")
    assert "AppRole#Secret" not in snapshot.to_json()
    dispositions = {d.fact: d.disposition for d in plan(snapshot, Policy()).dispositions}
    # planned, and approximated: no login reaches an application role (GB017), and
    # db_datareader does not cover schemas created later (GB040)
    assert dispositions["AppDb/app_role:report_app"] == Disposition.APPROXIMATED
    assert dispositions["AppDb/member:db_datareader<-report_app"] == Disposition.APPROXIMATED


CLASS_WORDS = [  # statement name, SecuredObject → (class, schema, name)
    ("[Grant.Execute.Type].[readers].[dbo].[dbo].[Phone]", "[dbo].[Phone]", ("TYPE", "dbo", "Phone")),
    ("[Grant.Execute.XmlSchemaCollection].[readers].[dbo].[dbo].[OrderSchema]", "[dbo].[OrderSchema]",
     ("XML SCHEMA COLLECTION", "dbo", "OrderSchema")),
    ("[Grant.Control.Certificate].[readers].[dbo].[SigningCert]", "[SigningCert]", ("CERTIFICATE", None, "SigningCert")),
    ("[Grant.Alter.ApplicationRole].[readers].[dbo].[report_app]", "[report_app]",
     ("APPLICATION ROLE", None, "report_app")),
    ("[Grant.ViewDefinition.SymmetricKey].[readers].[dbo].[K1]", "[K1]", ("SYMMETRIC KEY", None, "K1")),
]  # fmt: skip


@pytest.mark.parametrize(("name", "secured", "expected"), CLASS_WORDS)
def test_class_words_map_to_their_securable_class(
    tmp_path: Path, name: str, secured: str, expected: tuple[str, str | None, str]
) -> None:
    (grant,) = only_db(read(tmp_path, READERS, perm(name, "[readers]", secured))).permissions
    assert (grant.securable_class, grant.schema_name, grant.object_name) == expected


def test_an_unknown_class_word_is_skipped_not_guessed(tmp_path: Path) -> None:
    name = "[Grant.Alter.Frobnicator].[readers].[dbo].[F1]"
    snapshot = read(tmp_path, READERS, SELECT_ORDERS, perm(name, "[readers]", "[F1]"))
    assert [p.securable_class for p in only_db(snapshot).permissions] == ["OBJECT"]
    (skipped,) = snapshot.skipped
    assert (skipped.text, skipped.source_ref.key) == (name, f"SqlPermissionStatement:{name}")
    assert "'Frobnicator'" in skipped.reason
    assert any(name in e for e in rules(plan(snapshot, Policy()))["GB045"])


def test_memberships_without_a_name_have_distinct_source_refs(tmp_path: Path) -> None:
    db = only_db(read(
        tmp_path, READERS, SELECT_ORDERS, el("SqlRole", "[writers]"), el("SqlUser", "[u1]"),
        el("SqlRoleMembership", None, rel("Member", ref("[u1]")), rel("Role", ref("[readers]"))),
        el("SqlRoleMembership", None, rel("Member", ref("[u1]")), rel("Role", ref("[writers]"))),
    ))  # fmt: skip
    assert sorted(str(m.source_ref.key) for m in db.memberships) == [
        "SqlRoleMembership:[readers]<-[u1]", "SqlRoleMembership:[writers]<-[u1]",
    ]  # fmt: skip


# --------------------------------------------------------------------------- what is missing


def test_a_dacpac_without_permission_statements_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_dacpac(tmp_path / "noperms.dacpac", ORDERS, READERS, el("SqlUser", "[u1]"))
    (skipped,) = extract_dacpac(path).skipped
    assert "/p:IgnorePermissions=False" in skipped.reason
    (gb045,) = rules(plan(extract_dacpac(path), Policy()))["GB045"]
    assert "no permission statement" in gb045
    assert main(["extract", "--dacpac", str(path), "-o", str(tmp_path / "s.json")]) == 0
    err = capsys.readouterr().err
    assert "warning: noperms.dacpac!model.xml[SqlPermissionStatement]: the dacpac holds no" in err


def test_a_master_scoped_dacpac_keeps_only_server_level_facts(tmp_path: Path) -> None:
    snapshot = read(
        tmp_path, el("SqlLogin", "[ops_admin]", prop("Password", "Ops#Pwd-5150")),
        el("SqlServerRoleMembership", None, rel("Member", ref("[ops_admin]")),
           rel("Role", ref("[sysadmin]", builtin=True))),
        database="master",
    )  # fmt: skip
    assert snapshot.databases == ()
    assert snapshot.skipped == ()
    assert [(m.role, m.member) for m in snapshot.server_memberships] == [("sysadmin", "ops_admin")]
    assert "GB002" in rules(plan(snapshot, Policy()))
    assert dacpac.SYSTEM_DATABASES == catalog.SYSTEM_DATABASES


def test_control_character_references_in_literals_are_tolerated(tmp_path: Path) -> None:
    body = prop("BodyScript", "SELECT N'a&#x1E;b&#31;c' -- &#x41;")
    snapshot = read(tmp_path, READERS, SELECT_ORDERS, ORDERS, el("SqlProcedure", "[dbo].[p]", body))
    assert {o.name for o in only_db(snapshot).objects} == {"Orders", "p"}


# --------------------------------------------------------------------------- bad input

BAD = {  # case → (elements, words the one error line must hold besides the file name)
    "unknown-state": ((ORDERS, el("SqlUser", "[u1]"), perm("[Revoke.Select.Object].[u1].[dbo].[dbo].[Orders]", "[u1]", "[dbo].[Orders]")),
                      ["SqlPermissionStatement:[Revoke.Select.Object]", "'Revoke'"]),
    "one-part-table": ((el("SqlTable", "[Orders]"),), ["SqlTable:[Orders]", "'[Orders]'"]),
    "membership-without-role": ((el("SqlUser", "[u1]"), el("SqlRoleMembership", None, rel("Member", ref("[u1]")))),
                                ["SqlRoleMembership:[?]<-[u1]", "no Role"]),
    "permission-without-grantee": ((ORDERS, el("SqlPermissionStatement", "[Grant.Select.Object].[u1].[dbo].[dbo].[Orders]")),
                                   ["SqlPermissionStatement:[Grant.Select.Object]", "no Grantee"]),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_content_exits_2_with_one_line_naming_file_and_element(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    elements, words = BAD[case]
    path = write_dacpac(tmp_path / "bad.dacpac", *elements)
    with pytest.raises(ExtractError):
        extract_dacpac(path)
    assert main(["extract", "--dacpac", str(path), "-o", str(tmp_path / "s.json")]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: {path} [")
    assert all(w in lines[0] for w in words), lines[0]
    assert not (tmp_path / "s.json").exists()


def test_the_same_grant_from_two_grantors_is_one_fact(tmp_path: Path) -> None:
    """SQL Server keeps a permission row per grantor (``GRANT … AS``); the grantee's access is
    one fact, so a snapshot holds one row (regression: extract refused the dacpac)."""
    snapshot = read(
        tmp_path, ORDERS, el("SqlRole", "[r1]"), el("SqlUser", "[u1]"),
        perm("[Grant.Select.Object].[u1].[dbo].[dbo].[Orders]", "[u1]", "[dbo].[Orders]"),
        el("SqlPermissionStatement", "[Grant.Select.Object].[u1].[r1].[dbo].[Orders]",
           rel("Grantee", ref("[u1]")), rel("Grantor", ref("[r1]")),
           rel("SecuredObject", ref("[dbo].[Orders]"))),
    )  # fmt: skip
    rows = [(p.permission, p.grantee) for p in only_db(snapshot).permissions]
    assert rows == [("SELECT", "u1")]


def test_a_table_type_named_like_a_table_is_skipped_and_the_table_kept(tmp_path: Path) -> None:
    """SQL Server keeps types apart from objects; a snapshot and PostgreSQL do not."""
    snapshot = read(tmp_path, ORDERS, el("SqlTableType", "[dbo].[Orders]"))
    assert [(o.name, o.kind.value) for o in only_db(snapshot).objects] == [("Orders", "TABLE")]
    [clash] = [s for s in snapshot.skipped if s.text == "TYPE [dbo].[Orders]"]
    assert "named like another object of its schema (TABLE)" in clash.reason
