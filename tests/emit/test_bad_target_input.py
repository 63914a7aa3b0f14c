"""Bad input about the target is exit 2, not a connection failure (exit 4).

* a DSN option libpq refuses before it tries any server (``sslmode=bogus``, ``port=70000``):
  libpq says "invalid sslmode value", which psycopg raises as an OperationalError like an
  unreachable server's;
* ``verify --dsn`` and ``drift`` on a plan whose database the server lacks: the server
  answered, and the message is apply's (:func:`pg_emit.preflight_missing.no_database`).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from psycopg.conninfo import make_conninfo

from grantbridge.cli import main
from tests.emit.builders import realistic_plan
from tests.emit.conftest import write_plan_dir

SECRET = "Secret77"
COMMANDS = {
    "apply": ["apply", "{plan}", "--yes"],
    "verify": ["verify", "{plan}"],
    "drift": ["drift", "{plan}"],
    "inspect": ["inspect"],
}


def _error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    assert SECRET not in out + err
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, err
    return code, lines[0]


@pytest.mark.parametrize(
    ("dsn", "named"),
    [
        (f"postgresql://gb:{SECRET}@127.0.0.1:1/x?sslmode=bogus", 'invalid sslmode value: "bogus"'),
        (f"host=127.0.0.1 password={SECRET} port=70000", 'invalid port number: "70000"'),
        (f"host=127.0.0.1 password='{SECRET}' gssencmode=maybe", "invalid gssencmode value"),
    ],
)
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_an_invalid_dsn_option_is_bad_input_naming_it(
    command: str, dsn: str, named: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = write_plan_dir(tmp_path / "plan", realistic_plan("gbbt", "gbbt_sales"))
    argv = [a.format(plan=plan) for a in COMMANDS[command]]
    code, line = _error([*argv, "--dsn", dsn], capsys)
    assert code == 2
    assert line.startswith("error: DSN: invalid connection option in ")
    assert named in line


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("command", "own", "nothing"),
    [
        ("verify", "postgres", "nothing was verified"),
        ("drift", "postgres", "nothing was compared"),
        # drift never needs the DSN's own database: it asks through the plan's
        ("drift", "gbbt_no_such_dsn_database", "nothing was compared"),
    ],
)
def test_a_plan_database_the_server_lacks_is_bad_input_worded_as_apply_words_it(
    command: str, own: str, nothing: str, pg_dsn: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    absent = "gbbt_absent_database"
    plan = write_plan_dir(tmp_path / "plan", realistic_plan("gbbt", absent))
    dsn = make_conninfo(pg_dsn, dbname=own)
    code, line = _error([command, str(plan), "--dsn", dsn], capsys)
    assert code == 2
    again = "run drift" if command == "drift" else command
    assert line == (
        f"error: the target has no database {absent} of the plan (1 of 1); {nothing}. The "
        "scripts create no database: create it with the converted schema (AWS SCT, pgloader …), "
        f"then {again} again"
    )
