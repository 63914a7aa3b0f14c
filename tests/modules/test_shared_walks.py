"""Principals the engine gives the same verdicts share one chain walk, and lose nothing by it.

:meth:`mapper.effective.EffectivePermissions.verdict_key` is equal for two principals only if
``explain()`` allows both the same on every question; :func:`mapper.module_reach.chain_reliance`
walks once per key. Checked on the estate of :mod:`tests.modules.test_reach_checks` (every way
to an object permission) and on the call-heavy estate of ``python -m bench.modules`` with
EXECUTE granted through roles, where role-mates share. The key's GRANTs and owned securables
are unions of per-principal sets worked out once (``PermissionIndex.held_keys`` and
``owned_keys``, issue 7): checked against the key built row by row, as it was before.
"""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path

import pytest

from bench.modules import estate_script
from mapper.context import SecurityContext
from mapper.effective import EffectivePermissions
from mapper.module_findings import CALLER_PERMISSION, ObjectIndex, allowed
from mapper.module_reach import ChainReliance, Checker, _walk, chain_reliance, module_graph
from mapper.modules import analyze_object
from mapper.permission_index import PermissionIndex
from mapper.verdicts import verdict_key
from mssql_extract.snapshot import SecuritySnapshot
from tests.modules.test_reach_checks import ESTATE, PERMISSIONS, principals_of, snapshot_of

CALLS = estate_script(24, users=12, tables=15, roles=4, through_roles=True)


@pytest.mark.parametrize("text", [ESTATE, CALLS], ids=["every-way", "call-heavy"])
def test_equal_verdict_keys_mean_equal_verdicts(tmp_path: Path, text: str) -> None:
    snapshot = snapshot_of(tmp_path, text)
    perms = EffectivePermissions(snapshot)
    (database,) = snapshot.databases
    by_key: dict[Hashable, list[str]] = {}
    for principal in principals_of(database):
        by_key.setdefault(perms.verdict_key(database.name, principal), []).append(principal)
    shared = [names for names in by_key.values() if len(names) > 1]
    assert shared  # some principals do share a key
    for names in by_key.values():
        verdicts = {
            name: [allowed(perms, database, name, obj, permission)
                   for obj in database.objects for permission in PERMISSIONS]
            for name in names
        }  # fmt: skip
        first = verdicts[names[0]]
        assert all(v == first for v in verdicts.values()), names
    # and principals whose verdicts differ somewhere never share one
    assert len(by_key) > 1


def test_role_mates_share_a_key_and_the_holder_of_a_grant_does_not(tmp_path: Path) -> None:
    perms = EffectivePermissions(snapshot_of(tmp_path, ESTATE))
    key = perms.verdict_key
    assert key("D1", "mate1") == key("D1", "mate2")  # in one role, holding nothing themselves
    assert key("D1", "mate1") != key("D1", "callers")  # the role: no login, no CONNECT SQL
    assert key("D1", "plain") != key("D1", "writer")  # writer holds INSERT on s.t itself
    assert key("D1", "denied") != key("D1", "mate1")  # a DENY through its role


def _plain_key(context: SecurityContext, index: PermissionIndex) -> Hashable:
    """verdict_key built from every row of every principal in the token, per question."""
    grants: set[tuple[str, object, str]] = set()
    owned: set[tuple[str, object]] = set()
    for node, _ in context.token:
        grants.update((node[0], s, row.permission) for s, row in index.held.get(node, ()))
        owned.update(
            (node[0], s) for s in index.owned_by.get(node, ())
            if index.owners.get((node[0], s)) == node
        )  # fmt: skip
    return (
        context.scope, context.blocked is not None, context.bypass is not None,
        frozenset(grants), frozenset(context.denies), frozenset(owned),
    )  # fmt: skip


@pytest.mark.parametrize("text", [ESTATE, CALLS], ids=["every-way", "call-heavy"])
def test_verdict_key_is_the_key_built_row_by_row(tmp_path: Path, text: str) -> None:
    snapshot = snapshot_of(tmp_path, text)
    perms = EffectivePermissions(snapshot)
    index = perms._index
    (database,) = snapshot.databases
    seen = {"grants": 0, "owned": 0}
    for _ in range(2):  # the second time from the per-principal sets worked out the first
        for principal in principals_of(database):
            context = perms._context(database.name, principal)
            plain = _plain_key(context, index)
            assert verdict_key(context, index) == plain, principal
            seen["grants"] += len(plain[3])  # type: ignore[index]
            seen["owned"] += len(plain[5])  # type: ignore[index]
    assert min(seen.values()) > 0, seen


def _alone(snapshot: SecuritySnapshot) -> tuple[ChainReliance, ...]:
    """chain_reliance as it was: every principal walks alone."""
    (database,) = snapshot.databases
    perms = EffectivePermissions(snapshot)
    analyses = [analyze_object(o) for o in database.objects if o.definition]
    graph = module_graph(database, analyses, ObjectIndex(database))
    entries = sorted(
        key for key, node in graph.items()
        if node.module.kind in CALLER_PERMISSION
        and any(link.intact or link.key in graph for link in node.links)
    )  # fmt: skip
    found: dict[str, ChainReliance] = {}
    for principal in principals_of(database):
        for node, link, via in _walk(graph, entries, Checker(perms, database, principal)):
            item = ChainReliance(
                database=database.name, module_schema=node.module.schema_name,
                module_name=node.module.name, principal=principal,
                target_schema=link.target.schema_name, target_name=link.target.name,
                access=link.access, owner=node.owner or "", via=via,
            )  # fmt: skip
            found.setdefault(item.key, item)
    return tuple(found[k] for k in sorted(found))


def test_a_shared_walk_finds_what_each_principal_finds_alone(tmp_path: Path) -> None:
    snapshot = snapshot_of(tmp_path, CALLS)
    (database,) = snapshot.databases
    analyses = [analyze_object(o) for o in database.objects if o.definition]
    shared = chain_reliance(database, analyses, EffectivePermissions(snapshot))
    alone = _alone(snapshot)
    assert len({c.principal for c in alone}) > 8  # most principals rely on chains
    assert shared == alone
