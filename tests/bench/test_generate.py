"""The synthetic estate generator: determinism, validity and the shape issue 7 asks for."""

from __future__ import annotations

from collections import Counter

import networkx as nx
import pytest

from bench.estate import count_principals
from bench.estate_shape import MAX_DEPTH
from bench.generate import generate_snapshot
from bench.scales import SCALES, get_scale, rows_scale
from bench.tsql import render_scripts, statement_script
from mssql_extract.snapshot import Database, PermissionState, SecuritySnapshot


@pytest.fixture(scope="module")
def small() -> SecuritySnapshot:
    return generate_snapshot(SCALES["S"], seed=0)


def _rows(snapshot: SecuritySnapshot) -> int:
    return len(snapshot.server_permissions) + sum(len(d.permissions) for d in snapshot.databases)


def _nesting_depth(db: Database) -> int:
    """Longest chain of user-defined roles inside roles (a role alone is depth 1)."""
    roles = {r.name for r in db.roles}
    graph: nx.DiGraph[str] = nx.DiGraph(
        (m.role, m.member) for m in db.memberships if m.member in roles
    )
    return nx.dag_longest_path_length(graph) + 1 if graph.number_of_nodes() else 1


def test_same_seed_gives_byte_identical_snapshot_and_scripts() -> None:
    first, second = generate_snapshot(SCALES["XS"], 7), generate_snapshot(SCALES["XS"], 7)
    assert first.to_json() == second.to_json()
    assert render_scripts(first) == render_scripts(second)


def test_another_seed_gives_another_estate() -> None:
    assert (
        generate_snapshot(SCALES["XS"], 1).to_json() != generate_snapshot(SCALES["XS"], 2).to_json()
    )


def test_model_construct_output_validates_when_loaded_again(small: SecuritySnapshot) -> None:
    text = small.to_json()
    assert SecuritySnapshot.from_json(text).to_json() == text


@pytest.mark.parametrize("name", ["XS", "S"])
def test_counts_match_the_scale(name: str) -> None:
    scale = SCALES[name]
    snapshot = generate_snapshot(scale, 0)
    assert len(snapshot.databases) == scale.databases
    assert abs(_rows(snapshot) - scale.permission_rows) <= scale.permission_rows * 0.02
    assert abs(count_principals(snapshot) - scale.principals) <= max(5, scale.principals * 0.1)


@pytest.mark.parametrize("name", ["M", "L"])
def test_large_scales_split_into_the_specified_principals(name: str) -> None:
    """M and L are too big to generate in a unit test; their split is checked instead."""
    scale = SCALES[name]
    split = scale.logins + 2 + scale.principals_per_database * scale.databases
    assert abs(split - scale.principals) <= scale.principals * 0.05
    assert scale.rows_per_database * scale.databases == scale.permission_rows


def test_shape_has_denies_column_grants_grant_options_and_schema_grants(
    small: SecuritySnapshot,
) -> None:
    perms = small.databases[0].permissions
    states = Counter(p.state for p in perms)
    classes = Counter(p.securable_class for p in perms)
    assert states[PermissionState.DENY] >= 100
    assert states[PermissionState.GRANT_WITH_GRANT_OPTION] >= 20
    assert sum(1 for p in perms if p.column_name) >= 200
    assert classes["SCHEMA"] >= 200
    assert classes["OBJECT"] > 0.8 * len(perms)


def test_shape_has_many_objects_per_schema_and_many_logins(small: SecuritySnapshot) -> None:
    db = small.databases[0]
    assert len(db.objects) / len(db.schemas) >= 20
    assert len(small.logins) >= 40
    assert {login.type for login in small.logins} == {"SQL_LOGIN", "WINDOWS_LOGIN", "WINDOWS_GROUP"}


@pytest.mark.parametrize("name", ["XS", "S"])
def test_roles_nest_exactly_five_deep(name: str) -> None:
    for db in generate_snapshot(SCALES[name], 0).databases:
        assert _nesting_depth(db) == MAX_DEPTH


def test_no_grant_and_deny_share_a_securable_permission_and_grantee(
    small: SecuritySnapshot,
) -> None:
    """Replay order must not matter: each (securable, permission, grantee) appears in one state."""
    seen: dict[tuple[str, str, str, str | None], str] = {}
    for p in small.databases[0].permissions:
        triple = (
            f"{p.securable_class}:{p.schema_name}.{p.object_name}",
            p.permission,
            p.grantee.casefold(),
            None,
        )
        assert seen.setdefault(triple, p.state) == p.state


def test_statement_script_stops_at_the_requested_count() -> None:
    text, count = statement_script(generate_snapshot(rows_scale(2_000), 0), 1_500)
    assert count == 1_500
    statements = [line for line in text.splitlines() if line and line != "GO"]
    assert len(statements) == 1_500
    assert any(s.startswith("DENY ") for s in statements)


def test_scale_lookup() -> None:
    assert get_scale("S") is SCALES["S"]
    assert get_scale("rows100000").permission_rows == 100_000
    with pytest.raises(KeyError):
        get_scale("XXL")
