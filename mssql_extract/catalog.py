"""Pure converters: catalog rows (as the queries in :mod:`mssql_extract.queries` return them)
→ :class:`SecuritySnapshot`.

The rows are dictionaries keyed by SQL Server's own column names. Values may come from pyodbc
(``bool`` for bit, ``bytes`` for varbinary, ``datetime``) or from the extraction script's
``FOR JSON`` document (``true``/``false`` or 0/1, ``"0x…"`` strings, ISO datetimes); both are
accepted. Nothing here does I/O except :func:`extract_catalog_json`, which reads one file.

What SQL Server creates by itself is left implicit, as the T-SQL extractor leaves it:

* logins named ``##…##`` (certificate and policy logins created by setup) are not listed;
* the ``public`` roles and the built-in users ``dbo``, ``guest``, ``INFORMATION_SCHEMA`` and
  ``sys`` are not listed as principals (``Database.owner`` and ``guest_enabled`` carry them);
* fixed roles are listed only when they have a member or a permission;
* built-in schemas (``dbo``, ``guest``, ``sys``, ``INFORMATION_SCHEMA``, the fixed-role
  schemas) are listed only when their owner was changed;
* system databases (``master``, ``tempdb``, ``model``, ``msdb``) are not listed.

Permission rows are kept exactly as the catalog holds them, including the ``CONNECT SQL`` and
``CONNECT`` grants SQL Server adds when a login or user is created.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grantbridge.errors import ExtractError, Location
from mssql_extract.catalog_db import audit_specifications, convert_database
from mssql_extract.catalog_rows import (
    Rows,
    Source,
    as_bool,
    as_hex,
    as_str,
    by_id,
    is_internal_login,
    lookup,
    permission_state,
)
from mssql_extract.queries import SERVER_QUERIES, database_queries
from mssql_extract.snapshot import (
    Database,
    Login,
    LoginType,
    Membership,
    Permission,
    SecuritySnapshot,
    Server,
    ServerRole,
    Skipped,
)

#: sys.server_principals.type → LoginType (catalog_views.json, sys.server_principals.type).
LOGIN_TYPES: dict[str, LoginType] = {
    "S": LoginType.SQL,
    "U": LoginType.WINDOWS_USER,
    "G": LoginType.WINDOWS_GROUP,
    "C": LoginType.CERTIFICATE,
    "K": LoginType.ASYMMETRIC_KEY,
    "E": LoginType.EXTERNAL_USER,
    "X": LoginType.EXTERNAL_GROUP,
}

#: sys.server_permissions.class → securable class (catalog_views.json, sys.server_permissions).
SERVER_CLASSES: dict[int, str] = {
    100: "SERVER",
    101: "LOGIN",
    105: "ENDPOINT",
    108: "AVAILABILITY GROUP",
}

#: System databases (database_id 1–4) hold no estate security of their own.
SYSTEM_DATABASES = frozenset({"master", "tempdb", "model", "msdb"})


@dataclass(frozen=True)
class CatalogRows:
    """Raw rows of one extraction: server queries, and per database its queries or an error."""

    server: Mapping[str, Rows]
    databases: Mapping[str, Mapping[str, Rows]] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)


def _server(src: Source) -> Server:
    props = src.rows("server_properties")
    row = props[0] if props else {}
    integrated = row.get("is_integrated_security_only")
    mode = None if integrated is None else ("WINDOWS" if as_bool(integrated) else "MIXED")
    return Server(
        name=as_str(row.get("server_name")) or "unknown",
        version=as_str(row.get("product_version")),
        edition=as_str(row.get("edition")),
        collation=as_str(row.get("collation")),
        authentication_mode=mode,
    )


def _login(row: Mapping[str, Any], sql: Mapping[str, Any] | None, src: Source) -> Login:
    is_sql = sql is not None
    return Login(
        name=row["name"],
        type=LOGIN_TYPES[row["type"]],
        sid=as_hex(row.get("sid")),
        disabled=as_bool(row.get("is_disabled")),
        default_database=as_str(row.get("default_database_name")),
        default_language=as_str(row.get("default_language_name")),
        check_policy=as_bool(sql.get("is_policy_checked")) if sql is not None else None,
        check_expiration=as_bool(sql.get("is_expiration_checked")) if sql is not None else None,
        must_change=as_bool(sql.get("is_must_change")) if sql is not None else False,
        has_password=is_sql,
        credential=as_str(row.get("credential_name")),
        source_ref=src.ref("sys.server_principals", f"principal_id={row['principal_id']}"),
    )


def _logins(src: Source, principals: Mapping[int, Mapping[str, Any]]) -> list[Login]:
    sql_logins = by_id(src.rows("sql_logins"), "principal_id")
    return [
        _login(row, sql_logins.get(pid), src)
        for pid, row in principals.items()
        if row["type"] in LOGIN_TYPES and not is_internal_login(row["name"])
    ]


def _server_roles(
    src: Source, principals: Mapping[int, Mapping[str, Any]], referenced: set[int]
) -> list[ServerRole]:
    roles = []
    for pid, row in principals.items():
        fixed = as_bool(row.get("is_fixed_role"))
        fixed = fixed or row["name"] == "public"  # public: fixed in all but name
        if row["type"] != "R" or (fixed and pid not in referenced):
            continue
        owner = None if fixed else lookup(principals, row.get("owning_principal_id"))
        ref = src.ref("sys.server_principals", f"principal_id={pid}")
        roles.append(ServerRole(name=row["name"], is_fixed=fixed, owner=owner, source_ref=ref))
    return roles


def _server_memberships(
    src: Source, principals: Mapping[int, Mapping[str, Any]]
) -> list[Membership]:
    found = []
    for row in src.rows("server_role_members"):
        role = lookup(principals, row["role_principal_id"])
        member = lookup(principals, row["member_principal_id"])
        if role is None or member is None or is_internal_login(member):
            continue
        key = f"role={row['role_principal_id']},member={row['member_principal_id']}"
        found.append(
            Membership(role=role, member=member, source_ref=src.ref("sys.server_role_members", key))
        )
    return found


def _server_securable(row: Mapping[str, Any], principals: Mapping[int, Mapping[str, Any]]) -> str:
    cls = SERVER_CLASSES.get(int(row["class"]))
    if cls is None:
        raise KeyError(f"class {row['class']}")
    if cls == "LOGIN" and principals.get(int(row["major_id"]), {}).get("type") == "R":
        return "SERVER ROLE"
    return cls


def _server_permissions(
    src: Source, principals: Mapping[int, Mapping[str, Any]], skipped: list[Skipped]
) -> list[Permission]:
    found = []
    for row in src.rows("server_permissions"):
        grantee = lookup(principals, row["grantee_principal_id"])
        key = (
            f"class={row['class']},major_id={row['major_id']},"
            f"grantee={row['grantee_principal_id']},type={str(row['type']).strip()}"
        )
        ref = src.ref("sys.server_permissions", key)
        state = permission_state(row["state"])
        if grantee is None or is_internal_login(grantee) or state is None:
            continue
        try:
            cls = _server_securable(row, principals)
        except KeyError:
            skipped.append(
                Skipped(kind="row", reason=f"unsupported class {row['class']}", source_ref=ref)
            )
            continue
        name = as_str(row.get("securable_name")) if cls != "SERVER" else None
        found.append(
            Permission(
                securable_class=cls,
                object_name=name,
                permission=row["permission_name"],
                state=state,
                grantee=grantee,
                grantor=lookup(principals, row.get("grantor_principal_id")),
                source_ref=ref,
            )
        )
    return found


def _referenced_roles(src: Source) -> set[int]:
    ids = {int(r["role_principal_id"]) for r in src.rows("server_role_members")}
    ids |= {int(r["member_principal_id"]) for r in src.rows("server_role_members")}
    ids |= {int(r["grantee_principal_id"]) for r in src.rows("server_permissions")}
    return ids


def _databases(
    src: Source, rows: CatalogRows, logins_by_sid: Mapping[str, str], skipped: list[Skipped]
) -> list[Database]:
    found = []
    for row in src.rows("databases"):
        name = row["name"]
        if name.casefold() in SYSTEM_DATABASES:
            continue
        ref = src.ref("sys.databases", f"database_id={row['database_id']}")
        reason = _unreadable(row, rows)
        if reason is not None:
            skipped.append(Skipped(kind="database", reason=reason, text=name, source_ref=ref))
            continue
        db_src = Source(rows.databases[name], src.origin_prefix, database=name)
        found.append(convert_database(db_src, row, logins_by_sid, ref, skipped))
    return found


def _unreadable(row: Mapping[str, Any], rows: CatalogRows) -> str | None:
    """Why the rows of a database are missing, or None when they are there."""
    name = row["name"]
    if name in rows.errors:
        return f"database {name!r} could not be read: {rows.errors[name]}"
    if name in rows.databases:
        return None
    state = as_str(row.get("state_desc")) or "ONLINE"
    if state != "ONLINE":
        return f"database {name!r} is {state}"
    if "has_dbaccess" in row and not as_bool(row.get("has_dbaccess")):
        return f"database {name!r} is not accessible to the extracting login"
    return f"database {name!r} was not extracted"


def _server_audits(src: Source, principals: Mapping[int, Mapping[str, Any]]) -> list[Any]:
    return audit_specifications(
        list(src.rows("server_audit_specifications")), "SERVER",
        lambda name: src.ref("sys.server_audit_specifications", f"name={name}"),
        lambda pid: lookup(principals, pid),
    )  # fmt: skip


def snapshot_from_rows(
    rows: CatalogRows, *, source: str = "catalog", origin_prefix: str = ""
) -> SecuritySnapshot:
    """Convert raw catalog rows into a snapshot (pure: no I/O, deterministic)."""
    src = Source(rows.server, origin_prefix)
    principals = by_id(src.rows("server_principals"), "principal_id")
    skipped: list[Skipped] = []
    logins = _logins(src, principals)
    logins_by_sid = {login.sid: login.name for login in logins if login.sid}
    try:
        return SecuritySnapshot(
            source=source,
            server=_server(src),
            logins=tuple(logins),
            server_roles=tuple(_server_roles(src, principals, _referenced_roles(src))),
            server_memberships=tuple(_server_memberships(src, principals)),
            server_permissions=tuple(_server_permissions(src, principals, skipped)),
            audit_specifications=tuple(_server_audits(src, principals)),
            databases=tuple(_databases(src, rows, logins_by_sid, skipped)),
            skipped=tuple(skipped),
        )
    except ValueError as exc:
        raise ExtractError(
            f"inconsistent catalog rows: {exc}", Location(origin_prefix or None)
        ) from None


def _json_rows(value: Any, where: str, path: Path) -> Rows:
    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        raise ExtractError(f"{where} must be a list of rows", Location(str(path), key=where))
    return value


#: The sections of the extraction script's document (``queries.extraction_script``): one per
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


def extract_catalog_json(path: Path) -> SecuritySnapshot:
    """Read the JSON document produced by the extraction script (``--print-query``)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ExtractError(f"cannot read the catalog JSON: {exc}", Location(str(path))) from None
    # sqlcmd may wrap the single cell in blank lines; the document itself is one JSON object
    try:
        data = json.loads(text.strip())
    except json.JSONDecodeError as exc:
        raise ExtractError(
            f"not valid JSON ({exc.msg}); was it saved with sqlcmd -y 0?",
            Location(str(path), exc.lineno, exc.colno),
        ) from None
    rows = parse_catalog_document(data, path)
    try:
        return snapshot_from_rows(rows, source="catalog")
    except KeyError as exc:
        raise ExtractError(f"a row lacks the column {exc}", Location(str(path))) from None


__all__ = [
    "CatalogRows",
    "Rows",
    "extract_catalog_json",
    "parse_catalog_document",
    "snapshot_from_rows",
]
