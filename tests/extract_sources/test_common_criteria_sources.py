"""``Server.common_criteria`` from each source: captured catalog rows (``sys.configurations``,
as live mode and the extraction script read them) and scripts (``sp_configure``); the plan
then lets Contoso's table DENY on sales.CustomerCards beat its column GRANTs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mapper.planner import plan
from mapper.policy import Policy
from mapper.translate.skipped import harmless
from mssql_extract.catalog import snapshot_from_rows
from tests.extract.tsql_helpers import snap
from tests.extract_sources.support import load_rows
from tests.extract_sources.test_catalog_edges import rows_with

#: Contoso's sales_staff: DENY SELECT on the table, SELECT granted on three of its columns.
CARD_COLUMNS = {
    f"grant:TABLE sales:sales.customercards({c}):SELECT:sales_sales_staff"
    for c in ("cardid", "customerid", "last4")
}


def _set(value: int | None) -> Any:
    def edit(server: dict[str, Any], _databases: dict[str, dict[str, Any]]) -> None:
        if value is None:
            server["server_configurations"] = []  # an edition without the option
        else:
            server["server_configurations"][0]["value_in_use"] = value

    return edit


@pytest.mark.parametrize(("value", "read"), [(None, None), (0, False), (1, True)])
def test_the_catalog_rows_give_the_option(value: int | None, read: bool | None) -> None:
    snapshot = snapshot_from_rows(rows_with(_set(value)))
    assert snapshot.server.common_criteria is read
    grants = {g.key for g in plan(snapshot, Policy()).grants}
    kept = CARD_COLUMNS & grants
    assert kept == (set() if read else CARD_COLUMNS)


def test_contoso_captured_runs_with_the_option_off() -> None:
    assert snapshot_from_rows(load_rows()).server.common_criteria is False


@pytest.mark.parametrize(
    ("sql", "read"),
    [
        ("EXEC sp_configure 'common criteria compliance enabled', 1", True),
        ("EXEC sp_configure N'Common Criteria  Compliance Enabled', '0'", False),
        ("EXEC sp_configure @configname = 'common criteria', @configvalue = 1", True),
        ("EXECUTE master.sys.sp_configure 'com', 1", True),  # "any unique part of the name"
        # without EXEC as a batch's first statement (as SSMS scripts old procedures)
        ("GO\nsp_configure 'common criteria compliance enabled', 1\nRECONFIGURE", True),
    ],
)
def test_a_script_sets_the_option(sql: str, read: bool) -> None:
    found = snap(f"EXEC sp_configure 'show advanced options', 1\nRECONFIGURE\n{sql}\nRECONFIGURE")
    assert found.server.common_criteria is read
    # the other option is reported as before (its literal masked, as any unknown call's)
    [other] = [s for s in found.skipped if not harmless(s)]
    assert other.text.startswith("EXEC sp_configure '***', 1")
    assert other.source_ref.line == 1


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("EXEC sp_configure 'common criteria compliance enabled'", "does not replay"),  # shows it
        ("EXEC sp_configure 'co', 1", "does not replay"),  # cost threshold…, contained…
        ("EXEC sp_configure 'common criteria compliance enabled', 2", "takes 0 or 1, not 2"),
    ],
)
def test_what_is_not_the_option_set_is_kept_as_skipped(sql: str, reason: str) -> None:
    found = snap(sql)
    assert found.server.common_criteria is None
    [entry] = found.skipped
    assert reason in entry.reason
    assert not harmless(entry)


def test_a_script_with_the_option_on_plans_no_column_grant_under_a_table_deny(
    tmp_path: Path,
) -> None:
    script = tmp_path / "estate.sql"
    script.write_text(
        "EXEC sp_configure 'common criteria compliance enabled', 1\nRECONFIGURE\nGO\n"
        "CREATE DATABASE [D]\nGO\nUSE [D]\nGO\n"
        "CREATE TABLE dbo.T (id int, secret int)\nGO\n"
        "CREATE ROLE [readers]\nGO\n"
        "DENY SELECT ON dbo.T TO [readers]\nGO\n"
        "GRANT SELECT ON dbo.T ([id]) TO [readers]\nGO\n",
        encoding="utf-8",
    )
    from mssql_extract import tsql

    on = tsql.extract_scripts([script])
    off = on.model_copy(update={"server": on.server.model_copy(update={"common_criteria": None})})
    column = "grant:TABLE d:dbo.t(id):SELECT:readers"
    assert column in {g.key for g in plan(off, Policy()).grants}
    assert column not in {g.key for g in plan(on, Policy()).grants}
