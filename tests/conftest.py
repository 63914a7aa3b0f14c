"""Shared pytest configuration: golden files and repository paths."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
CONTOSO = FIXTURES / "estates" / "contoso"
GOLDEN = Path(__file__).resolve().parent / "golden"


def skip_unless_ci(reason: str) -> NoReturn:
    """Skip a test whose requirement this machine lacks; under CI=true that is a failure."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="Rewrite golden files under tests/golden/ from the current outputs.",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


def check_golden(name: str, actual: str, update: bool) -> None:
    """Compare ``actual`` with ``tests/golden/<name>``; rewrite it with ``--update-golden``."""
    path = GOLDEN / name
    if update or not path.exists():
        if not update:
            raise AssertionError(f"golden file {path} is missing; run pytest --update-golden")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"{name} differs from its golden file (pytest --update-golden)"


# --- PostgreSQL fixtures (pg_emit): one embedded server per session, plus the machine's server.


@pytest.fixture(scope="session")
def embedded_pg() -> Iterator[str]:
    """DSN of a throwaway embedded PostgreSQL, started once per test session."""
    from pg_emit.server import embedded_server

    with embedded_server() as dsn:
        yield dsn


def _pg_targets() -> list[str]:
    machine = os.environ.get("GRANTBRIDGE_TEST_DSN") or os.environ.get("CI") == "true"
    return ["embedded", "machine"] if machine else ["embedded"]


@pytest.fixture(params=_pg_targets())
def pg_dsn(request: pytest.FixtureRequest) -> str:
    """DSN of each PostgreSQL under test; on CI the machine's server is required (never skipped)."""
    if request.param == "embedded":
        return str(request.getfixturevalue("embedded_pg"))
    import psycopg

    dsn = os.environ.get("GRANTBRIDGE_TEST_DSN")
    if not dsn:
        pytest.fail(
            "CI=true but GRANTBRIDGE_TEST_DSN is not set: the machine PostgreSQL is required"
        )
    try:
        psycopg.connect(dsn, connect_timeout=5).close()
    except psycopg.Error as exc:
        pytest.fail(f"GRANTBRIDGE_TEST_DSN is unreachable: {exc}")
    return dsn


@pytest.fixture
def target(pg_dsn: str) -> Iterator[str]:
    """A unique name for a target database a test creates on ``pg_dsn``; dropped after."""
    import uuid

    from pg_emit.server import connect

    name = f"gbt{uuid.uuid4().hex[:6]}"
    yield name
    with connect(pg_dsn) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


#: Drops the RDS stand-ins an apply made on plain PostgreSQL (01_roles.sql marks them) once no
#: role is a member of them any more: a later test may need the server without them
#: (tests/emit/test_apply_checks.py creates rds_superuser to look like RDS).
DROP_UNUSED_STANDINS = (
    "DO $$ DECLARE r text; BEGIN FOR r IN SELECT rolname FROM pg_roles o WHERE "
    "shobj_description(o.oid, 'pg_authid') LIKE 'grantbridge: stand-in%' AND NOT EXISTS "
    "(SELECT FROM pg_auth_members a WHERE a.roleid = o.oid) LOOP "
    "EXECUTE format('DROP ROLE %I', r); END LOOP; END $$"
)


@pytest.fixture
def prefix(pg_dsn: str) -> Iterator[str]:
    """A unique prefix for a test's databases and roles on ``pg_dsn``; whatever carries it is
    dropped afterwards (databases first, then the roles and what they own)."""
    import uuid

    from mapper.quoting import quote_ident
    from pg_emit.server import connect

    name = f"gbx{uuid.uuid4().hex[:8]}"
    try:
        yield name
    finally:
        with connect(pg_dsn) as conn:
            made = "SELECT datname FROM pg_database WHERE starts_with(lower(datname), %s)"
            for (database,) in conn.execute(made, [name]).fetchall():
                conn.execute(
                    f"DROP DATABASE IF EXISTS {quote_ident(database)} WITH (FORCE)".encode()
                )
            roles = "SELECT rolname FROM pg_roles WHERE starts_with(rolname, %s)"
            for (role,) in conn.execute(roles, [name]).fetchall():
                conn.execute(f"DROP OWNED BY {quote_ident(role)}".encode())
                conn.execute(f"DROP ROLE {quote_ident(role)}".encode())
            conn.execute(DROP_UNUSED_STANDINS)
