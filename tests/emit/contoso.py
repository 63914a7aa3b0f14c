"""The contoso estate for the emitter and review tests: extracted and planned once per session.

Also ``rename_databases``: the same plan with other target database names, so a test can verify
contoso on a shared server (the machine's PostgreSQL) without touching databases named
``sales`` / ``hr`` / ``reporting`` that another run may use at the same time; and
``prefix_roles``, for a test that commits the plan's cluster-wide roles there.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from mapper.plan import MigrationPlan
from mapper.planner import plan
from mapper.policy import Policy, parse_policy
from mssql_extract.snapshot import SecuritySnapshot
from mssql_extract.tsql import extract_scripts
from tests.conftest import CONTOSO


@cache
def snapshot() -> SecuritySnapshot:
    """The contoso snapshot, extracted from its T-SQL scripts."""
    return extract_scripts([CONTOSO])


@cache
def default_plan() -> MigrationPlan:
    """The contoso plan under the default policy."""
    return plan(snapshot(), Policy())


#: contoso for plain PostgreSQL: sysadmin (CONTOSO\\DBAs) kept faithfully, a Kerberos realm, and
#: svc_reporting given IAM by a rule (which plain PostgreSQL turns into a password login). Only
#: GB002 is faithful: faithful IMPERSONATE (GB006) needs PostgreSQL 16 (WITH INHERIT FALSE).
POSTGRESQL_POLICY = """target = "postgresql"
[overgrants]
modes = {GB002 = "faithful"}
[authentication]
realm = "CONTOSO.COM"
[[authentication.rules]]
match = "svc_reporting"
method = "iam"
[[authentication.rules]]
login_types = ["SQL_LOGIN"]
method = "password"
[[authentication.rules]]
login_types = ["WINDOWS_LOGIN"]
method = "kerberos"
[[authentication.rules]]
login_types = ["WINDOWS_GROUP"]
method = "ad_group"
"""


@cache
def postgresql_plan() -> MigrationPlan:
    """The contoso plan under :data:`POSTGRESQL_POLICY`."""
    return plan(snapshot(), parse_policy(POSTGRESQL_POLICY))


def _renamed(field: str, item: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    item = dict(item)
    if "database" in item:
        item["database"] = names.get(item["database"], item["database"])
    renames_name = field == "databases" or (
        field in ("grants", "revokes") and item.get("object_type") == "DATABASE"
    )
    if renames_name:
        item["name"] = names.get(item["name"], item["name"])
    return item


def rename_databases(migration: MigrationPlan, names: dict[str, str]) -> MigrationPlan:
    """The plan with target databases renamed (``names``: old → new); nothing else changes."""
    data = migration.model_dump()
    for field, value in data.items():
        if isinstance(value, list | tuple) and value and isinstance(value[0], dict):
            data[field] = [_renamed(field, item, names) for item in value]
    return MigrationPlan.model_validate(data)


#: Plan fields holding role names (one name, or a tuple of them).
ROLE_FIELDS = frozenset({"owner", "grantee", "role", "member", "callers"})


def _prefixed(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {
            k: _prefixed(v, names) if k not in ROLE_FIELDS else _renamed_role(v, names)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_prefixed(item, names) for item in value]
    return value


def _renamed_role(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, list | tuple):
        return [names.get(v, v) for v in value]
    return names.get(value, value)


def prefix_roles(migration: MigrationPlan, prefix: str) -> MigrationPlan:
    """The plan with every role it creates named ``<prefix><name>`` wherever a role is named
    (predefined roles, ``rds_*`` and PUBLIC keep their names); findings and facts keep theirs."""
    names = {r.name: prefix + r.name for r in migration.roles if r.kind != "predefined"}
    data = migration.model_dump()
    data["roles"] = [{**r, "name": names.get(r["name"], r["name"])} for r in data["roles"]]
    for field in ("memberships", "databases", "schemas", "objects", "grants", "revokes",
                  "default_privileges", "default_revokes", "routine_security", "iam_policies"):  # fmt: skip
        data[field] = _prefixed(data.get(field, []), names)
    return MigrationPlan.model_validate(data)
