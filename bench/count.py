"""Count the SQL statements of a psql script (grantbridge's emitted scripts)."""

from __future__ import annotations

import pglast


def count_sql_statements(script: str) -> int:
    """Statements in ``script``, psql meta-commands (``\\set``, ``\\connect`` …) left out.

    PostgreSQL's own parser (pglast) splits the text, so a ``DO $$ … $$`` block or a semicolon
    inside a string counts correctly. Transaction control (``BEGIN`` / ``COMMIT``) counts too:
    it is part of what a script sends to the server.
    """
    sql = "\n".join(line for line in script.splitlines() if not line.lstrip().startswith("\\"))
    return len(pglast.split(sql, with_parser=False))
