"""The extraction script's JSON document (``--catalog-json``): its shape is checked on load.

An empty or unrelated object is not an estate without security, and rows that have nowhere to
go (a misspelt section, a database the ``databases`` section does not list) are not dropped in
silence: each is an input error naming the file and the section or database (DESIGN §6).
"""

from __future__ import annotations

import codecs
import json
import re
from pathlib import Path
from typing import Any

import pytest

from grantbridge.cli import main
from grantbridge.errors import ExtractError, InputError
from grantbridge.inputs import read_input
from mssql_extract.catalog_document import (
    DATABASE_SECTIONS,
    SERVER_SECTIONS,
    extract_catalog_json,
    parse_catalog_document,
)
from mssql_extract.extraction_script import extraction_script
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
    "database without sections": (  # the script writes each section: a truncated capture
        _doc(database_rows=[{"name": "Sales"}]),
        "database_rows[Sales]",
        "database 'Sales' without rows",
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


# --------------------------------------------------------------------------- encodings


#: sqlcmd -o writes the console's code page unless -f 65001; -u writes UTF-16 with a BOM.
def _with_a_non_ascii_login() -> dict[str, Any]:
    doc = catalog_document(load_rows())
    doc["server_principals"] = [
        dict(r, name="CONTOSO\\Jürgen") if r["name"] == "CONTOSO\\jdoe" else r
        for r in doc["server_principals"]
    ]
    return doc


@pytest.mark.parametrize(
    "encode",
    [
        lambda text: text.encode("utf-8"),
        lambda text: codecs.BOM_UTF8 + text.encode("utf-8"),
        lambda text: codecs.BOM_UTF16_LE + text.replace("\n", "\r\n").encode("utf-16-le"),
        lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be"),
    ],
    ids=["utf-8", "utf-8 bom", "sqlcmd -u (utf-16 le bom)", "utf-16 be bom"],
)
def test_catalog_json_encodings_sqlcmd_writes(encode: Any, tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    path.write_bytes(
        encode("\n" + json.dumps(_with_a_non_ascii_login(), indent=1, ensure_ascii=False) + "\n")
    )
    snapshot = extract_catalog_json(path)
    assert "CONTOSO\\Jürgen" in {login.name for login in snapshot.logins}


def test_console_code_page_output_suggests_sqlcmd_f_65001(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "result.json"
    path.write_bytes(json.dumps(_with_a_non_ascii_login(), ensure_ascii=False).encode("cp1252"))
    assert main(["extract", "--catalog-json", str(path), "-o", str(tmp_path / "s.json")]) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    [line] = [x for x in captured.err.splitlines() if x.strip()]
    assert line.startswith(f"error: {path}:1: the catalog JSON is not UTF-8: byte 0xfc at offset")
    assert "sqlcmd with -f 65001" in line


def test_cut_off_utf16_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    path.write_bytes(codecs.BOM_UTF16_LE + '{"databases": []}'.encode("utf-16-le")[:-1])
    with pytest.raises(InputError, match=r"not valid UTF-16 \(truncated data"):
        extract_catalog_json(path)


def test_other_inputs_stay_utf8_only(tmp_path: Path) -> None:
    path = tmp_path / "snapshot.json"
    path.write_bytes(codecs.BOM_UTF16_LE + "{}".encode("utf-16-le"))
    with pytest.raises(InputError, match="the snapshot is not UTF-8: byte 0xff at offset 0"):
        read_input(path, "the snapshot")
    path.write_bytes(codecs.BOM_UTF8 + b"{}")
    assert read_input(path, "the snapshot") == "\ufeff{}"  # as before: the reader decides
