"""``extract --catalog-json FOLDER``: a catalog captured query by query (``server/<query>.json``,
``<database>/<query>.json``) reads as the one document of ``--print-query`` does."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from grantbridge.cli import main
from grantbridge.errors import ExtractError
from mssql_extract.catalog_document import extract_catalog_json
from tests.extract_sources.support import CATALOG, catalog_document, facts, load_rows


def test_a_folder_reads_as_the_document_of_the_same_rows(tmp_path: Path) -> None:
    document = tmp_path / "rows.json"
    document.write_text(json.dumps(catalog_document(load_rows())), encoding="utf-8")
    from_folder = extract_catalog_json(CATALOG)
    assert facts(from_folder) == facts(extract_catalog_json(document))
    assert len(from_folder.logins) > 10
    assert {d.name for d in from_folder.databases} == {"Sales", "HR", "Reporting"}


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "catalog"
    shutil.copytree(CATALOG, folder)
    return folder


def test_a_misnamed_query_file_is_an_error_naming_it(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    (folder / "Sales" / "database_permissions.json").rename(
        folder / "Sales" / "database_permission.json"
    )
    with pytest.raises(ExtractError, match="unknown section 'database_permission'"):
        extract_catalog_json(folder)


def test_a_file_that_is_not_json_rows_is_an_error(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    (folder / "Sales" / "notes.txt").write_text("x", encoding="utf-8")
    with pytest.raises(ExtractError, match=r"one <query>\.json file per query") as caught:
        extract_catalog_json(folder)
    assert "notes.txt" in str(caught.value.location)


def test_bad_json_names_the_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _copy(tmp_path)
    (folder / "HR" / "schemas.json").write_text('[\n {"name": "dbo",}\n]\n', encoding="utf-8")
    code = main(["extract", "--catalog-json", str(folder), "-o", str(tmp_path / "s.json")])
    err = capsys.readouterr().err
    assert code == 2
    assert "schemas.json:2:" in err
    assert "Traceback" not in err
    assert not (tmp_path / "s.json").exists()


def test_a_folder_without_server_rows_is_an_error(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    shutil.rmtree(folder / "server")
    with pytest.raises(ExtractError, match="needs a server/ folder"):
        extract_catalog_json(folder)


def test_an_empty_database_folder_is_an_error_not_a_database_without_security(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A capture that stopped before a database leaves its folder empty: read as a database
    without users or grants, it dropped HR's security with exit 0."""
    folder = _copy(tmp_path)
    for each in (folder / "HR").iterdir():
        each.unlink()
    code = main(["extract", "--catalog-json", str(folder), "-o", str(tmp_path / "s.json")])
    assert code == 2
    assert capsys.readouterr().err == (
        f"error: {folder / 'HR'}: the database folder holds no <query>.json file: capture its "
        "rows, or remove the folder (the database is then reported as not extracted)\n"
    )
    assert not (tmp_path / "s.json").exists()
