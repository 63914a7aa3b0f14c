"""A CREATE of a name the replay holds already: SQL Server refuses it, and the first one stands.

SQL Server refuses a second ``CREATE LOGIN`` or ``CREATE SERVER ROLE`` of a server principal
(Msg 15025), a second ``CREATE USER``, ``ROLE`` or ``APPLICATION ROLE`` of a database principal
(15023), ``CREATE SCHEMA``, ``TABLE``, ``VIEW`` … of a name its namespace holds (2714), ``CREATE
TYPE`` of a type (219) and ``CREATE DATABASE`` of a database (1801). sqlcmd and SSMS go on with
the next batch, so the first definition and everything granted on it stand; the replay keeps
them too, and does not apply the second statement:

* written plainly, it is kept as a skipped item whose reason the plan reports (GB045): the
  script fails there, and whoever runs it should know;
* under an existence check that names it (``IF NOT EXISTS (SELECT … WHERE name = N'r')``,
  ``IF SCHEMA_ID(N's') IS NULL EXEC (N'CREATE SCHEMA …')``, ``IF OBJECT_ID(N'[dbo].[t]') IS
  NULL``: SSMS "check for object existence", dbatools, SSDT), SQL Server does not run the
  branch: the rest of the branch is read without effect, and nothing is reported. Statements
  of the branch before the CREATE have been replayed already (generated scripts put it first).

``DROP`` then ``CREATE`` (SSMS "DROP and CREATE"), ``CREATE OR ALTER`` and ``ALTER`` replace what
they name, as in SQL Server. Names compare as the state folds them (``fold``): as SQL Server's
default, case-insensitive collation does.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot.tokenizer_core import Token

from mssql_extract.snapshot import fold
from mssql_extract.tsql.cursor import Parser
from mssql_extract.tsql.state import Taken
from mssql_extract.tsql.tokens import STRINGS

#: The error SQL Server raises for a name taken, by namespace (the text of sys.messages).
SERVER_PRINCIPAL = 15025  # The server principal '%s' already exists.
DATABASE_PRINCIPAL = 15023  # User, group, or role '%s' already exists in the current database.
OBJECT = 2714  # There is already an object named '%s' in the database. (CREATE SCHEMA too)
TYPE = 219  # The type '%s' already exists, or you do not have permission to create it.
DATABASE = 1801  # Database '%s' already exists. Choose a different database name.


@dataclass(frozen=True)
class Guard:
    """The existence check of an IF whose branch is being read: the names its string literals
    spell (``N'r'``; ``N'[dbo].[t]'`` gives ``dbo`` and ``t``), folded."""

    names: frozenset[str]


def guard(tokens: list[Token]) -> Guard:
    """The guard an existence check's tokens make (``conditions.is_existence_check``)."""
    names = {
        fold(part.strip().strip('[]"'))
        for token in tokens
        if token.token_type in STRINGS
        for part in token.text.split(".")
    }
    return Guard(frozenset(names))


def refused(p: Parser, name: str, taken: Taken | None, message: int) -> bool:
    """Whether the CREATE of ``name`` being read is not applied: ``taken`` says what holds the
    name already (None: nothing does, and the CREATE is applied). Call it once the statement
    is read whole, before it changes anything."""
    if taken is None:
        return False
    if not guarded(p, name):
        what, where = taken
        reason = (
            f"{what} already exists ({where}): SQL Server refuses it (Msg {message}), and the "
            "first definition stands (not replayed)"
        )
        p.builder.skip("statement", reason, p.statement_text(), p.ref())
    return True


def guarded(p: Parser, name: str) -> bool:
    """Whether the branch being read is under an existence check naming ``name``: SQL Server
    skips it, so its rest goes to a builder that ``branches`` drops."""
    if p.guard is None or fold(name) not in p.guard.names:
        return False
    p.builder = p.builder.scratch()
    return True
