"""A constraint named as one its schema holds already: SQL Server refuses the statement.

A constraint is a schema-scoped object: sys.objects "Contains a row for each user-defined,
schema-scoped object that is created within a database", constraints included (type C, D, F,
PK, UQ: sys.objects (Transact-SQL)), and its name is unique in its schema, whichever table it
is on. ``ALTER TABLE … ADD CONSTRAINT df …`` or ``CREATE TABLE`` with a constraint ``df`` when
the schema holds an object ``df`` fails: Msg 2714, "There is already an object named 'df' in
the database.", and the statement changes nothing (a statement fails as a whole): the default
it would add gives the table's INSERT grantees no USAGE on its sequence.

The replay knows the names of the sequence defaults a script gave (``SequenceDefault.constraint``,
:mod:`.column_defaults`) and of the other constraints the scripts state (keys, CHECKs, defaults:
``Objects.named``, :mod:`.dependents`); ``DROP CONSTRAINT`` and ``DROP TABLE`` free them,
``sp_rename`` moves them. A statement that names one of them again, or a table, view, routine,
sequence, synonym or security policy of the schema (one namespace, ``sys.objects``), for a
constraint of any kind, or that names two constraints alike (or one as the table it creates),
is refused and kept as a skipped item the plan reports (GB045), as a second CREATE is
(:mod:`.duplicates`, which refuses a CREATE of an object named as a constraint, through
``DbState.object_named``); under an existence check that names the constraint (SSMS's ``IF NOT
EXISTS (SELECT … WHERE object_id = OBJECT_ID(N'[s].[df]') AND type = 'D')``), SQL Server skips
the branch, and so does the replay, in silence. Names the replay does not know (one SQL Server
named, one a statement the replay does not follow gave) are not checked: the replay cannot tell
whether they collide.
"""

from __future__ import annotations

from sqlglot.tokenizer_core import Token, TokenType

from mssql_extract.snapshot import DbObject, ObjectKind, SequenceDefault, fold
from mssql_extract.tsql import duplicates
from mssql_extract.tsql.cursor import Parser
from mssql_extract.tsql.state import DbState, Taken


def named(tokens: list[Token]) -> list[str]:
    """The names an item of a table body or ``ADD`` list gives its constraints (``CONSTRAINT
    name …``, at the item's own level)."""
    found, depth = [], 0
    for i, token in enumerate(tokens[:-1]):
        depth += (token.token_type == TokenType.L_PAREN) - (token.token_type == TokenType.R_PAREN)
        word = "" if token.token_type == TokenType.IDENTIFIER else token.text.upper()
        if depth == 0 and word == "CONSTRAINT":  # [CONSTRAINT], quoted, is a name
            found.append(tokens[i + 1].text)
    return found


def holder(db: DbState, schema: str, name: str) -> tuple[DbObject, SequenceDefault] | None:
    """The table of ``schema`` whose known sequence default is named ``name``, and that default."""
    key = db.objects.constraints.get((fold(schema), fold(name)))
    table = None if key is None else db.objects.get(key)
    if table is None or table.kind != ObjectKind.TABLE:
        return None
    for default in table.sequence_defaults:
        if default.constraint is not None and fold(default.constraint) == fold(name):
            return table, default
    return None


def refused(p: Parser, schema: str, names: list[str], *, creating: str | None = None) -> bool:
    """Whether the statement being read, read whole, is refused for a constraint of ``names``
    whose name ``schema`` holds already (a sequence default's, another constraint's the scripts
    state, a table's, view's, routine's …), that the statement gives twice, or that is the name
    of the table it creates (``creating``); kept as skipped (or skipped silently under an
    existence check naming it) then."""
    db, seen = p.builder.db(), {fold(creating)} if creating else set()
    for name in names:
        found = holder(db, schema, name)
        taken = db.object_named(schema, name, type_=False)
        if found is None and taken is None and fold(name) not in seen:
            seen.add(fold(name))
            continue
        if not duplicates.guarded(p, name):
            table = creating is not None and fold(name) == fold(creating)
            reason = _reason(schema, name, found, taken, table=table)
            p.builder.skip("statement", reason, p.statement_text(), p.ref())
        return True
    return False


def _reason(
    schema: str,
    name: str,
    found: tuple[DbObject, SequenceDefault] | None,
    taken: Taken | None,
    *,
    table: bool,
) -> str:
    """Why the statement is refused (Msg 2714): what holds the name, the first one found (the
    table the statement creates, when ``table``)."""
    if found is not None:
        table_, default = found
        what = (
            f"constraint [{name}] already exists in schema [{schema}], the default of "
            f"[{table_.schema_name}].[{table_.name}] column [{default.column}]"
        )
    elif taken is not None:
        what = f"constraint [{name}] of schema [{schema}] is named as the {taken[0]} ({taken[1]})"
    elif table:
        what = f"constraint [{name}] is named as the table the statement creates"
    else:
        what = f"constraint [{name}] is named twice in the statement"
    return (
        f'{what}: SQL Server refuses it (Msg {duplicates.OBJECT}, "There is already an object '
        f"named '{name}' in the database.\"), and the first definition stands (not replayed)"
    )
