"""DENYs that take a PostgreSQL role attribute (:mod:`mapper.translate.deny` tells the rest of
the DENY story; :mod:`mapper.translate.deny_predefined` does the same for predefined roles).

Some SQL Server permissions map to a role *attribute*, not to a grant (:data:`STANDS_FOR`):
CREATE ANY DATABASE → ``CREATEDB`` (:mod:`mapper.privileges`), and in faithful mode the
principal administration permissions → ``CREATEROLE`` (ALTER ANY LOGIN, ALTER ANY USER …:
:mod:`mapper.translate.overgrants`), which a faithful CONTROL SERVER holder on plain PostgreSQL
gets too, with ``CREATEDB`` (:data:`mapper.platforms.SUPERUSER_ATTRIBUTES`). In SQL Server a DENY
of such a permission, or of one covering it, wins over the GRANT ("Permissions (Database
Engine)", "Summary of the permission check algorithm"), and a CONTROL SERVER holder is subject
to DENY while a sysadmin member is not (reference/mssql/fixed_server_roles.csv, sysadmin: "role
membership is not equal to CONTROL SERVER: sysadmin members cannot be denied permissions"; the
planner never reaches them: :class:`~mapper.translate.deny_reach.Holders`). PostgreSQL has no
DENY and cannot take part of an attribute away, so a DENY covering any permission an attribute
stands for takes the attribute, failing closed (so does a DENY of IMPERSONATE for CREATEROLE,
which before PostgreSQL 16 can make itself a member of any role: :data:`UNDOES`):

* from a role the DENY reaches (:func:`take_own`, finding GB020). Each GRANT fact that gave it
  and gives nothing else now is re-disposed by
  :func:`~mapper.translate.deny_owners.dispose_emptied` (``not_applicable`` when SQL Server
  refuses it too, else ``approximated``); one that keeps other items (faithful CONTROL SERVER's
  memberships and CONNECTs) says what went, ``approximated`` when the attribute stood for more
  than the DENY covers;
* through ``SET ROLE``. PostgreSQL does not inherit attributes through membership ("Role
  Attributes": CREATEDB and CREATEROLE are never inherited), but a member may ``SET ROLE`` to a
  role it belongs to and use that role's attributes there. So a member denied the permission
  is moved to a derived role without the attribute, as for any grant a DENY takes
  (:func:`taken`, :func:`mapper.translate.deny_roles.derived_role`); a derived role keeps the
  attributes no DENY takes from it.

The DENY is ``mapped`` when it is a server DENY covering everything the attribute stands for
(``DENY CREATE ANY DATABASE``: CREATEDB stands for nothing else), else ``approximated`` (GB040,
:func:`why`): ``CREATEROLE`` administers every role, logins and database users alike, so a DENY
of ALTER ANY LOGIN takes more than SQL Server denies. On Aurora, faithful CONTROL SERVER is
``rds_superuser``, which creates roles and databases (reference/mssql/rds_postgres_roles.csv):
:data:`mapper.translate.deny_predefined.INCLUDES` lets such a DENY take that membership.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from grantbridge.plural import plural
from mapper import findings
from mapper.plan import Disposition
from mapper.privileges import TABLE
from mapper.translate.overgrants import PERMISSION_RULES
from mapper.translate.state import PlanState, RoleSpec
from mssql_extract.snapshot import fold

if TYPE_CHECKING:
    from mapper.translate.deny import _Denial
    from mapper.translate.deny_owners import Owners
    from mapper.translate.deny_reach import Holders

Pair = tuple[str, str]
#: Statements quoted in a finding's evidence (as mapper.translate.deny_roles.EVIDENCE_DENIES)
_EVIDENCE = 5


def _stands_for() -> Mapping[str, frozenset[Pair]]:
    found: dict[str, set[Pair]] = {}
    for pair, row in TABLE.items():
        if row.attribute:
            found.setdefault(row.attribute, set()).add(pair)
        # an over-grant without a rule of its own is "admin", as permission_overgrant reads it
        elif row.outcome == "overgrant" and PERMISSION_RULES.get(pair, ("", "admin"))[1] == "admin":
            found.setdefault("CREATEROLE", set()).add(pair)  # overgrants._admin_full
    return {attribute: frozenset(pairs) for attribute, pairs in sorted(found.items())}


#: Role attribute → the (class, permission) pairs the plan gives it for (CONTROL SERVER gives
#: both, and covers every pair).
STANDS_FOR: Mapping[str, frozenset[Pair]] = _stands_for()
#: Role attribute → the pairs a DENY of which its holder could undo, beyond those it stands for.
#: Before PostgreSQL 16, "a role with CREATEROLE privilege can alter and drop other roles, too,
#: as well as grant or revoke membership in them" (PostgreSQL 15 documentation, "Role
#: Attributes"; superuser roles aside): its holder can make itself a member of any login's or
#: user's role and SET ROLE to it, which is what IMPERSONATE gives in SQL Server (EXECUTE AS).
#: PostgreSQL 16 requires ADMIN OPTION on the role for that (release notes: "Restrict the
#: privileges of CREATEROLE … Such changes, including adding members, now require the role
#: requesting the change to have ADMIN OPTION"), but the plan does not know the target's
#: version: a DENY of IMPERSONATE takes CREATEROLE (fail closed, GB040 says why).
UNDOES: Mapping[str, frozenset[Pair]] = {
    "CREATEROLE": frozenset({("LOGIN", "IMPERSONATE"), ("USER", "IMPERSONATE"),
                             ("SERVER", "IMPERSONATE ANY LOGIN")}),
}  # fmt: skip
#: Role attribute → every pair a DENY of which takes it.
REACHES: Mapping[str, frozenset[Pair]] = {
    attribute: pairs | UNDOES.get(attribute, frozenset()) for attribute, pairs in STANDS_FOR.items()
}
_ANY: frozenset[Pair] = frozenset().union(*REACHES.values())


def covered(pairs: Iterable[Pair]) -> frozenset[Pair]:
    """The pairs among those a DENY covers that some attribute stands for (most DENYs: none)."""
    return _ANY.intersection(pairs)


def held_pairs(state: PlanState) -> frozenset[Pair]:
    """The pairs standing for an attribute some role of the plan holds."""
    held = {a for spec in state.roles.values() for a in spec.attributes}
    return frozenset().union(*(REACHES.get(a, frozenset()) for a in held))


def taken(state: PlanState, role: str, denials: Iterable[_Denial]) -> dict[str, list[_Denial]]:
    """The attributes of ``role`` the denials take part of, each with those denials (noted on
    them for :func:`why`). Empty for a role without attributes: most roles."""
    spec = state.roles.get(role)
    if spec is None or not spec.attributes:
        return {}
    found: dict[str, list[_Denial]] = {}
    for denial in denials:
        for attribute in sorted(spec.attributes):
            if denial.attributes & REACHES[attribute]:
                found.setdefault(attribute, []).append(denial)
                denial.took.add(attribute)
    return found


def why(denial: _Denial) -> str | None:
    """Why the attributes a DENY took take more than SQL Server denies (None: they do not)."""
    partial = sorted(a for a in denial.took if _partial(denial, a))
    if not partial:
        return None
    what = "; ".join(f"{a} stands for {stands_for(a)}" for a in partial)
    text = (
        f"PostgreSQL cannot take part of a role attribute away ({what}; it is all or nothing, "
        "and cluster-wide): it was taken from the roles this DENY reaches (fail closed), so "
        "they lose more than SQL Server denies them"
    )
    undone = sorted(a for a in partial if _undoes(denial, a))
    return f"{text}. {_UNDONE}" if undone else text


#: Why a DENY of IMPERSONATE takes CREATEROLE (:data:`UNDOES`), in the findings' words.
_UNDONE = (
    "Before PostgreSQL 16 a CREATEROLE role can make itself a member of any non-superuser role "
    "and SET ROLE to it, so the DENY of IMPERSONATE would not hold; PostgreSQL 16 and later "
    "require ADMIN OPTION on the role for that, and the plan does not know the target's version"
)


def _undoes(denial: _Denial, attribute: str) -> bool:
    """Whether the DENY takes the attribute for a pair its holder could undo, not one it
    stands for (:data:`UNDOES`)."""
    return bool(denial.attributes & UNDOES.get(attribute, frozenset()))


def stands_for(attribute: str) -> str:
    """The permissions an attribute stands for, in words: ``A, B and C``."""
    *rest, last = sorted({p for _, p in STANDS_FOR[attribute]})
    return f"{', '.join(rest)} and {last}" if rest else last


def _partial(denial: _Denial, attribute: str) -> bool:
    """Whether the DENY covers less than all the attribute stands for (a database's DENY covers
    its own database only; the attribute is cluster-wide)."""
    return denial.deny.db is not None or not STANDS_FOR[attribute] <= denial.attributes


class Taken:
    """What :func:`take_own` did, per DENY fact: the roles it touched, its findings, and what
    it took in words (the DENY's disposition gives them)."""

    def __init__(self) -> None:
        self.touched: dict[str, set[str]] = {}
        self.found: dict[str, set[str]] = {}
        self.left: dict[str, set[str]] = {}

    def add_to(self, *into: dict[str, set[str]]) -> None:
        """Add what it did to restructuring's own: touched, found, left (in that order)."""
        for done, dicts in zip((self.touched, self.found, self.left), into, strict=True):
            for fact, keys in done.items():
                dicts.setdefault(fact, set()).update(keys)


def take_own(
    state: PlanState, denials: Iterable[_Denial], holders: Holders, owners: Owners
) -> Taken:
    """Take from each role the DENYs reach the attributes they take part of (module docstring).
    ``owners`` notes the facts left with nothing for ``dispose_emptied``."""
    done, reach = Taken(), dict[str, list["_Denial"]]()
    for denial in sorted(denials, key=lambda d: d.deny.fact):
        if denial.attributes:  # few DENYs cover an attribute's permissions
            for role in holders.affected(denial.deny):
                reach.setdefault(role, []).append(denial)
    for role, reaching in sorted(reach.items()):
        for attribute, takers in taken(state, role, reaching).items():
            key = _take(state, state.roles[role], attribute, takers, owners)
            text = f"{role!r} loses the {attribute} attribute"
            for denial in takers:
                fact = denial.deny.fact
                done.touched.setdefault(fact, set()).add(f"role:{role}")
                done.found.setdefault(fact, set()).add(key)
                done.left.setdefault(fact, set()).add(text)
    return done


def _take(
    state: PlanState, spec: RoleSpec, attribute: str, takers: list[_Denial], owners: Owners
) -> str:
    """Take one attribute from a role: finding GB020 (its key), and the facts that gave it
    re-disposed (module docstring)."""
    statements = [t.deny.statement for t in takers]
    evidence = "; ".join(statements[:_EVIDENCE])
    if len(statements) > _EVIDENCE:
        evidence += (
            f"; and {plural(len(statements) - _EVIDENCE, 'more DENY')} (see the dispositions)"
        )
    spec.attributes.discard(attribute)
    partial = any(_partial(t, attribute) for t in takers)
    so = (
        f"the DENYs take part of what it stands for ({stands_for(attribute)}), and PostgreSQL "
        "cannot take part of an attribute away, so all of it goes (fail closed)" if partial
        else f"the DENYs take what it stands for ({stands_for(attribute)}), as SQL Server does"
    )  # fmt: skip
    if any(_undoes(t, attribute) for t in takers):
        so += f". {_UNDONE}"
    key = state.finding(findings.make(
        "GB020", evidence, f"{spec.name!r} no longer has the {attribute} attribute: {so}.",
        principal=", ".join(sorted({t.deny.grantee for t in takers}, key=fold)),
        securable=attribute, source_ref=takers[0].deny.ref,
    ))  # fmt: skip
    others = {f for a in spec.attributes for f in spec.grounds.get(a, ())}
    for fact in sorted(spec.grounds.pop(attribute, set())):
        old = state.dispositions.get(fact)
        if old is None:
            continue
        if fact in others or any(k in state.items for k in old.items):
            _partly_taken(state, fact, attribute, statements, partial)
        else:
            owners.taken_facts((fact,), takers)
    return key


def _partly_taken(
    state: PlanState, fact: str, attribute: str, statements: list[str], partial: bool
) -> None:
    """A GRANT fact that keeps other items or attributes (faithful CONTROL SERVER) says what
    went; ``approximated`` when the attribute stood for more than the DENYs cover."""
    old = state.dispositions[fact]
    update: dict[str, object] = {
        "reason": f"{old.reason.rstrip('.')}; DENY restructuring took the {attribute} attribute "
        f"({'; '.join(statements)})"
        + (": PostgreSQL cannot take part of an attribute away (fail closed)" if partial else "")
    }
    if partial:
        update["disposition"] = Disposition.APPROXIMATED
    state.dispositions[fact] = old.model_copy(update=update)
