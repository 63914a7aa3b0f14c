"""Issue 8, item 3: planted secrets never reach an output file, a log line or an error message.

Each example plants fresh random secrets: password literals and ``0x0200…`` hashes in the T-SQL,
a SID, and DSN passwords on the command line (``--dsn``, ``--server``) and in the environment
(``GRANTBRIDGE_DSN``, ``GRANTBRIDGE_MSSQL_PASSWORD``); then it runs every command (extract, plan,
diff, policy, verify, apply, inspect, drift — the server commands against unreachable servers, so
their error paths are what is scanned) and scans stdout, stderr, log records and every file.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grantbridge.cli import main

#: The tally of the last run (the closing note reports it).
TALLY = {"planted": 0, "leaked": 0}

_SECRET = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789-_.~", min_size=10, max_size=24).map(lambda s: "Zq" + s)  # fmt: skip
_HEX = st.binary(min_size=30, max_size=40).map(lambda b: "0x0200" + b.hex().upper())


def _script(password: str, hashed: str, sid: str, approle: str) -> str:
    return "\n".join([
        f"CREATE LOGIN [app] WITH PASSWORD = N'{password}', CHECK_POLICY = OFF",
        f"CREATE LOGIN [old] WITH PASSWORD = {hashed} HASHED, SID = {sid}",
        f"EXEC sp_addlogin 'legacy', '{password}x'",
        "GO", "CREATE DATABASE [Db]", "GO", "USE [Db]", "GO",
        "CREATE USER [app] FOR LOGIN [app]",
        f"CREATE APPLICATION ROLE [ar] WITH PASSWORD = '{approle}'",
        f"ALTER APPLICATION ROLE [ar] WITH PASSWORD = '{approle}2'",
        f"CREATE LOGIN [broken] WITH PASSWORD = '{password}y' MUST_CHANGE,",  # malformed
        "GRANT SELECT TO [app]", "GO", "",
    ])  # fmt: skip


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code = main(argv)
    out = capsys.readouterr()
    return f"{code}\n{out.out}\n{out.err}"


@settings(
    max_examples=3,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    password=_SECRET, approle=_SECRET, dsn_pw=_SECRET, env_pw=_SECRET, mssql_pw=_SECRET,
    hashed=_HEX, sid=st.binary(min_size=16, max_size=16).map(lambda b: "0x" + b.hex().upper()),
)  # fmt: skip
def test_no_planted_secret_leaks(
    password: str,
    approle: str,
    dsn_pw: str,
    env_pw: str,
    mssql_pw: str,
    hashed: str,
    sid: str,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    work = tmp_path_factory.mktemp("secrets")
    monkeypatch.chdir(work)
    Path("estate.sql").write_text(_script(password, hashed, sid, approle), encoding="utf-8")
    secrets = [password, password + "x", password + "y", hashed, approle, approle + "2", dsn_pw, env_pw, mssql_pw]  # fmt: skip
    # SQL Server SIDs are kept (they link users to logins), so they are not scanned as secrets
    dead_pg = f"postgresql://gb:{dsn_pw}@127.0.0.1:1/x?connect_timeout=2"
    monkeypatch.setenv("GRANTBRIDGE_MSSQL_PASSWORD", mssql_pw)
    caplog.set_level(logging.DEBUG)
    logs = [
        _run(["extract", "-s", "estate.sql", "-o", "strict.json"], capsys),
        _run(["extract", "-s", "estate.sql", "--lenient", "-o", "snap.json"], capsys),
        _run(["plan", "snap.json", "-o", "out"], capsys),
        _run(["plan", "snap.json", "-o", "out2"], capsys),
        _run(["diff", "out/plan.json", "out2/plan.json"], capsys),
        _run(["policy", "init", "grantbridge.toml"], capsys),
        _run(["apply", "out", "--dsn", dead_pg, "--yes"], capsys),
        _run(["verify", "out", "--dsn", dead_pg], capsys),
        _run(["inspect", "--dsn", dead_pg], capsys),
        _run(["drift", "out", "--dsn", dead_pg], capsys),
        _run(["extract", "--server", f"DRIVER={{FreeTDS}};SERVER=127.0.0.1;PORT=1;UID=sa;PWD={mssql_pw}", "-o", "live.json"], capsys),
    ]  # fmt: skip
    monkeypatch.setenv(
        "GRANTBRIDGE_DSN", f"postgresql://gb:{env_pw}@127.0.0.1:1/x?connect_timeout=2"
    )
    logs += [_run(["inspect"], capsys), _run(["apply", "out", "--yes"], capsys)]
    codes = [int(log.split("\n", 1)[0]) for log in logs]
    assert codes[1:6] == [0, 0, 0, 0, 0]  # the offline commands ran
    assert all(
        code in (2, 4) for code in [codes[0], *codes[6:]]
    )  # strict: malformed; servers: down
    texts = [*logs, caplog.text]
    texts += [p.read_text(encoding="utf-8", errors="replace") for p in work.rglob("*") if p.is_file() and p.name != "estate.sql"]  # fmt: skip
    assert any('"app"' in t for t in texts)  # the plan files are among the scanned texts
    leaked = sorted({s for s in secrets for t in texts if s in t or s.lower() in t.lower()})
    TALLY["planted"] += len(secrets)
    TALLY["leaked"] += len(leaked)
    assert leaked == []
    assert Path("snap.json").is_file()
    assert Path("out/plan.json").is_file()
