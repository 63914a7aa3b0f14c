"""Pure converters: catalog rows (as the queries in :mod:`mssql_extract.queries` return them)
→ :class:`SecuritySnapshot`.

The rows are dictionaries keyed by SQL Server's own column names. Values may come from pyodbc
(``bool`` for bit, ``bytes`` for varbinary, ``datetime``) or from the extraction script's
``FOR JSON`` document (``true``/``false`` or 0/1, ``"0x…"`` strings, ISO datetimes); both are
accepted. Nothing here does I/O: :mod:`mssql_extract.catalog_document` reads the extraction
script's document and hands its rows here.

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

Nothing is dropped in silence. Rows are checked first (:mod:`mssql_extract.catalog_check`): a
malformed row stops the extraction naming its file, section, row and column. A well-formed row
that cannot be read is kept in ``skipped`` with the reason, and becomes a finding of the plan:
a principal id that names no principal, a securable class or object that was not found, a
column permission whose column was not found (never widened to the whole object), an owner
that is not a principal. On Azure SQL Database (``SERVERPROPERTY('EngineEdition')`` 5) the
server-level views are not read, and a skipped entry says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from grantbridge.errors import ExtractError, Location
from mssql_extract.catalog_check import check_rows
from mssql_extract.catalog_db import audit_specifications, convert_database
from mssql_extract.catalog_rows import (
    Rows,
    Source,
    as_bool,
    as_hex,
    as_str,
    by_id,
    is_azure_sql_database,
    is_internal_login,
    lookup,
    permission_state,
    permission_text,
    unknown_ids,
    unknown_principal,
)
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
    SourceRef,
    one_per_grantor_merged,
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

#: sys.server_permissions.class → securable class (catalog_views.json, sys.server_permissions;
#: 108, availability group, from the 2017+ revision of Microsoft Learn's page of that view).
SERVER_CLASSES: dict[int, str] = {
    100: "SERVER",
    101: "LOGIN",
    105: "ENDPOINT",
    108: "AVAILABILITY GROUP",
}

#: What an Azure SQL Database extraction leaves out (see :func:`_not_read_on_azure`).
AZURE_SERVER_LEVEL = (
    "Azure SQL Database: server-level security was not read (logins, server roles and their "
    "members, server permissions, audit specifications); logins live in the logical server's "
    "master database, and audits are set on the Azure resource"
)

#: The server option ``Server.common_criteria`` reads (queries.SERVER_CONFIGURATIONS).
COMMON_CRITERIA = "common criteria compliance enabled"

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
    options = {r.get("name"): r.get("value_in_use") for r in src.rows("server_configurations")}
    criteria = options.get(COMMON_CRITERIA)
    return Server(
        name=as_str(row.get("server_name")) or "unknown",
        version=as_str(row.get("product_version")),
        edition=as_str(row.get("edition")),
        collation=as_str(row.get("collation")),
        authentication_mode=mode,
        common_criteria=None if criteria is None else as_bool(criteria),
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


def _logins(
    src: Source, principals: Mapping[int, Mapping[str, Any]], skipped: list[Skipped]
) -> list[Login]:
    sql_logins = by_id(src.rows("sql_logins"), "principal_id")
    connects = _connect_sql_holders(src)
    found = []
    for pid, row in principals.items():
        kind = str(row["type"])
        if kind not in LOGIN_TYPES and kind != "R":  # a type grantbridge does not know
            ref = src.ref("sys.server_principals", f"principal_id={pid}")
            reason = f"server principal of unknown type {kind!r}"
            skipped.append(Skipped(kind="row", reason=reason, text=row["name"], source_ref=ref))
        elif kind in LOGIN_TYPES and not is_internal_login(row["name"]):
            login = _login(row, sql_logins.get(pid), src)
            if pid not in connects:
                login = login.model_copy(update={"connect_revoked": True})
            found.append(login)
    return found


def _connect_sql_holders(src: Source) -> set[int]:
    """Principals holding CONNECT SQL, granted or denied: CREATE LOGIN grants it ("CREATE
    LOGIN": the login can connect), so a login without the row had it revoked (sp_help_revlogin's
    ``hasaccess = 0``)."""
    return {
        int(row["grantee_principal_id"]) for row in src.rows("server_permissions")
        if str(row["permission_name"]) == "CONNECT SQL" and permission_state(row["state"]) is not None
    }  # fmt: skip


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


def _known(
    principals: Mapping[int, Mapping[str, Any]], ref: SourceRef, skipped: list[Skipped], **ids: Any
) -> bool:
    """Whether every principal id of a row is known; if not, the row is recorded skipped."""
    missing = unknown_ids(principals, **ids)
    if missing:
        skipped.append(unknown_principal(ref, "sys.server_principals", missing))
    return not missing


def _server_memberships(
    src: Source, principals: Mapping[int, Mapping[str, Any]], skipped: list[Skipped]
) -> list[Membership]:
    found = []
    for row in src.rows("server_role_members"):
        rid, mid = row["role_principal_id"], row["member_principal_id"]
        ref = src.ref("sys.server_role_members", f"role={rid},member={mid}")
        if not _known(principals, ref, skipped, role=rid, member=mid):
            continue
        role, member = str(lookup(principals, rid)), str(lookup(principals, mid))
        if not is_internal_login(member):
            found.append(Membership(role=role, member=member, source_ref=ref))
    return found


def _server_securable(
    row: Mapping[str, Any], principals: Mapping[int, Mapping[str, Any]]
) -> tuple[str, str | None] | str:
    """(class, name) of a server permission row, or why it cannot be resolved."""
    cls = SERVER_CLASSES.get(int(row["class"]))
    if cls is None:
        return f"unsupported class {row['class']}"
    if cls == "LOGIN" and principals.get(int(row["major_id"]), {}).get("type") == "R":
        cls = "SERVER ROLE"
    if cls == "SERVER":
        return (cls, None)
    name = as_str(row.get("securable_name"))
    if name is None:  # e.g. an availability group without a local replica
        return f"the {cls} securable with major_id {row['major_id']} was not found"
    return (cls, name)


def _server_permissions(
    src: Source, principals: Mapping[int, Mapping[str, Any]], skipped: list[Skipped]
) -> list[Permission]:
    found = []
    for row in src.rows("server_permissions"):
        key = (
            f"class={row['class']},major_id={row['major_id']},"
            f"grantee={row['grantee_principal_id']},type={str(row['type']).strip()}"
        )
        ref = src.ref("sys.server_permissions", key)
        state = permission_state(row["state"])
        if state is None or not _known(
            principals, ref, skipped, grantee=row["grantee_principal_id"]
        ):
            continue  # REVOKE rows are no facts; an unknown grantee is recorded skipped
        grantee = str(lookup(principals, row["grantee_principal_id"]))
        if is_internal_login(grantee):
            continue
        securable = _server_securable(row, principals)
        if isinstance(securable, str):
            text = permission_text(row, state, grantee)
            skipped.append(Skipped(kind="row", reason=securable, text=text, source_ref=ref))
            continue
        found.append(
            Permission(
                securable_class=securable[0],
                object_name=securable[1],
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
    src: Source,
    rows: CatalogRows,
    logins_by_sid: Mapping[str, str] | None,
    skipped: list[Skipped],
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


def _not_read_on_azure(src: Source) -> Skipped:
    """The skipped entry of an Azure SQL Database extraction: no server-level views there
    (sys.server_audit_specifications, for one, exists on SQL Server and Managed Instance only:
    Microsoft Learn, sys-server-audit-specifications-transact-sql)."""
    ref = src.ref("SERVERPROPERTY", "EngineEdition=5")
    return Skipped(kind="row", reason=AZURE_SERVER_LEVEL, source_ref=ref)


def _one_line(exc: ValueError) -> str:
    """A model error in one line (pydantic's own text spans several)."""
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return f"{first['msg']} ({exc.title}.{where})"
    return str(exc)


def _unique(skipped: list[Skipped]) -> tuple[Skipped, ...]:
    """One entry per key: two catalog rows with the same key say the same thing."""
    return tuple({s.key: s for s in reversed(skipped)}.values())


def snapshot_from_rows(
    rows: CatalogRows,
    *,
    source: str = "catalog",
    origin_prefix: str = "",
    origin: str | None = None,
) -> SecuritySnapshot:
    """Convert raw catalog rows into a snapshot (pure: no I/O, deterministic).

    Args:
        rows: The rows, by query, of the server and of each database.
        source: The snapshot's ``source``.
        origin_prefix: Prefixed to the catalog view of every fact's ``source_ref``.
        origin: Where the rows were read (the file), for error messages.

    Raises:
        ExtractError: a malformed row (naming ``origin``, the section, the row and the
            column), or rows whose facts contradict each other.
    """
    check_rows(rows.server, rows.databases, origin)
    src = Source(rows.server, origin_prefix)
    principals = by_id(src.rows("server_principals"), "principal_id")
    azure = is_azure_sql_database(src.rows("server_properties"))
    skipped: list[Skipped] = [_not_read_on_azure(src)] if azure else []
    logins = _logins(src, principals, skipped)
    logins_by_sid = None if azure else {x.sid: x.name for x in logins if x.sid}
    try:
        return SecuritySnapshot(
            source=source,
            server=_server(src),
            logins=tuple(logins),
            server_roles=tuple(_server_roles(src, principals, _referenced_roles(src))),
            server_memberships=tuple(_server_memberships(src, principals, skipped)),
            server_permissions=tuple(
                one_per_grantor_merged(_server_permissions(src, principals, skipped))
            ),
            audit_specifications=tuple(_server_audits(src, principals)),
            databases=tuple(_databases(src, rows, logins_by_sid, skipped)),
            skipped=_unique(skipped),
        )
    except ValueError as exc:
        raise ExtractError(
            f"inconsistent catalog rows: {_one_line(exc)}", Location(origin)
        ) from None


__all__ = ["CatalogRows", "Rows", "snapshot_from_rows"]
