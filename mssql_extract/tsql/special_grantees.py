"""Permissions SQL Server will not give, deny or take from some principals: "You cannot grant,
deny, or revoke permissions to sa, dbo, the entity owner, information_schema, sys, or yourself."
(Permissions Hierarchy (Database Engine), SQL Server docs). The statement fails whole, Msg 4624,
"Cannot grant, deny, or revoke permissions to sa, dbo, entity owner, information_schema, sys, or
yourself.", and sqlcmd goes on: the replay applies none of it and reports it (GB045).

Who counts, as the replay can tell:

* ``dbo``, ``sys`` and ``INFORMATION_SCHEMA`` in a database; ``sa`` on the server;
* the grantor itself, ``… TO u AS u`` (the script's own user, without ``AS``, is unknown);
* the entity's owner where the replay knows it: a schema's (``AUTHORIZATION``, ``ALTER
  AUTHORIZATION``), an object's own owner, else its schema's, and a role's.

Names compare as SQL Server's default, case-insensitive collation compares them (``fold``).
"""

from __future__ import annotations

from mssql_extract.snapshot import fold
from mssql_extract.tsql.cursor import Parser
from mssql_extract.tsql.securables import SERVER_SCOPED
from mssql_extract.tsql.state import Securable

_DATABASE = frozenset({"dbo", "sys", "information_schema"})
_SERVER = frozenset({"sa"})


def refused(
    p: Parser, verb: str, pairs: list[tuple[str, Securable]], grantees: list[str],
    grantor: str | None,
) -> bool:  # fmt: skip
    """Whether SQL Server refuses the GRANT, DENY or REVOKE read (``verb``) for one of its
    grantees: then it is recorded as skipped, the first such grantee in its reason."""
    for grantee in grantees:
        for _, securable in pairs:
            why = _why(p, securable, grantee, grantor)
            if why:
                reason = (
                    f"the {verb} names [{grantee}], {why}: SQL Server refuses it (Msg 4624, "
                    "Cannot grant, deny, or revoke permissions to sa, dbo, entity owner, "
                    "information_schema, sys, or yourself), and nothing of it is replayed"
                )
                p.builder.skip("statement", reason, p.statement_text(), p.ref())
                return True
    return False


def _why(p: Parser, securable: Securable, grantee: str, grantor: str | None) -> str:
    """What makes ``grantee`` one SQL Server refuses on ``securable`` (``""``: nothing)."""
    key = fold(grantee)
    server = securable[0] in SERVER_SCOPED
    if key in (_SERVER if server else _DATABASE):
        return "a principal no permission is given to"
    if grantor is not None and fold(grantor) == key:
        return "the grantor itself (AS)"
    owner = None if server else _owner(p, securable)
    if owner is not None and fold(owner) == key:
        return f"the owner of {securable[0]} [{securable[2]}]"
    return ""


def _owner(p: Parser, securable: Securable) -> str | None:
    """The owner of a schema, object or role of the current database, if the replay knows it."""
    cls, schema, name, _ = securable
    db = p.builder.db()
    if cls == "SCHEMA" and name is not None:
        found = db.schemas.get(fold(name))
        return found.owner if found is not None else None
    if cls == "ROLE" and name is not None:
        role = db.roles.get(fold(name))
        return role.owner if role is not None else None
    if cls == "OBJECT" and schema is not None and name is not None:
        obj = db.objects.get((fold(schema), fold(name)))
        if obj is None:
            return None
        if obj.owner:
            return obj.owner
        found = db.schemas.get(fold(schema))
        return found.owner if found is not None else None
    return None
