"""``CREATE [UNIQUE] [CLUSTERED | NONCLUSTERED] INDEX``, ``CREATE STATISTICS``, ``DROP INDEX`` and
``DROP STATISTICS``: without a security effect, but an index or statistics keeps SQL Server from
dropping the columns it is on (Msg 5074, 4922: ``dependents``, ``table_drops``).

Each statement is kept as a skipped item with the reason every statement without a security
effect had before the replay read these (``statements``), so the snapshot holds the same item.
Other index forms (``CREATE CLUSTERED COLUMNSTORE INDEX``, XML, spatial, full-text) are not
read, as before: the replay does not know which columns they are on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from sqlglot.tokenizer_core import TokenType

from grantbridge.errors import ExtractError
from mssql_extract.snapshot import fold
from mssql_extract.tsql.cursor import Handler, Parser
from mssql_extract.tsql.dependents import key_columns, record
from mssql_extract.tsql.modules import object_name
from mssql_extract.tsql.state import Dependent

#: The reason of a statement without a security effect (``statements``'s, word for word).
NOT_READ = "statement without a security effect (not read)"


def _kind(p: Parser) -> str:
    """INDEX or STATISTICS: the last word the dispatcher read (``NONCLUSTERED INDEX`` is one
    token)."""
    return "STATISTICS" if p.word(-1) == "STATISTICS" else "INDEX"


def _read(p: Parser, read: Callable[[], None]) -> None:
    """``read`` the statement; one it cannot read is skipped whole, as before the replay read
    these statements (none of them is a security statement a malformed one would hide)."""
    begin, ref = p.pos, p.ref()
    try:
        read()
    except ExtractError:
        p.pos = begin
        p.skip_to_boundary()
    p.builder.skip("statement", NOT_READ, p.statement_text(), ref)


def create_index(p: Parser) -> None:
    """``CREATE … INDEX ix ON t (col [ASC | DESC], …) [INCLUDE (…)] [WHERE …] [WITH …] [ON …]``
    and ``CREATE STATISTICS s ON t (col, …) [WHERE …] [WITH …]``."""
    _read(p, lambda: _create_index(p))


def _create_index(p: Parser) -> None:
    ref, kind = p.ref(), _kind(p)
    name = p.name(f"{'a statistics' if kind == 'STATISTICS' else 'an index'} name")
    p.expect("ON")
    schema, table = object_name(p)
    begin = p.pos
    p.skip_to_boundary()
    found = p.builder.db().objects.get((fold(schema), fold(table)))
    columns = list(found.columns) if found is not None else []
    on = key_columns(p.tokens[begin : p.pos], 0, columns)
    record(p, schema, table, [Dependent(kind, name, on, ref)] if on else [])


def drop_index(p: Parser) -> None:
    """``DROP INDEX [IF EXISTS] ix ON t [WITH (…)] [, …]``, ``DROP INDEX [s.]t.ix [, …]`` and
    ``DROP STATISTICS [s.]t.st [, …]``: no longer a dependent of its table. An index that a
    PRIMARY KEY or UNIQUE constraint made is not dropped so (SQL Server refuses it, Msg 3723):
    only an INDEX the scripts created is."""
    _read(p, lambda: _drop_index(p))


def _drop_index(p: Parser) -> None:
    kind = _kind(p)
    p.accept("IF", "EXISTS")
    while True:
        parts = p.qualified("an index name")
        if p.accept("ON"):
            schema, table = object_name(p)
        else:
            schema = parts[-3] if len(parts) > 2 and parts[-3] else p.schema or "dbo"
            table = parts[-2] if len(parts) > 1 else ""
        if p.accept("WITH"):
            p.skip_parens()
        _drop(p, schema, table, kind, parts[-1])
        if not p.accept_type(TokenType.COMMA):
            break
    p.skip_to_boundary()


def _drop(p: Parser, schema: str, table: str, kind: str, name: str) -> None:
    key = (fold(schema), fold(table))
    objects = p.builder.db().objects
    gone = [d for d in objects.dependents.get(key, ())
            if d.kind == kind and fold(d.name or "") == fold(name)]  # fmt: skip
    objects.undepend(key, gone)


def rename(p: Parser, parts: list[str], new: str) -> None:
    """``sp_rename 's.t.ix', 'new', 'INDEX'`` (or ``STATISTICS``): a later DROP INDEX names it
    so. An index a PRIMARY KEY or UNIQUE constraint made is renamed with the constraint
    (``object_renames``)."""
    if len(parts) < 2:
        return
    schema = parts[-3] if len(parts) > 2 and parts[-3] else "dbo"
    key = (fold(schema), fold(parts[-2]))
    objects = p.builder.db().objects
    for dependent in objects.dependents.get(key, ()):
        if dependent.index and fold(dependent.name or "") == fold(parts[-1]):
            objects.undepend(key, [dependent])
            objects.depend(key, [replace(dependent, name=new)])
            return


_CREATE = ("INDEX", "UNIQUE INDEX", "CLUSTERED INDEX", "NONCLUSTERED INDEX", "STATISTICS",
           "UNIQUE CLUSTERED INDEX", "UNIQUE NONCLUSTERED INDEX")  # fmt: skip

STATEMENTS: dict[str, Handler] = {
    **{f"CREATE {words}": create_index for words in _CREATE},
    "DROP INDEX": drop_index,
    "DROP STATISTICS": drop_index,
}
