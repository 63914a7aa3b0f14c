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
