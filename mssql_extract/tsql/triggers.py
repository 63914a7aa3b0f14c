"""Triggers in scripts: not securables, read whole and kept as skipped items, quiet but for two
kinds that act on security, which are reported (GB045) as nothing of them is migrated:

* a LOGON trigger decides who may connect: "You can use logon triggers to audit and control
  server sessions, such as by tracking login activity, restricting logins to SQL Server, or
  limiting the number of sessions for a specific login" (Logon triggers, SQL Server docs); its
  ROLLBACK refuses the login. SSMS's "Script Server Trigger as" and dbatools'
  Export-DbaInstance (SMO) write it as ``CREATE TRIGGER t ON ALL SERVER [WITH EXECUTE AS …] FOR
  LOGON AS …``;
* a DDL trigger (``ON DATABASE`` or ``ON ALL SERVER``, firing on ``CREATE_TABLE``,
  ``DDL_DATABASE_LEVEL_EVENTS`` …) whose body grants, denies or revokes, or changes a role's
  members or an owner, in its own statements or in dynamic SQL it builds (``SET @sql = 'GRANT
  SELECT ON ' + …; EXEC (@sql)``): the "grant on every new table" trigger. What it did to the
  objects of the snapshot is in the snapshot; what it would do to objects created after the
  migration is not, and PostgreSQL's counterpart is ``ALTER DEFAULT PRIVILEGES`` (or an event
  trigger), which the plan writes only for what it can read.
"""

from __future__ import annotations

import re

from mssql_extract.tsql.cursor import Parser
from mssql_extract.tsql.tokens import STRINGS

_TRIGGER = "trigger (not a securable)"
_LOGON = (
    "LOGON trigger: it runs at each login and may refuse it (ROLLBACK), a control over who "
    "connects that grantbridge does not read nor migrate; rebuild what it enforces on the "
    "PostgreSQL side"
)
#: The statements of a trigger's body that change security: in dynamic SQL's text, or as the
#: body's words (upper-cased, three at a time: ``ALTER SERVER ROLE``).
_SECURITY = re.compile(
    r"\b(GRANT|DENY|REVOKE|ALTER\s+(?:SERVER\s+)?ROLE|ALTER\s+AUTHORIZATION|sp_(?:add|drop)"
    r"(?:srv)?rolemember|sp_changeobjectowner)\b",
    re.IGNORECASE,
)


def create_trigger(p: Parser) -> None:
    """``CREATE | ALTER | CREATE OR ALTER TRIGGER``: the whole batch is recorded as skipped, and
    reported for a LOGON trigger and a DDL trigger that changes security (the module
    docstring)."""
    reason = _reason(p)
    p.skip_to_batch_end()
    p.builder.skip("statement", reason, p.statement_text(), p.ref())


def _reason(p: Parser) -> str:
    """Why the trigger whose name is next is skipped: its header is read up to the ``AS`` that
    starts its body (not ``WITH EXECUTE AS``), then its body."""
    k, scope, events = 0, "", []
    while p.tok(k) is not None and (p.word(k) != "AS" or p.word(k - 1) == "EXECUTE"):
        if p.word(k) == "ON" and p.word(k + 1) in ("DATABASE", "ALL"):
            scope = "ON ALL SERVER" if p.word(k + 1) == "ALL" else "ON DATABASE"
        if p.word(k) in ("FOR", "AFTER"):
            events = _events(p, k + 1)
        k += 1
    if scope == "ON ALL SERVER" and "LOGON" in events:
        return _LOGON
    if not scope:  # a table's or view's DML trigger
        return _TRIGGER
    found = _changes(p, k + 1)
    if not found:
        return _TRIGGER
    return (
        f"DDL trigger {scope} FOR {', '.join(events) or '…'} that runs {found} when it fires "
        "(a GRANT on each new object, say): grantbridge does not replay it, so what it would do to "
        "objects created after the migration is in no plan; on PostgreSQL, ALTER DEFAULT "
        "PRIVILEGES grants on objects created later"
    )


def _events(p: Parser, k: int) -> list[str]:
    """The event names from ``k`` to the body's ``AS`` (``CREATE_TABLE, ALTER_TABLE``)."""
    events = []
    while p.tok(k) is not None and p.word(k) != "AS":
        if p.word(k):
            events.append(p.word(k))
        k += 1
    return events


def _changes(p: Parser, k: int) -> str:
    """The first security statement of the body from ``k`` on, as its words (``GRANT``,
    ``ALTER ROLE``, ``SP_ADDROLEMEMBER``), or ``""`` for none."""
    while (token := p.tok(k)) is not None:
        words = " ".join((p.word(k), p.word(k + 1), p.word(k + 2)))
        found = _SECURITY.match(words) if p.word(k) else None
        if found is None and token.token_type in STRINGS:
            found = _SECURITY.search(token.text)
        if found is not None:
            return " ".join(found.group(1).split()).upper()
        k += 1
    return ""
