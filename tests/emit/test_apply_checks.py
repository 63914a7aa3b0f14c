"""apply's refusals, verify's live-target rules, the psql subset and DSN redaction."""

from __future__ import annotations

import pytest

from grantbridge.errors import InputError, TargetError
from mapper.plan import PgRole, RoleKind
from pg_emit.apply import preflight
from pg_emit.psql import parse_script
from pg_emit.server import connect, redact
from pg_emit.verify import ensure_databases
from tests.emit.builders import realistic_plan

pytestmark = pytest.mark.postgres


def test_superuser_only_attribute_refused_on_rds(embedded_pg: str) -> None:
    plan = realistic_plan("gbrds", "gbrds_db")
    risky = PgRole(name="gbrds_bypass", kind=RoleKind.GROUP, attributes=("BYPASSRLS",))
    plan = plan.model_copy(update={"roles": (*plan.roles, risky)})
    with connect(embedded_pg, autocommit=False) as conn:
        preflight(conn, plan)  # plain PostgreSQL: allowed
        conn.execute("CREATE ROLE rds_superuser NOLOGIN")  # now it looks like RDS
        with pytest.raises(InputError, match="gbrds_bypass: BYPASSRLS"):
            preflight(conn, plan)
        conn.rollback()


def test_live_verify_needs_existing_databases(embedded_pg: str) -> None:
    """A reachable server without the plan's database: the target lacks it (exit 2), which
    is not a connection failure (exit 4)."""
    plan = realistic_plan("gbmiss", "gbmiss_no_such_db")
    with pytest.raises(TargetError, match="gbmiss_no_such_db") as caught:
        ensure_databases(embedded_pg, plan, create=False)
    assert caught.value.exit_code == 2


def test_psql_subset() -> None:
    text = (
        '-- c\n\\set ON_ERROR_STOP on\n\\connect "a ""b"""\nBEGIN;\n'
        "SELECT ';' AS \"x;\";\nDO $t$ BEGIN PERFORM 1; END $t$;\nCOMMIT;\n"
    )
    (section,) = parse_script(text, "t.sql")
    assert section.database == 'a "b"'
    assert section.statements == ("SELECT ';' AS \"x;\"", "DO $t$ BEGIN PERFORM 1; END $t$")
    with pytest.raises(InputError, match="unsupported psql command"):
        parse_script("\\! rm -rf /\n", "t.sql")


def test_dsn_password_is_redacted() -> None:
    assert redact("postgresql://u:s3cret@h/db") == "postgresql://u:***@h/db"
    assert "s3cret" not in redact("host=h password=s3cret dbname=x")
