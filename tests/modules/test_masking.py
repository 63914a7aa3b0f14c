"""Masked columns: parsing, the suggested expressions (run on real PostgreSQL), view and finding."""

from __future__ import annotations

import os

import psycopg
import pytest

from mapper.masking import (
    Untranslated,
    masked_expression,
    masking_findings,
    parse_function,
    suggest_masks,
)
from mssql_extract.snapshot import Database, DbObject, MaskedColumn, ObjectKind, SourceRef

REF = SourceRef(origin="test.sql", line=1)
DSN = os.environ.get("GRANTBRIDGE_TEST_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def database(*masked: tuple[str, str]) -> Database:
    table = DbObject(schema_name="Sales", name="Customers", kind=ObjectKind.TABLE,
                     columns=("Id", "Email", "Phone", "Score"), source_ref=REF)  # fmt: skip
    columns = tuple(
        MaskedColumn(
            schema_name="Sales",
            table_name="Customers",
            column_name=column,
            masking_function=function,
            source_ref=REF,
        )
        for column, function in masked
    )
    return Database(name="Sales", objects=(table,), masked_columns=columns, source_ref=REF)


def test_parse_function_keeps_quoted_commas() -> None:
    assert parse_function('partial(1,"X,X",0)') == ("partial", ("1", '"X,X"', "0"))
    assert parse_function("email()") == ("email", ())
    assert parse_function(" Random( 1 , 12 ) ") == ("random", ("1", "12"))


@pytest.mark.parametrize(
    "bad", ["email", "partial(1, 'x')", "random(a, b)", "hash()", 'datetime("Y")']
)
def test_untranslatable_functions(bad: str) -> None:
    with pytest.raises(Untranslated):
        masked_expression("c", bad)


@pytest.mark.parametrize(
    ("function", "value", "expected"),
    [
        ("email()", "mary.garcia@contoso.com", "mXXX@XXXX.com"),
        ('partial(2,"XXXX",1)', "5551234567", "55XXXX7"),
        ('partial(2,"XXXX",1)', "abc", "XXXX"),  # too short: only the padding
        ("partial(0,'***-',4)", "4111111111111111", "***-1111"),
        ("default()", "secret", "XXXX"),
        ("email()", None, None),
    ],
)
def test_expressions_mask_like_sql_server(
    function: str, value: str | None, expected: str | None
) -> None:
    expression, _ = masked_expression("c", function)
    with psycopg.connect(DSN, connect_timeout=5) as conn:
        row = conn.execute(
            f"SELECT {expression} FROM (SELECT %s::text AS c) AS t", [value]
        ).fetchone()
    assert row is not None
    assert row[0] == expected


def test_random_stays_within_bounds() -> None:
    expression, note = masked_expression("c", "random(10, 20)")
    assert "new value" in note
    with psycopg.connect(DSN, connect_timeout=5) as conn:
        rows = conn.execute(f"SELECT {expression} FROM generate_series(1, 200) AS c").fetchall()
    assert all(10 <= float(r[0]) <= 20 for r in rows)


def test_suggestion_view_replaces_only_masked_columns() -> None:
    (email, phone) = suggest_masks(database(("Email", "email()"), ("Phone", 'partial(0,"XXX-",4)')))
    assert (email.schema_name, email.table_name, email.column_name) == (
        "sales",
        "customers",
        "email",
    )
    assert email.view_sql == phone.view_sql
    assert email.view_sql == (
        "CREATE VIEW sales.customers_masked AS SELECT id, "
        "regexp_replace(email, '^(.).*$', '\\1XXX@XXXX.com') AS email, "
        "CASE WHEN length(phone) > 4 THEN left(phone, 0) || 'XXX-' || right(phone, 4) "
        "ELSE 'XXX-' END AS phone, score FROM sales.customers"
    )
    assert "GRANT SELECT (<other columns>) ON sales.customers" in (email.column_grant or "")


def test_suggested_view_runs_on_postgresql() -> None:
    (email,) = suggest_masks(database(("Email", "email()")))
    with psycopg.connect(DSN, connect_timeout=5) as conn:
        conn.execute("CREATE SCHEMA sales")
        conn.execute("CREATE TABLE sales.customers (id int, email text, phone text, score int)")
        conn.execute("INSERT INTO sales.customers VALUES (1, 'ann@x.org', '555', 7)")
        conn.execute((email.view_sql or "").encode())
        row = conn.execute("SELECT * FROM sales.customers_masked").fetchone()
        conn.rollback()
    assert row == (1, "aXXX@XXXX.com", "555", 7)


def test_findings_carry_the_suggestion_or_the_reason() -> None:
    suggestions = suggest_masks(database(("Email", "email()"), ("Score", 'datetime("Y")')))
    email, score = masking_findings(suggestions, source_ref="Sales")
    assert (email.rule_id, email.securable) == ("GB330", "sales.customers.email")
    assert "regexp_replace(email" in email.evidence
    assert "Suggested view: CREATE VIEW" not in email.remediation  # a view needs every expression
    assert (score.rule_id, score.severity.value) == ("GB331", "high")
    assert "write the expression by hand" in score.evidence
    (alone,) = masking_findings(suggest_masks(database(("Email", "email()"))))
    assert "Suggested view: CREATE VIEW sales.customers_masked" in alone.remediation
