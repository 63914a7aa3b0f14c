"""Shared ``__pydantic_fields_set__`` objects for grantbridge's frozen models.

pydantic gives every model instance a set of the fields the input named, which only
``model_fields_set`` and ``exclude_unset`` read. A snapshot and a plan hold millions of small
frozen models whose sets differ in a handful of ways, and a set of eight names costs about
730 bytes: more than the instance's own fields. Frozen models never change their set, so
instances with equal sets can share one (bench M, issue 7: about a quarter of the snapshot's
memory and of the planner's).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

_SHARED: dict[frozenset[str], set[str]] = {}


def shared_fields_set(fields: Iterable[str]) -> set[str]:
    """The one set equal to ``fields`` that every instance naming those fields holds.

    Callers must never change it (pydantic does not, on frozen models).
    """
    key = frozenset(fields)
    shared = _SHARED.get(key)
    if shared is None:
        shared = _SHARED[key] = set(key)
    return shared


class SharesFieldsSets(BaseModel):
    """A frozen model whose instances share their fields sets (:func:`shared_fields_set`)."""

    def model_post_init(self, context: Any, /) -> None:
        object.__setattr__(
            self, "__pydantic_fields_set__", shared_fields_set(self.__pydantic_fields_set__)
        )
