"""Dynamic SQL written out in the script, replayed as the nested batch SQL Server runs.

``EXEC (N'…')`` and ``EXEC sp_executesql N'…'`` run their text as a batch of its own: SSMS writes
``IF NOT EXISTS (…) EXEC sys.sp_executesql N'CREATE SCHEMA [s] AUTHORIZATION [o]'`` for "check
for object existence", and deployment scripts wrap CREATE statements the same way. The text may
also be a variable assigned literal text earlier in the batch (``DECLARE``, ``SET`` or ``SELECT
@v = N'…' + N'…'``); T-SQL variables live for one batch, and so does what is known of them.

SSMS scripts an application role with a password generated in the script itself::

    select @statement = N'CREATE APPLICATION ROLE [r] WITH DEFAULT_SCHEMA = [s], '
        + N'PASSWORD = N' + QUOTENAME(@randomPwd,'''')
    EXEC dbo.sp_executesql @statement

``QUOTENAME(@x, '''')`` is a quoted string whatever ``@x`` holds, so it is read as the literal
``'***'``: the role is created, and no password is ever read. Text built any other way at run
time (functions, loops, values read from tables) cannot be known; the EXEC is then kept as a
skipped statement the plan reports (GB045), never as one without a security effect.
"""

from __future__ import annotations

from contextlib import suppress

from sqlglot.tokenizer_core import TokenType

from grantbridge.errors import ExtractError
from mssql_extract.tsql.cursor import STOP_WORDS, Parser, Text
from mssql_extract.tsql.tokens import STRINGS

#: What ``QUOTENAME(@x, '''')`` is read as: a string literal of unknown content.
OPAQUE = "'***'"

#: Words that assign variables when a variable follows them.
ASSIGNING = frozenset({"DECLARE", "SET", "SELECT"})

#: Words that continue an expression: after a string, the value is not complete yet.
_CONTINUES = frozenset({"COLLATE", "FROM", "WHERE", "AND", "OR", "LIKE", "IN", "IS", "BETWEEN"})

#: What ends a variable's type in a DECLARE.
_DECLARATION_ENDS = frozenset({TokenType.COMMA, TokenType.SEMICOLON})
_STARTS = STOP_WORDS | ASSIGNING

#: Why an EXEC of text the script does not spell out is skipped (not "without a security
#: effect": the plan reports it, mapper/translate/skipped.py).
BUILT_AT_RUN_TIME = "dynamic SQL built at run time (not read: its security effect is unknown)"


def _quotename(p: Parser) -> bool:
    """Consume ``QUOTENAME(@x, '''')`` (or ``N''''``) when it comes next."""
    kinds = [TokenType.L_PAREN, TokenType.PARAMETER, None, TokenType.COMMA, None]
    for k, kind in enumerate(kinds, start=1):
        if kind is not None and not p.at_type(kind, k):
            return False
    quote, close = p.tok(5), p.tok(6)
    if quote is None or quote.token_type not in STRINGS or quote.text != "'":
        return False
    if close is None or close.token_type != TokenType.R_PAREN:
        return False
    p.pos += 7
    return True


def static_text(p: Parser) -> Text | None:
    """A string expression whose text the script spells out: literals, variables holding such
    text and ``QUOTENAME(@x, '''')`` joined by ``+``; None for anything else."""
    parts: list[str] = []
    first = None
    while (token := p.tok()) is not None:
        if token.token_type in STRINGS:
            p.pos += 1
            parts.append(token.text)
        elif token.token_type == TokenType.PARAMETER:
            p.pos += 1
            known = p.variables.get(p.name("a variable name").casefold())
            if known is None:
                return None
            parts.append(known.value)
            token = known.at
        elif p.word() == "QUOTENAME" and _quotename(p):
            parts.append(OPAQUE)
        else:
            return None
        first = first or token
        if not p.accept_type(TokenType.PLUS):
            return Text("".join(parts), first)
    return None


def _value(p: Parser) -> Text | None:
    """The value of an assignment, when it is static text that ends there."""
    text = static_text(p)
    token = p.tok()
    if token is None or token.token_type in (TokenType.SEMICOLON, TokenType.COMMA):
        return text
    word = p.word()
    return text if word and word not in _CONTINUES else None


def _declare(p: Parser) -> None:
    """``DECLARE @v [AS] type [= value] [, …]``."""
    while p.accept_type(TokenType.PARAMETER):
        name = p.name("a variable name").casefold()
        value, depth = None, 0
        while (token := p.tok()) is not None:
            kind = token.token_type
            if depth == 0 and (
                kind in (TokenType.COMMA, TokenType.SEMICOLON) or p.word() in STOP_WORDS
            ):
                break
            if depth == 0 and kind == TokenType.EQ:
                p.pos += 1
                value = _value(p)
                break
            depth += (kind == TokenType.L_PAREN) - (kind == TokenType.R_PAREN)
            p.pos += 1
        p.variables[name] = value
        if not p.accept_type(TokenType.COMMA):
            return


def _assign(p: Parser, select: bool) -> None:
    """``SET @v = value`` or ``SELECT @v = value [, @w = value …]`` (without FROM)."""
    names: dict[str, Text | None] = {}
    while p.accept_type(TokenType.PARAMETER):
        name = p.name("a variable name").casefold()
        if not p.accept_type(TokenType.EQ):  # SET @v += …, and other compound operators
            p.variables[name] = None
            return
        names[name] = _value(p)
        if not (select and p.accept_type(TokenType.COMMA)):
            break
    if select and p.word() in _CONTINUES:  # SELECT @v = col FROM t: read from a table
        names = dict.fromkeys(names)
    p.variables.update(names)


def track_assignments(p: Parser, start: int, end: int) -> None:
    """Note what the ``DECLARE``, ``SET`` and ``SELECT @v = …`` among tokens ``start:end`` (a
    statement skipped or read as noise, with what it swallowed) assign to variables.

    An assignment replayed where the script may not run it (a branch of an IF that cannot be
    evaluated) leaves the variable unknown.
    """
    pos, i = p.pos, start
    before = dict(p.variables)
    while i < end:
        word = p.words[i]
        if word in ASSIGNING and p.at_type(TokenType.PARAMETER, i + 1 - p.pos):
            p.pos = i + 1
            # not an assignment grantbridge reads: the statement is skipped as before
            with suppress(ExtractError):
                if word == "DECLARE":
                    _declare(p)
                else:
                    _assign(p, select=word == "SELECT")
            i = max(p.pos, i + 1)
        else:
            i += 1
    p.pos = pos
    if p.uncertain:
        changed = [n for n, v in p.variables.items() if n not in before or before[n] is not v]
        p.variables.update(dict.fromkeys(changed))
