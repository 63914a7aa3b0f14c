"""The rest of the EffectivePermissions API: sets, memberships, errors, determinism."""

from __future__ import annotations

import pytest

from grantbridge.errors import MappingError
from mapper.effective import EffectivePermissions, Securable
from tests.semantics.builders import deny, estate, grant, login, member, sales

ORDERS = Securable("OBJECT", "sales", "orders")


def _names(pairs: frozenset[tuple[Securable, str]]) -> set[tuple[str, str]]:
    return {(str(s), p) for s, p in pairs}


def test_effective_from_a_schema_grant() -> None:
    engine = EffectivePermissions(estate(sales(perms=[grant("SELECT", "SCHEMA::sales", "alice")])))
    assert _names(engine.effective("Sales", "alice")) == {
        ("SCHEMA::sales", "SELECT"),
        ("OBJECT::sales.orders", "SELECT"),
        ("OBJECT::sales.report", "SELECT"),
    }


def test_effective_subtracts_denies() -> None:
    perms = [
        grant("SELECT", "SCHEMA::sales", "r1"),
        deny("SELECT", "OBJECT::sales.Report", "alice"),
    ]
    engine = EffectivePermissions(estate(sales(perms=perms, members=[member("r1", "alice")])))
    assert ("OBJECT::sales.report", "SELECT") not in _names(engine.effective("Sales", "alice"))
    assert ("OBJECT::sales.orders", "SELECT") in _names(engine.effective("Sales", "alice"))


def test_effective_column_grant_under_denied_table() -> None:
    perms = [deny("SELECT", "OBJECT::sales.Orders", "alice"),
             grant("SELECT", "OBJECT::sales.Orders(total)", "alice")]  # fmt: skip
    engine = EffectivePermissions(estate(sales(perms=perms)))
    assert _names(engine.effective("Sales", "alice")) == {("OBJECT::sales.orders(total)", "SELECT")}


def test_effective_column_deny_splits_the_table() -> None:
    perms = [grant("SELECT", "OBJECT::sales.Orders", "alice"),
             deny("SELECT", "OBJECT::sales.Orders(secret)", "alice")]  # fmt: skip
    engine = EffectivePermissions(estate(sales(perms=perms)))
    assert _names(engine.effective("Sales", "alice")) == {
        ("OBJECT::sales.orders(id)", "SELECT"),
        ("OBJECT::sales.orders(total)", "SELECT"),
    }


def test_effective_for_bypass_covers_everything() -> None:
    engine = EffectivePermissions(estate(sales(perms=[deny("SELECT", "DATABASE", "public")])))
    everything = engine.effective("Sales", "dbo")
    assert (ORDERS, "SELECT") in everything
    assert (Securable("DATABASE"), "CONTROL") in everything
    assert not any(s.securable_class == "SERVER" for s, _ in everything)
    assert engine.effective("Sales", "alice") == frozenset()


def test_effective_db_owner_and_server_scope() -> None:
    snapshot = estate(
        sales(members=[member("db_owner", "alice")]),
        server_members=[member("securityadmin", "alice")],
    )
    engine = EffectivePermissions(snapshot)
    assert (Securable("USER", name="bob"), "IMPERSONATE") in engine.effective("Sales", "alice")
    server = _names(engine.effective(None, "alice"))
    assert ("SERVER", "ALTER ANY LOGIN") in server
    assert ("LOGIN::bob", "ALTER") in server
    assert ("SERVER", "CONTROL SERVER") not in server


def test_effective_matches_explain() -> None:
    perms = [grant("CONTROL", "SCHEMA::sales", "r1"), deny("UPDATE", "OBJECT::sales.Orders", "r2")]
    members = [member("r1", "alice"), member("r2", "alice")]
    engine = EffectivePermissions(estate(sales(perms=perms, members=members)))
    result = engine.effective("Sales", "alice")
    assert (ORDERS, "UPDATE") not in result
    for securable, permission in result:
        assert engine.explain("Sales", "alice", securable, permission).allowed


def test_memberships_and_principals() -> None:
    members = [member("r1", "alice"), member("r2", "r1"), member("db_datareader", "r2")]
    engine = EffectivePermissions(
        estate(sales(members=members), server_members=[member("sysadmin", "alice")])
    )
    assert engine.memberships("Sales", "alice") == {"r1", "r2", "db_datareader", "public"}
    assert engine.memberships(None, "alice") == {"sysadmin", "public"}
    assert "reporting_app" in engine.principals("Sales")
    assert "sysadmin" in engine.principals(None)
    assert engine.is_never_denied("Sales", "alice")
    assert not engine.is_never_denied("Sales", "bob")
    # allows(): explain's verdict, failing closed where explain raises
    assert engine.allows("Sales", "alice", Securable("DATABASE"), "CONNECT")
    assert not engine.allows("Sales", "nobody_at_all", Securable("DATABASE"), "CONNECT")
    with pytest.raises(MappingError):
        engine.explain("Sales", "nobody_at_all", Securable("DATABASE"), "CONNECT")
    assert engine.covering("OBJECT", "SELECT")[:2] == (("OBJECT", "SELECT"), ("OBJECT", "RECEIVE"))


def test_decision_path_is_deterministic_and_names_the_chain() -> None:
    perms = [deny("SELECT", "SCHEMA::sales", "r2"), deny("SELECT", "SCHEMA::sales", "r1")]
    members = [member("r2", "alice"), member("r1", "alice")]
    answers = {
        EffectivePermissions(estate(sales(perms=perms, members=members))).explain(
            "Sales", "ALICE", ORDERS, "SELECT"
        )
        for _ in range(3)
    }
    assert len(answers) == 1
    decision = answers.pop()
    assert decision.path == (
        "user alice",
        "role r1",
        "DENY SELECT ON SCHEMA::sales TO r1 [case.sql:20]",
    )
    assert decision.deny is not None
    assert decision.deny.grantee == "r1"


def test_login_name_at_database_scope_uses_its_user() -> None:
    engine = EffectivePermissions(
        estate(sales(perms=[grant("SELECT", "OBJECT::sales.Orders", "alice")]))
    )
    decision = engine.explain("Sales", "alice", ORDERS, "SELECT")
    assert decision.allowed
    assert decision.path[0] == "user alice"


def test_login_without_user_and_no_guest_is_shut_out() -> None:
    engine = EffectivePermissions(estate(logins=(login("dave"),)))
    decision = engine.explain("Sales", "dave", ORDERS, "SELECT")
    assert not decision.allowed
    assert "no user in database" in decision.reason


@pytest.mark.parametrize(
    ("database", "principal", "securable", "permission", "message"),
    [
        ("Nope", "alice", ORDERS, "SELECT", "unknown database 'Nope'"),
        ("Sales", "zed", ORDERS, "SELECT", "unknown principal 'zed'"),
        ("Sales", "alice", ORDERS, "SELEKT", "no permission 'SELEKT'"),
        ("Sales", "alice", Securable("OBJECT", "sales", "orders", "id"), "DELETE", "on a column"),
    ],
)
def test_bad_questions_are_mapping_errors(
    database: str, principal: str, securable: Securable, permission: str, message: str
) -> None:
    engine = EffectivePermissions(estate())
    with pytest.raises(MappingError, match=message):
        engine.explain(database, principal, securable, permission)


def test_bad_permission_rows_are_errors() -> None:
    with pytest.raises(MappingError, match="no permission 'CREATE TABLE' on SCHEMA::sales"):
        EffectivePermissions(estate(sales(perms=[grant("CREATE TABLE", "SCHEMA::sales", "ghost")])))
    with pytest.raises(
        MappingError, match=r"no permission 'EXECUTE' on OBJECT::sales\.orders\(id\)"
    ):
        EffectivePermissions(
            estate(sales(perms=[grant("EXECUTE", "OBJECT::sales.Orders(id)", "bob")]))
        )
    with pytest.raises(MappingError, match="no permission 'CREATE TABLE' on SCHEMA::sales"):
        EffectivePermissions(estate(sales(perms=[grant("CREATE TABLE", "SCHEMA::sales", "bob")])))


#: Rows naming principals the snapshot does not hold (partial exports): a grant, a DENY and a
#: membership of an unknown principal, an unknown member of a known role and the reverse.
_UNKNOWN_ROWS = {
    "perms": [grant("SELECT", "SCHEMA::sales", "ghost"), deny("SELECT", "DATABASE", "ghost"),
              deny("SELECT", "OBJECT::sales.Orders", "ghost")],
    "members": [member("r1", "ghost"), member("ghost", "alice")],
    "schema_owners": {"sales": "ghost"}, "object_owners": {"Orders": "ghost"},
    "role_owners": {"r2": "ghost"},
}  # fmt: skip


def test_rows_naming_unknown_principals_are_left_out_and_recorded() -> None:
    """The engine answers as if the rows were not there (the grant, the DENYs, the memberships
    and the owners of the unknown principal), and records them for the planner."""
    common = {"perms": [grant("SELECT", "SCHEMA::sales", "r1")], "members": [member("r1", "bob")]}
    server_row = grant("VIEW SERVER STATE", "SERVER", "CONTOSO\\Ops")
    plain = EffectivePermissions(estate(sales(**common)))
    partial = EffectivePermissions(
        estate(sales(
            perms=[*common["perms"], *_UNKNOWN_ROWS["perms"]],
            members=[*common["members"], *_UNKNOWN_ROWS["members"]],
            **{k: v for k, v in _UNKNOWN_ROWS.items() if k.endswith("owners")},
        ), server_perms=[server_row])
    )  # fmt: skip
    for principal in plain.principals("Sales"):
        assert partial.effective("Sales", principal) == plain.effective("Sales", principal)
        assert partial.explain("Sales", principal, ORDERS, "SELECT") == plain.explain(
            "Sales", principal, ORDERS, "SELECT"
        )
    assert partial.principals("Sales") == plain.principals("Sales")
    assert not partial.knows("Sales", "ghost")
    assert partial.knows("Sales", "ALICE")
    unknown = {
        key: partial.unknown("Sales", key)
        for key in ("perm:SCHEMA:sales:SELECT:grant:ghost", "member:r1<-ghost",
                    "member:ghost<-alice", "schema:sales", "object:sales.orders", "role:r2")
    }  # fmt: skip
    assert {k: u.describe() if u else None for k, u in unknown.items()} == {
        "perm:SCHEMA:sales:SELECT:grant:ghost": "grantee [ghost]",
        "member:r1<-ghost": "member [ghost]",
        "member:ghost<-alice": "role [ghost]",
        "schema:sales": "owner [ghost]",
        "object:sales.orders": "owner [ghost]",
        "role:r2": "owner [ghost]",
    }
    server = partial.unknown(None, server_row.key)
    assert server is not None
    assert server.database is None
    assert partial.unknown("Sales", "member:r1<-bob") is None
    assert partial.unknown("Sales", "schema:dbo") is None


def test_effective_contoso_customer_cards_shape() -> None:
    """Schema SELECT via a role, table DENY, column GRANTs: only the granted columns remain."""
    perms = [
        grant("SELECT", "SCHEMA::sales", "r1"),
        deny("SELECT", "OBJECT::sales.Orders", "r2"),
        grant("SELECT", "OBJECT::sales.Orders(id)", "r2"),
        grant("SELECT", "OBJECT::sales.Orders(total)", "r2"),
    ]
    members = [member("r1", "r2"), member("r2", "alice")]
    engine = EffectivePermissions(estate(sales(perms=perms, members=members)))
    selects = {str(s) for s, p in engine.effective("Sales", "alice") if p == "SELECT"}
    assert selects == {
        "SCHEMA::sales",
        "OBJECT::sales.report",
        "OBJECT::sales.orders(id)",
        "OBJECT::sales.orders(total)",
    }
    decision = engine.explain(
        "Sales", "alice", Securable("OBJECT", "sales", "Orders", "id"), "SELECT"
    )
    assert decision.allowed
    assert "column-level GRANT beats the table-level DENY" in decision.reason
