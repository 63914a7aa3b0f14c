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
``approximated`` (GB040, :func:`why`, naming only the roles it took): the principal loses more
than SQL Server denies it. A
GRANT fact left without its membership is re-disposed by
:func:`~mapper.translate.deny_owners.dispose_emptied` (``not_applicable`` when SQL Server
refuses it too, else ``approximated``: failed closed), as is a fixed server role's membership
(``##MS_ServerStateReader##``); one that keeps other items (faithful CONTROL SERVER's CONNECTs)
becomes ``approximated``, saying what went.

Two more ways in. Faithful CONTROL SERVER gives roles that *include* these (:data:`INCLUDES`:
``pg_monitor``, ``rds_superuser``), and its holder is subject to DENY, unlike a sysadmin member
(reference/mssql/fixed_server_roles.csv, sysadmin: "role membership is not equal to CONTROL
SERVER: sysadmin members cannot be denied permissions"): a DENY taking part of an included role
(or of the CREATEDB and CREATEROLE attributes ``rds_superuser`` stands for on Aurora:
:mod:`mapper.translate.deny_attributes`; CREATEROLE's by a DENY of IMPERSONATE too) takes the
including one, always ``approximated`` (it gives more than any DENY short of CONTROL
SERVER covers). And a DENY shutting principals out of a database
(:mod:`mapper.translate.deny_shut`) refuses its DMVs too: it takes ``pg_read_all_stats`` where
the membership rests on database grants alone (VIEW DATABASE STATE elsewhere; :func:`cut_by`,
``scoped``), not where it rests on VIEW SERVER STATE, whose server DMVs show every database's
sessions in SQL Server whatever the login's CONNECT.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from grantbridge.plural import plural
from mapper import findings
from mapper.plan import Disposition, PgMembership, RoleKind
from mapper.privileges import TABLE
from mapper.translate import deny_attributes
from mapper.translate.state import SERVER, PlanState
from mssql_extract.snapshot import fold

if TYPE_CHECKING:
    from mapper.translate.deny import _Denial

Pair = tuple[str, str]


#: Roles faithful CONTROL SERVER gives (mapper.translate.overgrants, mapper.platforms) → the
#: predefined roles of the mapping table, and the role attributes
#: (mapper.translate.deny_attributes), they include. pg_monitor is "member of
#: pg_read_all_settings, pg_read_all_stats, pg_stat_scan_tables" (reference/mssql/
#: pg_predefined_roles.csv); rds_superuser "allows: …; create roles and grant privileges; create
#: databases; … see all connections in pg_stat_activity and pg_cancel_backend/
#: pg_terminate_backend any connection" (reference/mssql/rds_postgres_roles.csv).
INCLUDES: Mapping[str, frozenset[str]] = {
    "pg_monitor": frozenset({"pg_read_all_stats"}),
    "rds_superuser": frozenset(
        {"pg_read_all_stats", "pg_signal_backend", "CREATEDB", "CREATEROLE"}
    ),
}
#: What only CONTROL SERVER (faithful) gives in full: an including role stands for it too.
_CONTROL_SERVER: Pair = ("SERVER", "CONTROL SERVER")


def _stands_for() -> Mapping[str, frozenset[Pair]]:
    found: dict[str, set[Pair]] = {}
    for pair, row in TABLE.items():
        if row.role:
            found.setdefault(row.role, set()).add(pair)
    attributes = deny_attributes.REACHES  # CREATEROLE: IMPERSONATE too (deny_attributes.UNDOES)
    for role, included in INCLUDES.items():
        found[role] = {_CONTROL_SERVER}.union(*(found.get(r) or attributes[r] for r in included))
    return {role: frozenset(pairs) for role, pairs in sorted(found.items())}


#: Predefined role → the (class, permission) pairs whose mapping row gives membership in it
#: (an including role: those of the roles it includes, and CONTROL SERVER).
STANDS_FOR: Mapping[str, frozenset[Pair]] = _stands_for()
#: The predefined roles standing for a database permission (VIEW DATABASE STATE): a DENY
#: shutting principals out of a database takes them where they rest on database grants alone
#: (an including role rests on CONTROL SERVER, a server fact).
SCOPED: frozenset[str] = frozenset(
    role for role, pairs in STANDS_FOR.items()
    if role not in INCLUDES and any(c == "DATABASE" for c, _ in pairs)
)  # fmt: skip


def cut(
    state: PlanState, pairs: Iterable[Pair], server: bool
) -> tuple[frozenset[str], frozenset[str]]:
    """The predefined roles a DENY covering ``pairs`` takes part of, and those of them whose
    membership takes more than SQL Server denies (the DENY covers less than all they stand
    for). ``server``: the DENY is on the server (its DATABASE pairs are denied in every
    database). An including role counts only when the plan gives it to someone: no one else
    can lose it."""
    covered = frozenset(pairs)
    roles = frozenset(
        r for r, stands in STANDS_FOR.items()
        if stands & covered and (r not in INCLUDES or _held(state, r))
    )  # fmt: skip
    return roles, frozenset(r for r in roles if not server or not STANDS_FOR[r] <= covered)


def why(denial: _Denial) -> str | None:
    """Why the memberships a DENY took take more than SQL Server denies (None: they do not).
    Only the roles it took from a role it reaches (:func:`cut_by` notes them) are named: a
    DENY that may take ``pg_monitor`` from a CONTROL SERVER holder names it only when one it
    reaches lost it, not because another principal holds it."""
    found = []
    scoped = sorted(r for r in denial.cut if r in denial.scoped and r not in denial.predefined)
    if scoped:
        found.append(
            "there SQL Server refuses them the database's DMVs (VIEW DATABASE STATE) too, and "
            f"PostgreSQL cannot take part of {' and '.join(scoped)}, which reads every "
            "database's statistics and query texts: the membership was taken (fail closed) "
            "where it rests on VIEW DATABASE STATE granted in another database, and kept where "
            "it rests on VIEW SERVER STATE, whose server DMVs show every database's sessions in "
            "SQL Server too"
        )
    partial = sorted(denial.cut & denial.partial)
    if partial:
        what = " and ".join(f"{r} (it includes {_listed(INCLUDES[r])})" if r in INCLUDES else r
                            for r in partial)  # fmt: skip
        found.append(
            f"PostgreSQL cannot take part of what membership in {what} gives (it is all or "
            "nothing, and cluster-wide): the membership was taken from the roles this DENY "
            "reaches (fail closed), so they lose more than SQL Server denies them"
        )
    return "; ".join(found) or None


def _listed(names: Iterable[str]) -> str:
    """``a``, ``a and b``, ``a, b and c`` (sorted)."""
    *rest, last = sorted(names)
    return f"{', '.join(rest)} and {last}" if rest else last


def _held(state: PlanState, role: str) -> bool:
    """Whether any role is a member of ``role`` (asked only of a DENY of a permission an
    including role stands for: a few per plan)."""
    return any(m.role == role for by in state.by_member.values() for m in by.values())


def cut_by(state: PlanState, denials: Iterable[_Denial], membership: PgMembership) -> list[_Denial]:
    """The denials taking part of what a membership in a predefined role gives: those covering
    part of what it stands for, and those shutting its member out of a database (``scoped``)
    when it rests on database grants alone (no server fact: module docstring). Every caller
    takes the membership when some are found: each notes the role as one it took."""
    role, found, rests = membership.role, [], None
    for denial in denials:
        if role in denial.scoped and role not in denial.predefined:
            if rests is None:
                prefix = f"{SERVER}/"
                rests = not any(f.startswith(prefix) for f in state.facts_of(membership.key))
            if not rests:
                continue
        elif role not in denial.predefined:
            continue
        found.append(denial)
        denial.cut.add(role)  # for why(): taken whenever cut_by finds it
    return found


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
    _partly_taken(state, membership, statements)
    state.remove(membership.key)
    return key, f"{member!r} leaves {role!r} (fail closed: PostgreSQL cannot take part of it)"


def _partly_taken(state: PlanState, membership: PgMembership, statements: list[str]) -> None:
    """A GRANT fact keeping other items (faithful CONTROL SERVER: CONNECTs, pg_signal_backend)
    becomes ``approximated``, saying what went (one left with none is re-disposed by
    :func:`~mapper.translate.deny_owners.dispose_emptied`)."""
    for fact in state.facts_of(membership.key):
        old = state.dispositions.get(fact)
        if old is None or not any(k != membership.key and k in state.items for k in old.items):
            continue
        why = (f"{old.reason.rstrip('.')}; DENY restructuring took its membership in "
               f"{membership.role} ({'; '.join(statements)}): PostgreSQL cannot take part of "
               "a predefined role away (fail closed)")  # fmt: skip
        state.dispositions[fact] = old.model_copy(
            update={"disposition": Disposition.APPROXIMATED, "reason": why}
        )
