"""``GRANT``, ``DENY`` and ``REVOKE`` on every securable class, at server and database scope.

Grammar (GRANT (Transact-SQL) and its per-class pages)::

    GRANT  { ALL [PRIVILEGES] | permission [(column, …)] [, …] }
           [ON [class ::] securable [(column, …)]] TO principal [, …]
           [WITH GRANT OPTION] [AS principal]
    DENY   … TO principal [, …] [CASCADE] [AS principal]
    REVOKE [GRANT OPTION FOR] … {TO | FROM} principal [, …] [CASCADE] [AS principal]

Without a ``class ::`` prefix an ON clause names an OBJECT. SQL Server resolves a one-part object
name in the caller's default schema; a script does not say who runs it, so the ``AS`` grantor's
default schema is used when the replay knows it, else ``dbo`` (scripts are normally run by a
sysadmin, whose default schema is dbo). Without ON, the permission is on the server or on the
current database, decided by its name (``securables.class_without_on``).

A DENY or REVOKE without CASCADE of a permission a grantee holds WITH GRANT OPTION is refused,
as SQL Server refuses it (Msg 4611, "To revoke or deny grantable privileges, specify the CASCADE
option."): DENY (Transact-SQL), Remarks, "DENY will fail if CASCADE is not specified when
denying a permission to a principal that was granted that permission with GRANT OPTION
specified"; REVOKE (Transact-SQL), Remarks, the same of REVOKE. The statement changes nothing
(none of its permissions, none of its grantees) and is reported (GB045), under an IF as
anywhere: an existence check finds the permission, which is why the statement fails (in a TRY
block, as for a refused CREATE, the jump to CATCH is not modelled).

``REVOKE GRANT OPTION FOR`` without CASCADE is refused alike: the Remarks' rule names no
exception for it (the option is what the grantee was granted WITH), whether or not the grantee
passed the permission on; scripts that take the option away write ``REVOKE GRANT OPTION FOR …
CASCADE`` for that reason ("When a user has been given GRANT OPTION the only way to remove that
privilege is to CASCADE", puppetlabs/puppetlabs-sqlserver#71; a column ``REVOKE GRANT OPTION
FOR`` that failed without CASCADE, sdebruyn/fabric-dw-mcp-cli#946; SqlServerDsc#1602, whose fix
revokes the option with CASCADE). Of a permission held without the option (GRANT OPTION FOR then
revokes the permission itself, REVOKE (Transact-SQL), GRANT OPTION FOR) or denied, it is
replayed as before.

A statement naming dbo, sys, INFORMATION_SCHEMA, sa, the grantor itself or the securable's owner
as a grantee is refused (Msg 4624: :mod:`mssql_extract.tsql.special_grantees`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot.tokenizer_core import Token, TokenType

from mssql_extract.snapshot import fold
from mssql_extract.tsql import special_grantees
from mssql_extract.tsql.cursor import Parser
from mssql_extract.tsql.securables import (
    CLASS_PREFIXES,
    COLUMN_PERMISSIONS,
    SCHEMA_SCOPED,
    SERVER_SCOPED,
    class_without_on,
    expand_all,
    is_permission,
)
from mssql_extract.tsql.state import Securable

_PERMISSION_END = frozenset({"ON", "TO", "FROM", ""})


@dataclass
class _Target:
    """The ON clause: class, name parts, securable-position columns."""

    cls: str | None
    parts: list[str]
    columns: list[str]


Item = tuple[str, list[str], Token | None]


def _permission_list(p: Parser) -> list[Item]:
    """``perm [(cols)], …`` with each item's first token; ALL [PRIVILEGES] comes back as "ALL"."""
    items: list[Item] = []
    while True:
        first = p.tok()
        words: list[str] = []
        while p.word() not in _PERMISSION_END and not p.at_type(TokenType.COMMA):
            if p.at_type(TokenType.L_PAREN):
                break
            words.append(p.word())
            p.pos += 1
        if not words:
            raise p.error("expected a permission name")
        name = "ALL" if words in (["ALL"], ["ALL", "PRIVILEGES"]) else " ".join(words)
        columns = p.paren_names("a column name") if p.at_type(TokenType.L_PAREN) else []
        items.append((name, columns, first))
        if not p.accept_type(TokenType.COMMA):
            return items


def class_prefix(p: Parser) -> str | None:
    """``class ::`` when present (``APPLICATION ROLE ::`` has two words, XML three)."""
    for k in range(1, 4):
        if p.at_type(TokenType.DCOLON, k):
            words = [p.word(i) for i in range(k)]
            cls = " ".join(words)
            if "" in words or cls not in CLASS_PREFIXES:
                raise p.error(f"unknown securable class {cls or '?'!r}")
            p.pos += k + 1
            return cls
    return None


def _target(p: Parser) -> _Target | None:
    if not p.accept("ON"):
        return None
    cls = class_prefix(p)
    parts = p.qualified("a securable name")
    columns = p.paren_names("a column name") if p.at_type(TokenType.L_PAREN) else []
    return _Target(cls, parts, columns)


def _securable(p: Parser, target: _Target, grantor: str | None) -> Securable:
    cls = target.cls or "OBJECT"
    parts = target.parts
    if cls == "DATABASE":
        return ("DATABASE", None, None, None)
    if cls in SCHEMA_SCOPED:
        if len(parts) > 3:
            raise p.error(f"too many name parts in {'.'.join(parts)!r}")
        if len(parts) == 1:
            schema = p.schema or p.builder.default_schema(grantor) or "dbo"
            return (cls, schema, parts[0], None)
        return (cls, parts[-2] or "dbo", parts[-1], None)
    if len(parts) != 1:
        raise p.error(f"a {cls} is named by one part, not {'.'.join(parts)!r}")
    return (cls, None, parts[0], None)


def _expand(
    p: Parser, name: str, securable: Securable, columns: list[str], at: Token | None = None
) -> list[tuple[str, Securable]]:
    """(permission, securable) pairs for one permission item, validated against its class."""
    cls, schema, obj, _ = securable
    if name == "ALL":
        kind = p.builder.db().object_kind(schema or "", obj or "") if cls == "OBJECT" else None
        names = expand_all(cls, kind)
        if names is None:
            raise p.error(f"ALL is not a permission on class {cls}", at)
        if columns:
            names = tuple(n for n in names if n in COLUMN_PERMISSIONS)
    else:
        if not is_permission(cls, name):
            raise p.error(f"{name} is not a permission on class {cls}", at)
        names = (name,)
    if not columns:
        return [(n, securable) for n in names]
    if cls != "OBJECT":
        raise p.error(f"column lists apply to objects, not to class {cls}")
    return [(n, (cls, schema, obj, c)) for n in names for c in columns]


def _statement(p: Parser, verb: str) -> None:
    ref = p.ref()
    option_only = verb == "REVOKE" and p.accept("GRANT", "OPTION", "FOR")
    items = _permission_list(p)
    target = _target(p)
    if not (p.accept("TO") or (verb == "REVOKE" and p.accept("FROM"))):
        raise p.error("expected TO" + (" or FROM" if verb == "REVOKE" else ""))
    grantees = p.comma_list(lambda: p.name("a principal name"))
    with_grant = verb == "GRANT" and p.accept("WITH", "GRANT", "OPTION")
    cascade = verb != "GRANT" and p.accept("CASCADE")
    grantor = p.name("a grantor") if p.accept("AS") else None
    if target is not None and _elsewhere(p, verb, target):
        return
    pairs = _resolve(p, items, target, grantor)
    spelled = "REVOKE GRANT OPTION FOR" if option_only else verb
    if special_grantees.refused(p, spelled, pairs, grantees, grantor):
        return
    if verb != "GRANT" and not cascade and _refused(p, spelled, pairs, grantees):
        return
    for permission, securable in pairs:
        for grantee in grantees:
            p.builder.permission(
                verb, securable, permission, grantee, server=securable[0] in SERVER_SCOPED,
                grantor=grantor, ref=ref, with_grant=with_grant, option_only=option_only,
                cascade=cascade,
            )  # fmt: skip


def _elsewhere(p: Parser, verb: str, target: _Target) -> bool:
    """Whether the ON clause names an object of another database (``[Other].[dbo].[T]``): then
    the statement is recorded as skipped, never read as one on the current database's object of
    that name. A permission is a row of the current database's ``sys.database_permissions`` and
    its grantee one of that database's principals ("It is possible to grant permissions only to
    user accounts in the current database, for objects in the current database", SQL Server
    Books Online, Granting Permissions), so the statement cannot reach ``Other``'s object."""
    parts = target.parts
    if (target.cls or "OBJECT") not in SCHEMA_SCOPED or len(parts) != 3 or not parts[0]:
        return False
    current = p.builder.current
    if fold(parts[0]) == fold(current):
        return False
    reason = (
        f"the {verb} names {'.'.join(parts)!r}, an object of database [{parts[0]}], while it runs "
        f"in [{current}]: a permission is on an object of the current database, so it changes "
        f"nothing in either (not replayed); put it in a USE [{parts[0]}] batch if it was meant "
        "for that database"
    )
    p.builder.skip("statement", reason, p.statement_text(), p.ref())
    return True


def _refused(p: Parser, verb: str, pairs: list[tuple[str, Securable]], grantees: list[str]) -> bool:
    """Whether SQL Server refuses the DENY, REVOKE or REVOKE GRANT OPTION FOR read (``verb``),
    which has no CASCADE: it does when a grantee holds one of its permissions WITH GRANT OPTION
    (the module docstring). Then the statement is recorded as skipped, with the first such
    permission in its reason."""
    for permission, securable in pairs:
        for grantee in grantees:
            server = securable[0] in SERVER_SCOPED
            if p.builder.grantable(securable, permission, grantee, server=server):
                reason = (
                    f"{grantee!r} holds {permission} on {_spelled(securable)} WITH GRANT OPTION, "
                    f"so SQL Server refuses the {verb} without CASCADE (Msg 4611), and the "
                    "permission stands (not replayed)"
                )
                p.builder.skip("statement", reason, p.statement_text(), p.ref())
                return True
    return False


def _spelled(securable: Securable) -> str:
    """``OBJECT::s.t``, ``OBJECT::s.t (c)``, ``SCHEMA::s``, ``DATABASE`` …: for messages."""
    cls, schema, name, column = securable
    if name is None:
        return cls
    spelled = f"{cls}::{schema}.{name}" if schema is not None else f"{cls}::{name}"
    return f"{spelled} ({column})" if column is not None else spelled


def _resolve(
    p: Parser, items: list[Item], target: _Target | None, grantor: str | None
) -> list[tuple[str, Securable]]:
    pairs: list[tuple[str, Securable]] = []
    for name, columns, at in items:
        if target is None:
            if name == "ALL":
                pairs += _expand(p, name, ("DATABASE", None, None, None), [])
                continue
            cls = class_without_on(name, p.builder.in_master)
            if cls is None:
                raise p.error(f"{name} is not a server or database permission", at)
            pairs.append((name, (cls, None, None, None)))
            continue
        securable = _securable(p, target, grantor)
        pairs += _expand(p, name, securable, columns or target.columns, at)
    return pairs


def parse_grant(p: Parser) -> None:
    """``GRANT …``."""
    _statement(p, "GRANT")


def parse_deny(p: Parser) -> None:
    """``DENY …``."""
    _statement(p, "DENY")


def parse_revoke(p: Parser) -> None:
    """``REVOKE …``."""
    _statement(p, "REVOKE")


STATEMENTS = {"GRANT": parse_grant, "DENY": parse_deny, "REVOKE": parse_revoke}
