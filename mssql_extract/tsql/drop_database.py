"""``DROP DATABASE [IF EXISTS] name [, …]``: the database goes, with everything recorded in it.

"Dropping a database deletes the database from an instance of SQL Server" (DROP DATABASE
(Transact-SQL), Remarks, https://learn.microsoft.com/sql/t-sql/statements/drop-database-transact-sql):
its users, roles, memberships, permissions, schemas and objects go with it, so a later ``CREATE
DATABASE`` of the name starts empty. That is what the statement says, as a DROP USER says its
permissions go (``dropped``): it is not reported. An ``IF DB_ID('x') IS NOT NULL`` or ``IF
EXISTS`` around it is an existence check, replayed as any other (``conditions``).

SQL Server refuses it (the same page's Remarks) for

* the database the session is in: "the database context of the connection cannot be the same
  as the database or database snapshot to be dropped"; ``USE x`` then ``DROP DATABASE x`` fails
  with Msg 3702 "Cannot drop database "x" because it is currently in use." (as SSMS shows it:
  "(Microsoft SQL Server, Error: 3702)", https://www.mytechmantra.com/sql-server/how-to-drop-database-in-sql-server-by-closing-existing-connections/;
  the text also in https://github.com/Microsoft/vscode-mssql/issues/949);
* a system database: "System databases cannot be dropped."

sqlcmd and SSMS go on with the next batch, so the replay leaves the database as it was and keeps
the statement as a skipped item with the reason, which the plan reports (GB045) at its file and
line, as it does a DROP of a principal SQL Server refuses (``drop_refusals``); in a WHILE loop's
body, the refusal of the current database is that of the one pass replayed, and the loop is
reported (``loops.refused_in_loop``). Each name of the list is dropped or refused on its own.
"""

from __future__ import annotations

from mssql_extract.snapshot import fold
from mssql_extract.tsql import loops
from mssql_extract.tsql.cursor import Parser, skipped
from mssql_extract.tsql.state import SYSTEM_DATABASES

#: How the reason of a refused DROP DATABASE ends (the mapper's GB045 action tells it by this).
STANDS = "the database stands (not replayed)"


def drop_database(p: Parser) -> None:
    """``DROP DATABASE [IF EXISTS] name [, …]`` (see the module docstring)."""
    ref = p.ref()
    p.accept("IF", "EXISTS")
    names = p.comma_list(lambda: p.name("a database name"))
    for name in names:
        why = _refusal(p, name)
        if why is not None:
            reason = (
                f"{why}, so SQL Server refuses the DROP DATABASE{_in_loop(p, name)}: what is "
                f"recorded in it stays, and {STANDS}"
            )
            p.builder.skip("statement", reason, p.statement_text(), ref)
            continue
        gone = p.builder.databases.pop(fold(name), None)
        if gone is None:
            continue
        # a signature of one of its modules is no longer there to report (``signatures``)
        for held in gone.signatures.values():
            for key in held.values():
                p.builder.skipped.pop(key, None)


def _refusal(p: Parser, name: str) -> str | None:
    """Why SQL Server refuses to drop database ``name`` (None: it does not)."""
    if fold(name) in SYSTEM_DATABASES:
        return f"[{name}] is a system database (System databases cannot be dropped)"
    if fold(name) == fold(p.builder.current):
        return f"[{name}] is the current database (Msg 3702: it is currently in use)"
    return None


def _in_loop(p: Parser, name: str) -> str:
    """What a refusal in a WHILE loop's body adds (``loops.refused_in_loop``): the current
    database may be another one on a later pass, after a USE in the body, and the DROP then
    succeeds. A system database is refused on every pass: that refusal changes nothing, in a
    loop as anywhere, and does not count (``loops``)."""
    if fold(name) in SYSTEM_DATABASES:
        return ""
    return loops.refused_in_loop(
        p, "once a later pass runs in another database (after a USE), SQL Server drops it"
    )


#: Statements that begin like DROP DATABASE but are about something else (``objects``'s
#: ``_NOT_DATABASES``): under the shorter key, SCOPED or ENCRYPTION would be read as a database
#: name. Neither has a security effect the snapshot holds. (DROP DATABASE AUDIT SPECIFICATION
#: is in ``policies``.)
_NOT_DATABASES = {
    f"DROP DATABASE {what}": skipped("statement without a security effect (not read)")
    for what in ("SCOPED CREDENTIAL", "ENCRYPTION KEY")
}

STATEMENTS = {"DROP DATABASE": drop_database, **_NOT_DATABASES}
