"""A count and its noun, singular for one (a leaf module every stage may import).

Messages, summaries and report sentences say how many of something there are: ``1 database``,
not ``1 databases`` nor ``1 database(s)``. Most nouns take an ``s``; a noun that does not
(``mismatch``, ``child``) is given its plural, so no rule guesses at English.
"""

from __future__ import annotations


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``count`` and ``noun``, the noun in the plural unless ``count`` is 1.

    Args:
        count: How many.
        noun: The singular, which may be several words (``"permission row"``: the last one
            takes the ``s``).
        nouns: The plural when it is not ``noun`` + ``s`` (``plural(n, "mismatch",
            "mismatches")``).

    Returns:
        ``"1 database"``, ``"0 databases"``, ``"2 databases"``.
    """
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"
