"""``uv run python -m bench.composition [--scale S]``: what a plan's items are made of.

The plan-time target of issue 7 is measured against the snapshot, but the planner's work grows
with the plan, which is several times larger (docs/architecture.md, "Scale"). This prints where
the plan's grants and memberships come from, so that the reasons can be checked again:

* grants by object type and by the securable class of their first source fact (a SCHEMA or
  DATABASE fact expands to every object of the schema; a fixed-role membership to every object
  of the database);
* grants and memberships by the kind of role they belong to (``_common`` and ``_part_`` roles
  hold the grants DENY restructuring moved; ``_minus_`` roles are the derived roles).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter

from bench.estate import ensure_estate
from bench.scales import get_scale
from mapper.plan import MigrationPlan


def _source_class(facts: tuple[str, ...]) -> str:
    """``SCHEMA`` for ``Sales/perm:SCHEMA:…``; ``membership`` for a fixed role's member fact."""
    if not facts:
        return "-"
    _, _, key = facts[0].partition("/")
    kind, _, rest = key.partition(":")
    return rest.split(":", 1)[0] if kind == "perm" else "membership" if kind == "member" else kind


def _role_kind(kinds: dict[str, str], name: str) -> str:
    for marker in ("_common", "_part_", "_minus_"):
        if marker in name:
            return f"derived ({marker.strip('_')})"
    return kinds.get(name, name)


def composition(plan: MigrationPlan) -> list[tuple[str, Counter[str]]]:
    """The tables :func:`main` prints, by title."""
    kinds = {r.name: r.kind.value for r in plan.roles}
    by_source = Counter(f"{g.object_type} from {_source_class(g.facts)}" for g in plan.grants)
    by_grantee = Counter(_role_kind(kinds, g.grantee) for g in plan.grants)
    by_role = Counter(_role_kind(kinds, m.role) for m in plan.memberships)
    roles = Counter(_role_kind(kinds, r.name) for r in plan.roles)
    return [
        (f"grants ({len(plan.grants):,}) by object type and source", by_source),
        ("grants by the kind of role granted to", by_grantee),
        (f"memberships ({len(plan.memberships):,}) by the kind of role granted", by_role),
        (f"roles ({len(plan.roles):,}) by kind", roles),
    ]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.composition", description=__doc__)
    parser.add_argument("--scale", default="S", help="XS, S, M, L or rows<N> (default S)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--top", type=int, default=12, help="rows per table (default 12)")
    args = parser.parse_args(argv)
    from mapper.planner import plan
    from mapper.policy import Policy
    from mssql_extract.snapshot import SecuritySnapshot

    estate = ensure_estate(get_scale(args.scale), args.seed)
    snapshot = SecuritySnapshot.from_json(estate.snapshot_path.read_text(encoding="utf-8"))
    for title, counts in composition(plan(snapshot, Policy())):
        print(f"\n{title}")
        for label, count in counts.most_common(args.top):
            print(f"  {label:<40} {count:>10,}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
