"""DENYs that take part of what a PostgreSQL predefined role gives (:mod:`mapper.translate.deny`
tells the rest of the DENY story; split out of it for length).

Some SQL Server permissions map to membership in one of PostgreSQL's own ``pg_*`` roles
(:mod:`mapper.privileges`: VIEW SERVER STATE, VIEW SERVER PERFORMANCE STATE and VIEW DATABASE
STATE → ``pg_read_all_stats``; ALTER ANY CONNECTION → ``pg_signal_backend``). In SQL Server a
DENY of any of those permissions, or of one covering it, wins over the GRANT ("Permissions
(Database Engine)", "Summary of the permission check algorithm": a required permission denied
directly or implicitly fails the check) — ``GRANT VIEW SERVER STATE`` with ``DENY VIEW
DATABASE STATE`` in one database still refuses that database's DMVs. PostgreSQL cannot take
anything away from a predefined role: membership gives all of it, cluster-wide. So a DENY
covering any permission a predefined role stands for (:data:`STANDS_FOR`) takes the
membership from every role it reaches, failing closed: the principal's own membership goes
(:func:`leave_predefined`, finding GB020), and a role it inherits one from is replaced by a
derived role without it (:func:`mapper.translate.deny_roles.derived_role`).

The DENY is ``mapped`` when it is a server DENY covering everything the predefined role stands
for (``DENY VIEW SERVER STATE`` to a member of a server role granted it), else
``approximated`` (GB040, :func:`cut`): the principal loses more than SQL Server denies it. A
GRANT fact left without its membership is re-disposed by
:func:`~mapper.translate.deny_owners.dispose_emptied` (``not_applicable`` when SQL Server
refuses it too, else ``approximated``: failed closed), as is a fixed server role's membership
(``##MS_ServerStateReader##``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from grantbridge.plural import plural
from mapper import findings
from mapper.plan import PgMembership, RoleKind
from mapper.privileges import TABLE
from mapper.translate.state import PlanState
from mssql_extract.snapshot import fold

if TYPE_CHECKING:
    from mapper.translate.deny import _Denial

Pair = tuple[str, str]


def _stands_for() -> Mapping[str, frozenset[Pair]]:
    found: dict[str, set[Pair]] = {}
    for pair, row in TABLE.items():
        if row.role:
            found.setdefault(row.role, set()).add(pair)
    return {role: frozenset(pairs) for role, pairs in sorted(found.items())}


#: Predefined role → the (class, permission) pairs whose mapping row gives membership in it.
STANDS_FOR: Mapping[str, frozenset[Pair]] = _stands_for()


def cut(pairs: Iterable[Pair], server: bool) -> tuple[frozenset[str], str | None]:
    """The predefined roles a DENY covering ``pairs`` takes part of, and why taking their
    membership takes more than SQL Server denies (None: the DENY covers all they stand for).
    ``server``: the DENY is on the server (its DATABASE pairs are denied in every database)."""
    covered = frozenset(pairs)
    roles = frozenset(r for r, stands in STANDS_FOR.items() if stands & covered)
    partial = sorted(r for r in roles if not server or not STANDS_FOR[r] <= covered)
    if not partial:
        return roles, None
    what = " and ".join(partial)
    return roles, (
        f"PostgreSQL cannot take part of what membership in {what} gives (it is all or nothing, "
        "and cluster-wide): the membership was taken from the roles this DENY reaches (fail "
        "closed), so they lose more than SQL Server denies them"
    )


def cut_by(denials: Iterable[_Denial], role: str) -> list[_Denial]:
    """The denials taking part of what membership in the predefined ``role`` gives."""
    return [d for d in denials if role in d.predefined]


def predefined(state: PlanState, membership: PgMembership) -> bool:
    """Whether a membership is in one of PostgreSQL's own roles (or an RDS stand-in)."""
    spec = state.roles.get(membership.role)
    return membership.inherit and (spec is None or spec.kind == RoleKind.PREDEFINED)


def leave_predefined(
    state: PlanState, membership: PgMembership, takers: list[_Denial]
) -> tuple[str, str]:
    """Take a principal's own membership in a predefined role that the DENYs take part of;
    finding GB020. Returns the finding's key and the text the DENYs' dispositions give. The
    caller notes the membership's facts for ``dispose_emptied``."""
    from mapper.translate.deny_roles import EVIDENCE_DENIES  # which imports this module

    role, member = membership.role, membership.member
    statements = [t.deny.statement for t in takers]
    evidence = "; ".join(statements[:EVIDENCE_DENIES])
    if len(statements) > EVIDENCE_DENIES:
        more = plural(len(statements) - EVIDENCE_DENIES, "more DENY")
        evidence += f"; and {more} (see the dispositions)"
    key = state.finding(findings.make(
        "GB020", evidence,
        f"{member!r} is no longer a member of {role!r}: the DENYs take part of what it gives, "
        "and PostgreSQL cannot take part of a predefined role away, so all of it goes (fail "
        "closed).",
        principal=", ".join(sorted({t.deny.grantee for t in takers}, key=fold)), securable=role,
        source_ref=takers[0].deny.ref,
    ))  # fmt: skip
    state.remove(membership.key)
    return key, f"{member!r} leaves {role!r} (fail closed: PostgreSQL cannot take part of it)"
