"""``plan(snapshot, policy, target=None) -> MigrationPlan``: the pure planner (DESIGN §1, §3).

No I/O, no clock, no randomness: the same snapshot and policy give a byte-identical plan. The
work is spread over one small translator per kind of fact (``mapper/translate/``); this module
only orders them: principals before memberships before permissions, DENYs last, because a DENY
restructures what the others built.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from grantbridge.collector import collector_paused
from mapper.effective import EffectivePermissions
from mapper.naming import NameRegistry
from mapper.plan import (
    MigrationPlan,
    PgDatabase,
    PgDefaultPrivilege,
    PgDefaultRevoke,
    PgGrant,
    PgMembership,
    PgObject,
    PgRevoke,
    PgSchema,
    PlanModel,
    sorted_unique,
    trusted,
)
from mapper.policy import Policy
from mapper.target import Where, resolve_against_target
from mapper.translate import (
    dispositions,
    guest,
    hardening,
    memberships,
    objects,
    ownership,
    permissions,
    principals,
    usage_advice,
)
from mapper.translate.auth import check_exclusive
from mapper.translate.collation import plan_collations
from mapper.translate.default_sequences import (
    plan_default_sequences,
    sequence_denies,
    views_over_tables,
)
from mapper.translate.deny import Deny, plan_denies
from mapper.translate.grants import plan_schema_usage
from mapper.translate.implied import prune_implied
from mapper.translate.security import SecurityItems, plan_security
from mapper.translate.skipped import plan_skipped
from mapper.translate.state import PlanState
from mapper.translate.windows import classify_windows_groups
from mssql_extract.snapshot import SecuritySnapshot


def fingerprint(
    snapshot: SecuritySnapshot, policy: Policy, target: MigrationPlan | None = None
) -> str:
    """sha256 over the canonical snapshot JSON and the canonical policy JSON (and the target
    catalog's JSON, when the plan was resolved against one)."""
    digest = hashlib.sha256()
    for chunk in snapshot.json_chunks():  # the whole text at once cost GBs at scale
        digest.update(chunk.encode("utf-8"))
    digest.update(json.dumps(policy.model_dump(mode="json"), sort_keys=True).encode("utf-8"))
    if target is not None:
        digest.update(target.to_json().encode("utf-8"))
    return f"sha256:{digest.hexdigest()}"


def plan(
    snapshot: SecuritySnapshot,
    policy: Policy,
    target: MigrationPlan | None = None,
    *,
    part_of: int | None = None,
) -> MigrationPlan:
    """Translate a snapshot into the least-privilege PostgreSQL plan.

    Args:
        snapshot: the SQL Server estate.
        policy: naming, authentication, over-grant and hardening choices.
        target: the target's catalog as read by ``inspect``: routines take its signatures, and
            objects it lacks leave the plan with finding GB042 (:mod:`mapper.target`).
        part_of: the number of databases of the whole estate, when ``snapshot`` is only part
            of it (its server part and some of its databases): names are then given as the
            whole estate's plan gives them. For per-database planning (``bench.decompose``).

    Raises:
        MappingError: a name collision, a cycle, or rds_iam and rds_ad on one role.
    """
    with collector_paused():
        planned, views, denies = _plan(snapshot, policy, target, part_of)
    if target is not None:
        planned = resolve_against_target(planned, target, policy, views, denies)
    return planned if part_of is None else planned.model_copy(update={"part_of": part_of})


def _plan(
    snapshot: SecuritySnapshot, policy: Policy, target: MigrationPlan | None, part_of: int | None
) -> tuple[MigrationPlan, dict[Where, Where], dict[Where, list[str]]]:
    """The plan, and for a target whose tables have defaults, each view an INSERT into which
    reaches one table (view → table: :func:`resolve_against_target` gives its grantees USAGE)
    and the DENYs on each sequence its GB040 names."""
    # first, while little else is in memory: it serialises the whole snapshot
    digest = fingerprint(snapshot, policy, target)
    snapshot = classify_windows_groups(snapshot, policy)  # scripts cannot tell groups from users
    state = PlanState(
        snapshot=snapshot, policy=policy,
        names=NameRegistry(policy.naming, multi_database=(part_of or len(snapshot.databases)) > 1),
        engine=EffectivePermissions(snapshot),
    )  # fmt: skip
    _plan_principals(state)
    denies: list[Deny] = []
    memberships.plan_server_memberships(state)
    permissions.plan_permissions(state, None, denies)
    for db in snapshot.databases:
        memberships.plan_db_memberships(state, db, denies)
        permissions.plan_permissions(state, db, denies)
    kept = plan_denies(state, denies)
    ownership.plan_ownership(state)  # owners are never denied: after DENY restructuring
    kept.keep()  # and keep what they inherited on what they own, beyond what ownership gives
    security = plan_security(state)
    plan_schema_usage(state)
    usage_advice.finish(state)  # advice for after review names the USAGE it needs
    prune_implied(state)
    plan_default_sequences(state)  # USAGE follows the INSERT grants left after pruning
    views = views_over_tables(state) if _has_defaults(target) else {}
    denied = sequence_denies(state) if _has_defaults(target) else {}
    hardening.plan_hardening(state)
    plan_skipped(state)  # what the extractor could not read: findings, never silent
    plan_collations(state)  # case-sensitive names the snapshot could not keep apart
    dispositions.plan_fixed_role_facts(state)
    dispositions.finalize(state, security.keys())
    dispositions.assert_complete(state)
    check_exclusive(state.memberships())
    return _build(state, security, digest), views, denied


def _has_defaults(target: MigrationPlan | None) -> bool:
    return target is not None and any(o.default_sequences for o in target.objects)


def _plan_principals(state: PlanState) -> None:
    objects.plan_databases(state)
    principals.plan_logins(state)
    principals.plan_server_roles(state)
    for db in state.snapshot.databases:
        objects.plan_database(state, db)
        state.bind(db.name, "public", "PUBLIC")
        guest.plan_guest(state, db)  # guest with CONNECT: a role for logins without a user
        principals.plan_roles(state, db)
        principals.plan_users(state, db)
        objects.plan_schemas(state, db)
        objects.plan_objects(state, db)


def _build(state: PlanState, security: SecurityItems, digest: str) -> MigrationPlan:
    # MigrationPlan's validation would only sort each kind by key (SortedTuple) and check the
    # keys are unique: hand_over() gives its kinds sorted by their keys in the state already,
    # which are unique dictionary keys (PlanState.add keys every item by item.key), so only the
    # other kinds are sorted here, and the plan is built without computing a million grant
    # keys a second time (bench M: 1.04M grants, 427k memberships; checked against the
    # validated construction in tests/mapper/test_plan_fast_paths.py)
    fields: dict[str, Any] = {
        "fingerprint": digest,
        "target": state.policy.target,
        "database_mode": state.policy.database_mode,
        **{name: tuple(state.hand_over(kind)) for name, kind in _HANDED_OVER.items()},
        "roles": sorted_unique(tuple(spec.build() for spec in state.roles.values())),
        "findings": sorted_unique(tuple(state.findings.values())),
        # each held under its fact, which is its key: sorted by the dictionary's (unique) keys
        "dispositions": tuple(map(state.dispositions.__getitem__, sorted(state.dispositions))),
        "iam_policies": sorted_unique(tuple(state.iam.values())),
        **{name: sorted_unique(items) for name, items in security.plan_fields().items()},
    }
    return trusted(MigrationPlan, fields)


#: The plan's fields that PlanState.hand_over() gives, each sorted by key.
_HANDED_OVER: dict[str, type[PlanModel]] = {
    "databases": PgDatabase,
    "memberships": PgMembership,
    "schemas": PgSchema,
    "objects": PgObject,
    "grants": PgGrant,
    "revokes": PgRevoke,
    "default_privileges": PgDefaultPrivilege,
    "default_revokes": PgDefaultRevoke,
}
