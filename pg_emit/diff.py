"""Two plans compared: what a pull request changes in the target's security.

:func:`diff_plans` compares item by item on meaning, not on bookkeeping: two grants are the same
when they grant the same privilege on the same securable to the same grantee with the same grant
option, whatever their ``facts`` or ``comment`` say. Roles are matched by name and reported as
*changed* when their kind, login, attributes, authentication or source differ. Findings are
matched by their stable key, so a finding that moves from open to accepted is reported as such,
not as one resolved and one new. Beside the items, the diff carries their effect: the
effective access each role gained or lost (:mod:`pg_emit.diff_access`), which item lists hide
when DENY restructuring moves grants between derived roles. ``07_security.sql``'s settings
(SECURITY DEFINER routines, security_invoker views, row-level security) are compared the same
way and classified as widening or narrowing access (:mod:`pg_emit.diff_security`). The result
is a frozen model: its JSON is the machine output, and
:func:`pg_emit.diff_markdown.render_diff_markdown` renders the pull-request comment.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

from mapper.plan import (
    Disposition,
    FactDisposition,
    Finding,
    MigrationPlan,
    PgDefaultPrivilege,
    PgDefaultRevoke,
    PgGrant,
    PgMembership,
    PgRevoke,
    PgRole,
    PgRoutineSecurity,
    PgRowSecurity,
    PgViewSecurity,
    RoleKind,
    Severity,
)
from pg_emit.diff_access import AccessChange, diff_access
from pg_emit.diff_security import SecurityEffect, SecurityItemChange, diff_security

#: Fields that record provenance, not meaning: two items differing only here are the same.
_BOOKKEEPING = frozenset({"facts", "comment"})

#: Role fields whose change is worth a reviewer's attention.
ROLE_FIELDS = ("kind", "login", "attributes", "auth", "source")

T = TypeVar("T", bound=BaseModel)


class DiffModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RoleChange(DiffModel):
    """A role present in both plans whose definition changed."""

    name: str
    fields: tuple[str, ...]
    old: PgRole
    new: PgRole


class FindingChange(DiffModel):
    """A finding present in both plans whose acceptance changed."""

    old: Finding
    new: Finding


class DispositionChange(DiffModel):
    """A source fact that appeared, disappeared, or changed disposition."""

    fact: str
    kind: str
    old: Disposition | None
    new: Disposition | None


class DerivedRole(DiffModel):
    """A role DENY restructuring made (``<base>_common``, ``<base>_part_…``, ``<base>_minus_…``)
    and the role of the source it was cut from, followed through parts of parts."""

    name: str
    base: str


class PlanDiff(DiffModel):
    """Everything that differs between two plans, each list sorted by item key."""

    old_fingerprint: str
    new_fingerprint: str
    roles_added: tuple[PgRole, ...] = ()
    roles_removed: tuple[PgRole, ...] = ()
    roles_changed: tuple[RoleChange, ...] = ()
    memberships_added: tuple[PgMembership, ...] = ()
    memberships_removed: tuple[PgMembership, ...] = ()
    grants_added: tuple[PgGrant, ...] = ()
    grants_removed: tuple[PgGrant, ...] = ()
    revokes_added: tuple[PgRevoke, ...] = ()
    revokes_removed: tuple[PgRevoke, ...] = ()
    default_privileges_added: tuple[PgDefaultPrivilege, ...] = ()
    default_privileges_removed: tuple[PgDefaultPrivilege, ...] = ()
    default_revokes_added: tuple[PgDefaultRevoke, ...] = ()
    default_revokes_removed: tuple[PgDefaultRevoke, ...] = ()
    findings_new: tuple[Finding, ...] = ()
    findings_resolved: tuple[Finding, ...] = ()
    findings_newly_accepted: tuple[FindingChange, ...] = ()
    findings_reopened: tuple[FindingChange, ...] = ()
    dispositions_changed: tuple[DispositionChange, ...] = ()
    #: 07_security.sql's settings (:mod:`pg_emit.diff_security`).
    routine_security_added: tuple[PgRoutineSecurity, ...] = ()
    routine_security_removed: tuple[PgRoutineSecurity, ...] = ()
    routine_security_changed: tuple[SecurityItemChange[PgRoutineSecurity], ...] = ()
    view_security_added: tuple[PgViewSecurity, ...] = ()
    view_security_removed: tuple[PgViewSecurity, ...] = ()
    view_security_changed: tuple[SecurityItemChange[PgViewSecurity], ...] = ()
    row_security_added: tuple[PgRowSecurity, ...] = ()
    row_security_removed: tuple[PgRowSecurity, ...] = ()
    row_security_changed: tuple[SecurityItemChange[PgRowSecurity], ...] = ()
    #: What those changes do to access: a view no longer security_invoker, a routine made
    #: SECURITY DEFINER, row-level security disabled or a policy loosened widen it.
    security_widened: tuple[SecurityEffect, ...] = ()
    security_narrowed: tuple[SecurityEffect, ...] = ()
    #: What the item changes mean for each role: privileges it can use now and could not
    #: before, and the reverse (:mod:`pg_emit.diff_access`).
    access_gained: tuple[AccessChange, ...] = ()
    access_lost: tuple[AccessChange, ...] = ()
    #: The derived roles the items above name, each with its base role: what lets the comment
    #: count a DENY re-split per base role instead of listing its hash-suffixed roles.
    derived_roles: tuple[DerivedRole, ...] = ()

    @property
    def is_empty(self) -> bool:
        """True when the two plans mean the same (fingerprints aside)."""
        return not any(
            getattr(self, name) for name in type(self).model_fields if name.endswith(_LIST_SUFFIXES)
        )

    def new_open_findings(self) -> list[Finding]:
        """Findings that are open in the new plan and were not open before (new or reopened)."""
        fresh = [f for f in self.findings_new if not f.accepted]
        return fresh + [change.new for change in self.findings_reopened]


_LIST_SUFFIXES = ("_added", "_removed", "_changed", "_new", "_resolved", "_accepted", "_reopened")


def diff_plans(old: MigrationPlan, new: MigrationPlan) -> PlanDiff:
    """Compare two plans.

    Args:
        old: The plan before the change (e.g. of the pull request's base branch).
        new: The plan after it.

    Returns:
        A :class:`PlanDiff`; empty lists where nothing changed.
    """
    roles_added, roles_removed = _added_removed(old.roles, new.roles, key=lambda r: r.name)
    lists: dict[str, Any] = {"roles_added": roles_added, "roles_removed": roles_removed}
    lists["roles_changed"] = _role_changes(old.roles, new.roles)
    for field in ("memberships", "grants", "revokes", "default_privileges", "default_revokes"):
        added, removed = _added_removed(getattr(old, field), getattr(new, field), key=_meaning)
        lists |= {f"{field}_added": added, f"{field}_removed": removed}
    changed = {item.grantee for field in _GRANTED for item in lists[field]}
    gained, lost = diff_access(old, new, changed)
    return PlanDiff(
        old_fingerprint=old.fingerprint,
        new_fingerprint=new.fingerprint,
        **lists,
        **_finding_changes(old.findings, new.findings),
        dispositions_changed=_disposition_changes(old.dispositions, new.dispositions),
        **diff_security(old, new),
        access_gained=gained,
        access_lost=lost,
        derived_roles=_derived_roles(old, new, lists),
    )


#: The lists whose grantees' own privileges changed (what :func:`diff_access` starts from).
_GRANTED = (
    "grants_added",
    "grants_removed",
    "default_privileges_added",
    "default_privileges_removed",
)


#: How DENY restructuring words a derived role's ``source``: ``<base> minus <DENYs>`` for a
#: role minus what some principals are denied, ``<base>: the grants …`` for a part of a split
#: (:mod:`mapper.translate.deny_roles`).
_DERIVED_SOURCE = re.compile(r" minus |: the grants ")
#: The same, from the name alone (a plan written before sources said so).
_DERIVED_NAME = re.compile(r"^(.+?)_(?:minus|part)_|^(.+)_common$")


def _derived_roles(
    old: MigrationPlan, new: MigrationPlan, lists: dict[str, Any]
) -> tuple[DerivedRole, ...]:
    """The derived roles the changed items name, each with the base role it was cut from."""
    roles = {r.name: r for plan in (old, new) for r in plan.roles}  # the new one wins
    named = {r.name for field in ("roles_added", "roles_removed") for r in lists[field]}
    named |= {name for m in (*lists["memberships_added"], *lists["memberships_removed"])
              for name in (m.role, m.member)}  # fmt: skip
    named |= {item.grantee for field in _GRANTEES for item in lists[field]}
    named |= {c.name for c in lists["roles_changed"]}
    derived = sorted(n for n in named if n in roles and roles[n].kind is RoleKind.DERIVED)
    return tuple(DerivedRole(name=n, base=_base(n, roles)) for n in derived)


def _base(name: str, roles: dict[str, PgRole]) -> str:
    """Follow a derived role to the first role that is not derived (a part's derived role is
    cut from the part, which is cut from the base)."""
    seen = {name}
    while (role := roles.get(name)) is not None and role.kind is RoleKind.DERIVED:
        parent = _parent(role, roles)
        if parent is None or parent in seen:
            break
        seen.add(parent)
        name = parent
    return name


def _parent(role: PgRole, roles: dict[str, PgRole]) -> str | None:
    """The role a derived role was cut from: the first prefix of its source that names a role of
    either plan, else what its name says."""
    for cut in _DERIVED_SOURCE.finditer(role.source):
        if role.source[: cut.start()] in roles:
            return role.source[: cut.start()]
    named = _DERIVED_NAME.match(role.name)
    return (named[1] or named[2]) if named else None


#: The item lists whose items name a role in ``grantee``.
_GRANTEES = (
    "grants_added",
    "grants_removed",
    "revokes_added",
    "revokes_removed",
    "default_privileges_added",
    "default_privileges_removed",
    "default_revokes_added",
    "default_revokes_removed",
)


def _meaning(item: BaseModel) -> str:
    """An item's identity for comparison: every field except provenance, canonically."""
    return item.model_dump_json(exclude=set(_BOOKKEEPING & set(type(item).model_fields)))


def _added_removed(
    old: Sequence[T], new: Sequence[T], *, key: Callable[[T], str]
) -> tuple[tuple[T, ...], tuple[T, ...]]:
    old_keys, new_keys = {key(i) for i in old}, {key(i) for i in new}
    added = tuple(i for i in new if key(i) not in old_keys)
    removed = tuple(i for i in old if key(i) not in new_keys)
    return added, removed


def _role_changes(old: Iterable[PgRole], new: Iterable[PgRole]) -> tuple[RoleChange, ...]:
    before = {role.name: role for role in old}
    changes = []
    for role in new:
        previous = before.get(role.name)
        if previous is None:
            continue
        fields = tuple(f for f in ROLE_FIELDS if getattr(previous, f) != getattr(role, f))
        if fields:
            changes.append(RoleChange(name=role.name, fields=fields, old=previous, new=role))
    return tuple(changes)


def _finding_identity(findings: Iterable[Finding]) -> dict[str, Finding]:
    """Index findings by key without the script line, so editing a script above a finding does
    not turn it into one resolved and one new finding; if two findings then collide, both keep
    their full key."""
    items = list(findings)
    loose = [re.sub(r":\d+(?::\d+)?$", "", f.key) for f in items]
    counts = Counter(loose)
    return {(k if counts[k] == 1 else f.key): f for k, f in zip(loose, items, strict=True)}


def _finding_changes(old: Iterable[Finding], new: Iterable[Finding]) -> dict[str, Any]:
    before = _finding_identity(old)
    after = _finding_identity(new)
    both = sorted(before.keys() & after.keys())
    return {
        "findings_new": tuple(after[k] for k in sorted(after.keys() - before.keys())),
        "findings_resolved": tuple(before[k] for k in sorted(before.keys() - after.keys())),
        "findings_newly_accepted": tuple(
            FindingChange(old=before[k], new=after[k])
            for k in both
            if after[k].accepted and not before[k].accepted
        ),
        "findings_reopened": tuple(
            FindingChange(old=before[k], new=after[k])
            for k in both
            if before[k].accepted and not after[k].accepted
        ),
    }


def _disposition_changes(
    old: Iterable[FactDisposition], new: Iterable[FactDisposition]
) -> tuple[DispositionChange, ...]:
    before = {d.fact: d for d in old}
    after = {d.fact: d for d in new}
    changes = []
    for fact in sorted(before.keys() | after.keys()):
        was, now = before.get(fact), after.get(fact)
        if was is None or now is None or was.disposition != now.disposition:
            kind = (now or was).kind  # type: ignore[union-attr]  # one of them exists
            changes.append(
                DispositionChange(
                    fact=fact,
                    kind=kind,
                    old=was.disposition if was else None,
                    new=now.disposition if now else None,
                )
            )
    return tuple(changes)


def exceeds(diff: PlanDiff, threshold: Severity) -> list[Finding]:
    """The new open findings at or above ``threshold`` (what ``--fail-on-new`` fails on)."""
    return [f for f in diff.new_open_findings() if f.severity.rank >= threshold.rank]
