"""Permissions a statement removes as a side effect, kept as a skipped entry at that statement.

Giving a securable a new owner drops the permissions on it ("If the target entity is not a
database and the entity is being transferred to a new owner, all permissions on the target will
be dropped", and for a schema those on the objects it holds without an owner of their own:
https://learn.microsoft.com/sql/t-sql/statements/alter-authorization-transact-sql, Remarks),
and so does moving an object to another schema ("all permissions associated with the securable
will be dropped when the securable is moved to the new schema":
https://learn.microsoft.com/sql/t-sql/statements/alter-schema-transact-sql, Remarks). The
replay drops them as the server does; the GRANT and DENY statements it dropped would then be in
no disposition and no finding. So the statement that dropped them is kept as a skipped entry
whose text lists them, each with its place, and the plan reports it (GB045).

A DROP of a principal, object or schema removes its permissions too, but that is what the
statement says, as a REVOKE is: it is not reported (nor is a DENY replacing a GRANT). A
principal is a securable as well: ``GRANT IMPERSONATE ON USER::x TO y``, ``GRANT ALTER ON
ROLE::x``, ``GRANT CONTROL ON LOGIN::x`` are permissions of other principals, which stay, and
SQL Server drops them with ``x`` (there is no securable left to hold them). Nothing in a
``DROP USER x`` names them, so they are listed (:func:`principal`).
"""

from __future__ import annotations

from mssql_extract.snapshot import PermissionState, SourceRef
from mssql_extract.tsql import branches, loops
from mssql_extract.tsql.cursor import Parser
from mssql_extract.tsql.state import PermRow, Securable

#: How the reason of such an entry begins (the mapper's GB045 action tells it by this).
DROPPED = "permissions dropped:"


def note(p: Parser, rows: list[PermRow], why: str, ref: SourceRef) -> None:
    """Keep the statement at ``ref`` as skipped, listing the permission ``rows`` it dropped
    (nothing when it dropped none). ``why``: what the statement did to drop them."""
    if not rows:
        return
    reason = f"{DROPPED} {why}, so these earlier statements are not in the plan"
    # the IF's note is not written then, nor is the statement counted in its loop otherwise
    reason += branches.in_branch(p) + loops.in_loop(p)
    p.builder.skip("statement", reason, "; ".join(statements(rows, ref.origin)), ref)


def statements(rows: list[PermRow], origin: str) -> list[str]:
    """The GRANT and DENY statements ``rows`` came from, in script order, each with its place
    (its line in ``origin``, the dropping statement's file, else its file and line):
    ``GRANT INSERT, UPDATE ON OBJECT::[s].[t] TO [r] (line 14)``."""
    grouped: dict[tuple[SourceRef, PermissionState, Securable, str], list[str]] = {}
    for row in rows:
        grouped.setdefault((row.ref, row.state, row.securable, row.grantee), []).append(
            row.permission
        )
    placed = sorted(
        (
            (ref.origin != origin, ref.origin, ref.line or 0, ref.column or 0),
            _statement(state, sec, grantee, perms, _place(ref, origin)),
        )
        for (ref, state, sec, grantee), perms in grouped.items()
    )
    return [text for _, text in placed]


def _place(ref: SourceRef, origin: str) -> str:
    if ref.origin == origin and ref.line is not None:
        return f"line {ref.line}"
    return str(ref)


def _statement(
    state: PermissionState, securable: Securable, grantee: str, perms: list[str], place: str
) -> str:
    cls, schema, name, column = securable
    where = f"{cls}::" + ".".join(f"[{part}]" for part in (schema, name) if part is not None)
    if column is not None:
        where += f" ([{column}])"
    verb = "DENY" if state == PermissionState.DENY else "GRANT"
    option = " WITH GRANT OPTION" if state == PermissionState.GRANT_WITH_GRANT_OPTION else ""
    return f"{verb} {', '.join(sorted(perms))} ON {where} TO [{grantee}]{option} ({place})"


def principal(p: Parser, rows: list[PermRow], statement: str, name: str, ref: SourceRef) -> None:
    """List the permissions on a principal its DROP (``statement``: ``DROP USER``,
    ``sp_droplogin`` …) took along with it: those granted on it to others."""
    note(p, rows, f"{statement} [{name}] drops the principal they are granted on", ref)
