"""A model's canonical JSON (``model_dump_json(indent=2)``) in pieces, for large snapshots and plans.

At scale a plan's text is about 1 GB (a million grants) and a snapshot's several hundred MB;
built whole, then copied and encoded, the text cost more memory than the models themselves.
:func:`json_chunks` yields the same bytes in pieces: lists of models are serialised by pydantic
:data:`CHUNK` items at a time (or item by item, recursively, when their items hold lists of
models themselves, as a snapshot's databases do), every other field by pydantic on its own.
JSON strings escape their newlines, so every raw newline in pydantic's output is a line break
of the layout, and re-indenting a piece is a plain replacement.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, TypeAdapter

#: List items serialised per piece.
CHUNK = 1000

_ADAPTERS: dict[tuple[type[BaseModel], int], TypeAdapter[Any]] = {}


def _adapter(item_type: type[BaseModel], depth: int) -> TypeAdapter[Any]:
    """A serialiser of a list of ``item_type`` nested in ``depth + 1`` one-key objects (see
    :func:`_items_text`)."""
    adapter = _ADAPTERS.get((item_type, depth))
    if adapter is None:
        nested: Any = tuple[item_type, ...]  # type: ignore[valid-type]
        for _ in range(depth + 1):
            nested = dict[str, nested]
        adapter = _ADAPTERS[item_type, depth] = TypeAdapter(nested)
    return adapter


def _items_text(items: tuple[BaseModel, ...], depth: int) -> str:
    """List items as they stand in a list at ``depth``: each on its own lines, indented, joined
    by ``,`` and line breaks, without the brackets.

    pydantic indents them so itself: the list is written nested in ``depth + 1`` objects under
    the key ``""`` (``{"": [ … ]}`` for a field of the document), where its items stand as deep
    as in the document, and cut out from after its ``[`` to its ``]``. Written alone and
    re-indented, every line break of the text was replaced (a fifth of writing a plan at bench
    scale M).
    """
    wrapped: Any = items
    for _ in range(depth + 1):
        wrapped = {"": wrapped}
    dumped = _adapter(type(items[0]), depth).dump_json(wrapped, indent=2)
    close = dumped.rindex(b"]") - len(b"\n") - 2 * (depth + 1)  # "\n" and the ] line's indent
    return dumped[dumped.index(b"[") + len(b"[\n") : close].decode("utf-8")


def _models(value: object) -> bool:
    return isinstance(value, tuple) and bool(value) and isinstance(value[0], BaseModel)


def _holds_model_lists(model: BaseModel) -> bool:
    return any(_models(getattr(model, name)) for name in type(model).model_fields)


def json_chunks(model: BaseModel, depth: int = 0) -> Iterator[str]:
    """``model.model_dump_json(indent=2)``'s text (no trailing newline) in pieces; ``depth`` is
    the nesting level the model is written at (0: the document)."""
    pad = "  " * (depth + 1)
    yield "{"
    written = 0
    for name in type(model).model_fields:
        value = getattr(model, name)
        if not _models(value):
            whole = model.model_dump_json(include={name}, indent=2)  # '{\n  "name": …\n}'
            if whole == "{}":  # left out of the JSON (``exclude_if``)
                continue
            text = whole[len(f"{{\n  {json.dumps(name)}: ") : -2]
            yield ("," if written else "") + f"\n{pad}{json.dumps(name)}: "
            yield text.replace("\n", "\n" + "  " * depth)
            written += 1
            continue
        yield ("," if written else "") + f"\n{pad}{json.dumps(name)}: "
        written += 1
        yield "["
        if _holds_model_lists(value[0]):
            for index, item in enumerate(value):
                yield ("," if index else "") + f"\n{pad}  "
                yield from json_chunks(item, depth + 2)
        else:
            for start in range(0, len(value), CHUNK):
                yield (
                    ("," if start else "") + "\n" + _items_text(value[start : start + CHUNK], depth)
                )
        yield f"\n{pad}]"
    yield "\n" + "  " * depth + "}"
