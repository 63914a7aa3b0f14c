"""Apply scripts to a throwaway PostgreSQL the same way for grantbridge and for the baseline.

Both are psql scripts (``\\connect`` per database, one transaction per database) run by the same
``psql`` binary, so the apply-time ratio compares the scripts, not two transports. The target
objects (databases, schemas, tables, views, routines) are built first as stubs and are not
timed: grantbridge's scripts never create tables (the data migration does).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo

from bench.naive import CLUSTER, ident, render_naive
from mapper.plan import MigrationPlan, PgObject


def psql_binary() -> str:
    """The embedded server's psql when pgserver is installed, else the one on PATH."""
    try:
        import pgserver

        bundled = Path(pgserver.__file__).parent / "pginstall" / "bin" / "psql"
        if bundled.exists():
            return str(bundled)
    except ImportError:
        pass
    found = shutil.which("psql")
    if found is None:
        raise FileNotFoundError("psql is needed to apply scripts and was not found")
    return found


def _columns(obj: PgObject) -> str:
    return ", ".join(f"{ident(c)} text" for c in obj.columns)


def _view_columns(obj: PgObject) -> str:
    return ", ".join(f"NULL::text AS {ident(c)}" for c in obj.columns) or "NULL::text AS x"


def _stub(obj: PgObject) -> str:
    """CREATE statement for a stand-in of ``obj`` (shape matters, content does not)."""
    name = f"{ident(obj.schema_name)}.{ident(obj.name)}"
    signature = obj.signature or "()"
    stubs = {
        "table": f"CREATE TABLE {name} ({_columns(obj)})",
        "view": f"CREATE VIEW {name} AS SELECT {_view_columns(obj)}",
        "sequence": f"CREATE SEQUENCE {name}",
        "function": f"CREATE FUNCTION {name}{signature} RETURNS integer LANGUAGE sql AS 'SELECT 1'",
        "procedure": f"CREATE PROCEDURE {name}{signature} LANGUAGE sql AS 'SELECT 1'",
        "type": f"CREATE TYPE {name} AS (x integer)",
    }
    return stubs[obj.kind]


def databases_of(plan: MigrationPlan) -> list[str]:
    """Every database the plan touches."""
    names = {d.name for d in plan.databases} | {s.database for s in plan.schemas}
    names |= {o.database for o in plan.objects} | {g.database for g in plan.grants}
    return sorted(names)


def build_stubs(dsn: str, plan: MigrationPlan) -> None:
    """Create the plan's databases, schemas and objects (as the superuser) on ``dsn``."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        existing = {r[0] for r in conn.execute("SELECT datname FROM pg_database").fetchall()}
        for name in databases_of(plan):
            if name not in existing:
                conn.execute(f"CREATE DATABASE {ident(name)}")
    for name in databases_of(plan):
        with psycopg.connect(make_conninfo(dsn, dbname=name)) as conn:
            for schema in sorted({s.name for s in plan.schemas if s.database == name}):
                conn.execute(f"CREATE SCHEMA IF NOT EXISTS {ident(schema)}")
            for obj in plan.objects:
                if obj.database == name:
                    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {ident(obj.schema_name)}")
                    conn.execute(_stub(obj))


#: Statements per transaction of the naive script. One transaction per database cannot hold
#: the locks of 100k+ per-object GRANTs with PostgreSQL's default ``max_locks_per_transaction``
#: ("out of shared memory" at 100k rows), so the baseline commits in batches, as a hand-written
#: migration of that size would have to.
NAIVE_BATCH = 1000


def naive_psql(plan: MigrationPlan) -> str:
    """The naive rendering as one psql script, structured like grantbridge's."""
    lines = ["\\set ON_ERROR_STOP on"]
    for database, statements in sorted(render_naive(plan).items()):
        if database != CLUSTER:
            lines.append(f"\\connect {ident(database)}")
        for start in range(0, len(statements), NAIVE_BATCH):
            lines += ["BEGIN;", *statements[start : start + NAIVE_BATCH], "COMMIT;"]
    return "\n".join(lines) + "\n"


def psql_error(stderr: str) -> str:
    """psql's ERROR line (and HINT) on one line: the last stderr line is only CONTEXT."""
    lines = [line.strip() for line in stderr.splitlines()]
    errors = [i for i, line in enumerate(lines) if "ERROR:" in line]
    if not errors:
        return " ".join(lines[-3:])[-500:]
    first = errors[0]
    hints = [line for line in lines[first + 1 :] if line.startswith("HINT:")][:1]
    return " ".join([lines[first][lines[first].index("ERROR:") :], *hints])[:500]


def run_psql(dsn: str, scripts: Sequence[Path]) -> float:
    """Run ``scripts`` in order with psql against ``dsn``; seconds of wall time."""
    psql = psql_binary()
    start = time.perf_counter()
    for script in scripts:
        command = [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-f", str(script)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"psql failed on {script.name}: {psql_error(done.stderr)}")
    return time.perf_counter() - start
