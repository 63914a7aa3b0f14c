"""The snapshot contract: sorted, deduplicated, versioned, byte-identical JSON round trip."""

from __future__ import annotations

import pytest

from grantbridge.errors import ExtractError
from mssql_extract.snapshot import (
    Database,
    Login,
    LoginType,
    Permission,
    PermissionState,
    SecuritySnapshot,
    Server,
    SourceRef,
)

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
