"""Several sources into one snapshot: one dacpac per database plus the logins from elsewhere.

A database dacpac holds no logins, so planned alone its users' roles cannot log in (GB045).
Given together with a source that holds the logins (``sp_help_revlogin``'s script here), the
users are linked to them and the gap names only the logins no source holds.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grantbridge.cli import main
from grantbridge.errors import ExtractError
from mapper.planner import plan
from mapper.policy import Policy
from mssql_extract.combine import combine
from mssql_extract.dacpac import EXTERNAL_LOGINS
from mssql_extract.snapshot import SecuritySnapshot, Server
from tests.extract_sources.test_dacpac_real_shapes import (
    ORDERS,
    READERS,
    SELECT_ORDERS,
    el,
    prop,
    ref,
    rel,
    rules,
    unresolved,
    write_dacpac,
)

PASSWORD = "Tr0ub4dor&3-not-in-any-output"
LOGINS_SQL = f"""\
-- sp_help_revlogin output (KB 918992), the logins the databases' users map to
CREATE LOGIN [app_login] WITH PASSWORD = N'{PASSWORD}', SID = 0x0A0B, CHECK_POLICY = ON
GO
CREATE LOGIN [CONTOSO\\jdoe] FROM WINDOWS
GO
"""


def _user(name: str, login: str, authentication: str = "1") -> str:
    return el("SqlUser", f"[{name}]", prop("AuthenticationType", authentication),
              rel("Login", unresolved(f"[{login}]")))  # fmt: skip


def _app_db(tmp_path: Path) -> Path:
    member = el(
        "SqlRoleMembership", None, rel("Member", ref("[app_user]")), rel("Role", ref("[readers]"))
    )
    return write_dacpac(tmp_path / "AppDb.dacpac", ORDERS, READERS, SELECT_ORDERS,
                        _user("app_user", "app_login"), member, database="AppDb")  # fmt: skip


def _hr_db(tmp_path: Path) -> Path:
    return write_dacpac(tmp_path / "HrDb.dacpac", ORDERS, READERS, SELECT_ORDERS,
                        _user("CONTOSO\\jdoe", "CONTOSO\\jdoe", "3"),
                        _user("payroll", "payroll_login"), database="HrDb")  # fmt: skip


def _extract(tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["extract", *args, "-o", str(tmp_path / "snapshot.json")])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_dacpacs_and_a_logins_script_make_one_snapshot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logins = tmp_path / "logins.sql"
    logins.write_text(LOGINS_SQL, encoding="utf-8")
    code, said = _extract(tmp_path, capsys, "--dacpac", str(_app_db(tmp_path)),
                          "--dacpac", str(_hr_db(tmp_path)), "--script", str(logins))  # fmt: skip
    assert code == 0, said
    text = (tmp_path / "snapshot.json").read_text(encoding="utf-8")
    snapshot = SecuritySnapshot.from_json(text)
    assert (snapshot.source, snapshot.server.name) == ("mixed", "(combined)")
    assert [db.name for db in snapshot.databases] == ["AppDb", "HrDb"]
    assert sorted(login.name for login in snapshot.logins) == ["CONTOSO\\jdoe", "app_login"]
    # only payroll's login is held by no source: the one gap left, and the one warning
    (gap,) = [s for s in snapshot.skipped if s.reason == EXTERNAL_LOGINS]
    assert gap.text == "[payroll_login] (user [payroll])"
    assert "payroll_login" in said
    assert "[app_login] (user" not in said
    assert PASSWORD not in text
    assert PASSWORD not in said

    migration = plan(snapshot, Policy())
    found = rules(migration)
    gaps = [e for e in found["GB045"] if "(user [" in e]
    assert len(gaps) == 1
    assert "payroll_login" in gaps[0]
    assert "app_login" not in gaps[0]
    app = migration.role("app_login")
    assert app is not None
    assert app.login
    member_of = {(m.role, m.member) for m in migration.memberships}
    assert any(member == "app_login" and "readers" in role for role, member in member_of)


def test_each_source_alone_still_reads_as_before(tmp_path: Path) -> None:
    from mssql_extract.dacpac import extract_dacpac

    alone = extract_dacpac(_app_db(tmp_path))
    assert combine([alone]) is alone
    (gap,) = alone.skipped
    assert gap.text == "[app_login] (user [app_user])"


def test_a_database_from_two_sources_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _app_db(tmp_path)
    second = write_dacpac(tmp_path / "AppDb-copy.dacpac", ORDERS, database="AppDb")
    code, said = _extract(tmp_path, capsys, "--dacpac", str(first), "--dacpac", str(second))
    assert code == 2
    assert "database [AppDb] comes from two sources" in said
    assert "AppDb.dacpac" in said
    assert "AppDb-copy.dacpac" in said
    assert "Traceback" not in said
    assert not (tmp_path / "snapshot.json").exists()


def test_a_login_stated_differently_by_two_sources_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logins = tmp_path / "logins.sql"
    logins.write_text(LOGINS_SQL, encoding="utf-8")
    master = write_dacpac(tmp_path / "master.dacpac",
                          el("SqlLogin", "[app_login]", prop("IsDisabled", "True")),
                          database="master")  # fmt: skip
    code, said = _extract(tmp_path, capsys, "--script", str(logins), "--dacpac", str(master))
    assert code == 2
    assert "login:app_login is stated differently by two sources" in said
    assert "logins.sql:2" in said
    assert "master.dacpac" in said
    assert PASSWORD not in said


def test_the_same_login_from_two_sources_is_kept_once(tmp_path: Path) -> None:
    from mssql_extract.dacpac import extract_dacpac

    master = write_dacpac(tmp_path / "master.dacpac", el("SqlLogin", "[app_login]"),
                          database="master")  # fmt: skip
    copy = write_dacpac(tmp_path / "master2.dacpac", el("SqlLogin", "[app_login]"),
                        database="master")  # fmt: skip
    app = extract_dacpac(_app_db(tmp_path))
    snapshot = combine([extract_dacpac(master), extract_dacpac(copy), app])
    (login,) = snapshot.logins
    assert login.name == "app_login"
    assert "master.dacpac" in str(login.source_ref)
    assert snapshot.source == "dacpac"
    assert snapshot.skipped == ()


def test_two_servers_are_refused() -> None:
    one = SecuritySnapshot(source="catalog", server=Server(name="SQL01"))
    two = SecuritySnapshot(source="catalog", server=Server(name="SQL02", version="16.0"))
    with pytest.raises(ExtractError, match=r"different servers \(SQL01, SQL02\)"):
        combine([one, two])
    scripts = SecuritySnapshot(source="script", server=Server(name="(scripts)"))
    combined = combine([scripts, two])
    assert (combined.server.name, combined.server.version) == ("SQL02", "16.0")


def test_server_takes_no_other_source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, said = _extract(tmp_path, capsys, "--server", "DSN=x", "--dacpac", str(_app_db(tmp_path)))
    assert code == 2
    assert "--server reads the whole server" in said


def test_combined_snapshot_is_deterministic(tmp_path: Path) -> None:
    from mssql_extract.dacpac import extract_dacpac

    parts = [extract_dacpac(_app_db(tmp_path)), extract_dacpac(_hr_db(tmp_path))]
    texts = {combine(parts).to_json(), combine(list(reversed(parts))).to_json()}
    assert len(texts) == 1
    assert json.loads(texts.pop())["source"] == "dacpac"


def test_no_source_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, said = _extract(tmp_path, capsys)
    assert code == 2
    assert "give a source: --script, --catalog-json, --dacpac or --server" in said
