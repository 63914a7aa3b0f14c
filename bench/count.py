"""Count the SQL statements of a psql script (grantbridge's emitted scripts)."""

from __future__ import annotations

import re

import pglast

#: psql's ``\\;`` at the end of a line: a statement ends there and its batch goes on.
_BATCH_END = re.compile(r"\s*\\;\s*$")


def count_sql_statements(script: str) -> int:
    """Statements in ``script``, psql meta-commands (``\\set``, ``\\connect`` …) left out.

    PostgreSQL's own parser (pglast) splits the text, so a ``DO $$ … $$`` block or a semicolon
    inside a string counts correctly. Transaction control (``BEGIN`` / ``COMMIT``) counts too:
    it is part of what a script sends to the server. A batch (statements joined by psql's
    ``\\;``, one message to the server) counts each of its statements.
    """
    lines = (line for line in script.splitlines() if not line.lstrip().startswith("\\"))
    sql = "\n".join(_BATCH_END.sub(";", line) for line in lines)
    return len(pglast.split(sql, with_parser=False))
