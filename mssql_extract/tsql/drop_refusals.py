"""A DROP of a principal SQL Server refuses: a role that has members, a principal that owns
something. The principal stands, with its members, ownerships and permissions.

SQL Server refuses (each page's Remarks; the messages as ``sys.messages`` spells them, listed in
"Database Engine events and errors (15000 to 15999)",
https://learn.microsoft.com/sql/relational-databases/errors-events/database-engine-events-and-errors-15000-to-15999):

* ``DROP ROLE`` and ``sp_droprole`` of a role with members: "Roles that have members cannot be
  dropped from the database" (DROP ROLE; sp_droprole: "A database role with existing members
  cannot be removed"), Msg 15144 "The role has members. It must be empty before it can be
  dropped.";
* ``DROP USER``, ``ROLE`` or ``APPLICATION ROLE`` (``sp_dropuser``, ``sp_revokedbaccess``,
  ``sp_droprole``) of a principal that owns a securable: "Users that own securables cannot be
  dropped from the database" (DROP USER), "Roles that own securables cannot be dropped" (DROP
  ROLE). By what it owns: an object given it by ALTER AUTHORIZATION, Msg 15183 "The database
  principal owns objects in the database and cannot be dropped."; a type, 15184 "… owns data
  types …"; a schema, 15138 "The database principal owns a schema in the database, and cannot
  be dropped." (an XML schema collection: "a XML namespace"); a role (itself included), 15421
  "The database principal owns a database role and cannot be dropped."; and a user a module
  runs as (``WITH EXECUTE AS 'u'``), 15136 "The database principal is set as the execution
  context of one or more procedures, functions, or event notifications and cannot be dropped.";
* ``DROP LOGIN`` and ``sp_droplogin`` of a login that owns a database: "A login that owns any
  securable, server-level object, or SQL Server Agent job cannot be dropped" (DROP LOGIN), Msg
  15174 "Login '%s' owns one or more database(s). Change the owner of the database(s) before
  dropping the login."; of a login or server role that owns a server role, 15141 "The server
  principal owns one or more server role(s) and cannot be dropped."; of a login or server role
  that is the grantor of a server permission, 15173 "Server principal '%s' has granted one or
  more permission(s). Revoke the permission(s) before dropping the server principal." (SQL
  Server 2016 and 2017 spell it "Login '%s' has granted … before dropping the login": the same
  list's 2016 and 2017 versions);
* ``DROP SERVER ROLE`` of a server role with members: "User-defined server roles that have
  members cannot be dropped" (DROP SERVER ROLE, Remarks);
* a DROP of a database principal that is the grantor of a permission in its database: 15284
  "The database principal has granted or denied permissions to objects in the database and
  cannot be dropped."

A permission's grantor is who ``sys.server_permissions`` and ``sys.database_permissions`` name
(``grantor_principal_id``): in a script, the principal of ``GRANT … AS``, ``DENY … AS``. SQL
Server keeps a row per grantor, and so does the replay behind the snapshot's one row
(``perm_store``): the same GRANT ``AS`` two principals keeps both from being dropped, until
``REVOKE … AS`` one of them takes back its own (a statement without AS is granted by whoever
runs the script, which the script does not say: not seen). 15173 speaks of granted permissions only, 15284 of
granted or denied ones: each counts what its message says.

sqlcmd and SSMS go on with the next batch, so the replay leaves everything as it was, and the
statement is kept as a skipped item naming the principal and each reason (with its message
number), which the plan reports (GB045) at its file and line: the script fails there. Which
message SQL Server raises when several apply is not documented: each one is listed. As for a
DENY SQL Server refuses (``grants``), an IF around the statement changes nothing: an existence
check finds the principal, which is why the DROP runs and fails. In a WHILE loop's body the
refusal is that of the one pass the replay reads: a later pass may find the cause gone (the
body empties the role after the DROP) and drop the principal, so the item says so and the loop
is reported (``loops.refused_in_loop``). Only what the replay knows counts: an owner, member or
grantor no script sets is not seen.
"""

from __future__ import annotations

from mssql_extract.snapshot import ObjectKind, PermissionState, SourceRef, fold
from mssql_extract.tsql import dropped, loops
from mssql_extract.tsql.cursor import Parser
from mssql_extract.tsql.state import DbState, NamedState, PermStore, Securable, sec_key

#: How the reason of a refused DROP ends (the mapper's GB045 action tells it by this).
STANDS = "the principal stands (not replayed)"


def drop_database_principal(p: Parser, statement: str, name: str, ref: SourceRef) -> None:
    """``DROP USER | ROLE | APPLICATION ROLE name`` (or a procedure doing one): refused when
    the principal has members, owns something or granted a permission, else replayed
    (``dropped.principal``)."""
    db = p.builder.db()
    taken = db.principal(name)
    who = taken[0] if taken is not None else f"principal {name!r}"
    if not _refused(p, statement, who, _database_reasons(db, fold(name)), ref):
        dropped.principal(p, p.builder.drop_principal(name), statement, name, ref)


def drop_login(p: Parser, statement: str, name: str, ref: SourceRef) -> None:
    """``DROP LOGIN name`` or ``sp_droplogin``: refused when the login owns a database or a
    server role, or granted a server permission."""
    key = fold(name)
    owned = _spelled([[db.name] for db in p.builder.databases.values() if _is(db.owner, key)])
    reasons = _reasons([("owns database", owned, "Msg 15174")])
    who = f"login {name!r}"
    if not _refused(p, statement, who, reasons + _server_reasons(p, key), ref):
        dropped.principal(p, p.builder.drop_login(name), statement, name, ref)


def drop_server_role(p: Parser, statement: str, name: str, ref: SourceRef) -> None:
    """``DROP SERVER ROLE name``: refused when the role has members or owns a server role, or
    granted a server permission."""
    key = fold(name)
    members = _spelled(
        [[m] for (role, _), (_, m, _) in p.builder.server_memberships.items() if role == key]
    )
    reasons = _reasons([("has members", members, "DROP SERVER ROLE, Remarks")])
    who = f"server role {name!r}"
    if not _refused(p, statement, who, reasons + _server_reasons(p, key), ref):
        dropped.principal(p, p.builder.drop_server_role(name), statement, name, ref)


#: What a refusal names: (what it is, the principals, securables or permissions in the way,
#: each spelled and in order (:func:`_spelled`, :func:`_granted`), and the message or page
#: that says so).
Reason = tuple[str, list[str], str]


def _database_reasons(db: DbState, key: str) -> list[str]:
    """Why SQL Server refuses to drop the database principal folded ``key`` (none: it does not)."""
    members = [[member] for (role, _), (_, member, _) in db.memberships.items() if role == key]
    owned: dict[ObjectKind | None, list[list[str]]] = {}
    runs_as: list[list[str]] = []
    for obj in db.objects.tied.values():  # owned, or run as (CALLER, OWNER, SELF name no one)
        if _is(obj.owner, key):
            kind = obj.kind if obj.kind in _OWN_MESSAGES else None
            owned.setdefault(kind, []).append([obj.schema_name, obj.name])
        if _is(obj.execute_as, key):
            runs_as.append([obj.schema_name, obj.name])
    return _reasons(
        [
            ("has members", _spelled(members), "Msg 15144"),
            ("owns", _spelled(owned.get(None, [])), "Msg 15183"),
            ("owns type", _spelled(owned.get(ObjectKind.TYPE, [])), "Msg 15184"),
            ("owns schema", _owned(db.schemas, key), "Msg 15138"),
            ("owns XML schema collection",
             _spelled(owned.get(ObjectKind.XML_SCHEMA_COLLECTION, [])), "Msg 15138"),
            ("owns role", _owned(db.roles, key), "Msg 15421"),
            ("is who these modules run as (EXECUTE AS)", _spelled(runs_as), "Msg 15136"),
            ("has granted or denied", _granted(db.perms, key, deny=True), "Msg 15284"),
        ]
    )  # fmt: skip


#: The object kinds whose ownership SQL Server names by a message of its own (the others:
#: "owns objects", Msg 15183).
_OWN_MESSAGES = frozenset({ObjectKind.TYPE, ObjectKind.XML_SCHEMA_COLLECTION})


def _server_reasons(p: Parser, key: str) -> list[str]:
    """What keeps a login or server role: a server role it owns, a permission it granted."""
    return _reasons(
        [
            ("owns server role", _owned(p.builder.server_roles, key), "Msg 15141"),
            ("has granted", _granted(p.builder.server_perms, key, deny=False), "Msg 15173"),
        ]
    )


def _reasons(found: list[Reason]) -> list[str]:
    """``owns schema [s], [t] (Msg 15138)``: one per kind of reason that has names."""
    return [f"{what} {', '.join(names)} ({why})" for what, names, why in found if names]


def _refused(p: Parser, statement: str, who: str, reasons: list[str], ref: SourceRef) -> bool:
    """Whether the DROP is refused (``reasons`` not empty): then it is kept as skipped."""
    if not reasons:
        return False
    reason = (
        f"{who} {' and '.join(reasons)}, so SQL Server refuses the {statement}"
        f"{loops.refused_in_loop(p)}: its memberships, ownerships and permissions stay, and "
        f"{STANDS}"
    )
    p.builder.skip("statement", reason, p.statement_text(), ref)
    return True


def _owned(states: dict[str, NamedState], key: str) -> list[str]:
    """The roles, schemas or server roles ``key`` owns, each spelled ``[name]``."""
    return _spelled([[state.name] for state in states.values() if _is(state.owner, key)])


def _granted(store: PermStore, key: str, *, deny: bool) -> list[str]:
    """The permissions of ``store`` whose grantor is ``key`` (its DENYs too when ``deny``),
    each spelled as its statement would name it: ``VIEW SERVER STATE TO [b]``, in order."""
    rows = [
        row
        for row in store.every_grantors_row()
        if _is(row.grantor, key) and (deny or row.state != PermissionState.DENY)
    ]
    rows.sort(key=lambda row: (sec_key(row.securable), row.permission, fold(row.grantee)))
    return [_permission(row.permission, row.securable, row.grantee) for row in rows]


def _permission(permission: str, securable: Securable, grantee: str) -> str:
    cls, schema, name, column = securable
    parts = [part for part in (schema, name) if part is not None]
    on = f" ON {cls}::{_spell(parts)}" if parts else ""  # the server, the database: no ON
    if column is not None:
        on += f" ([{column}])"
    return f"{permission}{on} TO [{grantee}]"


def _is(owner: str | None, key: str) -> bool:
    return owner is not None and fold(owner) == key


def _spelled(names: list[list[str]]) -> list[str]:
    """Names given as their parts, in order, each spelled ``[schema].[name]``."""
    return [_spell(parts) for parts in sorted(names)]


def _spell(parts: list[str]) -> str:
    return ".".join(f"[{part}]" for part in parts)
