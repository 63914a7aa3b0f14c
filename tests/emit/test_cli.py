"""The verify / apply / inspect / drift commands (contoso end to end: test_contoso.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grantbridge.cli import main
from grantbridge.errors import InputError
from grantbridge.plural import plural
from pg_emit.apply import load_plan_dir
from pg_emit.artifacts import write_artifacts
from pg_emit.verify import verify_plan
from tests.emit.builders import realistic_plan
from tests.emit.conftest import Scratch

pytestmark = pytest.mark.postgres


def _plan_dir(tmp_path: Path, prefix: str = "gbcli", database: str = "gbcli_sales") -> Path:
    plan = realistic_plan(prefix, database)
    (tmp_path / "plan.json").write_text(plan.to_json(), encoding="utf-8")
    write_artifacts(plan, tmp_path)
    return tmp_path


def test_verify_command_on_embedded_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["verify", str(_plan_dir(tmp_path))]) == 0
    assert "verification passed" in capsys.readouterr().err


def test_edited_plan_directory_is_refused(tmp_path: Path, embedded_pg: str) -> None:
    """Refused before anything runs, on a target that answers (apply tries the target first:
    an unreachable one would be exit 4)."""
    plan_dir = _plan_dir(tmp_path)
    script = plan_dir / "sql" / "04_privileges.sql"
    script.write_text(script.read_text(encoding="utf-8") + "GRANT ALL ON SCHEMA sales TO PUBLIC;\n")
    with pytest.raises(InputError, match=r"differs from what plan\.json renders"):
        load_plan_dir(plan_dir)
    assert main(["apply", str(plan_dir), "--dsn", embedded_pg, "--yes"]) == 2


def test_apply_inspect_drift_commands(
    scratch: Scratch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan_dir = tmp_path / "plan"
    plan_dir.mkdir()
    (plan_dir / "plan.json").write_text(scratch.plan.to_json(), encoding="utf-8")
    write_artifacts(scratch.plan, plan_dir)
    assert main(["apply", str(plan_dir), "--dsn", scratch.dsn, "--yes"]) == 0
    assert main(["drift", str(plan_dir), "--dsn", scratch.dsn]) == 0
    capsys.readouterr()
    assert main(["inspect", "--dsn", scratch.dsn, "-d", scratch.database]) == 0
    live = json.loads(capsys.readouterr().out)
    assert f"{scratch.prefix}_app" in {r["name"] for r in live["roles"]}
    owners = {o["name"]: o["owner"] for o in live["objects"]}
    assert owners["orders"] == f"{scratch.prefix}_sales_owner"


def test_mapper_plan_verifies(embedded_pg: str) -> None:
    """A plan made by the real mapper (DENY, fixed roles, column grant) holds on PostgreSQL."""
    from mapper.planner import plan
    from mapper.policy import Policy
    from tests.mapper import estate

    db = estate.database(
        "Sales",
        users=(estate.user("app", "app_login"), estate.user("rep", "rep_login"),
               estate.user("dbo_u", None)),
        roles=(estate.role("reader"), estate.role("db_owner", fixed=True),
               estate.role("db_datareader", fixed=True)),
        memberships=(estate.member("reader", "app"), estate.member("db_datareader", "rep"),
                     estate.member("db_owner", "dbo_u")),
        permissions=(
            estate.perm("SELECT", "reader", schema_name="dbo", object_name="Orders"),
            estate.perm("EXECUTE", "app", schema_name="dbo", object_name="usp_Report"),
            estate.perm("SELECT", "rep", schema_name="dbo", object_name="Customers", column_name="name"),
            estate.perm("UPDATE", "app", schema_name="dbo", object_name="Customers"),
            estate.perm("DELETE", "reader", state="D", schema_name="dbo", object_name="Orders"),
        ),
    )  # fmt: skip
    snapshot = estate.snapshot(db, logins=(estate.login("app_login"), estate.login("rep_login")))
    migration = plan(snapshot, Policy())
    assert migration.grants
    assert verify_plan(migration, embedded_pg, embedded=True) == []


def test_inspect_output_file_holds_what_stdout_would_and_stdout_stays_empty(
    scratch: Scratch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``inspect -o FILE``: the JSON written atomically (no temporary file left), nothing on
    stdout, one summary line after the progress line on stderr; ``--json`` gives it as JSON."""
    capsys.readouterr()
    assert main(["inspect", "--dsn", scratch.dsn, "-d", scratch.database]) == 0
    printed, progress = capsys.readouterr()
    assert progress == f"inspect {scratch.database}\n"
    target = tmp_path / "out" / "target.json"
    assert main(["inspect", "--dsn", scratch.dsn, "-d", scratch.database, "-o", str(target)]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert target.read_text(encoding="utf-8") == printed
    assert sorted(p.name for p in target.parent.iterdir()) == ["target.json"]
    live = json.loads(printed)
    counts = [len(live[k]) for k in ("databases", "roles", "memberships", "grants")]
    assert counts[0] == 1  # one database: the singular
    nouns = ("role", "membership", "grant")
    rest = ", ".join(plural(n, noun) for n, noun in zip(counts[1:], nouns, strict=True))
    assert err.splitlines() == [
        f"inspect {scratch.database}",
        f"wrote {target}: 1 database, {rest}",
    ]
    assert main(["--json", "inspect", "--dsn", scratch.dsn, "-d", scratch.database,
                 "-o", str(target)]) == 0  # fmt: skip
    data = json.loads(capsys.readouterr().out)
    assert data == dict(zip(("databases", "roles", "memberships", "grants"), counts,
                            strict=True), output=str(target))  # fmt: skip


def test_inspect_of_a_database_the_server_lacks_is_bad_input(
    scratch: Scratch, capsys: pytest.CaptureFixture[str]
) -> None:
    """It was "cannot connect" (exit 4), as if the server were down."""
    absent = f"{scratch.prefix}_absent"
    code = main(["inspect", "--dsn", scratch.dsn, "-d", scratch.database, "-d", absent])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    (line,) = [line for line in err.splitlines() if line.startswith("error: ")]
    assert line.startswith(f"error: --database: the server has no database {absent} ")
    assert "(names are case-sensitive); it has: " in line
