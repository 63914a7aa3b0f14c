"""A large estate's two plans, one pull request apart: bench M's diff in small.

Built from :mod:`tests.review.plans`' builders; what :func:`estate_plans` changes is what made
the comment at bench scale M too long to post (access gained and lost, roles, memberships,
grants, findings, and above all DENY restructuring re-splitting roles under new names).
"""

from __future__ import annotations

import hashlib
from typing import Any

from mapper.plan import MigrationPlan, RoleKind, Severity
from tests.review.plans import finding, group, login, member, plan, table_grant

#: :func:`estate_plans`' DENY re-split, per ``billing_NN_db_owner``: derived roles before and
#: after, the tables each derived role is granted, and the logins denied something.
DERIVED_BEFORE, DERIVED_AFTER, DERIVED_TABLES, BILLERS = 5, 7, 4, 6
#: The ``user_NNNN`` logins, spread over the ``app_NN_readers`` groups.
LOGINS = 600


def estate_plans(bases: int = 12, groups: int = 60) -> tuple[MigrationPlan, MigrationPlan]:
    """Two plans of a large estate one pull request apart: bench M's diff in small.

    The branch grants 400 new tables to the ``app_NN_readers`` groups (access gained by their
    logins) and drops 300 grants (access lost), adds 200 ``team_NNN`` roles and removes 150
    ``legacy_NNN`` ones with their memberships, opens 40 findings, and re-splits every
    ``billing_NN_db_owner``: its derived roles are removed and re-created under new,
    hash-suffixed names, with their grants and memberships, while what its logins can use stays
    the same (so effective access shows no billing change at all).
    """
    common = [group(f"app_{g:02d}_readers", f"role [Sales].[r{g}]") for g in range(groups)]
    common += [login(f"user_{k:04d}", f"login [u{k:04d}]") for k in range(LOGINS)]
    memberships = [
        member(f"user_{k:04d}", of=f"app_{k % groups:02d}_readers") for k in range(LOGINS)
    ]
    grants = [
        table_grant(f"app.t{t}", "SELECT", f"app_{g:02d}_readers")
        for g in range(groups)
        for t in range(25)
    ]
    for b in range(bases):
        common.append(group(f"billing_{b:02d}_db_owner", f"role [Billing{b}].[db_owner]"))
        common += [login(f"biller_{b:02d}_{i}", f"login [b{b}{i}]") for i in range(BILLERS)]
    old, new = _estate_side("old", bases, groups), _estate_side("new", bases, groups)
    return (
        plan(
            roles=_sorted(common + old["roles"]),
            memberships=_sorted(memberships + old["memberships"]),
            grants=_sorted(grants + old["grants"]),
        ),
        plan(
            fingerprint="sha256:" + "ef" * 32,
            roles=_sorted(common + new["roles"]),
            memberships=_sorted(memberships + new["memberships"]),
            grants=_sorted(grants + new["grants"]),
            findings=tuple(
                finding(
                    "GB020",
                    Severity.MEDIUM,
                    f"DENY restructured ({i})",
                    principal=f"user_{i:04d}",
                    source_ref=f"security/billing{i}.sql:3",
                )
                for i in range(40)
            ),
        ),
    )


def _estate_side(side: str, bases: int, groups: int) -> dict[str, list[Any]]:
    """One side's own roles, memberships and grants (see :func:`estate_plans`)."""
    before = side == "old"
    count = 300 if before else 400
    items: dict[str, list[Any]] = {
        "roles": [group(f"{'legacy' if before else 'team'}_{i:03d}") for i in range(count // 2)],
        "grants": [
            table_grant(
                f"sales.{'old' if before else 'new'}_{j:03d}",
                "SELECT",
                f"app_{j % groups:02d}_readers",
            )
            for j in range(count)
        ],
    }
    items["memberships"] = [
        member(f"user_{(i * 2 + n) % LOGINS:04d}", of=role.name)
        for i, role in enumerate(items["roles"])
        for n in range(2)
    ]
    for b in range(bases):
        _re_split(
            f"billing_{b:02d}_db_owner", b, DERIVED_BEFORE if before else DERIVED_AFTER, items
        )
    return items


def _re_split(base: str, b: int, derived: int, items: dict[str, list[Any]]) -> None:
    """``base``'s derived roles as DENY restructuring names them: a part, a minus role of the
    part, and hash-suffixed minus roles; each granted the base's tables, the billers spread
    over them, the base a member of its part."""
    tag = hashlib.sha256(f"{base}{derived}".encode()).hexdigest()[:8]
    part = f"{base}_part_it_writer_{derived}"
    names = [part, f"{part}_minus_biller_{b:02d}_0"]
    names += [f"{base}_minus_it_writer_{n:04d}_minu_{tag}" for n in range(derived - 2)]
    sources = [f"{base}: the grants DENYs to it_writer take", f"{part} minus DENY SELECT"]
    sources += [f"{base} minus DENY UPDATE ON x TO [it_writer_{n}]" for n in range(derived - 2)]
    items["roles"] += [
        group(name, source, kind=RoleKind.DERIVED)
        for name, source in zip(names, sources, strict=True)
    ]
    items["grants"] += [
        table_grant(f"billing.t{b:02d}_{t}", "SELECT", name)
        for name in names
        for t in range(DERIVED_TABLES)
    ]
    items["memberships"].append(member(base, of=part))
    takers = names[1:]
    items["memberships"] += [
        member(f"biller_{b:02d}_{i}", of=takers[i % len(takers)]) for i in range(BILLERS)
    ]


def _sorted(items: list[Any]) -> tuple[Any, ...]:
    return tuple(sorted(items, key=lambda item: item.key))
