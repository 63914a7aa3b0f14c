"""The role hierarchy as a Mermaid ``graph LR`` block that GitHub renders in a report.

Edges point from a member to the role it is granted (``member --> role``), as ``GRANT role TO
member`` reads. A large estate would draw an unreadable hairball, so above ``max_edges`` the
diagram keeps only the roles that carry privileges (groups, owners, application and derived
roles) and writes, inside each, how many login and user roles were folded into it.

Node ids are derived from role names but restricted to ``[A-Za-z0-9_]`` and prefixed, so that no
name can collide with a Mermaid keyword (``end``, ``graph``) or break the syntax; labels are
quoted and every character Mermaid could read as markup is written as an entity code.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from grantbridge.plural import plural
from mapper.plan import MigrationPlan, RoleKind

#: Above this many membership edges the diagram is collapsed to the privilege-carrying roles.
MAX_EDGES = 60

#: What Mermaid draws at most with its default configuration, which GitHub's renderer keeps:
#: ``maxEdges`` 500 and ``maxTextSize`` 50,000 characters (Mermaid config schema,
#: https://mermaid.js.org/config/schema-docs/config.html). A larger diagram is an error box.
MERMAID_MAX_EDGES = 500
MERMAID_MAX_TEXT = 50_000

#: Roles that people log in as, or stand for one person: folded away when the diagram collapses.
_LEAF_KINDS = frozenset({RoleKind.LOGIN, RoleKind.USER})

#: One ``classDef`` per role kind, so a reader can tell logins from groups at a glance.
_CLASS_STYLES: dict[RoleKind, str] = {
    RoleKind.LOGIN: "fill:#e8f1fb,stroke:#2f6db5",
    RoleKind.USER: "fill:#eef6ee,stroke:#3d8b3d",
    RoleKind.GROUP: "fill:#fff5e0,stroke:#c98a00",
    RoleKind.APPLICATION: "fill:#f3e8fb,stroke:#7b3fb5",
    RoleKind.OWNER: "fill:#fbe8e8,stroke:#b53f3f",
    RoleKind.DERIVED: "fill:#f0f0f0,stroke:#666666,stroke-dasharray: 4 2",
    RoleKind.PREDEFINED: "fill:#ffffff,stroke:#999999",
}

#: Characters written as Mermaid entity codes inside a quoted label (``#quot;``, ``#35;`` …).
_LABEL_ENTITIES: dict[str, str] = {char: f"#{ord(char)};" for char in '"#&<>[](){}`|\\;'} | {
    '"': "#quot;"
}

_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_]")


def render_role_graph(plan: MigrationPlan, *, max_edges: int = MAX_EDGES) -> str:
    """Render the plan's memberships as a fenced ``mermaid`` block (``""`` when there are none)."""
    edges = sorted((m.member, m.role) for m in plan.memberships)
    if not edges:
        return ""
    kinds = {role.name: role.kind for role in plan.roles}
    # PostgreSQL's own pg_* roles are memberships only, never plan roles: still predefined
    kinds |= {r: RoleKind.PREDEFINED for _, r in edges if r.startswith("pg_") and r not in kinds}
    folded: Counter[str] = Counter()
    if len(edges) > max_edges:
        edges, folded = _collapse(edges, kinds)
    names = sorted({name for edge in edges for name in edge} | set(folded))
    ids = _node_ids(names)
    lines = ["```mermaid", "graph LR"]
    lines += [f'  {ids[n]}["{_label(n, kinds.get(n), folded[n])}"]' for n in names]
    lines += [f"  {ids[member]} --> {ids[role]}" for member, role in edges]
    lines += _classes(names, kinds, ids)
    lines.append("```")
    return "\n".join(lines)


def _collapse(
    edges: list[tuple[str, str]], kinds: dict[str, RoleKind]
) -> tuple[list[tuple[str, str]], Counter[str]]:
    """Keep edges between privilege-carrying roles; count the login/user members of each."""
    kept = [(m, r) for m, r in edges if kinds.get(m) not in _LEAF_KINDS]
    folded = Counter(r for m, r in edges if kinds.get(m) in _LEAF_KINDS)
    return kept, folded


def _node_ids(names: Iterable[str]) -> dict[str, str]:
    """Safe, unique, deterministic ids: ``r_`` + the name with unsafe characters as ``_``."""
    ids: dict[str, str] = {}
    taken: set[str] = set()
    for name in sorted(names):
        base = "r_" + _UNSAFE_ID.sub("_", name)
        candidate, n = base, 1
        while candidate in taken:  # "a-b" and "a_b" would otherwise share an id
            n += 1
            candidate = f"{base}_{n}"
        taken.add(candidate)
        ids[name] = candidate
    return ids


def _label(name: str, kind: RoleKind | None, folded: int) -> str:
    escaped = "".join(_LABEL_ENTITIES.get(char, char) for char in name)
    suffix = f"<br/>{kind.value}" if kind else ""
    if folded:
        suffix += f"<br/>+{plural(folded, 'login/user member')}"
    return escaped + suffix


def _classes(names: list[str], kinds: dict[str, RoleKind], ids: dict[str, str]) -> list[str]:
    lines: list[str] = []
    for kind, style in _CLASS_STYLES.items():
        members = [ids[n] for n in names if kinds.get(n) == kind]
        if members:
            # Prefixed like the node ids, so a kind never collides with a Mermaid keyword.
            lines.append(f"  classDef kind_{kind.value} {style}")
            lines.append(f"  class {','.join(members)} kind_{kind.value}")
    return lines


def drawn_edges(plan: MigrationPlan, *, max_edges: int = MAX_EDGES) -> int:
    """How many edges :func:`render_role_graph` draws, without drawing them: a report whose
    diagram could not be drawn anyway skips making it (a bench scale L part has 120,000
    memberships, and the diagram took about a second to make and throw away)."""
    if len(plan.memberships) <= max_edges:
        return len(plan.memberships)
    kinds = {role.name: role.kind for role in plan.roles}
    return sum(1 for m in plan.memberships if kinds.get(m.member) not in _LEAF_KINDS)


def drawable(graph: str) -> bool:
    """Whether Mermaid (default limits) draws a diagram :func:`render_role_graph` made."""
    edges = sum(1 for line in graph.splitlines() if " --> " in line)
    return edges <= MERMAID_MAX_EDGES and len(graph) <= MERMAID_MAX_TEXT
