"""Shared helpers for the source tests: captured rows, the fact-by-fact comparison."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mssql_extract.catalog import CatalogRows
from mssql_extract.snapshot import SecuritySnapshot
from tests.conftest import CONTOSO

CATALOG = CONTOSO / "catalog"


def load_rows(root: Path = CATALOG) -> CatalogRows:
    """The captured rows: ``server/<query>.json`` and ``<database>/<query>.json``."""
    server = {p.stem: json.loads(p.read_text()) for p in sorted((root / "server").glob("*.json"))}
    databases = {
        d.name: {p.stem: json.loads(p.read_text()) for p in sorted(d.glob("*.json"))}
        for d in sorted(root.iterdir())
        if d.is_dir() and d.name != "server"
    }
    return CatalogRows(server=server, databases=databases)


def catalog_document(rows: CatalogRows) -> dict[str, Any]:
    """The JSON document the extraction script returns, built from captured rows."""
    doc: dict[str, Any] = dict(rows.server)
    doc["database_rows"] = [{"name": name, **queries} for name, queries in rows.databases.items()]
    return doc


def facts(snapshot: SecuritySnapshot) -> dict[str, dict[str, Any]]:
    """Every fact by a stable key, without provenance (``source_ref``)."""
    data = json.loads(snapshot.to_json())
    found: dict[str, dict[str, Any]] = {}
    for kind in ("logins", "server_roles", "server_memberships", "server_permissions"):
        for item in data[kind]:
            found[f"server/{kind}/{_key(kind, item)}"] = _strip(item)
    for db in data["databases"]:
        head = {k: v for k, v in db.items() if not isinstance(v, list) and not k.endswith("_ref")}
        found[f"db/{db['name'].casefold()}"] = head
        for kind, items in db.items():
            if isinstance(items, list):
                for item in items:
                    found[f"db/{db['name'].casefold()}/{kind}/{_key(kind, item)}"] = _strip(item)
    return found


def _key(kind: str, item: dict[str, Any]) -> str:
    names = [
        item.get(k)
        for k in (
            "securable_class",
            "schema_name",
            "object_name",
            "column_name",
            "permission",
            "role",
            "member",
            "grantee",
            "table_name",
            "name",
        )
    ]
    state = {"D": "deny"}.get(item.get("state", ""), "grant" if "state" in item else "")
    return ":".join(str(n).casefold() for n in [*names, state] if n)


def _strip(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if not k.endswith("_ref")}
