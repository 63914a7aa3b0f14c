"""GB047: a case-sensitive collation is said once per database (or server): grantbridge folds
names, so names differing only in case would be merged. Scripts record ``COLLATE`` too."""

from __future__ import annotations

import pytest

from mapper.planner import plan
from mapper.policy import Policy
from mapper.translate.collation import case_sensitive
from tests.extract.tsql_helpers import snap

DATABASES = """CREATE DATABASE [App] ON PRIMARY (NAME = N'App', FILENAME = N'C:\\x.mdf')
    COLLATE Latin1_General_CS_AS WITH CATALOG_COLLATION = DATABASE_DEFAULT;
CREATE DATABASE [Plain] COLLATE [SQL_Latin1_General_CP1_CI_AS];
CREATE DATABASE [Other];
"""


def test_scripts_record_a_database_collation() -> None:
    found = {db.name: db.collation for db in snap(DATABASES).databases}
    assert found == {
        "App": "Latin1_General_CS_AS",
        "Plain": "SQL_Latin1_General_CP1_CI_AS",
        "Other": None,
    }


@pytest.mark.parametrize(
    ("collation", "sensitive"),
    [
        ("Latin1_General_CS_AS", True),
        ("SQL_Latin1_General_CP1_CS_AS", True),
        ("Latin1_General_100_BIN2_UTF8", True),
        ("Latin1_General_BIN", True),
        ("Latin1_General_CI_AS", False),
        ("SQL_Latin1_General_CP1_CI_AS", False),
        ("Latin1_General_100_CI_AS_SC_UTF8", False),
        (None, False),
    ],
)
def test_case_sensitive_collations(collation: str | None, sensitive: bool) -> None:
    assert case_sensitive(collation) is sensitive


def test_a_case_sensitive_database_gets_one_gb047() -> None:
    planned = plan(snap(DATABASES), Policy())
    found = [f for f in planned.findings if f.rule_id == "GB047"]
    assert [(f.securable, f.source_ref) for f in found] == [("DATABASE App", "t.sql:1:1")]
