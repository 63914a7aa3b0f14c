"""A server whose messages are not in English: what ``drift`` learns from a failed connection
comes from the server's answers, not from the words of its message.

The throwaway PostgreSQL 15 cluster runs with ``LANGUAGE=de`` (and ``lc_messages`` C.utf8, the
only locale of the machine: gettext then takes the language from ``LANGUAGE``), so it says
``FATAL:  Datenbank »x« existiert nicht``. ``drift`` never connects to the DSN's own database;
before, a missing one stopped it as an unreachable server (exit 4), and a plan database the
target lacks was a connection failure instead of bad input (exit 2) naming it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from grantbridge.cli import main
from grantbridge.errors import ConnectionFailed, TargetError
from mssql_extract import tsql
from pg_emit.preflight_missing import refuse_absent_databases
from pg_emit.server import check_reachable
from tests.conftest import CONTOSO, ROOT

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def german() -> Iterator[str]:
    """The DSN of a cluster speaking German, with one database ``present``."""
    from tests.cluster import throwaway_cluster

    with throwaway_cluster({"lc_messages": "C.utf8"}, {"LANGUAGE": "de"}) as (dsn, _log):
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE DATABASE present")
        yield dsn


def _missing(dsn: str) -> str:
    return make_conninfo(dsn, dbname="nowhere")


def test_the_server_says_it_in_german(german: str) -> None:
    with pytest.raises(psycopg.OperationalError, match="existiert nicht"):
        psycopg.connect(_missing(german))


def test_a_missing_dsn_database_is_reachable_for_drift(german: str) -> None:
    check_reachable(_missing(german), own_database=False)
    with pytest.raises(ConnectionFailed, match="existiert nicht"):
        check_reachable(_missing(german))  # apply and verify connect to it


def test_the_plan_databases_the_target_lacks_are_named(german: str) -> None:
    with pytest.raises(TargetError, match=r"no database absent of the plan \(1 of 2\)"):
        refuse_absent_databases(
            _missing(german), ["absent", "present"], "run drift", "compared", through_plan=True
        )
    with pytest.raises(TargetError, match=r"no database absent, gone of the plan \(2 of 2\)"):
        refuse_absent_databases(
            _missing(german), ["absent", "gone"], "run drift", "compared", through_plan=True
        )


def test_an_unreachable_server_is_still_unreachable(german: str) -> None:
    closed = make_conninfo(german, port="1", dbname="nowhere")
    with pytest.raises(ConnectionFailed):
        check_reachable(closed, own_database=False)
    with pytest.raises(ConnectionFailed):
        refuse_absent_databases(closed, ["present"], "run drift", "compared", through_plan=True)


def test_drift_names_the_missing_databases(
    german: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with contextlib.chdir(ROOT):
        snapshot = tsql.extract_scripts([CONTOSO.relative_to(ROOT)])
    snapshot.write_json(tmp_path / "snapshot.json")
    assert main(["plan", str(tmp_path / "snapshot.json"), "-o", str(tmp_path / "plan")]) == 0
    capsys.readouterr()
    assert main(["drift", str(tmp_path / "plan"), "--dsn", _missing(german)]) == 2
    err = capsys.readouterr().err
    assert "the target has no database hr, reporting, sales of the plan (3 of 3)" in err, err
