"""One-pass loading of grantbridge's own JSON documents (snapshots, plans).

pydantic-core parses and validates the text together, without a tree of Python dicts and lists
in between: about half the time of ``json.loads`` + ``model_validate`` at bench scale M. Its
errors carry no line numbers, so callers fall back to the slow way to locate a problem.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


def validated_in_one_pass(model: type[M], text: str) -> M | None:
    """``model`` read from ``text``, or None on any problem — a missing ``schema_version``
    included, which validation would otherwise fill in with its default."""
    try:
        document = model.model_validate_json(text)
    except ValidationError:
        return None
    return document if "schema_version" in document.model_fields_set else None
