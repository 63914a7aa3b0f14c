"""apply, verify --dsn and drift try the target before loading the plan (DESIGN §6: exit 4).

Loading a large plan takes about 30 s at bench scale M; a wrong DSN used to be reported only
afterwards. Each command now connects (and closes) first, with the message and exit code the
connection failure always gave, and never the password. A plan.json that cannot even be read
proves the order: the connection error wins over the bad plan (exit 2 before this change).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from psycopg.conninfo import make_conninfo

from grantbridge.cli import main
from pg_emit.artifacts import write_artifacts
from tests.emit.builders import realistic_plan

SECRET = "Secret77"
#: unreachable (port 1), with a password in the two common forms
DEAD = {
    "uri": f"postgresql://gb:Pg%20{SECRET}@127.0.0.1:1/x?connect_timeout=2",
    "keyword": f"host=127.0.0.1 port=1 password='Pg {SECRET}' connect_timeout=2",
}
#: command → argv, for a plan directory
COMMANDS = {
    "apply": ["apply", "{plan}", "--yes"],
    "verify": ["verify", "{plan}"],
    "drift": ["drift", "{plan}"],
    "drift-file": ["drift", "{plan}/plan.json"],
}


def _plan_dir(where: Path, *, corrupt: bool) -> Path:
    """A valid plan directory; with ``corrupt``, its plan.json is not even JSON."""
    where.mkdir(parents=True)
    plan = realistic_plan("gbcf", "gbcf_sales")
    (where / "plan.json").write_text(plan.to_json(), encoding="utf-8")
    write_artifacts(plan, where)
    if corrupt:
        (where / "plan.json").write_text('{"schema_version": ', encoding="utf-8")
    return where


def _run(command: str, plan: Path, dsn: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    argv = [a.format(plan=plan) for a in COMMANDS[command]]
    code = main([*argv, "--dsn", dsn])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out + err


@pytest.mark.parametrize("form", sorted(DEAD))
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_an_unreachable_target_is_reported_before_the_plan_is_read(
    command: str, form: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = _plan_dir(tmp_path / "good", corrupt=False)
    bad = _plan_dir(tmp_path / "bad", corrupt=True)
    code, output = _run(command, bad, DEAD[form], capsys)
    assert code == 4, output
    assert "cannot connect to PostgreSQL at " in output
    assert "plan.json" not in output  # the plan was not read
    assert SECRET not in output
    # the same message the connection failure gives with a plan that loads
    assert (code, output) == _run(command, good, DEAD[form], capsys)


@pytest.mark.postgres
def test_drift_counts_a_server_without_the_dsns_database_as_reachable(
    pg_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """drift connects to the plan's databases only: a DSN naming a database the server lacks
    reaches it, and the plan is read (here: a bad one, exit 2). apply connects to the DSN's own
    database, which fails as it always did (exit 4)."""
    elsewhere = make_conninfo(pg_dsn, dbname="gbcf_no_such_database")
    bad = _plan_dir(tmp_path / "bad", corrupt=True)
    code, output = _run("drift", bad, elsewhere, capsys)
    assert code == 2, output
    assert "plan.json" in output
    code, output = _run("apply", bad, elsewhere, capsys)
    assert code == 4, output
    assert 'database "gbcf_no_such_database" does not exist' in output
