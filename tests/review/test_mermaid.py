"""The role-hierarchy Mermaid block, checked structurally (no Mermaid parser runs in CI)."""

from __future__ import annotations

import re

import pytest

from mapper.plan import MigrationPlan
from pg_emit.mermaid import MAX_EDGES, drawn_edges, render_role_graph
from tests.review import plans

NODE = re.compile(r'^  (?P<id>\S+)\["(?P<label>[^"]*)"\]$')
EDGE = re.compile(r"^  (?P<member>\S+) --> (?P<role>\S+)$")
CLASS = re.compile(r"^  (classDef \S+ .+|class \S+ \S+)$")
SAFE_ID = re.compile(r"^r_[A-Za-z0-9_]+$")
#: In a label: no quote, bracket, brace, backtick, pipe or angle bracket except the <br/> we add.
UNSAFE_IN_LABEL = re.compile(r'["\[\]{}()`|<>]')


def parse(block: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Check every line's shape and return nodes (id → label) and edges."""
    lines = block.splitlines()
    assert lines[0] == "```mermaid"
    assert lines[1] == "graph LR"
    assert lines[-1] == "```"
    nodes: dict[str, str] = {}
    edges: list[tuple[str, str]] = []
    for line in lines[2:-1]:
        if node := NODE.match(line):
            assert node["id"] not in nodes, f"node declared twice: {line}"
            nodes[node["id"]] = node["label"]
        elif edge := EDGE.match(line):
            edges.append((edge["member"], edge["role"]))
        else:
            assert CLASS.match(line), f"unexpected line {line!r}"
    return nodes, edges


def assert_well_formed(block: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    nodes, edges = parse(block)
    for node_id, label in nodes.items():
        assert SAFE_ID.match(node_id), node_id
        assert not UNSAFE_IN_LABEL.search(label.replace("<br/>", "")), label
    for member, role in edges:
        assert member in nodes, member
        assert role in nodes, role
    return nodes, edges


def test_every_edge_is_declared_and_ids_are_safe() -> None:
    nodes, edges = assert_well_formed(render_role_graph(plans.sales_plan()))
    assert ("r_app_sales", "r_sales_reader") in edges
    assert nodes["r_app_sales"] == "app_sales<br/>login"


def test_hostile_names_are_escaped_and_ids_do_not_collide() -> None:
    nodes, _edges = assert_well_formed(render_role_graph(plans.hostile_plan()))
    assert len(nodes) == 4  # "a-b" and "a_b" got distinct ids
    assert {"r_a_b", "r_a_b_2", "r_end"} <= set(nodes)
    hostile = next(label for label in nodes.values() if label.startswith("evil"))
    assert "#quot;" in hostile
    assert "#124;" in hostile
    assert "#60;b#62;" in hostile


def test_large_estates_collapse_to_group_roles_with_member_counts() -> None:
    plan = plans.large_plan(logins=MAX_EDGES + 10, groups=5)
    nodes, edges = assert_well_formed(render_role_graph(plan))
    assert all(label.split("<br/>")[1] != "login" for label in nodes.values())
    assert len(nodes) == 5
    assert ("r_group_1", "r_group_0") in edges
    assert nodes["r_group_0"].endswith("+14 login/user members")


def test_small_estates_are_drawn_in_full() -> None:
    nodes, _ = assert_well_formed(render_role_graph(plans.large_plan(logins=10, groups=2)))
    assert len(nodes) == 12


def test_no_memberships_no_diagram() -> None:
    assert render_role_graph(plans.plan()) == ""


def test_diagram_is_deterministic() -> None:
    plan = plans.large_plan()
    assert render_role_graph(plan) == render_role_graph(plan)


@pytest.mark.parametrize(
    "plan",
    [
        plans.sales_plan(),
        plans.hostile_plan(),
        plans.large_plan(logins=10, groups=2),  # drawn in full
        plans.large_plan(logins=MAX_EDGES - 2, groups=3),  # MAX_EDGES edges: in full
        plans.large_plan(logins=MAX_EDGES + 10, groups=5),  # collapsed
        plans.plan(),
    ],
)
def test_drawn_edges_counts_what_is_drawn(plan: MigrationPlan) -> None:
    """The report skips a diagram by this count (a bench L part has 120,000 memberships)."""
    graph = render_role_graph(plan)
    assert drawn_edges(plan) == (len(parse(graph)[1]) if graph else 0)
