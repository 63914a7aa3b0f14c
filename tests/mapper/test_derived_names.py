"""Names grantbridge makes (DENY-derived roles) stay unique past PostgreSQL's 63-byte limit."""

from __future__ import annotations

from mapper.naming import MAX_IDENTIFIER_BYTES, NameRegistry, shorten
from mapper.policy import Policy


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
