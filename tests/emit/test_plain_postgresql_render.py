"""What a postgresql plan renders to: no ``rds_*`` role in any script, ``iam/pg_hba.conf`` for
its Kerberos logins, and assignments and report in plain-PostgreSQL terms (mapper/platforms.py).

contoso planned for plain PostgreSQL (tests/emit/contoso.py, ``POSTGRESQL_POLICY``): sysadmin
kept faithfully, realm CONTOSO.COM, svc_reporting given IAM by a rule. The aurora plan of the same
estate keeps its stand-ins (its goldens are unchanged).
"""

from __future__ import annotations

import re
from pathlib import Path

from grantbridge.cli import main
from mapper.plan import AuthMethod, MigrationPlan, PgRole, RoleKind
from pg_emit.artifacts import render_artifacts
from pg_emit.hba import render_hba
from pg_emit.iam import render_iam
from pg_emit.render import render_sql
from pg_emit.render_roles import STANDIN_MARK
from tests.conftest import CONTOSO
from tests.emit import contoso

RDS_ROLE = re.compile(r"\brds_")

CONTOSO_HBA = [
    "# analysts@CONTOSO.COM: login [CONTOSO\\Analysts]",
    'host    all    "analysts@CONTOSO.COM"    all    gss include_realm=1 krb_realm=CONTOSO.COM',
    "# dbas@CONTOSO.COM: login [CONTOSO\\DBAs]",
    'host    all    "dbas@CONTOSO.COM"    all    gss include_realm=1 krb_realm=CONTOSO.COM',
    "# jdoe@CONTOSO.COM: login [CONTOSO\\jdoe]",
    'host    all    "jdoe@CONTOSO.COM"    all    gss include_realm=1 krb_realm=CONTOSO.COM',
    "# mgarcia@CONTOSO.COM: login [CONTOSO\\mgarcia]",
    'host    all    "mgarcia@CONTOSO.COM"    all    gss include_realm=1 krb_realm=CONTOSO.COM',
]


def test_no_script_of_a_postgresql_plan_names_an_rds_role() -> None:
    files = render_artifacts(contoso.postgresql_plan())
    scripts = {n: t for n, t in files.items() if n.startswith(("sql/", "iam/"))}
    assert {n for n, t in scripts.items() if RDS_ROLE.search(t)} == set()
    assert STANDIN_MARK not in scripts["sql/01_roles.sql"]
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


def test_contoso_pg_hba_has_one_gss_record_per_kerberos_login_after_its_warning() -> None:
    text = render_iam(contoso.postgresql_plan())["iam/pg_hba.conf"]
    lines = text.splitlines()
    assert lines[-len(CONTOSO_HBA) :] == CONTOSO_HBA
    header = " ".join(lines[: -len(CONTOSO_HBA)])
    assert "BEFORE the password (scram-sha-256, md5)" in header
    assert "first record that matches" in header


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
        'host    all    "+x@R"    all    gss include_realm=1 krb_realm="MY REALM"',
        'host    all    "a ""b""@R.COM"    all    gss include_realm=1 krb_realm=R.COM',
        'host    all    "all"    all    gss include_realm=1',
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
