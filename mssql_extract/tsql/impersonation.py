"""``EXECUTE AS {LOGIN | USER} = 'name'`` and ``SETUSER 'name'``: a script that impersonates.

Until ``REVERT`` (or another ``SETUSER``), the statements after it run as that principal, not as
the script's caller: a role created without AUTHORIZATION is owned by it (CREATE ROLE
(Transact-SQL): "If no user is specified, the role will be owned by the user that executes
CREATE ROLE"), and a statement it may not run fails. The replay does not model the caller, so
it reads those statements as any others; the impersonation is kept as skipped with a reason the
plan reports (GB045), so that nobody takes the plan's owners for the server's in silence.
``REVERT`` and ``SETUSER`` without a name (back to the caller) change nothing the replay holds.
"""

from __future__ import annotations

from sqlglot.tokenizer_core import TokenType

from mssql_extract.tsql.cursor import Handler, Parser

#: How the reason begins (the mapper's GB045 action tells it by this).
IMPERSONATION = "impersonation:"


def _reason(statement: str, name: str, until: str) -> str:
    return (
        f"{IMPERSONATION} the statements after {statement} run as {name!r} up to {until}, which "
        f"the replay does not model (it reads them as run by the script's caller): on the "
        f"server, a role they create without AUTHORIZATION is owned by {name!r}, and what "
        f"{name!r} may not do fails"
    )


def execute_as(p: Parser) -> None:
    """``EXEC[UTE] AS {LOGIN | USER} = 'name' [WITH {NO REVERT | COOKIE INTO @v}]`` (after the
    word AS): kept as skipped, and reported. ``EXECUTE AS CALLER`` outside a module "has no
    action" (EXECUTE AS (Transact-SQL))."""
    if p.accept("CALLER"):
        reason = "EXECUTE AS CALLER outside a module: without a security effect"
        p.builder.skip("statement", reason, p.statement_text(), p.ref())
        return
    kind = p.word()
    if kind not in ("LOGIN", "USER"):
        raise p.error("expected LOGIN, USER or CALLER")
    p.pos += 1
    p.expect_type(TokenType.EQ, "=")
    name = p.string("a principal name")
    if p.accept("WITH") and not p.accept("NO", "REVERT"):
        p.expect("COOKIE", "INTO")
        p.expect_type(TokenType.PARAMETER, "a variable")
        p.name("a variable name")
    statement = f"EXECUTE AS {kind} = {name!r}"
    reason = _reason(statement, name, "REVERT")
    p.builder.skip("statement", reason, p.statement_text(), p.ref())


def setuser(p: Parser) -> None:
    """``SETUSER ['name' [WITH NORESET]]``: as EXECUTE AS USER (back to the caller without a
    name, which changes nothing)."""
    if p.tok() is None or p.at_type(TokenType.SEMICOLON) or p.word():
        reason = "SETUSER without a name, back to the caller: without a security effect"
        p.builder.skip("statement", reason, p.statement_text(), p.ref())
        return
    name = p.string("a user name")
    p.accept("WITH", "NORESET")
    reason = _reason(f"SETUSER {name!r}", name, "a SETUSER without a name")
    p.builder.skip("statement", reason, p.statement_text(), p.ref())


STATEMENTS: dict[str, Handler] = {"SETUSER": setuser}
