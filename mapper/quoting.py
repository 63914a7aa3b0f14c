"""Quoting identifiers, literals and comments for PostgreSQL, correct for any name.

Shared by every SQL text grantbridge writes: the rendered scripts (``pg_emit``) and the statements
a finding advises to run after review (``mapper``), so both spell a name the same way.

SQL Server names may hold anything: spaces, quotes, brackets, newlines, unicode, reserved words.
PostgreSQL's rule (``quote_identifier`` in ``src/backend/utils/adt/ruleutils.c``) is followed
exactly: a name stays bare only when it is lower-case ASCII letters, digits and underscores,
starts with a letter or underscore, and is not a keyword other than an unreserved one; otherwise
it is wrapped in double quotes with inner double quotes doubled. Bare names keep scripts
readable; quoting a name that did not need it would be harmless, never quoting one that did is
the bug this module exists to prevent.
"""

from __future__ import annotations

import functools
import re

from grantbridge.errors import InputError, Location

#: Keywords that are *not* unreserved, so a bare identifier spelled like one must be quoted.
#: Source: PostgreSQL 17 ``src/include/parser/kwlist.h`` (categories RESERVED_KEYWORD,
#: COL_NAME_KEYWORD, TYPE_FUNC_NAME_KEYWORD), as shipped in pglast 8's ``pglast.keywords``.
#: A superset of older versions' lists, so quoting by it is safe on PostgreSQL 13-17.
NON_UNRESERVED_KEYWORDS: frozenset[str] = frozenset(
    [
        "all",
        "analyse",
        "analyze",
        "and",
        "any",
        "array",
        "as",
        "asc",
        "asymmetric",
        "authorization",
        "between",
        "bigint",
        "binary",
        "bit",
        "boolean",
        "both",
        "case",
        "cast",
        "char",
        "character",
        "check",
        "coalesce",
        "collate",
        "collation",
        "column",
        "concurrently",
        "constraint",
        "create",
        "cross",
        "current_catalog",
        "current_date",
        "current_role",
        "current_schema",
        "current_time",
        "current_timestamp",
        "current_user",
        "dec",
        "decimal",
        "default",
        "deferrable",
        "desc",
        "distinct",
        "do",
        "else",
        "end",
        "except",
        "exists",
        "extract",
        "false",
        "fetch",
        "float",
        "for",
        "foreign",
        "freeze",
        "from",
        "full",
        "grant",
        "greatest",
        "group",
        "grouping",
        "having",
        "ilike",
        "in",
        "initially",
        "inner",
        "inout",
        "int",
        "integer",
        "intersect",
        "interval",
        "into",
        "is",
        "isnull",
        "join",
        "json",
        "json_array",
        "json_arrayagg",
        "json_exists",
        "json_object",
        "json_objectagg",
        "json_query",
        "json_scalar",
        "json_serialize",
        "json_table",
        "json_value",
        "lateral",
        "leading",
        "least",
        "left",
        "like",
        "limit",
        "localtime",
        "localtimestamp",
        "merge_action",
        "national",
        "natural",
        "nchar",
        "none",
        "normalize",
        "not",
        "notnull",
        "null",
        "nullif",
        "numeric",
        "offset",
        "on",
        "only",
        "or",
        "order",
        "out",
        "outer",
        "overlaps",
        "overlay",
        "placing",
        "position",
        "precision",
        "primary",
        "real",
        "references",
        "returning",
        "right",
        "row",
        "select",
        "session_user",
        "setof",
        "similar",
        "smallint",
        "some",
        "substring",
        "symmetric",
        "system_user",
        "table",
        "tablesample",
        "then",
        "time",
        "timestamp",
        "to",
        "trailing",
        "treat",
        "trim",
        "true",
        "union",
        "unique",
        "user",
        "using",
        "values",
        "varchar",
        "variadic",
        "verbose",
        "when",
        "where",
        "window",
        "with",
        "xmlattributes",
        "xmlconcat",
        "xmlelement",
        "xmlexists",
        "xmlforest",
        "xmlnamespaces",
        "xmlparse",
        "xmlpi",
        "xmlroot",
        "xmlserialize",
        "xmltable",
    ]
)

_BARE = re.compile(r"[a-z_][a-z0-9_]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]+")


def _check(name: str) -> None:
    if not name:
        raise InputError("an empty name cannot be a PostgreSQL identifier", Location(key=name))
    if "\x00" in name:
        raise InputError(
            f"the name {name!r} holds a NUL character, which PostgreSQL cannot store",
            Location(key=name),
        )


#: Rendering quotes the same role and object names again and again (186,709 calls for 5,568
#: names in one bench scale M part); a hit costs a third of the check. Bounded, so a large
#: estate's names do not all stay in memory; a refused name raises each time (not cached).
@functools.lru_cache(maxsize=1 << 16)
def quote_ident(name: str) -> str:
    """Quote one identifier the way PostgreSQL's ``quote_ident()`` does.

    Args:
        name: the final PostgreSQL name, unquoted (any characters except NUL).

    Returns:
        The name bare when that is unambiguous, else double-quoted with quotes doubled.

    Raises:
        InputError: the name is empty or holds a NUL character.
    """
    _check(name)
    if _BARE.fullmatch(name) and name not in NON_UNRESERVED_KEYWORDS:
        return name
    return '"' + name.replace('"', '""') + '"'


def quote_qualified(*parts: str | None) -> str:
    """Quote and dot-join the non-empty parts: ``schema.table`` or ``table``."""
    return ".".join(quote_ident(p) for p in parts if p)


def quote_role(name: str) -> str:
    """A grantee: ``PUBLIC`` as the keyword (the pseudo-role, never a role name), else quoted."""
    return "PUBLIC" if name == "PUBLIC" else quote_ident(name)


def routine_keyword(object_type: str, signature: str | None) -> str:
    """``ROUTINE`` for a procedure named without its arguments, else ``object_type``.

    A conversion may turn a SQL Server procedure into a PostgreSQL procedure or a function
    (AWS SCT can do either); ``GRANT … ON ROUTINE`` and ``ALTER ROUTINE`` (PostgreSQL 11+) take
    both, where ``ON PROCEDURE`` fails on a function. A source function stays a function.
    """
    return "ROUTINE" if object_type == "PROCEDURE" and signature is None else object_type


def securable_sql(object_type: str, schema: str | None, name: str, signature: str | None) -> str:
    """``s.t`` / ``s.f(integer)`` / ``d`` / ``work_mem``: a securable's name as SQL, quoted."""
    target = name if object_type == "PARAMETER" else quote_qualified(schema, name)
    return f"{target}{signature or ''}"


def quote_literal(text: str) -> str:
    """Quote a string literal like PostgreSQL's ``quote_literal()``.

    Backslashes switch to the ``E''`` form so the result means the same whatever
    ``standard_conforming_strings`` is set to.
    """
    if "\x00" in text:
        raise InputError("a NUL character cannot appear in a PostgreSQL string literal")
    body = text.replace("'", "''")
    if "\\" in body:
        return "E'" + body.replace("\\", "\\\\") + "'"
    return "'" + body + "'"


def quote_psql_arg(name: str) -> str:
    """Quote a psql meta-command argument (``\\connect "db"``): double quotes, doubled inside.

    psql strips the quotes and keeps the case (``OT_SQLIDHACK``). Line breaks cannot be carried
    by a meta-command argument at all, so such a database name is refused.
    """
    _check(name)
    if "\n" in name or "\r" in name:
        raise InputError(
            f"the database name {name!r} holds a line break; psql cannot connect to it",
            Location(key=name),
        )
    return '"' + name.replace('"', '""') + '"'


def comment(text: str) -> str:
    """One SQL line comment: ``-- text``, with line breaks and control characters flattened.

    A newline inside a name would otherwise end the comment and turn the rest into SQL.
    """
    # nearly every comment is printable, and then holds none of _CONTROL's characters (each is
    # a control, line or paragraph separator): a scan in C instead of a substitution
    flat = (text if text.isprintable() else _CONTROL.sub(" ", text)).strip()
    return f"-- {flat}" if flat else "--"
