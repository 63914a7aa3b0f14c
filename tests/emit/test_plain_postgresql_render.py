"""What a postgresql plan renders to: no ``rds_*`` role nor ``rds.*`` setting in any output,
``iam/pg_hba.conf`` for its Kerberos logins (encrypted connections only, checked by a real
PostgreSQL 15), and assignments and report in plain-PostgreSQL terms (mapper/platforms.py).

contoso planned for plain PostgreSQL (tests/emit/contoso.py, ``POSTGRESQL_POLICY``): sysadmin
kept faithfully, realm CONTOSO.COM, svc_reporting given IAM by a rule. The aurora plan of the same
estate keeps its stand-ins (its goldens are unchanged).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from psycopg import Connection

from grantbridge.cli import main
from mapper.plan import AuthMethod, MigrationPlan, PgRole, RoleKind
from pg_emit.artifacts import render_artifacts
from pg_emit.hba import render_hba
from pg_emit.iam import render_iam
from pg_emit.render import render_sql
from pg_emit.render_roles import STANDIN_MARK
from pg_emit.server import connect
from tests.cluster import BINDIR, throwaway_cluster
from tests.conftest import CONTOSO
from tests.emit import contoso

#: An RDS role (``rds_superuser`` …) or RDS parameter (``rds.force_ssl`` …).
RDS_NAME = re.compile(r"\brds[._]")


def _records(user: str, options: str) -> list[str]:
    """A login's two records: TLS and GSSAPI-encrypted connections only (forced encryption)."""
    return [
        f"{kind:<10}    all    {user}    all    gss {options}" for kind in ("hostssl", "hostgssenc")
    ]


CONTOSO_HBA = [
    "# analysts@CONTOSO.COM: login [CONTOSO\\Analysts]",
    *_records('"analysts@CONTOSO.COM"', "include_realm=1 krb_realm=CONTOSO.COM"),
    "# dbas@CONTOSO.COM: login [CONTOSO\\DBAs]",
    *_records('"dbas@CONTOSO.COM"', "include_realm=1 krb_realm=CONTOSO.COM"),
    "# jdoe@CONTOSO.COM: login [CONTOSO\\jdoe]",
    *_records('"jdoe@CONTOSO.COM"', "include_realm=1 krb_realm=CONTOSO.COM"),
    "# mgarcia@CONTOSO.COM: login [CONTOSO\\mgarcia]",
    *_records('"mgarcia@CONTOSO.COM"', "include_realm=1 krb_realm=CONTOSO.COM"),
]


def test_no_output_of_a_postgresql_plan_names_an_rds_role_or_setting() -> None:
    """Scripts, iam/, parameters.json, report.md and findings.sarif alike (contoso has no
    audit specification: tests/emit/test_plain_postgresql_audit.py plans one that has)."""
    files = render_artifacts(contoso.postgresql_plan())
    assert {n for n, t in files.items() if RDS_NAME.search(t)} == set()
    assert STANDIN_MARK not in files["sql/01_roles.sql"]
    assert not [n for n in files if n.startswith("iam/policies/")]


def test_an_aurora_plan_keeps_its_stand_ins_and_their_rollback() -> None:
    scripts = render_sql(contoso.default_plan())
    assert STANDIN_MARK in scripts["sql/01_roles.sql"]
    assert "GRANT rds_ad TO " in scripts["sql/02_memberships.sql"]
    assert (
        "ARRAY['rds_ad', 'rds_iam', 'rds_password', 'rds_superuser']" in scripts["sql/rollback.sql"]
    )


def test_the_iam_login_turned_password_gets_the_rotation_step() -> None:
    roles = render_sql(contoso.postgresql_plan())["sql/01_roles.sql"]
    assert "-- role svc_reporting: login, password (login [svc_reporting])" in roles
    assert "-- hand after apply: \\password svc_reporting" in roles


def test_contoso_pg_hba_has_hostssl_and_hostgssenc_records_per_kerberos_login() -> None:
    """Two records per login after the header's warning, none for an unencrypted connection:
    the hardening forces encryption, and on plain PostgreSQL only pg_hba.conf can."""
    text = render_iam(contoso.postgresql_plan())["iam/pg_hba.conf"]
    lines = text.splitlines()
    assert lines[-len(CONTOSO_HBA) :] == CONTOSO_HBA
    header = " ".join(lines[: -len(CONTOSO_HBA)])
    assert "BEFORE the password (scram-sha-256, md5)" in header
    assert "first record that matches" in header
    assert "unencrypted connections are refused" in header


@contextmanager
def _after_reload(dsn: str, name: str, value: str) -> Iterator[Connection[Any]]:
    """A connection whose backend has ``name = value`` (the postmaster reloads asynchronously)."""
    for _ in range(50):
        with connect(dsn) as conn:
            if conn.execute(f"SHOW {name}".encode()).fetchone() == (value,):
                yield conn
                return
        time.sleep(0.1)
    raise AssertionError(f"{name} is not {value} after the reload")


def test_the_pg_hba_records_are_valid_on_postgresql_15() -> None:
    """A throwaway cluster with parameters.json's ``ssl = on`` gets iam/pg_hba.conf appended to
    its pg_hba.conf: pg_hba_file_rules (which reads the file on disk) shows each record as
    written, and no error (gss needs a server built with GSSAPI, as PostgreSQL 15's packages
    are; with ssl off a hostssl record "cannot match because SSL is disabled"). The cluster has
    no certificate, so its SSL is not actually loaded: the records only need the setting."""
    assert (BINDIR / "initdb").exists(), f"PostgreSQL 15 binaries are required in {BINDIR}"
    text = render_iam(contoso.postgresql_plan())["iam/pg_hba.conf"]
    with throwaway_cluster({}) as (dsn, _log):
        with connect(dsn) as conn:
            hba = Path(str(conn.execute("SHOW hba_file").fetchone()[0]))  # type: ignore[index]
            conn.execute("ALTER SYSTEM SET ssl = on")
            conn.execute("SELECT pg_catalog.pg_reload_conf()")
        with hba.open("a", encoding="utf-8") as file:
            file.write(text)
        with _after_reload(dsn, "ssl", "on") as conn:
            rows = conn.execute(
                "SELECT type, user_name, auth_method, options, error"
                " FROM pg_catalog.pg_hba_file_rules"
                " WHERE auth_method = 'gss' OR error IS NOT NULL ORDER BY line_number"
            ).fetchall()
    options = ["include_realm=true", "krb_realm=CONTOSO.COM"]
    assert rows == [
        (kind, [user], "gss", options, None)
        for user in ("analysts@CONTOSO.COM", "dbas@CONTOSO.COM", "jdoe@CONTOSO.COM",
                     "mgarcia@CONTOSO.COM")
        for kind in ("hostssl", "hostgssenc")
    ]  # fmt: skip


def test_assignments_name_the_pg_hba_method_on_plain_postgresql() -> None:
    assert render_iam(contoso.postgresql_plan())["iam/assignments.csv"].splitlines() == [
        "role,auth,pg_hba,source",
        "analysts@CONTOSO.COM,kerberos,gss,login [CONTOSO\\Analysts]",
        "dbas@CONTOSO.COM,kerberos,gss,login [CONTOSO\\DBAs]",
        "jdoe@CONTOSO.COM,kerberos,gss,login [CONTOSO\\jdoe]",
        "mgarcia@CONTOSO.COM,kerberos,gss,login [CONTOSO\\mgarcia]",
    ]
    assert "iam/pg_hba.conf" not in render_iam(contoso.default_plan())  # aurora: rds_ad


def _kerberos(name: str, realm: str | None = None, login: bool = True) -> PgRole:
    return PgRole(name=name, kind=RoleKind.LOGIN, login=login, auth=AuthMethod.KERBEROS,
                  source=f"login [{name}]", realm=realm)  # fmt: skip


def test_pg_hba_quotes_names_and_leaves_out_what_a_record_cannot_hold() -> None:
    """Double quotes around every user (a quoted ``all`` or ``+x`` is a name, not a keyword),
    quotes inside doubled, a realm quoted when it is not plain, a line break never written;
    NOLOGIN roles (barred in SQL Server) get no record."""
    roles = (
        _kerberos('a "b"@R.COM', "R.COM"), _kerberos("all"), _kerberos("+x@R", "MY REALM"),
        _kerberos("two\nlines@R"), _kerberos("off@R", login=False),
    )  # fmt: skip
    text = render_hba(MigrationPlan(fingerprint="x", target="postgresql", roles=roles))
    assert text is not None
    records = [line for line in text.splitlines() if not line.startswith("#")]
    assert records == [
        *_records('"+x@R"', 'include_realm=1 krb_realm="MY REALM"'),
        *_records('"a ""b""@R.COM"', "include_realm=1 krb_realm=R.COM"),
        *_records('"all"', "include_realm=1"),
    ]
    assert "# two lines@R: login [two lines@R]: not written, pg_hba.conf cannot" in text
    assert "off@R" not in text
    aurora = MigrationPlan(fingerprint="x", target="aurora", roles=roles)
    assert render_hba(aurora) is None


def test_the_report_names_plain_postgresql_methods() -> None:
    report = render_artifacts(contoso.postgresql_plan())["report.md"]
    assert "| `jdoe@CONTOSO.COM` | login | yes | Kerberos (GSSAPI, pg_hba.conf) |" in report
    assert "| `svc_reporting` | login | yes | password (SCRAM, rotation step) |" in report
    assert "(rds_ad)" not in report
    assert "(rds_iam)" not in report
    assert "GB048" in report


def test_plan_writes_pg_hba_conf_and_may_replace_its_own_directory(tmp_path: Path) -> None:
    policy = tmp_path / "grantbridge.toml"
    policy.write_text(contoso.POSTGRESQL_POLICY, encoding="utf-8")
    snapshot = tmp_path / "snapshot.json"
    assert main(["extract", "--script", str(CONTOSO), "-o", str(snapshot)]) == 0
    out = tmp_path / "plan"
    for _ in range(2):  # the second run replaces a directory holding iam/pg_hba.conf
        assert main(["plan", str(snapshot), "--policy", str(policy), "-o", str(out)]) == 0
    text = (out / "iam" / "pg_hba.conf").read_text(encoding="utf-8")
    assert text.splitlines()[-len(CONTOSO_HBA) :] == CONTOSO_HBA
