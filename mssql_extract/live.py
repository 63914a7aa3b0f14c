"""Live extraction: thin I/O over pyodbc that returns raw rows to :mod:`mssql_extract.catalog`.

The connection is read-only (``ApplicationIntent=ReadOnly``) and encrypted by default
(``Encrypt=yes``; ``TrustServerCertificate=yes`` only when asked). A SQL login's password comes
from ``GRANTBRIDGE_MSSQL_PASSWORD`` or a hidden prompt; it is never echoed, logged or put in an
error message. Windows and Entra authentication pass through the connection string.

On Azure SQL Database (``SERVERPROPERTY('EngineEdition')`` 5) the server-level queries are not
run, and each database is read over a connection of its own (``DATABASE=`` in the connection
string): ``USE`` cannot switch databases there (error 40508).

pyodbc is imported lazily, so every other command works on a machine without unixODBC. The
connection factory can be injected: tests pass a DB-API connection serving captured rows.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from grantbridge.errors import ConnectionFailed, InputError
from mssql_extract.catalog import SYSTEM_DATABASES, CatalogRows, snapshot_from_rows
from mssql_extract.catalog_rows import Rows, as_bool, is_azure_sql_database
from mssql_extract.queries import SERVER_PROPERTIES, Query, database_queries, server_queries
from mssql_extract.snapshot import SecuritySnapshot

PASSWORD_ENV = "GRANTBRIDGE_MSSQL_PASSWORD"

#: What to install when pyodbc, unixODBC or a SQL Server ODBC driver is missing.
INSTALL_HINT = (
    "install unixODBC and a SQL Server ODBC driver: on Debian/Ubuntu "
    "`apt-get install unixodbc tdsodbc` (FreeTDS), or Microsoft ODBC Driver 18 for SQL Server "
    "(https://learn.microsoft.com/sql/connect/odbc/linux-mac/installing-the-microsoft-odbc-driver-for-sql-server); "
    "pyodbc itself comes with grantbridge (`uv sync`)"
)

Connect = Callable[[str], Any]
ReadDatabase = Callable[[str], dict[str, list[dict[str, Any]]]]
_DRIVER_MISSING = re.compile(r"can't open lib|data source name not found|file not found", re.I)
#: An ODBC attribute value: braced, where ``}}`` is an escaped ``}`` and ``;`` is text (a value
#: cut off before its closing brace runs to the end), or plain, up to the next ``;``.
_VALUE = r"(\{(?:[^}]|\}\})*(?:\}|$)|[^;]*)"
_ATTRIBUTE = re.compile(r"([^=;]*)=\s*" + _VALUE)
_SECRET_ATTR = re.compile(r"(?i)\b(pwd|password)\s*=\s*" + _VALUE)


def _pyodbc_connect(connection_string: str) -> Any:
    try:
        import pyodbc
    except ImportError as exc:
        raise ConnectionFailed(f"pyodbc cannot be loaded ({exc}); {INSTALL_HINT}") from None
    return pyodbc.connect(connection_string, autocommit=True, timeout=15)


def _attributes(text: str) -> dict[str, str]:
    """The attributes of an ODBC connection string, keys lower-case, braced values unescaped."""
    return {m[1].strip().lower(): _unbrace(m[2].strip()) for m in _ATTRIBUTE.finditer(text)}


def _unbrace(value: str) -> str:
    if len(value) >= 2 and value[0] == "{" and value[-1] == "}":
        return value[1:-1].replace("}}", "}")
    return value


def _brace(value: str) -> str:
    return "{" + value.replace("}", "}}") + "}"


def with_database(text: str, database: str) -> str:
    """The connection string ``text`` connecting to ``database`` (any DATABASE= replaced)."""
    kept = [m[0].strip() for m in _ATTRIBUTE.finditer(text) if m[1].strip().lower() != "database"]
    return ";".join([*kept, f"DATABASE={_brace(database)}"])


def connection_string(server: str, *, trust_server_certificate: bool, password: str | None) -> str:
    """The ODBC connection string: read-only, encrypted, password appended when given."""
    text = server if "=" in server else f"DSN={server}"
    attrs = _attributes(text)
    parts = [text.rstrip(";")]
    parts.append("ApplicationIntent=ReadOnly")
    if "encrypt" not in attrs:
        parts.append("Encrypt=yes")
    if trust_server_certificate:
        parts.append("TrustServerCertificate=yes")
    if password is not None:
        parts.append(f"PWD={_brace(password)}")
    return ";".join(parts)


def needs_password(server: str) -> bool:
    """A SQL login (``UID=`` without ``PWD=``) and no integrated or Entra authentication."""
    attrs = _attributes(server) if "=" in server else {}
    integrated = attrs.get("trusted_connection", "").lower() == "yes" or "authentication" in attrs
    return "uid" in attrs and not {"pwd", "password"} & set(attrs) and not integrated


def _password(server: str) -> str | None:
    if not needs_password(server):
        return None
    if PASSWORD_ENV in os.environ:
        return os.environ[PASSWORD_ENV]
    import typer

    return str(typer.prompt("SQL Server password", hide_input=True))


def redact(message: str, secrets: Sequence[str]) -> str:
    """The driver's message without passwords or ``PWD=`` attributes.

    A ``PWD=`` value is removed whole, braced values included (``PWD={Pa}}ss;word}``: ``}}`` is
    an escaped ``}``, and ``;`` inside braces is text). Each known secret is removed as written
    and as a connection string spells it (``}`` doubled), longest spelling first.
    """
    text = _SECRET_ATTR.sub(r"\1=***", message)
    spellings = {s for secret in secrets if secret for s in (secret, secret.replace("}", "}}"))}
    for spelling in sorted(spellings, key=len, reverse=True):
        text = text.replace(spelling, "***")
    return text


def fetch(cursor: Any, query: Query | str) -> list[dict[str, Any]]:
    """Run one query and return its rows as dictionaries keyed by column name."""
    cursor.execute(query.sql if isinstance(query, Query) else query)
    if cursor.description is None:
        return []
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _quote(name: str) -> str:
    return "[" + name.replace("]", "]]") + "]"


def _readable(rows: Rows, wanted: Sequence[str] | None) -> list[str]:
    """Online, accessible user databases (optionally only ``wanted``), in catalog order."""
    chosen = {w.casefold() for w in wanted} if wanted else None
    names = []
    for row in rows:
        name = str(row["name"])
        if name.casefold() in SYSTEM_DATABASES or (
            chosen is not None and name.casefold() not in chosen
        ):
            continue
        if str(row.get("state_desc", "ONLINE")) == "ONLINE" and as_bool(
            row.get("has_dbaccess", True)
        ):
            names.append(name)
    return names


def _using(cursor: Any, queries: Sequence[Query]) -> ReadDatabase:
    """Read a database on the one connection, switching to it with ``USE``."""

    def read(name: str) -> dict[str, list[dict[str, Any]]]:
        cursor.execute(f"USE {_quote(name)}")
        return {q.name: fetch(cursor, q) for q in queries}

    return read


def _connecting(open_: Connect, text: str, queries: Sequence[Query]) -> ReadDatabase:
    """Read a database over a connection of its own (Azure SQL Database has no ``USE``)."""

    def read(name: str) -> dict[str, list[dict[str, Any]]]:
        connection = open_(with_database(text, name))
        try:
            cursor = connection.cursor()
            return {q.name: fetch(cursor, q) for q in queries}
        finally:
            connection.close()

    return read


def _read_databases(
    read: ReadDatabase, names: Sequence[str], secrets: Sequence[str]
) -> tuple[dict[str, Mapping[str, Rows]], dict[str, str]]:
    from rich.progress import Progress

    rows: dict[str, Mapping[str, Rows]] = {}
    errors: dict[str, str] = {}
    with Progress(transient=True) as progress:
        task = progress.add_task("Reading databases", total=len(names))
        for name in names:
            progress.update(task, description=f"Reading {name}")
            try:
                rows[name] = read(name)
            except Exception as exc:
                errors[name] = redact(str(exc), secrets)
            progress.advance(task)
    return rows, errors


def _only(rows: Rows, wanted: Sequence[str] | None) -> Rows:
    if not wanted:
        return rows
    chosen = {w.casefold() for w in wanted}
    missing = chosen - {str(r["name"]).casefold() for r in rows}
    if missing:
        raise InputError(f"no database named {sorted(missing)[0]!r} on the server")
    return [r for r in rows if str(r["name"]).casefold() in chosen]


def extract_live(
    server: str,
    *,
    databases: Sequence[str] | None = None,
    trust_server_certificate: bool = False,
    include_definitions: bool = False,
    connect: Connect | None = None,
) -> SecuritySnapshot:
    """Read every online database (or ``databases``) of a live SQL Server into a snapshot.

    Raises:
        ConnectionFailed: the driver is missing or the server cannot be reached (exit 4).
    """
    password = _password(server)
    given = _attributes(server)
    secrets = [s for s in (password, given.get("pwd"), given.get("password")) if s]
    text = connection_string(
        server, trust_server_certificate=trust_server_certificate, password=password
    )
    open_ = connect or _pyodbc_connect
    try:
        connection = open_(text)
    except ConnectionFailed:
        raise
    except Exception as exc:
        message = redact(str(exc), secrets)
        hint = f"; {INSTALL_HINT}" if _DRIVER_MISSING.search(message) else ""
        raise ConnectionFailed(f"cannot connect to SQL Server: {message}{hint}") from None
    try:
        cursor = connection.cursor()
        properties = fetch(cursor, SERVER_PROPERTIES)
        azure = is_azure_sql_database(properties)
        server_rows: dict[str, Rows] = {SERVER_PROPERTIES.name: properties}
        for query in server_queries(azure_sql_database=azure):
            if query is not SERVER_PROPERTIES:
                server_rows[query.name] = fetch(cursor, query)
        server_rows["databases"] = _only(server_rows["databases"], databases)
        names = _readable(server_rows["databases"], databases)
        queries = database_queries(
            include_definitions=include_definitions, azure_sql_database=azure
        )
        read = _connecting(open_, text, queries) if azure else _using(cursor, queries)
        rows, errors = _read_databases(read, names, secrets)
    except (InputError, ConnectionFailed):
        raise
    except Exception as exc:
        raise ConnectionFailed(
            f"reading the server catalog failed: {redact(str(exc), secrets)}"
        ) from None
    finally:
        connection.close()
    return snapshot_from_rows(CatalogRows(server_rows, rows, errors), source="live")
