"""An estate with audit specifications planned for plain PostgreSQL: every output, and an apply.

pgaudit object auditing logs the statements that use a privilege the audit role holds. On
Amazon RDS / Aurora that role can only be ``rds_pgaudit``, and the parameter group forces SSL
with ``rds.force_ssl``; plain PostgreSQL has neither name (mapper/platforms.py). So a
``target = "postgresql"`` plan of this estate grants to ``pgaudit_auditor``, asks for ``ssl``,
and no file it writes names an ``rds_*`` role or an ``rds.*`` setting; the aurora plan of the
same estate keeps both. pgaudit itself is not installed on the test servers: the scripts do not
CREATE EXTENSION pgaudit (GB341 asks the DBA to), so the audit role and its grants apply
without it.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import pytest

from mapper.plan import MigrationPlan
from mapper.planner import plan
from mapper.platforms import PLAIN_AUDIT_ROLE, RDS_AUDIT_ROLE
from mapper.policy import parse_policy
from mssql_extract.snapshot import SecuritySnapshot
from mssql_extract.tsql import parse_text
from pg_emit import markdown as md
from pg_emit.apply import APPLY_ORDER, apply_plan_dir, run_scripts
from pg_emit.artifacts import render_artifacts
from pg_emit.render_security import PLAIN_PARAMETERS_NOTE
from pg_emit.server import connect
from pg_emit.verify import check_state
from tests.emit import contoso
from tests.emit.conftest import build_target, write_plan_dir

#: An RDS role (``rds_pgaudit``, ``rds_password`` …) or RDS parameter (``rds.force_ssl`` …).
RDS_NAME = re.compile(r"\brds[._]\w*")

#: Server action groups, and a database specification with per-object actions (a table's DML,
#: a schema's routines "BY app", which pgaudit cannot filter) and a group; a SQL login with a
#: user and a Windows login, so that iam/ has its files too.
SCRIPT = r"""
CREATE LOGIN [app] WITH PASSWORD = 'not-carried'
GO
CREATE LOGIN [CONTOSO\jdoe] FROM WINDOWS
GO
CREATE SERVER AUDIT SPECIFICATION [srv] FOR SERVER AUDIT [a]
ADD (FAILED_LOGIN_GROUP), ADD (SERVER_ROLE_MEMBER_CHANGE_GROUP),
ADD (DATABASE_PERMISSION_CHANGE_GROUP)
WITH (STATE = ON)
GO
USE [Sales]
GO
CREATE USER [app] FOR LOGIN [app]
GO
CREATE TABLE [dbo].[Orders] ([Id] int)
GO
CREATE SCHEMA [sales]
GO
CREATE PROCEDURE [sales].[usp_Place] AS SELECT 1
GO
GRANT SELECT ON [dbo].[Orders] TO [app]
GO
CREATE DATABASE AUDIT SPECIFICATION [db] FOR SERVER AUDIT [a]
ADD (SCHEMA_OBJECT_CHANGE_GROUP),
ADD (SELECT, INSERT, UPDATE, DELETE ON OBJECT::[dbo].[Orders] BY [public]),
ADD (EXECUTE ON SCHEMA::[sales] BY [app])
WITH (STATE = ON)
GO
"""

#: What the audit role holds after the apply: (privilege check, object, privilege).
AUDITED = [
    ("has_table_privilege", "dbo.orders", "SELECT"),
    ("has_table_privilege", "dbo.orders", "INSERT"),
    ("has_table_privilege", "dbo.orders", "UPDATE"),
    ("has_table_privilege", "dbo.orders", "DELETE"),
    ("has_function_privilege", "sales.usp_place()", "EXECUTE"),
    ("has_schema_privilege", "dbo", "USAGE"),
    ("has_schema_privilege", "sales", "USAGE"),
]


@cache
def _snapshot() -> SecuritySnapshot:
    return parse_text(SCRIPT, "audit.sql")


@cache
def _plan(target: str) -> MigrationPlan:
    return plan(_snapshot(), parse_policy(f'target = "{target}"\n'))


def test_no_output_of_a_postgresql_plan_with_audit_names_an_rds_role_or_setting() -> None:
    migration = _plan("postgresql")
    files = render_artifacts(migration)
    assert {"sql/01_roles.sql", "sql/04_privileges.sql", "sql/rollback.sql", "parameters.json",
            "report.md", "findings.sarif", "iam/assignments.csv", "iam/pg_hba.conf"} <= set(files)  # fmt: skip
    named = {n: RDS_NAME.findall(t) for n, t in files.items() if RDS_NAME.search(t)}
    assert named == {}
    assert RDS_NAME.findall(migration.to_json()) == []
    roles, grants = files["sql/01_roles.sql"], files["sql/04_privileges.sql"]
    assert f"CREATE ROLE {PLAIN_AUDIT_ROLE} NOLOGIN;" in roles
    dml = f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE dbo.orders TO {PLAIN_AUDIT_ROLE}"
    assert dml in grants
    assert f"GRANT EXECUTE ON ROUTINE sales.usp_place TO {PLAIN_AUDIT_ROLE}" in grants
    assert "CREATE EXTENSION" not in "".join(t for n, t in files.items() if n.startswith("sql/"))


def test_a_postgresql_plans_parameters_are_postgresql_conf_settings() -> None:
    files = render_artifacts(_plan("postgresql"))
    values = {p["name"]: p["value"] for p in json.loads(files["parameters.json"])["parameters"]}
    assert values["pgaudit.role"] == PLAIN_AUDIT_ROLE
    assert values["ssl"] == "on"
    assert values["shared_preload_libraries"] == "pgaudit"
    report = files["report.md"]
    assert "`postgresql.conf` settings (`parameters.json`):" in report
    assert "Parameter group settings" not in report
    assert md.text(PLAIN_PARAMETERS_NOTE) in report
    records = [line.split()[0] for line in files["iam/pg_hba.conf"].splitlines()
               if not line.startswith("#")]  # fmt: skip
    assert records == ["hostssl", "hostgssenc"]  # the one Kerberos login, encrypted only


def _parameters(files: dict[str, str]) -> dict[str, str]:
    return {p["name"]: p["value"] for p in json.loads(files["parameters.json"])["parameters"]}


def test_only_the_aurora_plan_of_the_same_estate_names_rds_pgaudit_and_rds_parameters() -> None:
    aurora, plain = render_artifacts(_plan("aurora")), render_artifacts(_plan("postgresql"))
    mine, theirs = _parameters(aurora), _parameters(plain)
    assert {n: v for n, v in mine.items() if theirs.get(n) != v} == {
        "pgaudit.role": RDS_AUDIT_ROLE, "rds.force_ssl": "1", "rds.restrict_password_commands": "1",
    }  # fmt: skip
    assert {n: v for n, v in theirs.items() if mine.get(n) != v} == {
        "pgaudit.role": PLAIN_AUDIT_ROLE, "ssl": "on",
    }  # fmt: skip
    assert f"CREATE ROLE {RDS_AUDIT_ROLE} NOLOGIN;" in aurora["sql/01_roles.sql"]
    grant = f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE dbo.orders TO {RDS_AUDIT_ROLE}"
    assert grant in aurora["sql/04_privileges.sql"]
    assert "Parameter group settings (`parameters.json`):" in aurora["report.md"]
    assert "iam/pg_hba.conf" not in aurora  # the Kerberos login is a member of rds_ad


def _privileges(dsn: str, database: str, role: str) -> list[tuple[str, str, bool]]:
    """Whether ``role`` holds each :data:`AUDITED` privilege in ``database``."""
    with connect(dsn, database) as conn:
        return [
            (name, privilege, conn.execute(
                f"SELECT pg_catalog.{check}(%s, %s, %s)".encode(), [role, name, privilege]
            ).fetchone()[0])  # type: ignore[index]
            for check, name, privilege in AUDITED
        ]  # fmt: skip


@pytest.mark.postgres
def test_the_audit_role_and_its_grants_apply_without_pgaudit(
    pg_dsn: str, prefix: str, tmp_path: Path
) -> None:
    """Applied to a PostgreSQL without pgaudit (roles and database prefixed, so a shared
    server is left as found): the audit role is a NOLOGIN role holding every audited privilege,
    the plan checks out, and rollback removes it, twice."""
    base = _plan("postgresql")
    assert PLAIN_AUDIT_ROLE in {r.name for r in base.roles}
    migration = contoso.rename_databases(
        contoso.prefix_roles(base, f"{prefix}_"), {"sales": f"{prefix}_sales"}
    )
    role, database = f"{prefix}_{PLAIN_AUDIT_ROLE}", f"{prefix}_sales"
    build_target(pg_dsn, migration)
    plan_dir = write_plan_dir(tmp_path / "plan", migration)
    scripts = {n: (plan_dir / n).read_text(encoding="utf-8") for n in APPLY_ORDER}
    assert [n for n, t in scripts.items() if RDS_NAME.search(t)] == []
    apply_plan_dir(plan_dir, pg_dsn)
    with connect(pg_dsn) as conn:
        assert conn.execute(
            "SELECT rolcanlogin FROM pg_catalog.pg_roles WHERE rolname = %s", [role]
        ).fetchall() == [(False,)]
    with connect(pg_dsn, database) as conn:
        assert check_state(conn, migration, database) == []
    assert _privileges(pg_dsn, database, role) == [(n, p, True) for _, n, p in AUDITED]
    rollback = (plan_dir / "sql" / "rollback.sql").read_text(encoding="utf-8")
    for _ in range(2):
        run_scripts(pg_dsn, [("rollback.sql", rollback)])
        with connect(pg_dsn) as conn:
            found = conn.execute("SELECT FROM pg_catalog.pg_roles WHERE rolname = %s", [role])
            assert found.fetchall() == []


# ------------------------------------------------------------------ AWS advice

#: AWS words a postgresql plan's advice must not use: it has no master user, RDS events,
#: snapshots or parameter groups.
AWS_WORD = re.compile(r"\b(?:RDS|Aurora|AWS|CloudWatch|CloudTrail)\b|master user")

#: Where a text may still name them: a parenthesis that contrasts with RDS / Aurora (a rule's
#: fixed remediation: "(such as AWS Secrets Manager on RDS / Aurora)"), and what a faithful
#: sysadmin gets, which is defined by its RDS counterpart (mapper/platforms.py).
CONTRAST = re.compile(r"\([^()]* on RDS / Aurora\)|what sysadmin's Amazon RDS counterpart allows")

#: sa, a sysadmin, a SQL login without the password policy and with a server permission no
#: role carries (GB010, the SERVER default note), and the two audit groups RDS records outside
#: pgaudit.
ADMIN_SCRIPT = r"""
CREATE LOGIN [sa] WITH PASSWORD = 'not-carried'
GO
CREATE LOGIN [dba] WITH PASSWORD = 'not-carried'
GO
ALTER SERVER ROLE [sysadmin] ADD MEMBER [dba]
GO
CREATE LOGIN [app] WITH PASSWORD = 'not-carried', CHECK_POLICY = OFF
GO
GRANT SHUTDOWN TO [app]
GO
CREATE SERVER AUDIT SPECIFICATION [srv] FOR SERVER AUDIT [a]
ADD (FAILED_LOGIN_GROUP), ADD (BACKUP_RESTORE_GROUP), ADD (SERVER_STATE_CHANGE_GROUP)
WITH (STATE = ON)
GO
USE [Sales]
GO
CREATE USER [app] FOR LOGIN [app]
GO
ALTER ROLE [db_backupoperator] ADD MEMBER [app]
GO
CREATE DATABASE AUDIT SPECIFICATION [db] FOR SERVER AUDIT [a]
ADD (SCHEMA_OBJECT_CHANGE_GROUP)
WITH (STATE = ON)
GO
"""


def _admin_files(target: str, mode: str = "downscope") -> dict[str, str]:
    policy = parse_policy(f'target = "{target}"\n[overgrants]\ndefault_mode = "{mode}"\n')
    migration = plan(parse_text(ADMIN_SCRIPT, "admin.sql"), policy)
    return {**render_artifacts(migration), "plan.json": migration.to_json()}


@pytest.mark.parametrize("mode", ["downscope", "faithful"])
def test_no_output_of_a_postgresql_plan_gives_aws_advice(mode: str) -> None:
    files = _admin_files("postgresql", mode)
    said = {n: AWS_WORD.findall(CONTRAST.sub("", t)) for n, t in files.items()}
    assert {n: words for n, words in said.items() if words} == {}
    report = files["report.md"]
    assert "Not migrated: the bootstrap superuser (usually postgres) replaces sa." in report
    assert "Not granted: administration stays with the bootstrap superuser" in report
    assert "BACKUP\\_RESTORE\\_GROUP: backups and restores (pg\\_basebackup" in report  # GB342
    methods = {p["name"]: p["apply_method"]
               for p in json.loads(files["parameters.json"])["parameters"]}  # fmt: skip
    assert set(methods.values()) == {"restart", "reload"}
    assert methods["shared_preload_libraries"] == "restart"
    dispositions = json.loads(files["plan.json"])["dispositions"]
    (spec,) = [d for d in dispositions if d["fact"] == "server/audit:server:srv"]
    assert spec["disposition"] == "approximated"  # not "logged outside pgaudit": nothing logs it
    assert spec["reason"].startswith("not carried over: BACKUP_RESTORE_GROUP: backups and")


def test_the_aurora_plan_of_the_same_estate_keeps_its_aws_advice() -> None:
    files = _admin_files("aurora")
    report = files["report.md"]
    assert "Not migrated: the RDS master user replaces sa." in report
    assert "Not granted: administration stays with the RDS master user." in report
    dispositions = json.loads(files["plan.json"])["dispositions"]
    (spec,) = [d for d in dispositions if d["fact"] == "server/audit:server:srv"]
    assert spec["disposition"] == "mapped"
    assert "RDS snapshots: audited by AWS CloudTrail" in spec["reason"]
    assert "(the RDS master user)" in files["sql/02_memberships.sql"]
    methods = {p["apply_method"] for p in json.loads(files["parameters.json"])["parameters"]}
    assert methods == {"pending-reboot", "immediate"}
