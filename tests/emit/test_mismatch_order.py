"""Mismatches are reported in the dataclass's own order, however they are sorted."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pg_emit.compare import Mismatch, in_order

_WORDS = st.sampled_from(["", "a", "acl", "b", "effective", "missing", "sales", "Z", "é"])
_MISMATCHES = st.builds(Mismatch, _WORDS, _WORDS, _WORDS, _WORDS, _WORDS)


@settings(max_examples=200, deadline=None, database=None, derandomize=True)
@given(st.lists(_MISMATCHES, max_size=40))
def test_in_order_is_the_dataclass_order(mismatches: list[Mismatch]) -> None:
    assert in_order(mismatches) == sorted(mismatches)
    assert in_order(set(mismatches)) == sorted(set(mismatches))
