"""Findings on the grantee of a GRANT row: GB007 (WITH GRANT OPTION), GB008 (public), GB009
(guest), each saying what the plan really did for the row (:class:`Outcome`).

A finding's action is written once the fact's disposition is known: a row whose permission
has no PostgreSQL counterpart grants nothing (``not_applicable``), one whose privileges another
fact already granted adds nothing (``implied``); only a row that put new items in the plan was
"granted".

SQL Server makes a few grants to public itself, on every server or in every database
(:data:`SQL_SERVER_DEFAULTS`). When such a grant is also one the plan carries nothing for, its
GB008 is info, not medium: nobody chose it, nothing reaches the target, and a medium finding on
every real server would make ``--fail-on medium`` fail on all of them. It stays a finding (at
info) because DESIGN §3.3 reports every grant to public, and a reviewer checking "only the
default permissions are granted to public" (CIS Microsoft SQL Server benchmark 3.8) sees it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, NamedTuple

from mapper import findings
from mapper.plan import Severity
from mapper.quoting import quote_ident
from mapper.translate.grants import grant_option_finding
from mapper.translate.guest import guest_finding
from mapper.translate.public import public_role_reason
from mapper.translate.state import PlanState
from mssql_extract.snapshot import Database, Permission, PermissionState, fold


class Outcome(NamedTuple):
    """What the plan did for a GRANT row: ``granted`` (new plan items), ``implied`` (another
    fact granted the same already) or ``nothing`` (no plan item, for ``reason``)."""

    kind: Literal["granted", "implied", "nothing"]
    reason: str = ""


GRANTED = Outcome("granted")
IMPLIED = Outcome("implied")


def nothing(reason: str) -> Outcome:
    """The outcome of a row the plan carries nothing for."""
    return Outcome("nothing", reason)


#: The grants to public SQL Server makes itself: (securable class, folded securable name,
#: permission). Sources:
#: - Server: "By default, the VIEW ANY DATABASE permission is granted to the public role"
#:   ("VIEW ANY DATABASE Permission",
#:   https://learn.microsoft.com/previous-versions/sql/sql-server-2008/ms189077(v=sql.100));
#:   "After setup completes the PUBLIC role has CONNECT permission on all the endpoints except
#:   the Dedicated Admin Connection" ("Server public Permissions",
#:   https://learn.microsoft.com/sql/relational-databases/policy-based-management/server-public-permissions),
#:   the endpoints being TSQL Local Machine, TSQL Named Pipes, TSQL Default TCP and TSQL Default
#:   VIA (CIS Microsoft SQL Server benchmark 3.8, "Default Value"). Both are rows of
#:   reference/mssql/fixed_server_roles.csv ("GRANT (default, changeable)", from SQL Server
#:   2008 R2 "Permissions of Fixed Server Roles", ms175892).
#: - Database: public holds VIEW ANY COLUMN MASTER KEY DEFINITION and VIEW ANY COLUMN
#:   ENCRYPTION KEY DEFINITION in every database from SQL Server 2016 (Always Encrypted):
#:   reference/mssql/fixed_database_roles.csv, "GRANT (default, revocable)", from
#:   database-level-roles.md; SSDT scripts every database with these two GRANTs to PUBLIC.
SQL_SERVER_DEFAULTS = frozenset({
    ("SERVER", "", "VIEW ANY DATABASE"),
    *(("ENDPOINT", fold(name), "CONNECT") for name in (
        "TSQL Local Machine", "TSQL Named Pipes", "TSQL Default TCP", "TSQL Default VIA",
    )),
    ("DATABASE", "", "VIEW ANY COLUMN MASTER KEY DEFINITION"),
    ("DATABASE", "", "VIEW ANY COLUMN ENCRYPTION KEY DEFINITION"),
})  # fmt: skip


def is_sql_server_default(perm: Permission) -> bool:
    """Whether the row is one of the grants to public SQL Server makes itself."""
    return (
        fold(perm.grantee) == "public"
        and perm.state == PermissionState.GRANT
        and perm.column_name is None
        and (perm.securable_class, fold(perm.object_name or ""), perm.permission)
        in SQL_SERVER_DEFAULTS
    )


def grant_findings(
    state: PlanState, db: Database | None, perm: Permission, role: str, where: str,
    outcome: Outcome,
) -> list[str]:  # fmt: skip
    """GB007, GB008 and GB009 for a GRANT row (their keys), with ``outcome`` as the action.

    ``where`` is the securable as the evidence names it (``DATABASE``, ``OBJECT dbo Orders``);
    the findings name a database-wide securable with its database, so that the rows of several
    databases can be told apart.
    """
    grantee = fold(perm.grantee)
    option = perm.state == PermissionState.GRANT_WITH_GRANT_OPTION
    if not option and grantee not in ("guest", "public"):
        return []  # most rows: worked out without the texts below (issue 7)
    ref = str(perm.source_ref)
    securable = f"DATABASE {db.name}" if db is not None and where == "DATABASE" else where
    found: list[str] = []
    evidence = f"GRANT {perm.permission} ON {where} TO [{perm.grantee}]"
    if option:
        action = _grant_option_action(outcome, role)
        found.append(grant_option_finding(state, perm.grantee, securable, ref, action))
    if db is not None and grantee == "guest":
        instead = None if outcome.kind == "granted" else _not_granted(outcome, role)
        found.append(guest_finding(state, db, evidence, ref, securable, action=instead))
    elif grantee == "public":
        found.append(_public_finding(state, db, perm, role, evidence, securable, outcome))
    return found


def _public_finding(
    state: PlanState, db: Database | None, perm: Permission, role: str, evidence: str,
    securable: str, outcome: Outcome,
) -> str:  # fmt: skip
    """GB008; info for a SQL Server default the plan carries nothing for (module docstring)."""
    severity = None
    if outcome.kind == "granted":
        action = public_action(state, db, role)
    else:
        action = _not_granted(outcome, role)
    if outcome.kind == "nothing" and is_sql_server_default(perm):
        where = "on every server" if db is None else "in every database"
        action += f" SQL Server grants this to public by default {where}; reported for information."
        severity = Severity.INFO
    finding = findings.make(
        "GB008", evidence, action, severity=severity, principal=perm.grantee,
        securable=securable, source_ref=str(perm.source_ref),
    )  # fmt: skip
    return state.finding(finding)


def _grant_option_action(outcome: Outcome, role: str) -> str:
    if outcome.kind == "granted":
        return "Granted without the grant option."
    return f"{_not_granted(outcome, role)} The grant option is not carried over."


def _not_granted(outcome: Outcome, role: str) -> str:
    """The action of a row that put nothing new in the plan (``role``: its grantee's role)."""
    if outcome.kind == "implied":
        grantee = role if role == "PUBLIC" else repr(role)
        return (
            f"Nothing new granted: the plan already grants this to {grantee} for another "
            "source fact."
        )
    reason = outcome.reason.rstrip(".") or "no PostgreSQL equivalent is needed"
    first, _, rest = reason.partition(" ")
    # a sentence's first word, not PUBLIC, PostgreSQL, Service Broker or another name
    if first[:1].isupper() and first[1:].islower() and not rest[:1].isupper():
        reason = reason[0].lower() + reason[1:]
    return f"Nothing granted: {reason}."


def public_action(state: PlanState, db: Database | None, role: str) -> str:
    """What a grant to public became: PUBLIC, or the database's public role (schema mode)."""
    if role == "PUBLIC" or db is None:
        return "Granted to PUBLIC, as in the source."
    guest = " and its guest role" if state.role_of(db.name, "guest") else ""
    why = public_role_reason(state, db)
    return (
        f"Granted to {role!r}, a NOLOGIN role held by every user of [{db.name}]{guest}, not "
        f"to PUBLIC: {why}. A role created later for [{db.name}] needs GRANT {quote_ident(role)} TO <role> "
        "to get public's access."
    )


#: The rules whose action :func:`grant_findings` writes from the row's outcome.
_GRANTEE_RULES = frozenset({"GB007", "GB008", "GB009"})


def restate_inherited(state: PlanState, keys: Iterable[str], covering: Iterable[str]) -> None:
    """Rewrite the GB007 / GB008 / GB009 actions among a fact's findings (``keys``) once
    :func:`mapper.translate.implied.prune_implied` has removed every grant of the fact: its
    role inherits them through role membership (from the ``covering`` grants), so nothing was
    granted to it."""
    inherited = ", ".join(sorted(set(covering)))
    for key in keys:
        finding = state.findings.get(key)
        if finding is None or finding.rule_id not in _GRANTEE_RULES:
            continue
        action = (
            "Nothing granted of its own: the grantee's role inherits this through role "
            f"membership ({inherited})."
        )
        if finding.rule_id == "GB007":
            action += " The grant option is not carried over."
        state.findings[key] = finding.model_copy(update={"action": action})
