"""Run a section's statements over psycopg with one wait per batch, not one per statement.

``apply`` and ``verify`` send the statements of a section in libpq's pipeline mode: the server
runs them in order as they arrive and psycopg reads the results at a sync point every
:data:`pg_emit.script.BATCH` statements, the batches psql sends for the same scripts. A
failure aborts the rest of the transaction; the first statement without a result is the one
that failed (the ones before it have theirs), so the error still names its statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from pg_emit.script import BATCH


class StatementFailed(Exception):
    """Statement ``index`` of the run failed with ``error``; its transaction is aborted."""

    def __init__(self, index: int, statement: str, error: psycopg.Error) -> None:
        super().__init__(f"statement {index + 1} failed: {error}")
        self.index, self.statement, self.error = index, statement, error

    @property
    def reason(self) -> str:
        """The server's primary message (or psycopg's text), on one line."""
        return (self.error.diag.message_primary or str(self.error)).strip()

    @property
    def first_line(self) -> str:
        """The failed statement's first line, cut to 120 characters, for messages."""
        return self.statement.splitlines()[0][:120]


def run_statements(
    conn: psycopg.Connection[Any], statements: Sequence[str], *, batch: int = BATCH
) -> None:
    """Run ``statements`` in order in ``conn``'s current transaction.

    Raises:
        StatementFailed: the first statement that failed, with the server's error. The
            transaction is then in the failed state: the caller rolls it back.
    """
    cursors: list[psycopg.Cursor[Any]] = []
    try:
        with conn.pipeline() as pipeline:
            for start in range(0, len(statements), batch):
                for statement in statements[start : start + batch]:
                    cursors.append(conn.execute(statement.encode()))
                pipeline.sync()
    except psycopg.Error as error:
        failed = next((i for i, c in enumerate(cursors) if c.pgresult is None), len(cursors))
        failed = min(failed, len(statements) - 1)
        raise StatementFailed(failed, statements[failed], error) from None
