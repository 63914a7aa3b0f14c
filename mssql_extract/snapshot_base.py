"""The snapshot models' common ground: how names fold, the base model, sorted collections.

Every model of :mod:`mssql_extract.snapshot` derives from :class:`Model` (frozen,
``extra="forbid"``), keeps its collections in a :data:`SortedTuple` (sorted by each item's
``key``, duplicate keys refused) and says where each fact came from with a :class:`SourceRef`.
SQL Server names are compared case-insensitively (the default collation is ``*_CI_*``); keys
therefore use :func:`fold`, while the names themselves keep the spelling of their source.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Annotated, Protocol, TypeVar

from pydantic import AfterValidator, ConfigDict

from grantbridge.fields_sets import SharesFieldsSets

#: Fold a SQL Server identifier for comparison (case-insensitive default collation).
#: ``str.casefold`` itself rather than a function calling it: planning a large estate folds
#: millions of names, and the extra Python call was most of the cost (issue 7).
fold: Callable[[str], str] = str.casefold


class Model(SharesFieldsSets):
    """Base of every snapshot model: frozen, strict about unknown fields, sharing fields sets
    (:mod:`grantbridge.fields_sets`)."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)


class Keyed(Protocol):
    @property
    def key(self) -> str: ...


K = TypeVar("K", bound=Keyed)


def _sorted_unique(items: tuple[K, ...]) -> tuple[K, ...]:
    """Sort a collection by key and refuse duplicate keys (a silent merge would lose a fact)."""
    keyed = sorted(((item.key, item) for item in items), key=lambda pair: pair[0])
    for (before, _), (after, _) in itertools.pairwise(keyed):
        if before == after:
            raise ValueError(f"duplicate item {after!r}")
    return tuple(item for _, item in keyed)


SortedTuple = Annotated[tuple[K, ...], AfterValidator(_sorted_unique)]


class SourceRef(Model):
    """Where a fact came from: ``file:line`` for scripts, ``view[key]`` for catalog rows."""

    origin: str
    line: int | None = None
    column: int | None = None
    key: str | None = None

    def __str__(self) -> str:
        text = self.origin
        if self.line is not None:
            text += f":{self.line}"
            if self.column is not None:
                text += f":{self.column}"
        if self.key:
            text += f"[{self.key}]"
        return text
