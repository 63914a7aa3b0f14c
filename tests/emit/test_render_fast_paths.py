"""Rendering's shortcuts (issue 7: time to write a plan's artifacts) give what the plain way gives.

``findings.sarif`` is written by pydantic-core instead of ``json.dumps``, report prose is escaped
by one ``str.translate`` instead of a substitution and a pass per character, and a printable SQL
comment skips the substitution of control characters. Each is compared here with the plain
computation it replaces, on any text.
"""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mapper.quoting import comment
from pg_emit import markdown
from pg_emit.sarif import canonical_json

#: JSON values as the SARIF log holds them: strings, integers, booleans, null, lists, objects.
values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def _plain_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


@given(value=values)
def test_canonical_json_is_json_dumps(value: Any) -> None:
    assert canonical_json(value) == _plain_json(value)


def test_what_pydantic_core_spells_otherwise_is_left_to_json_dumps() -> None:
    for value in (
        {"score": 1e16, "ratio": 0.1},  # pydantic-core writes 1e16 for 1e+16
        {"name": "lone \ud800 surrogate"},  # pydantic-core refuses it
        {"items": ("a", "b")},  # a tuple: json.dumps writes a list
    ):
        assert canonical_json(value) == _plain_json(value)


_MARKUP = re.compile(r"([\\`*_\[\]~])")
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}


@given(value=st.text())
def test_prose_is_escaped_as_markup_then_html(value: str) -> None:
    flat = " ".join(value.split())
    escaped = _MARKUP.sub(r"\\\1", flat)
    assert markdown.text(value) == "".join(_HTML.get(char, char) for char in escaped)
    assert markdown.html_text(value) == "".join(_HTML.get(char, char) for char in flat)


_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]+")


@given(text=st.text() | st.sampled_from(["a\u2028b", "x\x85y", "\x7f", " \t\n "]))
def test_a_comment_flattens_control_characters_as_the_substitution_does(text: str) -> None:
    flat = _CONTROL.sub(" ", text).strip()
    assert comment(text) == (f"-- {flat}" if flat else "--")
