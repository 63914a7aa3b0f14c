"""``grantbridge policy init|schema``: write a commented default policy, print its JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from grantbridge import ui
from grantbridge.errors import InputError, Location
from grantbridge.output import write_file_atomic
from mapper.policy import policy_schema

#: The default policy, commented. A test checks it loads back to ``Policy()``.
DEFAULT_TOML = r"""# grantbridge.toml — how grantbridge maps SQL Server security to PostgreSQL.
# Every value below is the default; delete what you do not change.

# aurora | rds | postgresql. postgresql is plain PostgreSQL, without Amazon's rds_* roles and
# rds.* parameters: an IAM login becomes a password login (GB048), a Kerberos login gets gss
# records in iam/pg_hba.conf, a faithful sysadmin CREATEDB, CREATEROLE, pg_monitor and
# pg_signal_backend, pgaudit's audit role is pgaudit_auditor, parameters.json asks for ssl
target = "aurora"
# database: one PostgreSQL database per SQL Server database; schema: one database, schema prefixes
database_mode = "database"
# schema mode only: the one target database (default: the SQL Server's name, folded)
# target_database = "app"

[naming]
# roles for database roles and users without login, when more than one database is migrated
database_role = "{database}_{name}"
# the same with a single database
single_database_role = "{name}"
# login roles: {name} is the login without its Windows domain, {domain} the domain
login = "{name}"
# lower | preserve
fold_case = "lower"

[hardening]
# REVOKE CONNECT, TEMPORARY ON DATABASE and EXECUTE on routines FROM PUBLIC, also on routines
# created later (ALTER DEFAULT PRIVILEGES FOR ROLE <owner> REVOKE EXECUTE ON FUNCTIONS)
revoke_public_defaults = true

[overgrants]
# downscope: least privilege (db_owner → DML and EXECUTE); faithful: keep the power
default_mode = "downscope"
# per rule id (GB001–GB006, GB016), e.g. GB002 = "faithful"; GB016 is ownership: downscope
# gives a former owner DML and EXECUTE on what it owned, faithful makes it a member of its
# NOLOGIN owner role
modes = {}
# approved over-grants; their findings are shown as accepted:
# [[overgrants.accepted]]
# principal = 'CONTOSO\DBAs'
# rule = "GB002"
# reason = "DBA team, approved in CHG-1234"

[authentication]
# Kerberos realm for Windows logins (roles are named user@REALM), e.g. "CONTOSO.COM"
# realm = "CONTOSO.COM"
# for IAM policy documents (placeholders otherwise):
# aws_account = "123456789012"
# aws_region = "eu-west-1"
# resource_id = "cluster-ABCDEFGHIJKL"
# Windows principals that are groups (exact names or case-insensitive globs). T-SQL scripts and
# dacpacs cannot tell a Windows group from a Windows user (CREATE LOGIN [CONTOSO\x] FROM WINDOWS
# reads the same): their Windows logins are mapped as users (finding GB034) unless listed here;
# a listed one and its database users become a Windows group (method ad_group, finding GB032).
# Types read from the catalog or a live server are kept.
windows_groups = []
# windows_groups = ['CONTOSO\DBAs', 'CONTOSO\SQL-*']

# first matching rule wins; match is a case-insensitive glob on the login name;
# method: iam | password | kerberos | ad_group
[[authentication.rules]]
match = "*"
login_types = ["SQL_LOGIN"]
method = "password"

[[authentication.rules]]
match = "*"
login_types = ["WINDOWS_LOGIN"]
method = "kerberos"

[[authentication.rules]]
match = "*"
login_types = ["WINDOWS_GROUP"]
method = "ad_group"

# Microsoft Entra ID logins: Aurora and RDS know no Entra, so a user signs in with IAM and a
# group becomes a NOLOGIN role to map like an AD group
[[authentication.rules]]
match = "*"
login_types = ["EXTERNAL_LOGIN"]
method = "iam"

[[authentication.rules]]
match = "*"
login_types = ["EXTERNAL_GROUP"]
method = "ad_group"

[[authentication.rules]]
match = "*"
login_types = []
method = "password"

# principals left out of the plan (glob on the name), with the reason
[[exclusions]]
match = "##MS_*##"
reason = "SQL Server internal certificate login"

[[exclusions]]
match = 'NT SERVICE\*'
reason = "Windows service account of SQL Server itself"

[[exclusions]]
match = 'NT AUTHORITY\*'
reason = "Windows built-in account"

[[exclusions]]
match = 'BUILTIN\*'
reason = "Windows built-in group"
"""

policy_app = typer.Typer(
    help="Write or describe the policy file grantbridge.toml.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(policy_app, name="policy")


@policy_app.command("init")
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the policy.")] = Path(
        "grantbridge.toml"
    ),
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented default grantbridge.toml."""
    if path.exists() and not force:
        raise InputError("the policy file exists; use --force to overwrite it", Location(str(path)))
    write_file_atomic(path, DEFAULT_TOML)
    ui.result(f"wrote {path}", {"output": str(path)})


@policy_app.command("schema")
def schema() -> None:
    """Print the JSON Schema of grantbridge.toml."""
    typer.echo(json.dumps(policy_schema(), indent=2, sort_keys=True))
