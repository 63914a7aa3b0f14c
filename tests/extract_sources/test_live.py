"""Live extraction end to end: a DB-API connection serving captured rows stands in for the
driver; real pyodbc + FreeTDS against a closed port; pyodbc missing."""

from __future__ import annotations

import builtins
import socket
import sys
from pathlib import Path
from typing import Any

import pytest

from grantbridge.cli import main
from grantbridge.errors import ConnectionFailed
from mssql_extract import live
from mssql_extract.catalog import snapshot_from_rows
from mssql_extract.queries import ALL_QUERIES, SQL_MODULES_WITH_DEFINITIONS
from tests.conftest import skip_unless_ci
from tests.extract_sources.support import load_rows

BY_SQL = {q.sql: q.name for q in (*ALL_QUERIES, SQL_MODULES_WITH_DEFINITIONS)}
SECRET = "Zq9!live-Secret#5512"
DENIED = (
    "('42000', '[42000] [FreeTDS][SQL Server]The server principal \"grantbridge_reader\" is not "
    'able to access the database "HR" under the current security context. (916)\')'
)


class CapturedCursor:
    """A DB-API cursor answering our catalog queries from the captured rows."""

    def __init__(self, connection: CapturedConnection) -> None:
        self.connection = connection
        self.description: list[tuple[Any, ...]] | None = None
        self._rows: list[tuple[Any, ...]] = []

    def execute(self, sql: str) -> None:
        self.connection.log.append(sql)
        if sql.startswith("USE "):
            self.connection.database = sql[5:-1].replace("]]", "]")
            self.description = None
            return
        if self.connection.database in self.connection.denied:
            raise RuntimeError(DENIED)
        name = BY_SQL[sql]  # KeyError: a query we did not define
        rows = load_rows()
        db = self.connection.database
        found = rows.server[name] if db == "master" else rows.databases[db][name]
        columns = list(found[0]) if found else ["empty"]
        self.description = [(c, None, None, None, None, None, None) for c in columns]
        self._rows = [tuple(r[c] for c in columns) for r in found]

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._rows


class CapturedConnection:
    def __init__(self, denied: frozenset[str] = frozenset()) -> None:
        self.database = "master"
        self.denied = denied
        self.log: list[str] = []
        self.closed = False
        self.connection_string = ""

    def cursor(self) -> CapturedCursor:
        return CapturedCursor(self)

    def close(self) -> None:
        self.closed = True


def test_live_path_gives_the_captured_snapshot() -> None:
    connection = CapturedConnection()
    snapshot = live.extract_live(
        "DRIVER={FreeTDS};SERVER=sql01;Trusted_Connection=yes", connect=lambda _: connection
    )
    expected = snapshot_from_rows(load_rows(), source="live")
    assert snapshot.to_json() == expected.to_json()
    assert connection.closed
    assert "USE [Sales]" in connection.log


def test_unreadable_database_is_skipped_with_the_servers_reason() -> None:
    connection = CapturedConnection(denied=frozenset({"HR"}))
    snapshot = live.extract_live("MyDsn", connect=lambda _: connection)
    assert snapshot.database("HR") is None
    assert snapshot.database("Sales") is not None
    hr = [s for s in snapshot.skipped if s.kind == "database" and s.text == "HR"]
    assert len(hr) == 1
    assert "not able to access the database" in hr[0].reason


def test_databases_option_reads_only_those() -> None:
    connection = CapturedConnection()
    snapshot = live.extract_live("MyDsn", databases=["sales"], connect=lambda _: connection)
    assert [d.name for d in snapshot.databases] == ["Sales"]
    assert "USE [HR]" not in connection.log


def test_connection_string_is_read_only_and_encrypted() -> None:
    text = live.connection_string("MyDsn", trust_server_certificate=False, password=None)
    assert text == "DSN=MyDsn;ApplicationIntent=ReadOnly;Encrypt=yes"
    trusted = live.connection_string(
        "SERVER=x;Encrypt=no", trust_server_certificate=True, password="p}w"
    )
    assert (
        trusted
        == "SERVER=x;Encrypt=no;ApplicationIntent=ReadOnly;TrustServerCertificate=yes;PWD={p}}w}"
    )


def test_password_from_environment_reaches_only_the_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(live.PASSWORD_ENV, SECRET)
    seen: list[str] = []

    def connect(text: str) -> CapturedConnection:
        seen.append(text)
        return CapturedConnection()

    snapshot = live.extract_live("SERVER=sql01;UID=grantbridge_reader", connect=connect)
    assert SECRET in seen[0]
    assert SECRET not in snapshot.to_json()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_real_pyodbc_freetds_closed_port_exits_4_without_secrets(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        import pyodbc  # noqa: F401  (the real driver manager, not a stand-in)
    except ImportError as exc:
        skip_unless_ci(f"pyodbc cannot load (unixODBC missing?): {exc}")
    monkeypatch.setenv(live.PASSWORD_ENV, SECRET)
    server = f"DRIVER={{FreeTDS}};SERVER=127.0.0.1;PORT={_closed_port()};TDS_Version=7.4;UID=reader"
    code = main(["extract", "--server", server, "-o", str(tmp_path / "s.json")])
    err = capsys.readouterr().err
    assert code == 4, err
    assert "cannot connect to SQL Server" in err
    assert SECRET not in err
    assert not (tmp_path / "s.json").exists()


def test_secret_in_connection_string_is_removed_from_errors() -> None:
    def refuse(text: str) -> Any:
        raise RuntimeError(f"login failed for connection '{text}'")

    with pytest.raises(ConnectionFailed) as info:
        live.extract_live(f"SERVER=x;UID=u;PWD={SECRET}", connect=refuse)
    assert SECRET not in str(info.value)
    assert info.value.exit_code == 4


def test_pyodbc_missing_names_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_pyodbc(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "pyodbc":
            raise ImportError("libodbc.so.2: cannot open shared object file")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "pyodbc", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_pyodbc)
    with pytest.raises(ConnectionFailed) as info:
        live.extract_live("MyDsn")
    message = str(info.value)
    assert info.value.exit_code == 4
    for name in ("unixodbc", "tdsodbc", "FreeTDS", "Microsoft ODBC Driver 18"):
        assert name in message


def test_no_fixture_secret_in_any_catalog_or_live_output() -> None:
    from tests.conftest import CONTOSO

    secrets = [s for s in (CONTOSO / "SECRETS.txt").read_text().splitlines() if s]
    outputs = [
        snapshot_from_rows(load_rows()).to_json(),
        live.extract_live("MyDsn", connect=lambda _: CapturedConnection()).to_json(),
    ]
    assert secrets
    assert not [s for s in secrets for text in outputs if s in text]


# --------------------------------------------------------------------------- secrets in braces

#: (connection string, GRANTBRIDGE_MSSQL_PASSWORD, the secret, pieces of it that must not show)
BRACED_SECRETS = {
    "braced PWD with }} and ;": (
        "Driver={ODBC Driver 18};UID=sa;PWD={Pa}}ss;word42}", None, "Pa}ss;word42",
        ("ss;word42", "word42", "Pa}}ss"),
    ),
    "PASSWORD= spelling": (
        "Driver={ODBC Driver 18};UID=sa;Password={x}}y;z9};Encrypt=no", None, "x}y;z9",
        ("y;z9", "z9"),
    ),
    "environment password with } and ;": (
        "Driver={ODBC Driver 18};SERVER=x;UID=sa", "s3cr}et;Tail99", "s3cr}et;Tail99",
        ("et;Tail99", "Tail99"),
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BRACED_SECRETS))
def test_braced_password_never_leaks_its_tail(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    server, env, secret, pieces = BRACED_SECRETS[case]
    if env is None:
        monkeypatch.delenv(live.PASSWORD_ENV, raising=False)
    else:
        monkeypatch.setenv(live.PASSWORD_ENV, env)

    def refuse(text: str) -> Any:
        assert secret.replace("}", "}}") in text  # the driver gets it, escaped
        raise RuntimeError(f"[08001] cannot open '{text}' for user with password {secret}")

    with pytest.raises(ConnectionFailed) as info:
        live.extract_live(server, connect=refuse)
    message = str(info.value)
    assert "PWD=***" in message or "Password=***" in message
    for piece in (secret, *pieces):
        assert piece not in message, message


def test_redact_removes_a_secret_as_a_connection_string_spells_it() -> None:
    message = "login failed: Pa}}ss;word42 rejected; PWD={Pa}}ss;wo"  # echoed, then cut off
    assert live.redact(message, ["Pa}ss;word42"]) == "login failed: *** rejected; PWD=***"


def test_attributes_read_braced_values() -> None:
    text = "Driver={ODBC Driver 18};UID=sa;PWD={Pa}}ss;word42};Database=Sales"
    assert live.needs_password(text) is False
    assert live.with_database(text, "HR;x}") == (
        "Driver={ODBC Driver 18};UID=sa;PWD={Pa}}ss;word42};DATABASE={HR;x}}}"
    )


# --------------------------------------------------------------------------- Azure SQL Database

#: What an Azure SQL Database lacks (Microsoft Learn: sys.server_audits and
#: sys.server_audit_specifications are SQL Server and Managed Instance only; USE fails, 40508).
AZURE_MISSING = ("sys.server_audit", "sys.credentials", "sys.endpoints")


class AzureConnection(CapturedConnection):
    """An Azure SQL Database connection: EngineEdition 5, no USE, no server-level views; the
    database is the one the connection string names."""

    def __init__(self, connection_string: str, denied: frozenset[str] = frozenset()) -> None:
        super().__init__(denied)
        self.connection_string = connection_string
        self.database = live._attributes(connection_string).get("database", "master")

    def cursor(self) -> CapturedCursor:
        return AzureCursor(self)


class AzureCursor(CapturedCursor):
    def execute(self, sql: str) -> None:
        if sql.startswith("USE "):
            raise RuntimeError("[42000] USE statement is not supported to switch between databases. (40508)")  # fmt: skip
        if any(view in sql for view in AZURE_MISSING):
            raise RuntimeError("[42S02] Invalid object name. (208)")
        super().execute(sql)
        if BY_SQL[sql] == "server_properties":
            row = dict(zip([c[0] for c in self.description or []], self._rows[0], strict=True))
            row["engine_edition"] = 5
            self.description = [(c, None, None, None, None, None, None) for c in row]
            self._rows = [tuple(row.values())]


def test_azure_sql_database_reads_each_database_over_its_own_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(live.PASSWORD_ENV, SECRET)
    opened: list[AzureConnection] = []

    def connect(text: str) -> AzureConnection:
        opened.append(AzureConnection(text, denied=frozenset({"HR"})))
        return opened[-1]

    snapshot = live.extract_live("SERVER=contoso.database.windows.net;UID=reader", connect=connect)
    assert [d.name for d in snapshot.databases] == ["Reporting", "Sales"]
    assert snapshot.logins == ()
    assert snapshot.server_permissions == ()
    [azure] = [s for s in snapshot.skipped if s.kind == "row"]
    assert azure.reason.startswith("Azure SQL Database: server-level security was not read")
    [hr] = [s for s in snapshot.skipped if s.kind == "database" and s.text == "HR"]
    assert "not able to access" in hr.reason
    assert [c.database for c in opened] == ["master", "Sales", "HR", "Reporting"]
    assert all(c.closed for c in opened)
    log = [sql for c in opened for sql in c.log]
    assert not any(sql.startswith("USE ") for sql in log)
    assert not any("audit" in sql for sql in log)
    assert all(SECRET not in s.reason for s in snapshot.skipped)
    sales = snapshot.database("Sales")
    assert sales is not None
    assert [u.name for u in sales.users if u.orphaned] == []


def test_azure_database_connection_failure_is_recorded_without_secrets() -> None:
    def connect(text: str) -> AzureConnection:
        if "DATABASE={Sales}" in text:
            raise RuntimeError(f"[08001] login timeout for '{text}'")
        return AzureConnection(text)

    snapshot = live.extract_live("SERVER=x;UID=u;PWD={se}}cret;1}", connect=connect)
    [sales] = [s for s in snapshot.skipped if s.kind == "database" and s.text == "Sales"]
    assert "login timeout" in sales.reason
    assert "cret;1" not in sales.reason
    assert "se}" not in sales.reason
    assert snapshot.database("HR") is not None
