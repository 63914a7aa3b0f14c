"""Dynamic data masking: masked columns → a finding with a suggested PostgreSQL replacement.

PostgreSQL has no dynamic data masking. The usual replacement is a view that exposes a masked
expression in place of the column, readers granted the view (or the table's other columns, by
column privileges) instead of the table, and the principals that hold ``UNMASK`` granted the
table itself. The expressions below reproduce SQL Server's masking functions, documented in
"Dynamic data masking" (https://learn.microsoft.com/sql/relational-databases/security/dynamic-data-masking):

===============================  =====================================================
SQL Server                       PostgreSQL expression
===============================  =====================================================
``default()``                    ``'XXXX'`` (strings; numbers 0, dates 1900-01-01)
``email()``                      ``regexp_replace(c, '^(.).*$', '\\1XXX@XXXX.com')``
``partial(p, 'pad', s)``         ``left(c, p) || 'pad' || right(c, s)`` (pad alone when short)
``random(low, high)``            ``low + random() * (high - low)`` (new value per read)
``datetime('Y')`` (SQL 2022)     ``make_date(1900, …)``-style truncation: written by hand
===============================  =====================================================

Nothing here runs on the target: the planner puts each suggestion into a finding (GB330 /
GB331) for a reviewer, because the view changes what the application queries.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

from pydantic import BaseModel, ConfigDict

from mapper.plan import Severity
from mapper.quoting import quote_ident, quote_literal, quote_qualified
from mapper.review_rules import FindingSpec, RuleDef, make_finding, rule_table
from mssql_extract.snapshot import Database, MaskedColumn, fold

RULES = rule_table(
    [
        RuleDef("GB330", Severity.MEDIUM, "Masked column: PostgreSQL has no dynamic data masking",
                "Expose the table through the suggested view with the masked expression, grant "
                "the view (or the other columns, by column privileges) to readers, and grant the "
                "table itself only to the principals that hold UNMASK."),
        RuleDef("GB331", Severity.HIGH, "Masked column: masking function not translated",
                "Write the masked expression by hand; until then readers of the table see the "
                "column unmasked in PostgreSQL."),
    ]
)  # fmt: skip

Namer = Callable[[str], str]


class MaskSuggestion(BaseModel):
    """The suggested replacement for one masked column (names are PostgreSQL names)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_name: str
    table_name: str
    column_name: str
    masking_function: str
    expression: str | None  # None: no faithful expression (GB331)
    view_sql: str | None
    column_grant: str | None
    note: str = ""
    source_ref: str | None = None  # where the column was masked (its finding's location)


class Untranslated(Exception):
    """A masking function without a PostgreSQL expression (the message says why)."""


# --------------------------------------------------------------------------- expressions


def _default(column: str, args: Sequence[str]) -> tuple[str, str]:
    return "'XXXX'", "default() masks by type: use 0 for numbers and '1900-01-01' for dates"


def _email(column: str, args: Sequence[str]) -> tuple[str, str]:
    return f"regexp_replace({column}, '^(.).*$', '\\1XXX@XXXX.com')", ""


def _partial(column: str, args: Sequence[str]) -> tuple[str, str]:
    if len(args) != 3 or not args[0].isdigit() or not args[2].isdigit():
        raise Untranslated(f"partial needs (prefix, padding, suffix), got {', '.join(args)}")
    prefix, padding, suffix = int(args[0]), _literal(args[1]), int(args[2])
    exposed = f"left({column}, {prefix}) || {padding} || right({column}, {suffix})"
    # SQL Server exposes less of the value when it is too short for prefix + suffix
    return f"CASE WHEN length({column}) > {prefix + suffix} THEN {exposed} ELSE {padding} END", ""


def _random(column: str, args: Sequence[str]) -> tuple[str, str]:
    if len(args) != 2 or not all(re.fullmatch(r"-?\d+(\.\d+)?", a) for a in args):
        raise Untranslated(f"random needs two numeric bounds, got {', '.join(args)}")
    low, high = args
    note = "random() returns a new value on every read, as SQL Server's random() does"
    return f"({low} + random() * ({high} - {low}))", note


def _datetime(column: str, args: Sequence[str]) -> tuple[str, str]:
    raise Untranslated("datetime() masks parts of a date; write the expression by hand")


#: Masking function (lower case) → builder of (PostgreSQL expression, note).
MASKS: dict[str, Callable[[str, Sequence[str]], tuple[str, str]]] = {
    "default": _default,
    "email": _email,
    "partial": _partial,
    "random": _random,
    "datetime": _datetime,
}

_CALL = re.compile(r"^\s*(\w+)\s*\((.*)\)\s*$", re.DOTALL)
_ARG = re.compile(r"""\s*("(?:[^"]|"")*"|'(?:[^']|'')*'|[^,]+?)\s*(?:,|$)""")


def parse_function(text: str) -> tuple[str, tuple[str, ...]]:
    """``partial(1, "XX", 0)`` → ("partial", ("1", '"XX"', "0")); raises Untranslated."""
    match = _CALL.match(text)
    if match is None:
        raise Untranslated(f"not a masking function call: {text}")
    inner = match[2].strip()
    args = tuple(m[1] for m in _ARG.finditer(inner) if m[1]) if inner else ()
    return match[1].lower(), args


def _literal(arg: str) -> str:
    """A SQL Server padding argument ("XX" or 'XX') as a PostgreSQL string literal."""
    if len(arg) >= 2 and arg[0] == arg[-1] and arg[0] in "\"'":
        arg = arg[1:-1].replace(arg[0] * 2, arg[0])
    return quote_literal(arg)


def masked_expression(column: str, function: str) -> tuple[str, str]:
    """The PostgreSQL expression masking ``column`` (already quoted) like ``function``, and a note.

    Raises:
        Untranslated: unknown function, bad arguments, or no faithful equivalent.
    """
    name, args = parse_function(function)
    builder = MASKS.get(name)
    if builder is None:
        raise Untranslated(f"unknown masking function {name}()")
    return builder(column, args)


# --------------------------------------------------------------------------- suggestions


def _lower(name: str) -> str:
    return name.lower()


def suggest_masks(
    database: Database, *, ident: Namer = _lower, schema: Namer | None = None
) -> tuple[MaskSuggestion, ...]:
    """One suggestion per masked column of a database, in key order.

    Args:
        database: the snapshot database (its masked columns and its tables' columns).
        ident: maps a SQL Server table or column name to its PostgreSQL name.
        schema: maps a SQL Server schema name to the plan's PostgreSQL schema (prefixed by the
            database in schema mode); ``ident`` when not given.
    """
    tables: dict[tuple[str, str], list[MaskedColumn]] = {}
    for masked in database.masked_columns:
        tables.setdefault((fold(masked.schema_name), fold(masked.table_name)), []).append(masked)
    found: list[MaskSuggestion] = []
    for columns in tables.values():
        expressions = {fold(m.column_name): _try(ident(m.column_name), m) for m in columns}
        view = _view(database, columns[0], expressions, (ident, schema or ident))
        for masked in columns:
            built = expressions[fold(masked.column_name)]
            found.append(_suggestion(masked, built, view, (ident, schema or ident)))
    return tuple(found)


def _try(column: str, masked: MaskedColumn) -> tuple[str | None, str]:
    try:
        return masked_expression(quote_ident(column), masked.masking_function)
    except Untranslated as exc:
        return None, str(exc)


def _view(
    database: Database,
    masked: MaskedColumn,
    expressions: dict[str, tuple[str | None, str]],
    namers: tuple[Namer, Namer],
) -> str | None:
    """``CREATE VIEW schema.table_masked AS SELECT …`` over every known column of the table."""
    if any(expr is None for expr, _ in expressions.values()):
        return None
    ident, schema = namers
    table = next(
        (o for o in database.objects
         if fold(o.schema_name) == fold(masked.schema_name) and fold(o.name) == fold(masked.table_name)),
        None,
    )  # fmt: skip
    names = list(table.columns) if table and table.columns else list(expressions)
    select = []
    for name in names:
        column = quote_ident(ident(name))
        expr = expressions.get(fold(name), (None, ""))[0]
        select.append(f"{expr} AS {column}" if expr else column)
    view = quote_qualified(schema(masked.schema_name), ident(masked.table_name) + "_masked")
    source = quote_qualified(schema(masked.schema_name), ident(masked.table_name))
    return f"CREATE VIEW {view} AS SELECT {', '.join(select)} FROM {source}"


def _suggestion(
    masked: MaskedColumn,
    built: tuple[str | None, str],
    view: str | None,
    namers: tuple[Namer, Namer],
) -> MaskSuggestion:
    ident, schema = namers
    expression, note = built
    table = quote_qualified(schema(masked.schema_name), ident(masked.table_name))
    grant = (
        f"REVOKE SELECT ON {table} FROM <readers>; GRANT SELECT (<other columns>) ON {table} "
        "TO <readers>; GRANT SELECT ON " + table + " TO <UNMASK holders>"
    )
    return MaskSuggestion(
        schema_name=schema(masked.schema_name), table_name=ident(masked.table_name),
        column_name=ident(masked.column_name), masking_function=masked.masking_function,
        expression=expression, view_sql=view, column_grant=grant, note=note,
        source_ref=str(masked.source_ref),
    )  # fmt: skip


def masking_findings(
    suggestions: Iterable[MaskSuggestion],
    source_ref: str | None = None,
    database: str | None = None,
) -> tuple[FindingSpec, ...]:
    """GB330 (with the suggested view and privileges) or GB331 (no expression) per column, at
    the column's source location (``source_ref`` for a suggestion without one); ``database``:
    the target database the suggested statements run in, named in the remediation."""
    where = f", in database {quote_ident(database)}" if database else ""
    found = []
    for s in suggestions:
        ref = s.source_ref or source_ref
        column = f"{s.schema_name}.{s.table_name}.{s.column_name}"
        if s.expression is None:
            evidence = f"{column} is MASKED WITH (FUNCTION = '{s.masking_function}'): {s.note}"
            found.append(make_finding(RULES["GB331"], evidence, securable=column,
                                      source_ref=ref))  # fmt: skip
            continue
        evidence = (
            f"{column} is MASKED WITH (FUNCTION = '{s.masking_function}'); masked expression: "
            f"{s.expression}" + (f" ({s.note})" if s.note else "")
        )
        finding = make_finding(RULES["GB330"], evidence, securable=column, source_ref=ref)
        view = s.view_sql or "none, as another masked column of the table has no expression"
        remediation = (
            f"{finding.remediation} Suggested view{where}: {view}. "
            f"Privileges{where}: {s.column_grant}."
        )
        found.append(finding.model_copy(update={"remediation": remediation}))
    return tuple(found)
