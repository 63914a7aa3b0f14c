"""``WHILE condition statement-or-block``: a loop's body, replayed once and reported.

A script runs a loop's body as many times as its condition holds: never, once per row of a
cursor (``WHILE @@FETCH_STATUS = 0 … FETCH NEXT``, the usual way to GRANT on each table), or
with other variable values each time. grantbridge cannot evaluate that, so it replays the body
once, as before, and when that pass replayed any statement (one not itself kept as skipped)
keeps one skipped item at the WHILE (``LOOPED``), which the plan reports like a statement in an
IF branch it cannot evaluate (GB045, "in the plan"): the loop's effect is approximated, never
silently. A loop inside a loop reports itself and its enclosing loop. A statement in the body
that keeps a skipped item of its own because it did something on the way (a DROP or a new owner
dropping permissions, ``dropped``; a module signature added or removed, ``signatures``) was
replayed too: its item says it is in the loop (:func:`in_loop`), and the loop is reported as
well. A statement SQL Server refuses (``duplicates``, ``grants``) changes nothing, in a loop as
anywhere: it does not count. A DROP it refuses (``drop_refusals``) is the exception: what is in
the way (a member, an owned schema) may be gone on a later pass, when the body removes it after
the DROP, and the DROP then succeeds; its item says so (:func:`refused_in_loop`) and the loop is
reported, as the plan holds the principal as one pass leaves it. So is a DROP DATABASE of the
current database (``drop_database``): a later pass may run in another one, after a USE.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mssql_extract.snapshot import SourceRef
from mssql_extract.tsql import branches
from mssql_extract.tsql.cursor import Parser

if TYPE_CHECKING:
    from mssql_extract.tsql.statements import StatementParser

#: Where a loop's condition ends: the first statement of its body.
_CONDITION_ENDS = branches.CONDITION_ENDS | {"IF"}


@dataclass
class Loop:
    """A WHILE being read (``ref``: its line): whether its body has replayed a statement yet."""

    ref: SourceRef
    replayed: bool = False


def in_loop(p: Parser) -> str:
    """What a statement's skipped item adds when the statement is in a loop's body and was
    replayed: that the loop may run it never or many times (``dropped`` says so of the
    permissions a DROP or a new owner dropped, which then did not go in one known pass). The
    loop is then reported as replayed too. ``""`` outside a loop."""
    if p.loop is None:
        return ""
    p.loop.replayed = True
    return (
        f" (replayed once, though it is in the body of the WHILE loop at {p.loop.ref}, which "
        "grantbridge cannot evaluate: the script may run it never, or many times)"
    )


#: When a later pass succeeds where a refused DROP of a principal failed (``drop_refusals``).
IN_THE_WAY_GONE = "once a later pass finds what is in the way gone, SQL Server drops the principal"


def refused_in_loop(p: Parser, later: str = IN_THE_WAY_GONE) -> str:
    """What the skipped item of a DROP SQL Server refuses adds in a loop's body: the refusal is
    that of the one pass replayed, and a later one may succeed (``later`` says when). The loop
    is then reported. ``""`` outside a loop."""
    if p.loop is None:
        return ""
    p.loop.replayed = True
    return (
        f" (in the one pass grantbridge replays of the WHILE loop at {p.loop.ref}, which it "
        f"cannot evaluate: the script may run the DROP again, and {later})"
    )


#: The skip reason of a loop whose body replayed statements. It begins with the words the
#: mapper reports as "in the plan" (``mapper.translate.skipped.REPLAYED``), as for a statement
#: in an IF branch that may not run.
LOOPED = (
    "replayed, though only once: this WHILE loop runs its body as many times as its condition "
    "holds, which grantbridge cannot evaluate (maybe never, maybe once per row of a cursor, "
    "with other values each time); the plan holds what one pass of the body gives"
)


def parse_while(p: Parser) -> None:
    """``WHILE condition body``: the body replayed once; reported when it replayed anything."""
    parser: StatementParser = p  # type: ignore[assignment]
    parser.first = False  # a procedure in the body needs EXEC: it is not first in its batch
    ref = p.ref()
    p.skip_to_boundary(_CONDITION_ENDS)
    text = p.statement_text()
    outer, loop = p.loop, Loop(ref)
    p.loop = loop
    try:
        branches.body(parser)
    finally:
        p.loop = outer
    if loop.replayed:
        p.builder.skip("statement", LOOPED, text, ref)
        if outer is not None:
            outer.replayed = True
