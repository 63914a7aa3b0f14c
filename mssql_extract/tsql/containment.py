"""``CREATE | ALTER USER u WITH PASSWORD = …`` in a database the script shows is not contained.

A user with a password authenticates at the database, which is "Only allowed in a contained
database" (CREATE USER (Transact-SQL), "Users that authenticate at the database",
https://learn.microsoft.com/sql/t-sql/statements/create-user-transact-sql). Elsewhere SQL Server
refuses the statement with Msg 33233 "You can only create a user with a password in a contained
database." (as SqlPackage reports it, "Error SQL72014: … Msg 33233. You can only create a user
with a password in a contained database.", and as SQL Server prints it after ``USE mydb; CREATE
USER … WITH PASSWORD``: https://cloud.tencent.com/developer/article/2392162).

The replay refuses it only when the script shows the database is not contained: a ``CONTAINMENT
= NONE`` read in its CREATE DATABASE or ALTER DATABASE … SET (the last one read counts), or a
CREATE DATABASE without a CONTAINMENT clause, which creates a database that is not contained
("By default, all SQL Server 2012 and later databases have a containment set to NONE":
Contained Databases, Partially Contained Database Concepts,
https://learn.microsoft.com/sql/relational-databases/databases/contained-databases), unless it
is Azure SQL Database's form (``objects._azure_sql_database``), which has no CONTAINMENT. A
database no script creates nor sets may well be contained (or an Azure SQL Database, where
every user may have a password): the user is created, as before. sqlcmd and SSMS go on
with the next batch, so the user is not created, and the statement is kept as a skipped item
with the reason (its text shows every literal as ``'***'``: ``Parser.statement_text``), which the
plan reports (GB045) at its file and line.

``ALTER USER u WITH PASSWORD = …`` is refused there too: PASSWORD "is available only for
contained users" (ALTER USER (Transact-SQL), Arguments, PASSWORD and OLD_PASSWORD,
https://learn.microsoft.com/sql/t-sql/statements/alter-user-transact-sql), and a database that
is not contained has none. (No source at hand gives the message number SQL Server answers with,
so the reason names none.) The statement fails as a whole, so nothing it sets changes: not the
password, nor a NAME or DEFAULT_SCHEMA beside it; it is kept as skipped in the same way.

In a contained database (``CONTAINMENT = PARTIAL`` read) it is refused for a user the script
created for a login: "Contained database users with passwords are authenticated by the
database", while "Users based on logins in the master database" depend on the instance
(Contained Databases, Partially Contained Database Concepts, Contained user), so such a user is
not a contained user, for which alone PASSWORD is available. No source at hand gives the
message, nor shows SQL Server's answer: the reason says so. A user the script only alters, or
one without a login (WITHOUT LOGIN, a certificate …), is left as before: how SQL Server treats
a password for it is not documented.
"""

from __future__ import annotations

from mssql_extract.snapshot import SourceRef, fold
from mssql_extract.tsql.cursor import Parser
from mssql_extract.tsql.options import Options
from mssql_extract.tsql.state import DbState, UserState

#: How the reason of a refused CREATE USER ends (the mapper's GB045 action tells it by this).
NOT_CREATED = "the user is not created (not replayed)"
#: How the reason of a refused ALTER USER ends.
UNCHANGED = "the user is unchanged (not replayed)"


def refused(p: Parser, user: UserState, ref: SourceRef) -> bool:
    """Whether SQL Server refuses ``CREATE USER user`` (a user with a password, in a database
    the script set ``CONTAINMENT = NONE``); then it is kept as skipped."""
    if user.via != "password" or (not_contained := _not_contained(p)) is None:
        return False
    reason = (
        f"{not_contained}, so SQL Server refuses the CREATE USER with a password (Msg 33233: You "
        f"can only create a user with a password in a contained database): {NOT_CREATED}"
    )
    p.builder.skip("statement", reason, p.statement_text(), ref)
    return True


def alter_refused(p: Parser, name: str, opts: Options, ref: SourceRef) -> bool:
    """Whether SQL Server refuses ``ALTER USER name WITH …`` read as ``opts`` (a PASSWORD, in a
    database the script shows is not contained, or for a user for a login in a contained one);
    then it is kept as skipped."""
    if "password" not in opts:
        return False
    only = "PASSWORD is available only for contained users"
    if (not_contained := _not_contained(p)) is not None:
        why = f"{not_contained}, so SQL Server refuses the ALTER USER with a password ({only})"
    elif (for_login := _for_login(p.builder.db(), name)) is not None:
        why = (
            f"{for_login}, which is not a contained user, so SQL Server refuses the ALTER USER "
            f"with a password ({only}; unconfirmed: no source at hand gives the message)"
        )
    else:
        return False
    reason = f"{why}: nothing it sets is changed, and {UNCHANGED}"
    p.builder.skip("statement", reason, p.statement_text(), ref)
    return True


def _not_contained(p: Parser) -> str | None:
    """What says the current database is not contained (None: no script says so)."""
    db = p.builder.db()
    if db.containment_ref is None or db.containment != "NONE":
        return None
    if db.containment_default:
        how = f"created without CONTAINMENT at {db.containment_ref}: NONE, the default"
    else:
        how = f"CONTAINMENT = NONE at {db.containment_ref}"
    return f"database [{db.name}] is not contained ({how})"


def _for_login(db: DbState, name: str) -> str | None:
    """What says user ``name`` of contained database ``db`` is a user for a login (None: the
    database is not known to be contained, or the script did not create it for a login)."""
    user = db.users.get(fold(name))
    if db.containment_ref is None or db.containment != "PARTIAL":
        return None
    if user is None or user.assumed or user.via != "login" or user.login is None:
        return None
    return (
        f"user [{user.name}] is a user for login [{user.login}] in contained database "
        f"[{db.name}] (CONTAINMENT = PARTIAL at {db.containment_ref})"
    )
