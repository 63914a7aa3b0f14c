"""Snapshot and plan models share their fields sets (grantbridge.fields_sets, issue 7) without
changing what ``model_fields_set`` answers; the planner keeps one fact per item as a string."""

from __future__ import annotations

import contextlib

from mapper.plan import MigrationPlan, PgGrant, trusted
from mapper.planner import plan
from mapper.policy import Policy
from mapper.translate.state import PlanState
from mssql_extract import tsql
from mssql_extract.snapshot import Permission, SecuritySnapshot
from tests.conftest import CONTOSO, ROOT


def _contoso() -> SecuritySnapshot:
    with contextlib.chdir(ROOT):
        snapshot: SecuritySnapshot = tsql.extract_scripts([CONTOSO.relative_to(ROOT)])
    return snapshot


def _permissions(snapshot: SecuritySnapshot) -> list[Permission]:
    return [p for db in snapshot.databases for p in db.permissions]


def test_loaded_snapshot_rows_share_equal_fields_sets() -> None:
    rows = _permissions(SecuritySnapshot.from_json(_contoso().to_json()))
    by_fields: dict[frozenset[str], set[int]] = {}
    for row in rows:
        by_fields.setdefault(frozenset(row.model_fields_set), set()).add(
            id(row.__pydantic_fields_set__)
        )
    assert len(rows) > 10
    # one set object per distinct set of named fields, however many rows
    assert all(len(ids) == 1 for ids in by_fields.values())
    assert len(by_fields) < len(rows)


def test_fields_set_still_names_only_the_given_fields() -> None:
    a = PgGrant(database="d", object_type="TABLE", schema_name="s", name="t",
                privilege="SELECT", grantee="r")  # fmt: skip
    b = PgGrant(database="d", object_type="TABLE", name="t", privilege="SELECT", grantee="r",
                grant_option=True)  # fmt: skip
    assert a.model_fields_set == {"database", "object_type", "schema_name", "name",
                                  "privilege", "grantee"}  # fmt: skip
    assert b.model_fields_set == {"database", "object_type", "name", "privilege", "grantee",
                                  "grant_option"}  # fmt: skip
    assert a.__pydantic_fields_set__ is not b.__pydantic_fields_set__
    again = PgGrant(database="x", object_type="TABLE", schema_name="s", name="u",
                    privilege="UPDATE", grantee="q")  # fmt: skip
    assert again.__pydantic_fields_set__ is a.__pydantic_fields_set__
    # exclude_unset reads the set: it must still leave out what was not given
    assert "schema_name" not in b.model_dump(exclude_unset=True)


def test_plan_without_schema_version_is_still_refused() -> None:
    # grantbridge.validated relies on the top-level model's fields set being exact
    from grantbridge.validated import validated_in_one_pass

    assert validated_in_one_pass(MigrationPlan, '{"fingerprint": "sha256:x"}') is None
    assert validated_in_one_pass(MigrationPlan, '{"schema_version": 1, "fingerprint": "x"}')


def test_item_facts_hold_one_fact_as_a_string_and_more_as_a_set() -> None:
    snapshot = _contoso()
    state = PlanState.__new__(PlanState)
    state.items, state.item_facts, state.by_grantee, state.by_member = {}, {}, {}, {}
    grant = PgGrant(database="d", object_type="TABLE", schema_name="s", name="t",
                    privilege="SELECT", grantee="r")  # fmt: skip
    key, new = state.add(grant, "db/perm:b")
    assert new
    assert state.item_facts[key] == "db/perm:b"
    assert state.add(grant, "db/perm:b") == (key, False)
    assert state.item_facts[key] == "db/perm:b"  # the same fact again: still one
    state.add(grant, "db/perm:a")
    assert state.facts_of(key) == ("db/perm:a", "db/perm:b")
    assert sorted(state.facts_in(key)) == ["db/perm:a", "db/perm:b"]
    # and a whole plan still writes every fact into its items, sorted
    planned = plan(snapshot, Policy())
    assert all(list(g.facts) == sorted(set(g.facts)) and g.facts for g in planned.grants)


def test_trusted_construction_equals_validated_construction() -> None:
    fields = {"database": "d", "object_type": "TABLE", "schema_name": "s", "name": "t",
              "columns": ("c",), "grantee": "r"}  # fmt: skip
    fast = trusted(PgGrant, fields, privilege="SELECT")
    slow = PgGrant(**fields, privilege="SELECT")
    assert fast == slow
    assert repr(fast) == repr(slow)
    assert fast.model_fields_set == slow.model_fields_set
    assert fast.model_dump_json() == slow.model_dump_json()
    assert fast.key == slow.key
