"""One user per login in a database: SQL Server refuses a second, and the replay does too.

A login enters a database as one user at most. The login that owns the database enters it as
``dbo``, so it can have no other user there. SQL Server refuses:

* ``CREATE USER u FOR LOGIN l`` (``sp_grantdbaccess``, ``sp_adduser``, which create the user
  the same way) when ``l`` has a user in the database already, or owns it (``dbo``): Msg 15063,
  "The login already has an account under a different user name." (sys.messages). The owner
  case is the usual one: a script run by the login that created the database, or a deployment
  that makes a service account the owner and then its user;
* ``ALTER AUTHORIZATION ON DATABASE::d TO l`` and ``sp_changedbowner l`` when ``l`` has a user
  in ``d``: Msg 15110, "The proposed new database owner is already a user or aliased in the
  database." (sp_changedbowner, Arguments: the login "can't become the owner of the current
  database if it already has access to the database through an existing user security
  account within the database").

sqlcmd and SSMS go on with the next batch, so the user (or the owner) that was there stands.
The replay keeps it too: the refused statement is not applied and is reported (GB045), as
:mod:`mssql_extract.tsql.duplicates` reports a second CREATE of a name. An existence check
does not keep it quiet: generated scripts check the user's name (``IF NOT EXISTS (SELECT … FROM
sys.database_principals WHERE name = N'u')``), which no principal holds here, so SQL Server
runs the CREATE and refuses it. A user only an ALTER USER named (``assumed``: the replay does
not know its login) never counts.
"""

from __future__ import annotations

from mssql_extract.snapshot import SourceRef, fold
from mssql_extract.tsql.cursor import Parser
from mssql_extract.tsql.state import DbState, UserState

#: The login already has an account under a different user name.
LOGIN_MAPPED = 15063
#: The proposed new database owner is already a user or aliased in the database.
OWNER_MAPPED = 15110


def user_refused(p: Parser, user: UserState) -> bool:
    """Whether the CREATE USER (or sp_grantdbaccess, sp_adduser) of ``user`` in the current
    database is refused: its login has a user there already, or owns the database (dbo)."""
    if user.via != "login" or not user.login:
        return False
    db = p.builder.db()
    if db.owner and fold(db.owner) == fold(user.login):
        held = f"dbo: it owns database [{db.name}]" + _since(db.owner_ref)
    else:
        other = mapped_user(db, user.login)
        if other is None:
            return False
        held = f"user {other.name!r} ({other.ref})"
    reason = f"the login [{user.login}] has a user in this database already, {held}"
    return _refused(p, reason, LOGIN_MAPPED)


def owner_refused(p: Parser, db: DbState, login: str | None) -> bool:
    """Whether making ``login`` the owner of ``db`` is refused: it has a user there."""
    user = mapped_user(db, login) if login else None
    if login is None or user is None:
        return False
    reason = f"the login [{login}] has a user in database [{db.name}], {user.name!r} ({user.ref})"
    return _refused(p, reason, OWNER_MAPPED)


def mapped_user(db: DbState, login: str) -> UserState | None:
    """The user of ``db`` that ``login`` enters it as (not dbo), if the replay knows one."""
    key = fold(login)
    return next(
        (
            u
            for u in db.users.values()
            if not u.assumed and u.via == "login" and u.login and fold(u.login) == key
        ),
        None,
    )


def _since(ref: SourceRef | None) -> str:
    return f" ({ref})" if ref else ""


def _refused(p: Parser, reason: str, message: int) -> bool:
    text = (
        f"{reason}: SQL Server refuses it (Msg {message}), and what was there stands (not replayed)"
    )
    p.builder.skip("statement", text, p.statement_text(), p.ref())
    return True
