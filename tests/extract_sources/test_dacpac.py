"""dacpac: model.xml elements → snapshot facts; bad files are input errors naming the file."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from grantbridge.errors import ExtractError
from mssql_extract.dacpac import extract_dacpac

MODEL = """<?xml version="1.0" encoding="utf-8"?>
<DataSchemaModel xmlns="http://schemas.microsoft.com/sqlserver/dac/Serialization/2012/02"><Model>
<Element Type="SqlLogin" Name="[sales_app]"><Property Name="CheckPolicy" Value="True" /></Element>
<Element Type="SqlUser" Name="[sales_app]"><Relationship Name="Login"><Entry>
 <References Name="[sales_app]" /></Entry></Relationship></Element>
<Element Type="SqlUser" Name="[old_app]"><Relationship Name="Login"><Entry>
 <References Name="[old_app]" /></Entry></Relationship></Element>
<Element Type="SqlRole" Name="[sales_staff]"><Relationship Name="Authorizer"><Entry>
 <References ExternalSource="BuiltIns" Name="[dbo]" /></Entry></Relationship></Element>
<Element Type="SqlRoleMembership"><Relationship Name="Member"><Entry><References Name="[sales_app]" />
 </Entry></Relationship><Relationship Name="Role"><Entry><References ExternalSource="BuiltIns" Name="[db_owner]" />
 </Entry></Relationship></Element>
<Element Type="SqlSchema" Name="[crm]"><Relationship Name="Authorizer"><Entry>
 <References Name="[sales_staff]" /></Entry></Relationship></Element>
<Element Type="SqlTable" Name="[sales].[CustomerCards]"><Relationship Name="Columns">
 <Entry><Element Type="SqlSimpleColumn" Name="[sales].[CustomerCards].[CardId]" /></Entry>
 <Entry><Element Type="SqlSimpleColumn" Name="[sales].[CustomerCards].[Last4]" /></Entry></Relationship></Element>
<Element Type="SqlPermissionStatement" Name="[Deny.Select.Object].[sales_staff].[dbo].[sales].[CustomerCards]">
 <Relationship Name="Grantee"><Entry><References Name="[sales_staff]" /></Entry></Relationship>
 <Relationship Name="Grantor"><Entry><References ExternalSource="BuiltIns" Name="[dbo]" /></Entry></Relationship>
 <Relationship Name="SecuredObject"><Entry><References Name="[sales].[CustomerCards]" /></Entry></Relationship>
</Element>
<Element Type="SqlPermissionStatement" Name="[Grant.ViewDefinition.Schema].[sales_staff].[dbo].[crm]">
 <Relationship Name="Grantee"><Entry><References Name="[sales_staff]" /></Entry></Relationship>
 <Relationship Name="SecuredObject"><Entry><References Name="[crm]" /></Entry></Relationship>
</Element>
</Model></DataSchemaModel>"""


def _dacpac(tmp_path: Path, model: str | None = MODEL) -> Path:
    path = tmp_path / "Sales.dacpac"
    with zipfile.ZipFile(path, "w") as archive:
        if model is not None:
            archive.writestr("model.xml", model)
        archive.writestr("Origin.xml", "<DacOrigin />")
    return path


def test_dacpac_facts(tmp_path: Path) -> None:
    snapshot = extract_dacpac(_dacpac(tmp_path))
    sales = snapshot.database("Sales")
    assert sales is not None
    users = {u.name: (u.login, u.orphaned) for u in sales.users}
    assert users == {"sales_app": ("sales_app", False), "old_app": (None, True)}
    assert {(m.role, m.member) for m in sales.memberships} == {("db_owner", "sales_app")}
    assert [(s.name, s.owner) for s in sales.schemas] == [("crm", "sales_staff")]
    perms = {
        (p.securable_class, p.schema_name, p.object_name, p.permission, p.state.value)
        for p in sales.permissions
    }
    assert perms == {
        ("OBJECT", "sales", "CustomerCards", "SELECT", "D"),
        ("SCHEMA", None, "crm", "VIEW DEFINITION", "G"),
    }
    table = sales.objects[0]
    assert (table.kind.value, table.columns) == ("TABLE", ("CardId", "Last4"))


@pytest.mark.parametrize("content", ["not a zip", None])
def test_bad_dacpac_names_the_file(tmp_path: Path, content: str | None) -> None:
    if content is None:
        path = _dacpac(tmp_path, model=None)
    else:
        path = tmp_path / "Sales.dacpac"
        path.write_text(content)
    with pytest.raises(ExtractError, match=r"Sales\.dacpac"):
        extract_dacpac(path)


@pytest.mark.parametrize(
    ("model", "problem"),
    [
        ("<Foo/>", "its root is <Foo>, not SqlPackage's <DataSchemaModel>"),
        ("<DataSchemaModel><Model/></DataSchemaModel>",  # no namespace: not SqlPackage's
         "<DataSchemaModel> is not in SqlPackage's namespace http://schemas.microsoft.com/"
         "sqlserver/dac/Serialization/2012/02"),
        (MODEL.replace("<Model>", "").replace("</Model>", ""), "<DataSchemaModel> holds no <Model>"),
    ],
)  # fmt: skip
def test_model_xml_that_is_no_dacpac_model_is_an_error(
    tmp_path: Path, model: str, problem: str
) -> None:
    """Read on, such a model.xml was a database without security: exit 0, one finding."""
    with pytest.raises(ExtractError) as caught:
        extract_dacpac(_dacpac(tmp_path, model))
    assert (
        str(caught.value)
        == f"{tmp_path / 'Sales.dacpac'}!model.xml: model.xml is not a dacpac model: {problem}"
    )
