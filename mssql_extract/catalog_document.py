"""The extraction script's JSON document (``grantbridge extract --catalog-json F``).

``grantbridge extract --print-query`` prints a T-SQL script (:mod:`mssql_extract.extraction_script`) for a
DBA to run with sqlcmd; its output is one JSON object: a section per server query, and
``database_rows``, one entry per database holding a section per database query (or the error
that kept the database from being read). :func:`extract_catalog_json` reads that file, checks
its shape — an unknown section, a database the ``databases`` section does not list, a row that
is not an object: each would drop facts in silence, so each is an error naming the file and the
section — and hands the rows to :func:`mssql_extract.catalog.snapshot_from_rows`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from grantbridge.errors import ExtractError, Location
from grantbridge.inputs import read_input
from grantbridge.json_input import loads, refuse_lone_surrogates
from mssql_extract.catalog import CatalogRows, Rows, snapshot_from_rows
from mssql_extract.queries import SERVER_QUERIES, database_queries
from mssql_extract.snapshot import SecuritySnapshot


def _json_rows(value: Any, where: str, path: Path) -> Rows:
    if not isinstance(value, list):
        raise ExtractError(f"{where} must be a list of rows", Location(str(path), key=where))
    for number, row in enumerate(value, 1):
        if not isinstance(row, dict):
            raise ExtractError(
                f"the row is {type(row).__name__}, not an object",
                Location(str(path), key=f"{where} row {number}"),
            )
    return value


#: The sections of the extraction script's document (``extraction_script.extraction_script``): one per
#: server query, and ``database_rows``, whose entries hold one section per database query.
SERVER_SECTIONS = frozenset(q.name for q in SERVER_QUERIES)
DATABASE_SECTIONS = frozenset(q.name for q in database_queries(include_definitions=False))
_DATABASE_ROWS = "database_rows"


def _check_sections(
    keys: list[str], allowed: frozenset[str], where: str, path: Path, prefix: str = ""
) -> None:
    """An unknown section is an error: a misspelt one would silently drop its facts."""
    for key in keys:
        if key not in allowed:
            expected = ", ".join(sorted(allowed))
            raise ExtractError(
                f"unknown section {key!r} in {where} (expected {expected})",
                Location(str(path), key=prefix + key),
            )


def _server_rows(data: dict[str, Any], path: Path) -> dict[str, Rows]:
    _check_sections(list(data), SERVER_SECTIONS | {_DATABASE_ROWS}, "the document", path)
    if not data:  # {} is no extraction result, not an estate without security
        raise ExtractError(
            "the document holds none of the extraction script's sections; "
            "is it the output of grantbridge extract --print-query?",
            Location(str(path)),
        )
    return {k: _json_rows(v, k, path) for k, v in data.items() if k != _DATABASE_ROWS}


def _listed_databases(server: Mapping[str, Rows]) -> set[str]:
    return {row["name"] for row in server.get("databases", ()) if isinstance(row.get("name"), str)}


def _database_entry(entry: Mapping[str, Any], listed: set[str], seen: set[str], path: Path) -> str:
    """Check one ``database_rows`` entry and return its database's name."""
    name = entry.get("name")
    if not isinstance(name, str):
        raise ExtractError("a database entry has no name", Location(str(path), key=_DATABASE_ROWS))
    where = f"{_DATABASE_ROWS}[{name}]"
    if name not in listed:  # its rows would be silently dropped: no database row to attach to
        raise ExtractError(
            f"database_rows holds rows of database {name!r}, which the databases section "
            "does not list",
            Location(str(path), key=where),
        )
    if name in seen:
        raise ExtractError(
            f"database_rows holds database {name!r} twice", Location(str(path), key=where)
        )
    seen.add(name)
    sections = [k for k in entry if k != "name"]
    if not sections:  # the script writes every section ([] when empty): a truncated capture
        raise ExtractError(
            f"database_rows holds database {name!r} without rows: the extraction script "
            "writes each of its sections (an empty one as []); capture it again, or leave the "
            "database out (it is then reported as not extracted)",
            Location(str(path), key=where),
        )
    _check_sections(sections, DATABASE_SECTIONS | {"error"}, where, path, prefix=f"{name}.")
    return name


def parse_catalog_document(data: Any, path: Path) -> CatalogRows:
    """Split the extraction script's JSON document into server and per-database rows.

    Raises:
        ExtractError: the document is not an object, holds no section or an unknown one, or
            holds rows of a database its ``databases`` section does not list.
    """
    if not isinstance(data, dict):
        raise ExtractError("the extraction result must be a JSON object", Location(str(path)))
    server = _server_rows(data, path)
    listed, seen = _listed_databases(server), set[str]()
    databases: dict[str, dict[str, Rows]] = {}
    errors: dict[str, str] = {}
    for entry in _json_rows(data.get(_DATABASE_ROWS, []), _DATABASE_ROWS, path):
        name = _database_entry(entry, listed, seen, path)
        if "error" in entry:
            errors[name] = str(entry["error"])
            continue
        databases[name] = {
            k: _json_rows(v, f"{name}.{k}", path) for k, v in entry.items() if k != "name"
        }
    return CatalogRows(server=server, databases=databases, errors=errors)


#: sqlcmd writes its output in the console's code page unless told otherwise.
SQLCMD_ENCODING_HINT = (
    "run sqlcmd with -f 65001 (UTF-8 output) or -u (Unicode output), or save the file as UTF-8"
)


def _read_json(path: Path, what: str) -> Any:
    text = read_input(path, what, byte_order_mark=True, hint=SQLCMD_ENCODING_HINT)
    # sqlcmd may wrap the single cell in blank lines; the document itself is one JSON value
    refuse_lone_surrogates(text, str(path), ExtractError)
    return loads(text.strip(), str(path), ExtractError, _not_sqlcmd_json)


def _not_sqlcmd_json(reason: str) -> str:
    return f"not valid JSON ({reason}); was it saved with sqlcmd -y 0?"


#: The folder of a catalog captured query by query that holds the server queries' files.
SERVER_FOLDER = "server"


def _sections_in(folder: Path) -> dict[str, Any]:
    """``<query>.json`` files of one folder, by query name; any other file is an error (a
    misnamed capture would drop its facts in silence)."""
    sections: dict[str, Any] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        if path.is_dir() or path.suffix.lower() != ".json":
            raise ExtractError(
                "a catalog folder holds one <query>.json file per query, nothing else",
                Location(str(path)),
            )
        sections[path.stem] = _read_json(path, "the catalog rows")
    return sections


def document_from_folder(folder: Path) -> dict[str, Any]:
    """The extraction script's document assembled from a catalog captured query by query.

    ``server/<query>.json`` holds the rows of each server query and ``<database>/<query>.json``
    those of each database query, each a JSON array of rows (the column names of the
    extraction script's queries, as ``fixtures/estates/contoso/catalog`` holds them: what
    running each query on its own and saving its rows as JSON gives).
    """
    server = folder / SERVER_FOLDER
    if not server.is_dir():
        raise ExtractError(
            f"a catalog folder needs a {SERVER_FOLDER}/ folder with the server queries' rows "
            "(or pass the one JSON document of grantbridge extract --print-query)",
            Location(str(folder)),
        )
    data = _sections_in(server)
    data[_DATABASE_ROWS] = [
        {"name": database.name, **_database_sections(database)}
        for database in sorted(folder.iterdir())
        if database.is_dir()
        and database.name != SERVER_FOLDER
        and not database.name.startswith(".")
    ]
    return data


def _database_sections(folder: Path) -> dict[str, Any]:
    """A database folder's sections; an empty folder (a capture that stopped before it) is an
    error, which read as a database without security would drop its users and grants."""
    sections = _sections_in(folder)
    if not sections:
        raise ExtractError(
            "the database folder holds no <query>.json file: capture its rows, or remove the "
            "folder (the database is then reported as not extracted)",
            Location(str(folder)),
        )
    return sections


def extract_catalog_json(path: Path) -> SecuritySnapshot:
    """Read the JSON document produced by the extraction script (``--print-query``), or a
    folder of the same rows captured query by query (:func:`document_from_folder`).

    A file may be UTF-8 (with or without a byte-order mark) or UTF-16 with a byte-order mark
    (``sqlcmd -u``); anything else is an input error suggesting ``sqlcmd -f 65001``.
    """
    if Path(path).is_dir():
        data = document_from_folder(Path(path))
    else:
        data = _read_json(path, "the catalog JSON")
    rows = parse_catalog_document(data, path)
    return snapshot_from_rows(rows, source="catalog", origin=str(path))
