"""grantbridge.plural: a count with its noun, singular only for one."""

from __future__ import annotations

import pytest

from grantbridge.plural import plural


@pytest.mark.parametrize(
    ("count", "noun", "nouns", "expected"),
    [
        (1, "database", None, "1 database"),
        (0, "database", None, "0 databases"),
        (2, "database", None, "2 databases"),
        (1, "permission row", None, "1 permission row"),
        (3, "permission row", None, "3 permission rows"),
        (1, "mismatch", "mismatches", "1 mismatch"),
        (2, "mismatch", "mismatches", "2 mismatches"),
    ],
)
def test_plural(count: int, noun: str, nouns: str | None, expected: str) -> None:
    assert plural(count, noun, nouns) == expected
