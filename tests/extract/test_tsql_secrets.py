"""No password literal or hash from the scripts appears anywhere in the snapshot."""

from __future__ import annotations

from pathlib import Path

import pytest

from grantbridge.cli import main
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
