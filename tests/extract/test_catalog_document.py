"""The extraction script's JSON document (``--catalog-json``): its shape is checked on load.

An empty or unrelated object is not an estate without security, and rows that have nowhere to
go (a misspelt section, a database the ``databases`` section does not list) are not dropped in
silence: each is an input error naming the file and the section or database (DESIGN §6).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from grantbridge.cli import main
from grantbridge.errors import ExtractError
from mssql_extract.catalog import (
    DATABASE_SECTIONS,
    SERVER_SECTIONS,
    extract_catalog_json,
    parse_catalog_document,
)
from mssql_extract.queries import extraction_script
from tests.extract_sources.support import catalog_document, load_rows

PATH = Path("result.json")
SALES = {"name": "Sales", "database_id": 5, "state_desc": "ONLINE"}


def _doc(**sections: Any) -> dict[str, Any]:
    return {"databases": [SALES], **sections}


#: name → (document, the error's location key, words its message quotes)
BAD_DOCUMENTS: dict[str, tuple[Any, str | None, str]] = {
    "empty object": ({}, None, "none of the extraction script's sections"),
    "unrelated object": ({"foo": []}, "foo", "unknown section 'foo'"),
    "unknown next to known": (_doc(server_principal=[]), "server_principal", "'server_principal'"),
    "rows of an unlisted database": (
        _doc(database_rows=[{"name": "Ghost", "database_principals": []}]),
        "database_rows[Ghost]",
        "database 'Ghost'",
    ),
    "error of an unlisted database": (
        _doc(database_rows=[{"name": "Ghost", "error": "denied"}]),
        "database_rows[Ghost]",
        "database 'Ghost'",
    ),
    "database rows without databases": (
        {"database_rows": [{"name": "Sales", "schemas": []}]},
        "database_rows[Sales]",
        "database 'Sales'",
    ),
    "unlisted in another case": (
        _doc(database_rows=[{"name": "sales", "schemas": []}]),
        "database_rows[sales]",
        "database 'sales'",
    ),
    "database listed twice": (
        _doc(database_rows=[{"name": "Sales", "schemas": []}, {"name": "Sales", "schemas": []}]),
        "database_rows[Sales]",
        "database 'Sales' twice",
    ),
    "unknown database section": (
        _doc(database_rows=[{"name": "Sales", "database_permission": []}]),
        "Sales.database_permission",
        "unknown section 'database_permission' in database_rows[Sales]",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_DOCUMENTS))
def test_bad_document_is_an_input_error(case: str) -> None:
    data, key, words = BAD_DOCUMENTS[case]
    with pytest.raises(ExtractError) as caught:
        parse_catalog_document(data, PATH)
    error = caught.value
    assert (error.location.file, error.location.key) == ("result.json", key)
    assert words in error.message
    assert str(error).startswith("result.json")


def test_every_section_the_extraction_script_writes_is_accepted() -> None:
    script = extraction_script(include_definitions=True)
    written = set(re.findall(r'"(\w+)":', script.replace('\\"', '"')))
    assert written, "the script's JSON keys are found"
    assert written == SERVER_SECTIONS | DATABASE_SECTIONS | {"database_rows", "name", "error"}
    everything = {
        **{name: [] for name in SERVER_SECTIONS},
        "databases": [SALES, {"name": "master", "database_id": 1}, {"name": "Old"}],
        "database_rows": [
            {"name": "master", **{name: [] for name in DATABASE_SECTIONS}},
            {"name": "Sales", **{name: [] for name in DATABASE_SECTIONS}},
            {"name": "Old", "error": "The server principal is not able to access the database"},
        ],
    }
    rows = parse_catalog_document(everything, PATH)
    assert set(rows.databases) == {"master", "Sales"}
    assert set(rows.errors) == {"Old"}


def test_captured_contoso_document_is_accepted() -> None:
    rows = parse_catalog_document(catalog_document(load_rows()), PATH)
    assert set(rows.databases) == {"Sales", "HR", "Reporting"}


def test_a_listed_database_without_rows_is_reported_not_dropped(tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    path.write_text(json.dumps(_doc(database_rows=[])), encoding="utf-8")
    snapshot = extract_catalog_json(path)
    assert snapshot.databases == ()
    [skipped] = snapshot.skipped
    assert (skipped.kind, skipped.text) == ("database", "Sales")


# --------------------------------------------------------------------------- the CLI


CLI_CASES = ["empty object", "unrelated object", "rows of an unlisted database"]


@pytest.mark.parametrize("case", CLI_CASES)
def test_cli_exits_2_naming_the_file_and_leaves_nothing(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data, key, words = BAD_DOCUMENTS[case]
    monkeypatch.chdir(tmp_path)
    Path("c.json").write_text(json.dumps(data), encoding="utf-8")
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["extract", "--catalog-json", "c.json", "-o", "out/snapshot.json"]) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    [line] = [x for x in captured.err.splitlines() if x.strip()]
    assert line.startswith("error: c.json")
    assert words in line
    assert key is None or f"[{key}]" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no out/, no snapshot


def test_cli_reads_a_good_document(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("c.json").write_text(json.dumps(catalog_document(load_rows())), encoding="utf-8")
    assert main(["extract", "--catalog-json", "c.json", "-o", "out/snapshot.json"]) == 0
    assert "3 databases" in capsys.readouterr().out
    assert Path("out/snapshot.json").is_file()
