"""Quoting for PostgreSQL: kept importable here; the rules live in :mod:`mapper.quoting`.

The mapper writes SQL too (the statements a finding advises to run after review), and it may not
import ``pg_emit`` (imports point downstream only, docs/architecture.md), so the one quoting
module is the mapper's and the scripts rendered here use it from there.
"""

from mapper.quoting import (
    NON_UNRESERVED_KEYWORDS,
    comment,
    quote_ident,
    quote_literal,
    quote_psql_arg,
    quote_qualified,
    quote_role,
    routine_keyword,
    securable_sql,
)

__all__ = [
    "NON_UNRESERVED_KEYWORDS",
    "comment",
    "quote_ident",
    "quote_literal",
    "quote_psql_arg",
    "quote_qualified",
    "quote_role",
    "routine_keyword",
    "securable_sql",
]
