"""``IF condition statement-or-block [ELSE statement-or-block]``: the branches a script runs.

A branch is one statement or a ``BEGIN … END`` block. When ``conditions.evaluate`` knows the
condition, only the branch taken is replayed; the other one is read (it must be well formed, as
SQL Server compiles it too) onto a throw-away builder, and leaves nothing. Otherwise each branch
is replayed, and every statement replayed in it that the script may not run is also kept as a
skipped item (``UNCERTAIN``) that the plan reports: two exclusive branches are never merged in
silence. An existence check without ELSE is the exception (see ``conditions``). Under an
existence check, a CREATE of a name the replay holds already ends the branch (``duplicates``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot.tokenizer_core import TokenType

from mssql_extract.snapshot import SourceRef
from mssql_extract.tsql import conditions, duplicates
from mssql_extract.tsql.cursor import STOP_WORDS, Handler, Parser

if TYPE_CHECKING:
    from mssql_extract.tsql.statements import StatementParser

#: Where a condition ends: the first statement of its branch (its own IF is inside it). The
#: control-of-flow and other statements no expression holds end it too: SMO's job scripts
#: branch with ``IF (@@ERROR <> 0 OR @ReturnCode <> 0) GOTO QuitWithRollback`` right before a
#: block's ``END``, which must not be read as the branch.
CONDITION_ENDS = (
    STOP_WORDS - {"IF"}
    | {"SELECT", "INSERT", "UPDATE", "DELETE", "SET", "MERGE", "TRUNCATE", "GOTO", "BREAK"}
    | {"CONTINUE", "RAISERROR", "THROW", "WAITFOR", "REVERT", "SAVE", "CHECKPOINT", "DBCC"}
    | {"BACKUP", "RESTORE", "KILL", "RECONFIGURE", "OPEN", "CLOSE", "FETCH", "DEALLOCATE"}
)

#: ``BEGIN`` followed by these is a statement (a transaction, TRY/CATCH), not a block.
_NOT_BLOCKS = frozenset({"TRAN", "TRANSACTION", "TRY", "CATCH", "DISTRIBUTED", "DIALOG"})


def _uncertain(where: SourceRef) -> str:
    return (
        f"replayed, though it runs only if the condition of the IF at {where} holds, which "
        "grantbridge cannot evaluate (the script may not run it)"
    )


def in_branch(p: Parser) -> str:
    """What a statement's own skipped item adds when the statement is in a branch of an IF whose
    condition grantbridge cannot evaluate (the IF's note is not written then: ``replay_noted``).
    ``""`` elsewhere."""
    if not (p.uncertain and p.condition_ref is not None):
        return ""
    return (
        f" (replayed, though it runs only if the condition of the IF at {p.condition_ref} "
        "holds, which grantbridge cannot evaluate)"
    )


def replay_noted(p: StatementParser, handler: Handler, length: int) -> None:
    """Replay a statement the script may not run as written, unless it recorded a skipped item
    itself (or its dynamic SQL did, statement by statement): in a branch that may not run, it
    is kept as a skipped item too; in a loop's body, the loop counts it (``loops``). A CREATE
    that ends its branch (``duplicates``) is not replayed: nothing to note."""
    builder = p.builder
    recorded, ref = len(builder.skipped), p.ref()
    p.pos += length
    handler(p)
    p.check_end()
    if p.builder is not builder or len(builder.skipped) != recorded:
        return
    if p.loop is not None:
        p.loop.replayed = True
    if p.uncertain and p.condition_ref is not None:
        p.builder.skip("statement", _uncertain(p.condition_ref), p.statement_text(), ref)


def _at_block(p: Parser) -> bool:
    return p.at("BEGIN") and p.word(1) not in _NOT_BLOCKS


def _block(p: StatementParser) -> None:
    """``BEGIN`` statements ``END`` (nested blocks included)."""
    p.pos += 1
    while True:
        while p.accept_type(TokenType.SEMICOLON):
            pass
        if p.at("END") and p.word(1) not in ("TRY", "CATCH"):
            break
        if p.pos >= len(p.tokens):
            raise p.error("BEGIN without END")
        if _at_block(p):
            _block(p)
        else:
            p.run_statement()
    p.pos += 1


def body(p: StatementParser) -> None:
    """The statement or ``BEGIN … END`` block an IF branch or a WHILE loop runs."""
    if _at_block(p):
        _block(p)
    else:
        p.run_statement()


def _branch(
    p: StatementParser,
    run: bool,
    where: SourceRef | None,
    guard: duplicates.Guard | None = None,
) -> None:
    """One branch: a statement or a block, replayed (``run``) or only read; ``where`` is the IF
    whose condition cannot be evaluated, when the script may not run the branch; ``guard``, its
    existence check. A CREATE in the branch may swap the builder (``duplicates``): the branch
    ends with the builder it began with."""
    saved = (p.builder, p.variables, p.uncertain, p.condition_ref, p.loop, p.guard)
    if not run:  # read onto a builder nobody keeps; its assignments never happen either
        p.builder, p.variables, p.loop = p.builder.scratch(), dict(p.variables), None
    if where is not None:
        p.uncertain, p.condition_ref = True, where
    if guard is not None:
        p.guard = guard
    try:
        body(p)
    finally:
        p.builder, p.variables, p.uncertain, p.condition_ref, p.loop, p.guard = saved


def _has_else(p: StatementParser) -> bool:
    """Whether an ELSE follows the branch at the current token (read ahead, then back)."""
    saved = (p.pos, p.start, p.first)
    _branch(p, run=False, where=None)
    found = p.at("ELSE")
    p.pos, p.start, p.first = saved
    return found


def parse_if(p: Parser) -> None:
    """``IF condition branch [ELSE branch]``."""
    parser: StatementParser = p  # type: ignore[assignment]
    parser.first = False  # a procedure in a branch needs EXEC: it is not first in its batch
    ref, start = p.ref(), p.pos
    p.skip_to_boundary(CONDITION_ENDS)
    verdict = conditions.evaluate(p.tokens[start : p.pos])
    where, guard = (ref if verdict is None else None), None
    if where is not None and conditions.is_existence_check(p.words[start : p.pos]):
        # a re-runnable script's guard: its statement is what the script leaves behind
        where = ref if _has_else(parser) else None
        guard = duplicates.guard(p.tokens[start : p.pos])
    _branch(parser, run=verdict is not False, where=where, guard=guard)
    if p.accept("ELSE"):
        _branch(parser, run=verdict is not True, where=where, guard=guard)
