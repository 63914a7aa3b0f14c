"""The contoso estate for the emitter and review tests: extracted and planned once per session.

Also ``rename_databases``: the same plan with other target database names, so a test can verify
contoso on a shared server (the machine's PostgreSQL) without touching databases named
``sales`` / ``hr`` / ``reporting`` that another run may use at the same time.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from mapper.plan import MigrationPlan
from mapper.planner import plan
from mapper.policy import Policy
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
