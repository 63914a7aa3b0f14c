"""The principal graph: links, implicit memberships, cycles, determinism."""

from __future__ import annotations

import pytest

from grantbridge.errors import MappingError
from mapper.graph import IMPLICIT, MAPS_TO, MEMBER, PrincipalGraph, PrincipalKind
from mssql_extract.snapshot import Database, SecuritySnapshot
from tests.semantics.builders import REF, estate, login, member, sales, user


def _graph(snapshot: SecuritySnapshot) -> PrincipalGraph:
    return PrincipalGraph(snapshot)


def test_nodes_and_kinds() -> None:
    graph = _graph(estate())
    assert graph.kind(("server", "alice")) == PrincipalKind.LOGIN
    assert graph.kind(("server", "sysadmin")) == PrincipalKind.SERVER_ROLE
    assert graph.kind(("sales", "alice")) == PrincipalKind.USER
    assert graph.kind(("sales", "db_owner")) == PrincipalKind.ROLE
    assert graph.kind(("sales", "reporting_app")) == PrincipalKind.APP_ROLE
    assert graph.display(("sales", "db_owner")) == "db_owner"
    assert graph.graph.nodes[("sales", "guest")]["enabled"] is False


def test_login_to_user_by_sid_then_by_name() -> None:
    database = sales(
        extra_users=(user("Dave_User", sid="0xAB"), user("erin", login_name="ERIN"),
                     user("orphan", sid="0xFF", orphaned=True)),
    )  # fmt: skip
    snapshot = estate(database, logins=(login("dave", sid="0XAB"), login("Erin")))
    graph = _graph(snapshot)
    assert graph.login_of(("sales", "dave_user")) == ("server", "dave")
    assert graph.login_of(("sales", "erin")) == ("server", "erin")
    assert graph.login_of(("sales", "orphan")) is None
    assert graph.user_of("Sales", ("server", "dave")) == ("sales", "dave_user")
    assert graph.graph.edges[("server", "dave"), ("sales", "dave_user")]["kind"] == MAPS_TO


def test_database_owner_maps_to_dbo() -> None:
    graph = _graph(estate(sales(owner="dave"), logins=(login("dave"),)))
    assert graph.user_of("Sales", ("server", "dave")) == ("sales", "dbo")


def test_implicit_public_and_dbo_in_db_owner() -> None:
    graph = _graph(estate())
    kinds = {(u, v): str(data["kind"]) for u, v, data in graph.graph.edges(data=True)}
    assert kinds[(("server", "alice"), ("server", "public"))] == IMPLICIT
    assert kinds[(("sales", "alice"), ("sales", "public"))] == IMPLICIT
    assert kinds[(("sales", "reporting_app"), ("sales", "public"))] == IMPLICIT
    assert kinds[(("sales", "dbo"), ("sales", "db_owner"))] == IMPLICIT
    assert (("sales", "r1"), ("sales", "public")) not in kinds  # roles are not members of public


def test_closure_is_breadth_first_sorted_with_chains() -> None:
    members = [member("r2", "alice"), member("r1", "alice"), member("r3", "r1"), member("r3", "r2")]
    graph = _graph(estate(sales(members=members)))
    closure = graph.closure(("sales", "alice"))
    assert [node[1] for node, _ in closure] == ["alice", "public", "r1", "r2", "r3"]
    assert dict(closure)[("sales", "r3")] == (("sales", "alice"), ("sales", "r1"), ("sales", "r3"))


def test_graph_is_deterministic() -> None:
    one = _graph(estate(sales(members=[member("r2", "alice"), member("r1", "bob")])))
    two = _graph(estate(sales(members=[member("r1", "bob"), member("r2", "alice")])))
    assert list(one.graph.nodes) == list(two.graph.nodes) == sorted(one.graph.nodes)
    assert list(one.graph.edges(data=True)) == list(two.graph.edges(data=True))


def test_cycle_is_an_error_naming_the_cycle() -> None:
    members = [member("r1", "alice"), member("r2", "r1"), member("r3", "r2"), member("r1", "r3")]
    with pytest.raises(MappingError, match=r"role membership cycle: r1 -> r2 -> r3 -> r1"):
        _graph(estate(sales(members=members)))


def test_server_role_cycle() -> None:
    snapshot = estate(server_roles=("a", "b"), server_members=[member("a", "b"), member("b", "a")])
    with pytest.raises(MappingError, match=r"cycle: a -> b -> a"):
        _graph(snapshot)


def test_unknown_member_or_role_is_left_out_and_recorded() -> None:
    """A partial export's membership (dbatools' -IncludeRoleMember): no edge, no node, a record
    for the planner (the graph used to refuse it)."""
    members = [member("r1", "nobody"), member("ghost", "alice"), member("r2", "alice")]
    snapshot = estate(sales(members=members), server_members=[member("sysadmin", "CONTOSO\\Ops")])
    graph = _graph(snapshot)
    assert ("sales", "nobody") not in graph
    assert ("sales", "ghost") not in graph
    assert [node for node, _ in graph.closure(("sales", "alice"))] == [
        ("sales", "alice"), ("sales", "public"), ("sales", "r2"),
    ]  # fmt: skip
    assert {key: u.names for key, u in graph.unknown.items()} == {
        ("sales", "member:r1<-nobody"): (("member", "nobody"),),
        ("sales", "member:ghost<-alice"): (("role", "ghost"),),
        ("server", "member:sysadmin<-contoso\\ops"): (("member", "CONTOSO\\Ops"),),
    }
    assert graph.unknown[("sales", "member:r1<-nobody")].database == "Sales"
    both = _graph(estate(sales(members=[member("ghost", "nobody")])))
    assert both.unknown[("sales", "member:ghost<-nobody")].describe() == (
        "member [nobody] and role [ghost]"
    )


def test_member_of_a_user_is_an_error() -> None:
    with pytest.raises(MappingError, match="'bob' is not a role"):
        _graph(estate(sales(members=[member("bob", "alice")])))


def test_database_named_server_is_refused() -> None:
    snapshot = estate().model_copy(update={"databases": (Database(name="Server", source_ref=REF),)})
    with pytest.raises(MappingError, match="server scope"):
        _graph(snapshot)


def test_member_edges_carry_kind() -> None:
    graph = _graph(estate(sales(members=[member("db_datareader", "alice")])))
    assert graph.graph.edges[("sales", "alice"), ("sales", "db_datareader")]["kind"] == MEMBER
