"""The planner spells keys out instead of copying models (speed): DENY signatures, ancestors.

The spelled-out form must stay the key of the item with grantee (and a default privilege's
owner) ``-`` and no columns: a drift in PgGrant.key or PgDefaultPrivilege.key fails here.
"""

from __future__ import annotations

import pytest

from mapper.plan import PgDefaultPrivilege, PgGrant, PgMembership
from mapper.translate.deny_reach import PLACEHOLDER, signature_of
from mapper.translate.deny_reach import signature as _signature
from mapper.translate.items import copy_with

GRANTS = [
    PgGrant(database="sales", object_type="DATABASE", name="sales", privilege="CONNECT",
            grantee="r"),
    PgGrant(database="sales", object_type="SCHEMA", name="dbo", privilege="USAGE", grantee="r"),
    PgGrant(database="sales", object_type="TABLE", schema_name="dbo", name="orders",
            columns=("a", "b"), privilege="SELECT", grantee="r", facts=("f",)),
    PgGrant(database="sales", object_type="FUNCTION", schema_name="dbo", name="f",
            signature="(integer)", privilege="EXECUTE", grantee="PUBLIC"),
]  # fmt: skip
DEFAULTS = [
    PgDefaultPrivilege(database="sales", owner="o", schema_name="dbo", object_type="TABLES",
                       privilege="SELECT", grantee="r"),
    PgDefaultPrivilege(database="sales", owner="o", object_type="FUNCTIONS",
                       privilege="EXECUTE", grantee="r", facts=("f",)),
]  # fmt: skip


@pytest.mark.parametrize("grant", GRANTS, ids=lambda g: g.key)
def test_grant_signature_is_the_key_without_grantee_and_columns(grant: PgGrant) -> None:
    copied = grant.model_copy(update={"grantee": PLACEHOLDER, "columns": (), "facts": ()})
    assert _signature(grant) == copied.key


@pytest.mark.parametrize("default", DEFAULTS, ids=lambda d: d.key)
def test_default_signature_is_the_key_without_grantee_and_owner(
    default: PgDefaultPrivilege,
) -> None:
    copied = default.model_copy(update={"grantee": PLACEHOLDER, "owner": PLACEHOLDER})
    assert _signature(default) == copied.key


def test_a_membership_has_no_signature() -> None:
    assert _signature(PgMembership(role="a", member="b")) is None


@pytest.mark.parametrize("item", [*GRANTS, *DEFAULTS], ids=lambda i: i.key)
def test_a_key_ends_in_its_grantee(item: PgGrant | PgDefaultPrivilege) -> None:
    """prune_implied swaps the grantee at the end of a key to find an ancestor's grant."""
    stem = item.key[: len(item.key) - len(item.grantee)]
    assert stem + "other" == item.model_copy(update={"grantee": "other"}).key


@pytest.mark.parametrize("item", [*GRANTS, *DEFAULTS], ids=lambda i: i.key)
def test_copy_with_equals_model_copy(item: PgGrant | PgDefaultPrivilege) -> None:
    changes = {"grantee": "other", "facts": ("a", "b")}
    fast, slow = copy_with(item, **changes), item.model_copy(update=changes)
    assert fast == slow
    assert fast.model_dump_json() == slow.model_dump_json()
    assert fast.model_fields_set == slow.model_fields_set
    assert item.grantee != "other"  # the original is untouched


@pytest.mark.parametrize("item", [*GRANTS, *DEFAULTS], ids=lambda i: i.key)
def test_signature_cut_from_the_key_is_the_spelled_one(item: PgGrant | PgDefaultPrivilege) -> None:
    """signature_of cuts a grant's signature from its key (no columns); the rest is spelled."""
    assert signature_of(item.key, item) == _signature(item)


@pytest.mark.parametrize("item", [*GRANTS, *DEFAULTS], ids=lambda i: i.key)
def test_copy_with_keeps_the_shared_fields_set_when_no_field_is_new(
    item: PgGrant | PgDefaultPrivilege,
) -> None:
    """A copy changing fields the item already set (a grantee) holds the item's own fields set,
    equal to model_copy's; a field the item left unset is added as model_copy adds it."""
    fast, slow = copy_with(item, grantee="other"), item.model_copy(update={"grantee": "other"})
    assert fast.__pydantic_fields_set__ is item.__pydantic_fields_set__
    assert fast.model_fields_set == slow.model_fields_set
    assert fast.model_dump_json() == slow.model_dump_json()
    unset = next(name for name in type(item).model_fields if name not in item.model_fields_set)
    value = getattr(item, unset)
    fast, slow = copy_with(item, **{unset: value}), item.model_copy(update={unset: value})
    assert fast.model_fields_set == slow.model_fields_set == item.model_fields_set | {unset}
