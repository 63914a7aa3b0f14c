"""No password literal or hash from the scripts appears anywhere in the snapshot."""

from __future__ import annotations

from pathlib import Path

import pytest

from grantbridge.cli import main
from grantbridge.errors import ExtractError
from mssql_extract.tsql import extract_scripts
from tests.conftest import CONTOSO
from tests.extract.tsql_helpers import snap

SECRET_SCRIPT = """
CREATE LOGIN a WITH PASSWORD = N'Pw-One#1', CHECK_POLICY = ON
CREATE LOGIN b WITH PASSWORD = 0x0200DEADBEEF1234 HASHED, SID = 0x0102
ALTER LOGIN a WITH PASSWORD = 'Pw-Two#2' OLD_PASSWORD = 'Pw-One#1'
EXEC sp_addlogin @loginame = 'c', @passwd = 'Pw-Three#3'
GO
USE d
GO
CREATE USER u WITH PASSWORD = 'Pw-Four#4'
CREATE APPLICATION ROLE app WITH PASSWORD = 'Pw-Five#5'
CREATE CREDENTIAL cred WITH IDENTITY = 'x', SECRET = 'Pw-Six#6'
EXEC sp_change_users_login 'Auto_Fix', 'u2', NULL, 'Pw-Seven#7'
"""
SECRETS = ["Pw-One#1", "Pw-Two#2", "Pw-Three#3", "Pw-Four#4", "Pw-Five#5", "Pw-Six#6", "Pw-Seven#7"]


def _contoso_secrets() -> list[str]:
    lines = (CONTOSO / "SECRETS.txt").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip()]


def test_contoso_secrets_never_reach_the_snapshot() -> None:
    secrets = _contoso_secrets()
    assert secrets, "SECRETS.txt lists the fixture's secrets"
    text = extract_scripts([CONTOSO], include_definitions=True).to_json()
    for secret in secrets:
        assert secret not in text
        assert secret.removeprefix("0x").upper() not in text.upper()


def test_contoso_records_only_password_flags() -> None:
    logins = {x.name: x for x in extract_scripts([CONTOSO]).logins}
    assert logins["legacy_crm"].has_password
    assert logins["legacy_crm"].check_policy is False
    assert not logins["CONTOSO\\DBAs"].has_password


@pytest.mark.parametrize("lenient", [False, True])
def test_every_password_form_is_dropped(lenient: bool) -> None:
    s = snap(SECRET_SCRIPT, lenient=lenient)
    text = s.to_json()
    for secret in [*SECRETS, "DEADBEEF"]:
        assert secret not in text
    # sp_change_users_login 'Auto_Fix' with a password creates the missing login u2
    assert {x.name: x.has_password for x in s.logins} == {
        "a": True,
        "b": True,
        "c": True,
        "u2": True,
    }
    assert s.logins[1].sid == "0x0102"  # SIDs are identifiers, kept


def test_lenient_error_text_is_redacted() -> None:
    s = snap("CREATE LOGIN a WITH PASSWORD = 'Pw-Err#9', NOPE = 1", lenient=True)
    assert "Pw-Err#9" not in s.to_json()
    assert "'***'" in s.skipped[0].text


SCOPED_CREDENTIALS = """USE d
GO
CREATE DATABASE SCOPED CREDENTIAL blob WITH IDENTITY = 'SHARED ACCESS SIGNATURE',
    SECRET = 'sv=Pw-Scoped#10';
ALTER DATABASE SCOPED CREDENTIAL blob WITH IDENTITY = 'x', SECRET = N'Pw-Scoped#11'
CREATE ROLE r
"""


@pytest.mark.parametrize("lenient", [False, True])
def test_database_scoped_credential_secret_never_reaches_the_snapshot(lenient: bool) -> None:
    s = snap(SCOPED_CREDENTIALS, lenient=lenient)
    text = s.to_json()
    assert "Pw-Scoped#10" not in text
    assert "Pw-Scoped#11" not in text
    assert [d.name for d in s.databases] == ["d"]  # no database named SCOPED
    assert [x.text for x in s.skipped] == [
        "CREATE DATABASE SCOPED CREDENTIAL blob WITH IDENTITY = '***', SECRET = '***'",
        "ALTER DATABASE SCOPED CREDENTIAL blob WITH IDENTITY = '***', SECRET = '***'",
    ]


def test_database_scoped_credential_secret_never_reaches_cli_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script, out = tmp_path / "creds.sql", tmp_path / "snapshot.json"
    script.write_text(SCOPED_CREDENTIALS, encoding="utf-8")
    assert main(["extract", "--script", str(script), "-o", str(out)]) == 0
    captured = capsys.readouterr()
    for text in (out.read_text(encoding="utf-8"), captured.out, captured.err):
        assert "Pw-Scoped" not in text


#: Literals that are secrets outside any PASSWORD keyword, one per shape (audit of the T-SQL
#: reader): dynamic SQL in EXEC(…) and sp_executesql (re-runnable deployment scripts), the
#: linked-server login dbatools Export-DbaInstance writes (8-linkedservers.sql), a DECLAREd
#: password, and a statement that fails to parse under --lenient.
LITERAL_SECRETS = """USE d
GO
CREATE ROLE r
GO
IF NOT EXISTS (SELECT * FROM sys.database_principals WHERE name = N'kiosk' AND type = 'A')
    EXEC(N'CREATE APPLICATION ROLE [kiosk] WITH PASSWORD = N''Lit-Dyn#1'', DEFAULT_SCHEMA = [dbo];');
GO
IF NOT EXISTS (SELECT * FROM sys.server_principals WHERE name = N'dyn_login')
    EXEC sp_executesql N'CREATE LOGIN [dyn_login] WITH PASSWORD = N''Lit-Dyn#2'', CHECK_POLICY = OFF';
GO
EXEC master.dbo.sp_addlinkedsrvlogin @rmtsrvname=N'REMOTE01',@useself=N'False',@locallogin=NULL,@rmtuser=N'link_reader',@rmtpassword='Lit-Link#3'
GO
DECLARE @pw nvarchar(128) = N'Lit-Declared#4';
EXEC sp_addlogin @loginame = 'old_login2', @passwd = @pw;
GO
EXEC sp_addlinkedsrvlogin 'REMOTE02', 'false', NULL, 'remote_sa', LitBareWord5
GO
GRANT SELECT ON SCHEMA::dbo TO r 'Lit-Error#6'
"""
LITERAL_SECRET_VALUES = [f"Lit-{x}" for x in ("Dyn#1", "Dyn#2", "Link#3", "Declared#4", "Error#6")]
LITERAL_SECRET_VALUES.append("LitBareWord5")


def test_string_literals_never_reach_any_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script, snapshot, plan = tmp_path / "s.sql", tmp_path / "snapshot.json", tmp_path / "plan"
    script.write_text(LITERAL_SECRETS, encoding="utf-8")
    argv = ["extract", "--script", str(script), "-o", str(snapshot), "--lenient"]
    assert main(argv) == 0, capsys.readouterr().err
    assert main(["plan", str(snapshot), "-o", str(plan)]) == 0, capsys.readouterr().err
    outputs = [snapshot, *(p for p in plan.rglob("*") if p.is_file())]
    assert {p.name for p in outputs} >= {"snapshot.json", "report.md", "findings.sarif"}
    captured = capsys.readouterr()
    texts = {str(p): p.read_text(encoding="utf-8") for p in outputs}
    texts |= {"stdout": captured.out, "stderr": captured.err}
    for where, text in texts.items():
        for secret in LITERAL_SECRET_VALUES:
            assert secret not in text, f"{secret} in {where}"
    # what was not read is still reported, with its literals redacted
    assert "@rmtpassword='***'" in texts[str(plan / "findings.sarif")]


def test_an_error_never_quotes_a_literal() -> None:
    with pytest.raises(ExtractError) as caught:
        snap("CREATE LOGIN a WITH PASSWORD = N'Pw-Quoted#1' 'Pw-Quoted#2'")
    assert "Pw-Quoted" not in str(caught.value)
    assert "unexpected value after the statement" in str(caught.value)


def test_dbatools_exclude_password_placeholder_means_a_password() -> None:
    # dbatools Export-DbaLogin -ExcludePassword (audit repro
    # dbatools/export-dbalogin-excludepassword.sql)
    s = snap(
        "IF NOT EXISTS (SELECT loginname FROM master.dbo.syslogins WHERE name = 'app_hr') "
        "CREATE LOGIN [app_hr] WITH PASSWORD = ####### HASHED, "
        "SID = 0x5D6E7F801A2B3C4D5E6F708192A3B4C5, DEFAULT_DATABASE = [HR], CHECK_POLICY = ON, "
        "CHECK_EXPIRATION = OFF, DEFAULT_LANGUAGE = [us_english]\nGO\n"
        "ALTER SERVER ROLE [sysadmin] ADD MEMBER [app_hr]\n"
    )
    login = s.logins[0]
    assert (login.name, login.has_password, login.sid) == (
        "app_hr",
        True,
        "0x5D6E7F801A2B3C4D5E6F708192A3B4C5",
    )
    assert (login.default_database, login.check_policy) == ("HR", True)
    assert "#" not in s.to_json()
    with pytest.raises(ExtractError, match="expected HASHED"):
        snap("CREATE LOGIN [x] WITH PASSWORD = #######, CHECK_POLICY = ON")


@pytest.mark.parametrize(
    ("sql", "option"),
    [
        ("CREATE LOGIN [x] WITH PASSWORD = N'Secr3t!Pw', BADOPT = 1;", "BADOPT"),
        ("ALTER LOGIN [x] WITH PASSWORD = N'Secr3t!Pw', BOGUS;", "BOGUS"),
    ],
)
def test_an_error_quotes_the_option_it_names_and_still_hides_the_password(
    sql: str, option: str
) -> None:
    with pytest.raises(ExtractError) as caught:
        snap(sql)
    message = str(caught.value)
    assert f"unexpected option {option}" in message
    excerpt = message.split(" in: ", 1)[1]
    assert excerpt.endswith(f"PASSWORD = '***', {option}")  # was '***', '***'
    assert "Secr3t" not in message
