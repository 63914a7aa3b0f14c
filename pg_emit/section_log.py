"""What ``apply`` says it ran for one script section: true of what the section contains.

A count of statements alone misleads for ``01_roles.sql``: it is a few DO blocks, each
creating up to :data:`pg_emit.render_roles.ROLE_BATCH` roles, so "1 statement" stood for
dozens of roles. A DO block is counted as one, and the roles its body creates are counted
from its ``CREATE ROLE`` lines. Each one is guarded (``IF to_regrole(…) IS NULL``, or the
RDS stand-ins' ``IF NOT EXISTS``): a role that exists already is left alone, so the count is
an upper bound, said as one. The section's text is all that is read: no query on the server.
"""

from __future__ import annotations

from collections.abc import Sequence

from grantbridge.plural import plural
from pg_emit.psql import code_lines


def created_roles(statement: str) -> int:
    """How many ``CREATE ROLE`` commands a ``DO`` block's body holds (0 for anything else)."""
    if not statement.startswith("DO "):
        return 0
    body = statement.split("\n")[1:-1]  # between the dollar-quote lines (script.do_block)
    return sum(line.lstrip().startswith("CREATE ROLE ") for line in code_lines("\n".join(body)))


def summary(statements: Sequence[str]) -> str:
    """``47 statements and 1 DO block``, ``1 DO block creating up to 50 roles (each only
    where absent)``: the section's statements, its DO blocks told apart."""
    blocks = [s for s in statements if s.startswith("DO ")]
    parts = []
    if len(statements) > len(blocks):
        parts.append(plural(len(statements) - len(blocks), "statement"))
    if blocks:
        text = plural(len(blocks), "DO block")
        roles = sum(created_roles(block) for block in blocks)
        if roles:
            text += f" creating up to {plural(roles, 'role')} (each only where absent)"
        parts.append(text)
    return " and ".join(parts) or "no statement"
