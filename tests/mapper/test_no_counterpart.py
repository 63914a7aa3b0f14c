"""Permissions on objects the snapshot holds but PostgreSQL has no kind for, or on SQL Server's
own catalog, grant nothing: ``not_applicable``, not ``unresolved`` with GB042 ("the securable is
not in the snapshot", which sent readers looking for an object that was there). Regression from
an audit of real dacpacs (a grant on a synonym) and catalog captures (DENY/GRANT on sys.objects).
"""

from __future__ import annotations

import pytest

from mapper.plan import Disposition
from mapper.planner import plan
from mapper.policy import Policy
from mssql_extract.snapshot import ObjectKind
from tests.mapper.estate import database, perm, snapshot, table, user


@pytest.mark.parametrize(
    ("schema", "name"), [("dbo", "OrdersAlias"), ("sys", "objects")], ids=["synonym", "catalog"]
)
def test_a_grant_on_what_postgresql_has_no_counterpart_for_is_not_applicable(
    schema: str, name: str
) -> None:
    synonym = table("dbo", "OrdersAlias", kind=ObjectKind.SYNONYM)
    base = database()
    grant = perm("SELECT", "app", schema_name=schema, object_name=name)
    db = database(users=(user("app"),), permissions=(grant,), objects=(*base.objects, synonym))
    p = plan(snapshot(db), Policy())
    (fact,) = [d for d in p.dispositions if d.fact == f"Sales/{grant.key}"]
    assert (fact.disposition, fact.items) == (Disposition.NOT_APPLICABLE, ())
    assert "GB042" not in {f.rule_id for f in p.findings}
    assert not [g for g in p.grants if g.name.casefold() == name.casefold()]
