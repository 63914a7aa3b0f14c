"""The reference data encoded in mapper/data: row counts, closures, documented decisions."""

from __future__ import annotations

import csv
import io
from importlib.resources import files

import pytest

from grantbridge.errors import MappingError
from mapper import fixed_roles
from mapper.permissions import CATALOG, expand_all


def _data_rows(name: str) -> list[dict[str, str]]:
    text = (files("mapper") / "data" / name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_row_counts_match_the_reference_readme() -> None:
    # shared/reference/mssql/README.md: 286 data rows (SERVER 51), 82 and 36 fixed-role rows
    assert len(_data_rows("builtin_permissions_sql2022.csv")) == 286
    assert len(CATALOG.rows) == 286
    assert sum(row.securable_class == "SERVER" for row in CATALOG.rows) == 51
    assert len(_data_rows("fixed_database_roles.csv")) == 82
    assert len(_data_rows("fixed_server_roles.csv")) == 36


def test_undocumented_rows_are_all_decided() -> None:
    undocumented = [r for r in CATALOG.rows if "NOT DOCUMENTED" in r.covering_source]
    assert len(undocumented) == 27
    assert all(r.covering is not None and r.decided for r in undocumented)


@pytest.mark.parametrize("row", CATALOG.rows, ids=lambda r: f"{r.securable_class}:{r.permission}")
def test_control_implies_every_permission(row: object) -> None:
    """CONTROL of the class and CONTROL SERVER imply every permission (Permissions hierarchy)."""
    assert hasattr(row, "securable_class")
    cls, perm = row.securable_class, row.permission  # type: ignore[attr-defined]
    implied_by = CATALOG.implied_by(cls, perm)
    assert implied_by[0] == (cls, perm)
    root = ("SERVER", "CONTROL SERVER") if cls == "SERVER" else (cls, "CONTROL")
    assert root in implied_by
    assert ("SERVER", "CONTROL SERVER") in implied_by
    box = CATALOG.container_class[cls]
    if box not in (None, "SERVER"):
        assert ("DATABASE", "CONTROL") in implied_by


def test_parent_covering_fixes() -> None:
    # the doc table prints "CONTROL" on SERVER for ledger rows; SERVER only has CONTROL SERVER
    assert ("SERVER", "CONTROL") not in CATALOG.implied_by("DATABASE", "ENABLE LEDGER")
    assert CATALOG.container_class["SEARCH PROPERTY LIST"] == "DATABASE"


def test_implies_is_the_inverse_of_implied_by() -> None:
    below = CATALOG.implies("SCHEMA", "SELECT")
    assert ("OBJECT", "SELECT") in below
    assert ("OBJECT", "INSERT") not in below
    assert len(CATALOG.implies("SERVER", "CONTROL SERVER")) == len(CATALOG.rows)


def test_fixed_database_roles() -> None:
    grants = {(g.role, g.permission, g.state.value) for g in fixed_roles.database_role_grants()}
    assert ("db_owner", "CONTROL", "W") in grants
    assert ("db_datareader", "SELECT", "G") in grants
    assert ("db_denydatareader", "SELECT", "D") in grants
    assert {("db_datawriter", p, "G") for p in ("INSERT", "UPDATE", "DELETE")} <= grants
    assert {("db_denydatawriter", p, "D") for p in ("INSERT", "UPDATE", "DELETE")} <= grants
    # CONNECT comes with each user, not with roles; public has no CONNECT of its own
    assert not any(role == "public" for role, _, _ in grants)
    assert ("db_accessadmin", "CONNECT", "W") in grants
    assert len(fixed_roles.fixed_database_roles()) == 10


def test_fixed_server_roles() -> None:
    grants = {(g.role, g.permission) for g in fixed_roles.server_role_grants()}
    assert ("sysadmin", "CONTROL SERVER") in grants
    assert ("securityadmin", "ALTER ANY LOGIN") in grants
    assert ("dbcreator", "CREATE ANY DATABASE") in grants
    assert "##MS_LoginManager##" in fixed_roles.fixed_server_roles()
    assert len(fixed_roles.fixed_server_roles()) == 19


@pytest.mark.parametrize(
    ("role", "inherited"), sorted(fixed_roles.server_inherited_database_permissions().items())
)
def test_server_roles_reach_the_database_permissions_the_doc_names(
    role: str, inherited: tuple[str, ...]
) -> None:
    """Each 2022 role's documented database-level permissions follow from our hierarchy."""
    held = [g.permission for g in fixed_roles.server_role_grants() if g.role == role]
    for permission in inherited:
        implied_by = CATALOG.implied_by("DATABASE", permission)
        assert any(("SERVER", p) in implied_by for p in held), (role, permission)


def test_expand_all() -> None:
    assert expand_all("OBJECT", "TABLE") == ("DELETE", "INSERT", "REFERENCES", "SELECT", "UPDATE")
    assert expand_all("OBJECT", "PROCEDURE") == ("EXECUTE",)
    assert expand_all("OBJECT", "SCALAR_FUNCTION") == ("EXECUTE", "REFERENCES")
    assert expand_all("OBJECT") == expand_all("OBJECT", "VIEW")
    assert "CREATE TABLE" in expand_all("DATABASE")
    assert "CONTROL" not in expand_all("DATABASE")
    with pytest.raises(MappingError, match="not defined on SCHEMA"):
        expand_all("SCHEMA")
    with pytest.raises(MappingError, match=r"OBJECT \(SEQUENCE\)"):
        expand_all("OBJECT", "SEQUENCE")


def test_unknown_permission_is_an_error() -> None:
    with pytest.raises(MappingError, match="no permission 'SELEKT'"):
        CATALOG.require("OBJECT", "SELEKT")
