"""Security procedures of SQL Server 2000 and earlier, still run by old deployment scripts.

Each is replayed as the statement that replaced it (the procedure's documentation page names
it; parameter names come from the same page):

==========================  ===================================================================
``sp_grantlogin l``          ``CREATE LOGIN [l] FROM WINDOWS``; on a login that exists,
                             ``GRANT CONNECT SQL`` (it lifts an ``sp_denylogin``)
``sp_denylogin l``           ``DENY CONNECT SQL TO [l]``, creating the Windows login if needed
``sp_revokelogin l``         ``DROP LOGIN [l]``
``sp_defaultdb l, db``       ``ALTER LOGIN [l] WITH DEFAULT_DATABASE = [db]``
``sp_defaultlanguage l, x``  ``ALTER LOGIN [l] WITH DEFAULT_LANGUAGE = [x]``
``sp_addgroup g``            ``CREATE ROLE [g]``
``sp_dropgroup g``           ``DROP ROLE [g]``
``sp_changegroup g, u``      ``ALTER ROLE [g] ADD MEMBER [u]``, after removing ``u`` from every
                             other role ("removed from all other roles")
``sp_changeobjectowner o, u``  ``ALTER SCHEMA [u] TRANSFER o``: "changes both the schema and
                             the owner" and "removes all existing permissions from the object"
==========================  ===================================================================

Replayed as those statements, the DROPs are refused as they are (``drop_refusals``).

``sp_addalias`` maps a login to an existing user (usually ``dbo``), so the login acts as that
user; PostgreSQL has nothing like it. It is kept as skipped, so that the plan reports it (GB045).
"""

from __future__ import annotations

from mssql_extract.snapshot import LoginType, SourceRef, fold
from mssql_extract.tsql import drop_refusals, dropped
from mssql_extract.tsql.cursor import Args, Parser, Procedure
from mssql_extract.tsql.principals import new_database_principal, required
from mssql_extract.tsql.state import LoginState
from mssql_extract.tsql.tokens import split_name

_SERVER = ("SERVER", None, None, None)


def _connect_sql(p: Parser, verb: str, login: str, ref: SourceRef) -> None:
    p.builder.permission(verb, _SERVER, "CONNECT SQL", login, server=True, grantor=None, ref=ref)


def sp_grantlogin(p: Parser, args: Args, ref: SourceRef) -> None:
    name = required(p, args, "loginame")
    if fold(name) in p.builder.logins:
        _connect_sql(p, "GRANT", name, ref)
    else:
        p.builder.add_login(LoginState(name, LoginType.WINDOWS_USER, ref))


def sp_denylogin(p: Parser, args: Args, ref: SourceRef) -> None:
    name = required(p, args, "loginame")
    if fold(name) not in p.builder.logins:  # "If the server principal doesn't exist, it's created"
        p.builder.add_login(LoginState(name, LoginType.WINDOWS_USER, ref))
    _connect_sql(p, "DENY", name, ref)


def sp_revokelogin(p: Parser, args: Args, ref: SourceRef) -> None:
    name = required(p, args, "loginame")
    drop_refusals.drop_login(p, "sp_revokelogin", name, ref)


def sp_defaultdb(p: Parser, args: Args, ref: SourceRef) -> None:
    login = p.builder.login(required(p, args, "loginame"), ref)
    login.default_database = required(p, args, "defdb")


def sp_defaultlanguage(p: Parser, args: Args, ref: SourceRef) -> None:
    login = p.builder.login(required(p, args, "loginame"), ref)
    login.default_language = args.get("language")


def sp_addgroup(p: Parser, args: Args, ref: SourceRef) -> None:
    name = required(p, args, "grpname")
    if new_database_principal(p, name):
        p.builder.add_role(name, None, ref)


def sp_dropgroup(p: Parser, args: Args, ref: SourceRef) -> None:
    name = required(p, args, "rolename")
    drop_refusals.drop_database_principal(p, "sp_dropgroup", name, ref)


def sp_changegroup(p: Parser, args: Args, ref: SourceRef) -> None:
    role, user = required(p, args, "grpname"), required(p, args, "username")
    memberships = p.builder.db().memberships
    for key in [key for key in memberships if key[1] == fold(user)]:
        del memberships[key]
    if fold(role) != "public":  # every user is a member of public: nothing to record
        p.builder.member(role, user, True, ref)


def sp_changeobjectowner(p: Parser, args: Args, ref: SourceRef) -> None:
    parts = split_name(required(p, args, "objname"))
    owner = required(p, args, "newowner")
    schema, name = parts[-2] if len(parts) > 1 else "dbo", parts[-1]
    created, gone = p.builder.transfer_object(schema, name, owner)
    if gone:  # listed whether a script created the object or not
        why = f"sp_changeobjectowner moves [{schema}].[{name}] to schema [{owner}]"
        dropped.note(p, gone, f"{why}, and SQL Server drops the permissions on it", ref)
    elif not created:
        reason = (
            f"sp_changeobjectowner of {schema}.{name}, which no script creates "
            "(its kind is unknown)"
        )
        p.builder.skip("statement", reason, p.statement_text(), ref)


def sp_addalias(p: Parser, args: Args, ref: SourceRef) -> None:
    login, user = required(p, args, "loginame"), required(p, args, "name_in_db")
    reason = (
        f"sp_addalias: login {login!r} aliased to database user {user!r} has no PostgreSQL "
        "equivalent (not in the plan)"
    )
    p.builder.skip("statement", reason, p.statement_text(), ref)


PROCEDURES: dict[str, Procedure] = {
    "sp_grantlogin": (("loginame",), sp_grantlogin),
    "sp_denylogin": (("loginame",), sp_denylogin),
    "sp_revokelogin": (("loginame",), sp_revokelogin),
    "sp_defaultdb": (("loginame", "defdb"), sp_defaultdb),
    "sp_defaultlanguage": (("loginame", "language"), sp_defaultlanguage),
    "sp_addgroup": (("grpname",), sp_addgroup),
    "sp_dropgroup": (("rolename",), sp_dropgroup),
    "sp_changegroup": (("grpname", "username"), sp_changegroup),
    "sp_changeobjectowner": (("objname", "newowner"), sp_changeobjectowner),
    "sp_addalias": (("loginame", "name_in_db"), sp_addalias),
}
