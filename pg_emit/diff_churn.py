"""DENY restructuring's churn in a plan diff, counted per base role instead of listed.

grantbridge expresses a DENY as derived roles of the role it denies from: ``<role>_common`` and
``<role>_part_…`` when the role is split, ``<role>_minus_…`` for what a principal keeps (see
:mod:`mapper.translate.deny_roles`). Their names carry the denied principals and, when long, a
hash, so a change to one DENY on a large estate removes and re-creates dozens of them under new
names, with their memberships and grants: at bench scale M a ten-row source change listed
thousands of such items, which no reviewer reads and GitHub refuses to post. What those items
mean for each login and role is in the effective-access sections (:mod:`pg_emit.diff_access`
resolves through every role), so here they are counted per base role, and ``diff.json`` keeps
every item.

A base role's churn is counted rather than listed when more than :data:`DERIVED_LISTED` of its
derived roles come or go (a re-split), or, when the whole comment would not fit its budget,
when it has more than :data:`DERIVED_LISTED` items of any kind. A lone derived role (one DENY
added or removed) stays listed item by item: there, the items are the clearest account.
"""

from __future__ import annotations

from collections import Counter

from mapper.plan import PgDefaultPrivilege, PgDefaultRevoke, PgGrant, PgRevoke
from pg_emit import markdown as md
from pg_emit.diff import PlanDiff

#: The items that give or take a privilege to one grantee.
Granted = PgGrant | PgRevoke | PgDefaultPrivilege | PgDefaultRevoke

#: Up to this many derived roles (or, for a comment over budget, items) of one base role are
#: listed in the sections; past it they are counted under the base role.
DERIVED_LISTED = 3

#: What the counts are of, in the order a line says them: (key, the words before the counts).
_KINDS = (
    ("roles", "derived roles re-split"),
    ("memberships", "memberships"),
    ("privileges", "privileges"),
)

#: What the section says above its lines (one paragraph).
NOTE = (
    "DENY restructuring expresses a DENY as derived roles of the role it denies from "
    "(`<role>_common`, `<role>_part_…`, `<role>_minus_…`, hash-suffixed when long). A change "
    "to one DENY re-creates them under new names, so they are counted here per base role, not "
    "listed. Effective access above resolves through them: it is what changed for each login "
    "and role. diff.json lists every item."
)


def bases(diff: PlanDiff) -> dict[str, str]:
    """Derived role → its base role, for the derived roles the diff's items name."""
    return {d.name: d.base for d in diff.derived_roles}


def membership_base(role: str, member: str, of: dict[str, str]) -> str | None:
    """The base role whose churn a membership belongs to: the granted role's, else the
    member's (a derived role joining its parent's derived role), else None."""
    return of.get(role) or of.get(member)


def count(diff: PlanDiff) -> dict[str, Counter[str]]:
    """Per base role: its derived roles, memberships and privileges added, removed, changed."""
    of = bases(diff)
    counts: dict[str, Counter[str]] = {}

    def add(base: str | None, what: str) -> None:
        if base is not None:
            counts.setdefault(base, Counter())[what] += 1

    for verb, roles in (("added", diff.roles_added), ("removed", diff.roles_removed)):
        for role in roles:
            add(of.get(role.name), f"roles {verb}")
    for change in diff.roles_changed:
        add(of.get(change.name), "roles changed")
    for verb, memberships in (
        ("added", diff.memberships_added),
        ("removed", diff.memberships_removed),
    ):
        for m in memberships:
            add(membership_base(m.role, m.member, of), f"memberships {verb}")
    for verb, items in _privileges(diff):
        for item in items:
            add(of.get(item.grantee), f"privileges {verb}")
    return counts


def _privileges(diff: PlanDiff) -> tuple[tuple[str, tuple[Granted, ...]], ...]:
    return (
        ("added", (*diff.grants_added, *diff.revokes_added)),
        ("added", (*diff.default_privileges_added, *diff.default_revokes_added)),
        ("removed", (*diff.grants_removed, *diff.revokes_removed)),
        ("removed", (*diff.default_privileges_removed, *diff.default_revokes_removed)),
    )


def grouped(counts: dict[str, Counter[str]], *, eager: bool) -> frozenset[str]:
    """The base roles whose churn is counted, not listed (see the module docstring)."""
    chosen = set()
    for base, counter in counts.items():
        roles = counter["roles added"] + counter["roles removed"]
        if roles > DERIVED_LISTED or (eager and counter.total() > DERIVED_LISTED):
            chosen.add(base)
    return frozenset(chosen)


def rows(counts: dict[str, Counter[str]], chosen: frozenset[str]) -> list[str]:
    """One line per counted base role, the most churn first."""
    order = sorted(chosen, key=lambda base: (-counts[base].total(), base))
    return [f"- {md.code(base)}: {_counted(counts[base])}" for base in order]


def _counted(counter: Counter[str]) -> str:
    """``derived roles re-split: 14 added, 12 removed; memberships: 230 added, 210 removed``."""
    parts = []
    for kind, words in _KINDS:
        verbs = [
            f"{counter[f'{kind} {verb}']:,} {verb}"
            for verb in ("added", "removed", "changed")
            if counter[f"{kind} {verb}"]
        ]
        if verbs:
            parts.append(f"{words}: {', '.join(verbs)}")
    return "; ".join(parts)
