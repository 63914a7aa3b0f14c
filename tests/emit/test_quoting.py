"""Identifier and literal quoting: properties checked against a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from grantbridge.errors import InputError
from mapper.quoting import NON_UNRESERVED_KEYWORDS, comment, quote_ident, quote_literal
from pg_emit.server import connect

pytestmark = pytest.mark.postgres

#: Any text PostgreSQL can store as a name: no NUL, at most 63 bytes (NAMEDATALEN - 1).
names = st.text(
    alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=20,
).filter(lambda s: len(s.encode()) <= 63)
tricky = st.sampled_from(['a"b', "select", "Select", "user", "a\nb", "x y", "ünï", "_ok", "1a",
                          "a$b", '"', "end", "tablé", "\t", "public"])  # fmt: skip


@pytest.fixture(scope="module")
def conn(embedded_pg: str) -> Iterator[psycopg.Connection[Any]]:
    with connect(embedded_pg) as connection:
        yield connection


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=st.one_of(names, tricky))
def test_quoted_identifier_round_trips(conn: psycopg.Connection[Any], name: str) -> None:
    cursor = conn.execute(f"SELECT 1 AS {quote_ident(name)}".encode())
    assert cursor.description is not None
    assert cursor.description[0].name == name


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=st.one_of(names, tricky))
def test_agrees_with_server_quote_ident(conn: psycopg.Connection[Any], name: str) -> None:
    row = conn.execute("SELECT quote_ident(%s)", [name]).fetchone()
    assert row is not None
    ours = quote_ident(name)
    # identical, except where a newer PostgreSQL reserves a word this server does not
    assert ours == row[0] or (row[0] == name and name in NON_UNRESERVED_KEYWORDS)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    text=st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)))
)
def test_literal_round_trips(conn: psycopg.Connection[Any], text: str) -> None:
    row = conn.execute(f"SELECT {quote_literal(text)}::text".encode()).fetchone()
    assert row is not None
    assert row[0] == text


def test_role_with_any_name_can_be_created(conn: psycopg.Connection[Any]) -> None:
    name = 'gbq Odd "Rôle"\nselect'
    conn.execute(f"CREATE ROLE {quote_ident(name)}".encode())
    try:
        found = conn.execute("SELECT count(*) FROM pg_roles WHERE rolname = %s", [name]).fetchone()
        assert found == (1,)
    finally:
        conn.execute(f"DROP ROLE {quote_ident(name)}".encode())


def test_nul_and_empty_are_refused() -> None:
    with pytest.raises(InputError):
        quote_ident("a\x00b")
    with pytest.raises(InputError):
        quote_ident("")


@given(text=st.text())
def test_comment_is_one_line(text: str) -> None:
    assert len(comment(text).splitlines()) == 1
    assert comment(text).startswith("--")


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=st.one_of(names, tricky))
def test_any_name_creates_exactly_that_role(embedded_pg: str, name: str) -> None:
    # reserved by PostgreSQL whatever the quoting (CREATE ROLE documentation)
    assume(name not in ("public", "none") and not name.startswith("pg_"))
    with connect(embedded_pg, autocommit=False) as tx:
        existing = tx.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name]).fetchone()
        assume(existing is None)  # the server's own roles (postgres, the OS user) exist already
        try:
            tx.execute(f"CREATE ROLE {quote_ident(name)}".encode())
            row = tx.execute("SELECT count(*) FROM pg_roles WHERE rolname = %s", [name]).fetchone()
            assert row == (1,)
        finally:
            tx.rollback()
