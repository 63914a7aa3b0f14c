"""Parsing one statement of a module body with sqlglot's T-SQL dialect.

:mod:`mapper.module_split` cuts a body into statements; each is parsed here on its own, so one
statement sqlglot cannot read costs only that statement (recorded as ``unparsed`` by
:mod:`mapper.modules`, never dropped). Forms sqlglot does not read directly (``EXEC (@sql)``,
``SET @v += …``, ``INSERT … EXEC``, ``IF``/``WHILE`` conditions, cursor declarations,
``RETURN``) are first rewritten, through the :data:`REWRITES` table, into texts that carry the
same references. Statements that touch no object (:data:`CONTROL_HEADS`) are not parsed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from mapper.module_split import Statement, word

#: Heads of statements that touch no object (control flow, errors, cursors, transactions).
CONTROL_HEADS = frozenset(
    {"PRINT", "RAISERROR", "THROW", "COMMIT", "ROLLBACK", "SAVE", "REVERT", "OPEN", "CLOSE",
     "FETCH", "DEALLOCATE", "GOTO", "BREAK", "CONTINUE", "WAITFOR"}
)  # fmt: skip


@contextmanager
def _quiet_sqlglot() -> Iterator[None]:
    """sqlglot logs a warning when it falls back to a Command; we report those ourselves."""
    logger = logging.getLogger("sqlglot")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _parse(text: str) -> exp.Expr:
    with _quiet_sqlglot():
        tree = sqlglot.parse_one(text, read="tsql")
    if isinstance(tree, exp.Command):
        raise SqlglotError(f"unsupported statement {tree.name.upper()}")
    return tree


def parse_statement(statement: Statement, unparsed: list[str]) -> list[exp.Expr]:
    """Parse one statement, through a rewrite for forms sqlglot does not read directly."""
    if statement.head in CONTROL_HEADS:
        return []
    try:
        return [_parse(text) for text in _rewrite(statement)]
    except SqlglotError as exc:
        reason = str(exc).splitlines()[0]
        unparsed.append(f"line {statement.line}: {reason} in: {statement.text}")
        return []


def _rewrite(statement: Statement) -> list[str]:
    """Texts sqlglot can parse that carry the same references (REWRITES table, else as is)."""
    for matches, rewrite in REWRITES:
        if matches(statement):
            return rewrite(statement)
    return [statement.text]


def _after(statement: Statement, index: int) -> str:
    tokens = statement.tokens
    return statement.text[tokens[index].start - tokens[0].start :] if index < len(tokens) else ""


def _words(statement: Statement) -> list[str]:
    return [word(t) for t in statement.tokens]


def _rewrite_exec_paren(statement: Statement) -> list[str]:
    # EXEC (expr) → a marker call sqlglot reads; the expression stays intact
    inner = _after(statement, 1)
    return [f"SELECT __dynamic_exec__{inner}"]


def _rewrite_compound_set(statement: Statement) -> list[str]:
    # SET @v += expr → SELECT @v = @v + (expr)
    variable = statement.tokens[1].text + statement.tokens[2].text
    return [f"SELECT {variable} = {variable} + ({_after(statement, 5)})"]


def _rewrite_insert_exec(statement: Statement) -> list[str]:
    at = next(i for i, w in enumerate(_words(statement)) if w in {"EXEC", "EXECUTE"} and i > 1)
    prefix = statement.text[: statement.tokens[at].start - statement.tokens[0].start]
    return [f"{prefix} SELECT 1", _after(statement, at)]


def _rewrite_condition(statement: Statement) -> list[str]:
    return [f"SELECT CASE WHEN {_after(statement, 1)} THEN 1 END"]


def _rewrite_cursor(statement: Statement) -> list[str]:
    at = _words(statement).index("FOR")
    select = _after(statement, at + 1)
    return [select.rsplit(" FOR ", 1)[0] if " FOR UPDATE" in select.upper() else select]


def _rewrite_return(statement: Statement) -> list[str]:
    rest = _after(statement, 1)
    return [rest] if rest else []


REWRITES: tuple[tuple[Callable[[Statement], bool], Callable[[Statement], list[str]]], ...] = (
    (lambda s: s.head in {"EXEC", "EXECUTE"} and _words(s)[1:2] == ["("], _rewrite_exec_paren),
    (lambda s: s.head == "SET" and len(s.tokens) > 4 and s.tokens[3].text in "+-*/|&"
     and s.tokens[4].text == "=", _rewrite_compound_set),
    (lambda s: s.head == "INSERT" and bool({"EXEC", "EXECUTE"} & set(_words(s)[2:])),
     _rewrite_insert_exec),
    (lambda s: s.head in {"IF", "WHILE"}, _rewrite_condition),
    (lambda s: s.head == "DECLARE" and "CURSOR" in _words(s) and "FOR" in _words(s),
     _rewrite_cursor),
    (lambda s: s.head == "RETURN", _rewrite_return),
)  # fmt: skip
