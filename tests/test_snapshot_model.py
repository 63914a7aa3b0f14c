"""The snapshot contract: sorted, deduplicated, versioned, byte-identical JSON round trip."""

from __future__ import annotations

import json

import pytest

from bench.generate import generate_snapshot
from bench.scales import get_scale
from grantbridge.errors import ExtractError
from grantbridge.validated import validated_in_one_pass
from mssql_extract.snapshot import (
    Database,
    Login,
    LoginType,
    Permission,
    PermissionState,
    SecuritySnapshot,
    Server,
    SourceRef,
    one_per_grantor_merged,
)
from mssql_extract.tsql import extract_scripts
from tests.conftest import CONTOSO

REF = SourceRef(origin="server.sql", line=3)


def _snapshot() -> SecuritySnapshot:
    return SecuritySnapshot(
        server=Server(name="SQL01"),
        logins=(
            Login(name="zed", type=LoginType.SQL, has_password=True, source_ref=REF),
            Login(name="Amy", type=LoginType.WINDOWS_USER, source_ref=REF),
        ),
        databases=(
            Database(
                name="Sales",
                source_ref=REF,
                permissions=(
                    Permission(
                        securable_class="OBJECT",
                        schema_name="dbo",
                        object_name="Orders",
                        permission="SELECT",
                        state=PermissionState.GRANT,
                        grantee="app",
                        source_ref=REF,
                    ),
                ),
            ),
        ),
    )


def test_collections_are_sorted_by_key() -> None:
    assert [login.name for login in _snapshot().logins] == ["Amy", "zed"]


def test_json_round_trip_is_byte_identical() -> None:
    text = _snapshot().to_json()
    assert SecuritySnapshot.from_json(text).to_json() == text


def test_duplicate_keys_are_refused_case_insensitively() -> None:
    with pytest.raises(ValueError, match="duplicate item 'login:zed'"):
        SecuritySnapshot(
            server=Server(name="x"),
            logins=(
                Login(name="zed", type=LoginType.SQL, source_ref=REF),
                Login(name="ZED", type=LoginType.SQL, source_ref=REF),
            ),
        )


def test_no_field_can_hold_a_password() -> None:
    with pytest.raises(ValueError, match="password"):
        Login.model_validate(
            {"name": "x", "type": "SQL_LOGIN", "password": "hunter2", "source_ref": REF}
        )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not valid JSON"),
        ('{"schema_version": 99}', "unsupported snapshot schema_version 99"),
        ('{"schema_version": 1, "server": {"name": "x"}, "extra": 1}', "extra"),
    ],
)
def test_bad_snapshots_are_clear_errors(text: str, message: str) -> None:
    with pytest.raises(ExtractError, match=message) as info:
        SecuritySnapshot.from_json(text, origin="s.json")
    assert info.value.location.file == "s.json"


def test_a_snapshot_without_schema_version_is_refused() -> None:
    """The one-pass load would take the default version; it must still be refused."""
    with pytest.raises(ExtractError, match="unsupported snapshot schema_version None"):
        SecuritySnapshot.from_json('{"server": {"name": "x"}}', origin="s.json")


def _slow_load(text: str) -> SecuritySnapshot:
    return SecuritySnapshot.model_validate(json.loads(text))


@pytest.mark.parametrize("source", ["contoso", "bench XS"])
def test_one_pass_load_equals_the_validated_tree(source: str) -> None:
    """``from_json`` parses with pydantic-core in one pass; the result is the same model."""
    if source == "contoso":
        snapshot = extract_scripts([CONTOSO])
    else:
        snapshot = generate_snapshot(get_scale("XS"), seed=3)
    text = snapshot.to_json()
    loaded = validated_in_one_pass(SecuritySnapshot, text)  # the one-pass load itself
    assert loaded is not None
    assert loaded == _slow_load(text) == SecuritySnapshot.from_json(text)
    assert loaded.to_json() == text
    assert sum(len(db.permissions) for db in loaded.databases) > 0


def _row(state: str, grantor: str, line: int) -> Permission:
    return Permission(
        securable_class="OBJECT", schema_name="dbo", object_name="t", permission="SELECT",
        state=PermissionState(state), grantee="r", grantor=grantor,
        source_ref=SourceRef(origin="database_permissions", line=line),
    )  # fmt: skip


def test_rows_differing_only_in_their_grantor_are_one_fact() -> None:
    """SQL Server keeps one row per grantor; a snapshot refuses two rows with one key."""
    rows = [_row("G", "dbo", 1), _row("W", "alice", 2), _row("D", "dbo", 3)]
    merged = one_per_grantor_merged(rows)
    assert [(p.state, p.grantor, p.source_ref.line) for p in merged] == [
        (PermissionState.GRANT_WITH_GRANT_OPTION, "dbo", 1),  # the grant option is kept
        (PermissionState.DENY, "dbo", 3),
    ]
    Database(name="d", permissions=tuple(merged), source_ref=REF)  # accepted now
    with pytest.raises(ValueError, match="duplicate item"):
        Database(name="d", permissions=tuple(rows), source_ref=REF)
