"""``uv run python -m bench.decompose [--scale XS] [--snapshot FILE]``: can the planner go one
database at a time?

Scale L cannot be planned whole on a laptop: its validated snapshot alone takes about 10 GB
(docs/architecture.md, "Scale"). The way there is a per-database pipeline: plan the server
part with one database at a time, write each part's items, merge. That is exact only where
the planner's answer for one database does not depend on the others. This measures how far
the planner is from that: it plans the estate whole, then once per database (the server part
and that one database, names given as in the whole: ``plan(…, part_of=N)``), merges the parts
item by item (by key; a role's facts are the union of its parts', as a login's users are
spread over databases) and counts, per kind of plan item, the items of the whole plan that the
merge misses, adds or spells differently, sorted by what couples the databases:

* ``server fact``: every fact of the item is a server-level one whose treatment spans the
  databases, such as a sysadmin member downscoped to each database's ``db_owner`` role: the
  whole plan's finding and disposition text list every database, each part only its own (the
  merge unions a disposition's items and findings: :data:`UNIONS`);
* ``cluster-wide restructuring``: the item belongs to a role DENY restructuring made from a
  login's or server role's role (``…_common``, ``…_part_…``, ``…_minus_…``). PostgreSQL roles
  are cluster-wide, so a role split or derived for a DENY in one database holds the role's
  grants in every database;
* ``other``: anything else (a finding or disposition naming such items, for instance).

Nothing here is timed; the figures are counts. ``0`` differing items everywhere would mean the
per-database pipeline can be built on the planner as it is.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from bench.estate import ensure_estate
from bench.scales import get_scale
from mapper.plan import FactDisposition, MigrationPlan, PgRole, PlanModel
from mapper.planner import plan
from mapper.policy import Policy
from mssql_extract.snapshot import SecuritySnapshot

MARKERS = ("_common", "_part_", "_minus_")
CAUSES = ("server fact", "cluster-wide restructuring", "other")
Counts = dict[str, Counter[str]]


def parts(snapshot: SecuritySnapshot, policy: Policy) -> Iterator[MigrationPlan]:
    """One plan per database: the server part with that database alone."""
    whole = len(snapshot.databases)
    for db in snapshot.databases:
        yield plan(snapshot.model_copy(update={"databases": (db,)}), policy, part_of=whole)


#: What a merge unions when parts give an item twice: a login's role is made from its users
#: in every database; a server fact's disposition lists the items and findings of every part.
UNIONS: dict[type[PlanModel], tuple[str, ...]] = {
    PgRole: ("facts",),
    FactDisposition: ("items", "findings"),
}


def merged(plans: Iterable[MigrationPlan]) -> dict[str, dict[str, PlanModel]]:
    """Each kind's items by key over ``plans``. An item seen twice takes the union of the
    fields :data:`UNIONS` names for its kind and keeps its first spelling otherwise (a later
    different one is a difference in its own right, counted by :func:`compare`)."""
    kinds: dict[str, dict[str, PlanModel]] = {}
    for part in plans:
        for kind, items in _item_fields(part):
            held = kinds.setdefault(kind, {})
            for item in items:
                first = held.setdefault(item.key, item)
                fields = UNIONS.get(type(item), ())
                if fields and first is not item:
                    update = {
                        f: tuple(sorted({*getattr(first, f), *getattr(item, f)})) for f in fields
                    }
                    held[item.key] = first.model_copy(update=update)
    return kinds


def compare(whole: MigrationPlan, kinds: dict[str, dict[str, PlanModel]]) -> Counts:
    """Per kind: how many items differ between ``whole`` and the merged parts, by cause."""
    split = _split_cluster_wide(whole)
    counts: Counts = {}
    for kind, items in _item_fields(whole):
        theirs = kinds.get(kind, {})
        ours = {item.key: item for item in items}
        counted: Counter[str] = Counter({"total": len(ours)})
        for key in sorted(ours.keys() | theirs.keys()):
            mine, other = ours.get(key), theirs.get(key)
            if mine != other:
                counted[cause(mine or other, split)] += 1  # type: ignore[arg-type]
        counts[kind] = counted
    return counts


def _split_cluster_wide(whole: MigrationPlan) -> set[str]:
    """The whole plan's login and server-role roles (a server fact among their facts) that
    DENY restructuring split or derived roles from, with the roles it made of them."""
    cluster_wide = {r.name for r in whole.roles if any(f.startswith("server/") for f in r.facts)}
    made = {
        r.name
        for r in whole.roles
        for marker in MARKERS
        if marker in r.name and r.name.partition(marker)[0] in cluster_wide
    }
    return made | {name.partition(m)[0] for name in made for m in MARKERS if m in name}


def cause(item: PlanModel, split: set[str]) -> str:
    """Which coupling an item that differs comes from (the module docstring's three)."""
    facts = getattr(item, "facts", None) or (getattr(item, "fact", None),)
    if all(isinstance(f, str) and f.startswith("server/") for f in facts):
        return "server fact"
    if str(getattr(item, "securable", "")).startswith("role "):  # a server role's finding
        return "server fact"
    if not split.isdisjoint(_names(item)):
        return "cluster-wide restructuring"
    return "other"


def _names(item: PlanModel) -> set[str]:
    """The roles an item names: its own fields, and the grantees and members of the items a
    disposition lists (``grant:…:grantee``, ``membership:role<-member``)."""
    fields = ("name", "grantee", "role", "member", "owner")
    names = {str(getattr(item, f)) for f in fields if getattr(item, f, None)}
    principal = getattr(item, "principal", None)
    if principal:
        names.add(principal.casefold())
    for key in getattr(item, "items", ()):
        last = key.rsplit(":", 1)[-1]
        names.update(last.split("<-"))
    return names


def _item_fields(migration: MigrationPlan) -> Iterator[tuple[str, tuple[PlanModel, ...]]]:
    for name in type(migration).model_fields:
        value = getattr(migration, name)
        if isinstance(value, tuple):
            yield name, value


def report(counts: Counts) -> str:
    """A Markdown table: each kind's items in the whole plan and its differing items by cause."""
    lines = ["| kind | items (whole) | differing | " + " | ".join(CAUSES) + " |"]
    lines.append("|---" * (3 + len(CAUSES)) + "|")
    for kind, counted in counts.items():
        total = counted.get("total", 0)
        by_cause = [counted.get(c, 0) for c in CAUSES]
        cells = [kind, f"{total:,}", f"{sum(by_cause):,}", *(f"{n:,}" for n in by_cause)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def decompose(snapshot: SecuritySnapshot, policy: Policy) -> Counts:
    """Plan whole and per database, and count what differs (:func:`compare`)."""
    return compare(plan(snapshot, policy), merged(parts(snapshot, policy)))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.decompose", description=__doc__)
    parser.add_argument("--scale", default="XS", help="XS, S, M or rows<N> (default XS)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--snapshot", type=Path, help="a snapshot.json instead of a scale")
    args = parser.parse_args(argv)
    path = args.snapshot or ensure_estate(get_scale(args.scale), args.seed).snapshot_path
    snapshot = SecuritySnapshot.from_json(Path(path).read_text(encoding="utf-8"), origin=str(path))
    print(f"{path}: {len(snapshot.databases)} databases")
    print(report(decompose(snapshot, Policy())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
