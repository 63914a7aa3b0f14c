"""Names grantbridge makes (DENY-derived roles) stay unique past PostgreSQL's 63-byte limit."""

from __future__ import annotations

import pytest

from grantbridge.errors import MappingError
from mapper.naming import MAX_IDENTIFIER_BYTES, NameRegistry, shorten
from mapper.plan import RoleKind
from mapper.planner import plan
from mapper.policy import Policy
from tests.mapper.estate import database, login, member, perm, role, snapshot, user


def test_short_names_are_unchanged() -> None:
    assert shorten("sales_readers_minus_bob") == "sales_readers_minus_bob"


def test_long_derived_names_differ_after_shortening() -> None:
    base = "sales_" + "x" * 60 + "_minus_"
    first, second = shorten(base + "alice"), shorten(base + "bob")
    assert first != second
    assert len(first.encode()) <= MAX_IDENTIFIER_BYTES
    assert first.startswith("sales_xxx")


def test_registry_hands_out_distinct_long_derived_names() -> None:
    names = NameRegistry(Policy().naming, multi_database=True)
    role = "r" * 50
    first = names.derived(f"{role}_minus_a_minus_b", f"derived role of [{role}]")
    second = names.derived(f"{role}_minus_a_minus_c", f"derived role of [{role}]")
    assert first != second
    assert names.derived(f"{role}_minus_a_minus_b", f"derived role of [{role}]") == first


def test_shortening_never_splits_a_character() -> None:
    name = shorten("é" * 40)
    assert name.encode("utf-8").decode("utf-8") == name
    assert len(name.encode("utf-8")) <= MAX_IDENTIFIER_BYTES


def test_a_derived_name_taken_by_a_role_gets_a_suffix() -> None:
    # audit coll3: a role [r_minus_bob] of the source, and DENY to bob, a member of [r]
    snap = snapshot(
        database("App", users=(user("bob", "bob"), user("eve", "eve")),
                 roles=(role("r"), role("r_minus_bob")),
                 memberships=(member("r", "bob"), member("r_minus_bob", "eve")),
                 permissions=(perm("SELECT", "r", schema_name="dbo", object_name="Orders"),
                              perm("SELECT", "r", schema_name="dbo", object_name="Customers"),
                              perm("INSERT", "r_minus_bob", schema_name="dbo",
                                   object_name="Customers"),
                              perm("SELECT", "bob", state="D", schema_name="dbo",
                                   object_name="Orders"))),
        logins=(login("bob"), login("eve")),
    )  # fmt: skip
    result = plan(snap, Policy())
    derived = [r.name for r in result.roles if r.kind == RoleKind.DERIVED]
    assert len(derived) == 1
    assert derived[0].startswith("r_minus_bob_")
    assert len(derived[0]) == len("r_minus_bob_") + 8
    assert result.role("r_minus_bob") is not None  # the source's role keeps its name
    held = {(m.role, m.member) for m in result.memberships}
    assert {("r_minus_bob", "eve"), (derived[0], "bob")} <= held
    assert ("r_minus_bob", "bob") not in held
    assert plan(snap, Policy()).to_json() == result.to_json()  # deterministic


def test_registry_suffix_is_stable_and_skips_taken_names() -> None:
    names = NameRegistry(Policy().naming, multi_database=False)
    names.claim("r_minus_bob", "role [App].[r_minus_bob]")
    first = names.derived("r_minus_bob", "derived role of [r]")
    assert first != "r_minus_bob"
    assert names.derived("r_minus_bob", "derived role of [r]") == first
    again = NameRegistry(Policy().naming, multi_database=False)
    again.claim("r_minus_bob", "role [App].[r_minus_bob]")
    again.claim(first, "role [App].[unlucky]")  # the suffixed name is taken too: next one
    second = again.derived("r_minus_bob", "derived role of [r]")
    assert second not in {"r_minus_bob", first}


def test_real_principals_are_never_renamed() -> None:
    names = NameRegistry(Policy().naming, multi_database=False)
    names.login("ops")
    with pytest.raises(MappingError, match="server role \\[OPS\\]"):
        names.server_role("OPS")
