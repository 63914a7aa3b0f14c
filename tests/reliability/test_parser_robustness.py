"""Issue 8, item 1: the T-SQL extractor on hostile input (fast CI versions of the fuzz campaign).

The big campaign is ``uv run python -m tests.reliability.fuzz --count 100000`` (see fuzz.py).
"""

from __future__ import annotations

import re
from pathlib import Path
from random import Random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grantbridge.errors import ExtractError
from mssql_extract.tsql import extract_scripts, parse_text
from tests.reliability.fuzz import SEEDS, check, generate

CI = settings(
    max_examples=200,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@CI
@given(rng=st.randoms(use_true_random=False))
def test_generated_inputs_raise_only_located_grantbridge_errors(
    rng: Random, tmp_path: Path
) -> None:
    data = generate(rng)
    assert check(data, tmp_path) == [], repr(data)[:500]


# --------------------------------------------------------------------------- crashes found by fuzzing

#: Inputs that crashed before the fixes in mssql_extract/tsql/tokens.py (campaign seed 0).
FOUND: tuple[tuple[str, bytes], ...] = (
    # ValueError: invalid literal for int() with base 10: '²' (str.isdigit accepts it)
    ("go-superscript-count", b"GRANT SELECT TO [a]\nGO \xc2\xb2\n"),
    # UnicodeDecodeError: 'utf-16-le' codec can't decode bytes: unexpected end of data
    ("utf16-odd-length", b"\xff\xfeG\x00R\x00\n\x00A"),
    # UnicodeDecodeError: illegal UTF-16 surrogate
    ("utf16-lone-surrogate", b"\xff\xfeG\x00\n\x00\n\x00\x00\xd8 \x00"),
    # AssertionError in objects.create_schema (seed 1, input 48560: "CREATE SCHEMA [] AU…")
    ("create-schema-empty-name", b"CREATE SCHEMA []\n"),
    # pydantic ValidationError: duplicate item 'sales.orders:FILTER:ALL' (seed 1, input 68257)
    (
        "security-policy-same-predicate-twice",
        b"CREATE SECURITY POLICY [s].[p]\nADD FILTER PREDICATE [s].[f]([c]) ON [s].[t],\n"
        b"ADD FILTER PREDICATE [s].[f]([c]) ON [s].[t]\n",
    ),
)


@pytest.mark.parametrize("data", [d for _, d in FOUND], ids=[i for i, _ in FOUND])
def test_inputs_that_crashed_now_hold_the_property(data: bytes, tmp_path: Path) -> None:
    assert check(data, tmp_path) == []


@pytest.mark.parametrize(
    ("data", "line"),
    [(b"\xff\xfeG\x00R\x00\n\x00A", 2), (b"\xff\xfeG\x00\n\x00\n\x00\x00\xd8 \x00", 3)],
)
def test_broken_utf16_is_an_error_at_its_line(data: bytes, line: int, tmp_path: Path) -> None:
    path = tmp_path / "bad.sql"
    path.write_bytes(data)
    with pytest.raises(ExtractError, match="invalid UTF-16") as caught:
        extract_scripts([path])
    assert (caught.value.location.file, caught.value.location.line) == (path.as_posix(), line)


def test_go_with_a_non_ascii_count_is_not_a_batch_separator() -> None:
    # sqlcmd counts are ASCII digits; the line stays T-SQL text (an unknown statement)
    snapshot = parse_text("GRANT SELECT TO [a]\nGO \u00b2\n", "g.sql", database="d")
    assert [(s.kind, s.source_ref.line) for s in snapshot.skipped] == [("statement", 2)]
    assert len(snapshot.databases[0].permissions) == 1


# --------------------------------------------------------------------------- lenient recovery

#: Malformed security statements that tokenize cleanly (so only their own statement is bad).
MALFORMED = (
    "GRANT SELECT ON OBJECT:: TO ;",
    "CREATE USER ;",
    "ALTER ROLE [r] ADD MEMBER ;",
    "DENY SELECT ON SCHEMA::[s] TO ;",
    "EXEC sp_addrolemember 'a', 'b', 'c', 'd';",
    "CREATE LOGIN [x] WITH PASSWORD = ;",
    "GRANT SELECT ON OBJECT::[dbo].[t] TO [u] AS ;",
)
_STATEMENT_START = re.compile(r"(GRANT|DENY|REVOKE|CREATE|ALTER|EXEC|EXECUTE)\b", re.IGNORECASE)

#: (seed index, line index) of every top-level statement start in the contoso scripts (lines
#: indented inside module bodies are body text, not statements).
POSITIONS = [
    (s, i)
    for s, seed in enumerate(SEEDS)
    for i, line in enumerate(seed.split("\n"))
    if _STATEMENT_START.match(line)
]


def _facts(value: Any) -> Any:
    """A snapshot dump without source references (``source_ref``, ``owner_ref``, a database's
    ``trustworthy_ref``) and skipped entries: line numbers shift."""
    if isinstance(value, dict):
        return {k: _facts(v) for k, v in value.items() if not k.endswith("_ref") and k != "skipped"}
    if isinstance(value, list):
        return [_facts(v) for v in value]
    return value


_BASELINES: dict[int, Any] = {}


def _baseline(seed: int) -> Any:
    if seed not in _BASELINES:
        _BASELINES[seed] = _facts(parse_text(SEEDS[seed], "s.sql").model_dump(mode="json"))
    return _BASELINES[seed]


@settings(max_examples=40, derandomize=True, deadline=None, database=None)
@given(position=st.sampled_from(POSITIONS), bad=st.sampled_from(MALFORMED))
def test_lenient_reads_every_statement_around_a_malformed_one(
    position: tuple[int, int], bad: str
) -> None:
    seed, index = position
    lines = SEEDS[seed].split("\n")
    text = "\n".join([*lines[:index], bad, *lines[index:]])
    with pytest.raises(ExtractError) as caught:
        parse_text(text, "s.sql")
    assert (caught.value.location.file, caught.value.location.line) == ("s.sql", index + 1)
    snapshot = parse_text(text, "s.sql", lenient=True)
    assert _facts(snapshot.model_dump(mode="json")) == _baseline(seed)
    errors = [s for s in snapshot.skipped if s.kind == "error"]
    assert [(e.source_ref.origin, e.source_ref.line) for e in errors] == [("s.sql", index + 1)]


def test_positions_cover_every_contoso_script() -> None:
    assert {s for s, _ in POSITIONS} == set(range(len(SEEDS)))
    assert len(POSITIONS) > 100
