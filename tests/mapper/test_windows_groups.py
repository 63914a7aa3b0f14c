"""Windows groups from sources that cannot tell them from Windows users.

``CREATE LOGIN [D\\x] FROM WINDOWS`` is the same text for a user and a group: scripts (and
dacpacs) give a Windows user marked ``type_inferred``; the policy's
``authentication.windows_groups`` declares the groups, which then map as the catalog's groups do
(``ad_group``, GB032). An inferred login left a user gets GB034; a catalog login never does.
"""

from __future__ import annotations

import json

import pytest

from grantbridge.errors import PolicyError
from mapper.plan import AuthMethod, MigrationPlan, PgRole
from mapper.planner import plan
from mapper.policy import Policy, parse_policy
from mapper.translate.windows import classify_windows_groups
from mssql_extract.catalog import snapshot_from_rows
from mssql_extract.dacpac import extract_dacpac
from mssql_extract.snapshot import LoginType, SecuritySnapshot, UserType
from mssql_extract.tsql import parse_text
from tests.conftest import CONTOSO
from tests.extract_sources.support import load_rows

SCRIPT = r"""
CREATE LOGIN [CONTOSO\SQL-Readers] FROM WINDOWS
GO
CREATE LOGIN [CONTOSO\jdoe] FROM WINDOWS WITH DEFAULT_DATABASE = [Sales]
GO
CREATE LOGIN [app] WITH PASSWORD = 'x-not-a-secret-1', SID = 0x01
GO
USE [Sales]
GO
CREATE USER [readers] FOR LOGIN [CONTOSO\SQL-Readers]
GO
CREATE USER [CONTOSO\jdoe]
GO
CREATE USER [CONTOSO\SQL-Auditors]
GO
CREATE ROLE [reporting]
GO
ALTER ROLE [reporting] ADD MEMBER [readers]
GO
"""
GROUPS = "[authentication]\nwindows_groups = ['contoso\\sql-*']\n"


@pytest.fixture(scope="module")
def scripted() -> SecuritySnapshot:
    return parse_text(SCRIPT, "w.sql")


def login_role(migration: MigrationPlan, login: str) -> PgRole:
    return next(r for r in migration.roles if r.source == f"login [{login}]")


def rules_for(migration: MigrationPlan, principal: str) -> set[str]:
    return {f.rule_id for f in migration.findings if f.principal == principal}


def test_scripts_record_windows_types_as_inferred(scripted: SecuritySnapshot) -> None:
    logins = {lg.name: (lg.type, lg.type_inferred) for lg in scripted.logins}
    assert logins == {
        "CONTOSO\\SQL-Readers": (LoginType.WINDOWS_USER, True),
        "CONTOSO\\jdoe": (LoginType.WINDOWS_USER, True),
        "app": (LoginType.SQL, False),
    }
    (sales,) = scripted.databases
    users = {u.name: (u.type, u.type_inferred) for u in sales.users}
    assert users == {
        "readers": (UserType.WINDOWS_USER, True),
        "CONTOSO\\jdoe": (UserType.WINDOWS_USER, True),
        "CONTOSO\\SQL-Auditors": (UserType.WINDOWS_USER, True),  # no login: guessed
    }


def test_without_the_policy_an_inferred_login_is_a_user_with_gb034(
    scripted: SecuritySnapshot,
) -> None:
    migration = plan(scripted, Policy())
    role = login_role(migration, "CONTOSO\\SQL-Readers")
    assert (role.name, role.login, role.auth) == ("sql-readers@CONTOSO", True, AuthMethod.KERBEROS)
    assert rules_for(migration, "CONTOSO\\SQL-Readers") == {"GB033", "GB034"}
    finding = next(f for f in migration.findings if f.rule_id == "GB034")
    assert "authentication.windows_groups" in finding.action + finding.remediation
    assert finding.source_ref == "w.sql:2:1"
    assert "GB034" not in rules_for(migration, "app")


def test_the_policy_makes_a_declared_login_and_its_users_a_group(
    scripted: SecuritySnapshot,
) -> None:
    policy = parse_policy(GROUPS)
    migration = plan(scripted, policy)
    role = login_role(migration, "CONTOSO\\SQL-Readers")
    assert (role.name, role.login, role.auth) == ("sql-readers", False, AuthMethod.AD_GROUP)
    assert rules_for(migration, "CONTOSO\\SQL-Readers") == {"GB032"}
    gb032 = next(f for f in migration.findings if f.rule_id == "GB032")
    assert "declared a group by authentication.windows_groups" in gb032.evidence
    assert {(m.role, m.member) for m in migration.memberships} >= {("reporting", "sql-readers")}
    # not declared: still a user, still GB034
    assert login_role(migration, "CONTOSO\\jdoe").auth == AuthMethod.KERBEROS
    assert "GB034" in rules_for(migration, "CONTOSO\\jdoe")
    (sales,) = classify_windows_groups(scripted, policy).databases
    users = {u.name: u.type for u in sales.users}
    assert users == {
        "readers": UserType.WINDOWS_GROUP,  # follows its login, whatever its own name
        "CONTOSO\\jdoe": UserType.WINDOWS_USER,
        "CONTOSO\\SQL-Auditors": UserType.WINDOWS_GROUP,  # no login: its own name matches
    }


def test_the_plan_fingerprint_covers_the_policy(scripted: SecuritySnapshot) -> None:
    assert plan(scripted, parse_policy(GROUPS)).fingerprint != plan(scripted, Policy()).fingerprint
    assert classify_windows_groups(scripted, Policy()) is scripted


def test_catalog_types_are_kept_and_never_get_gb034() -> None:
    catalog = snapshot_from_rows(load_rows())
    assert not any(lg.type_inferred for lg in catalog.logins)
    everything = parse_policy("[authentication]\nwindows_groups = ['*']\n")
    assert classify_windows_groups(catalog, everything) is catalog
    migration = plan(catalog, everything)
    assert not [f for f in migration.findings if f.rule_id == "GB034"]
    assert login_role(migration, "CONTOSO\\jdoe").auth == AuthMethod.KERBEROS  # type U
    assert login_role(migration, "CONTOSO\\Analysts").auth == AuthMethod.AD_GROUP  # type G


def test_declared_script_groups_plan_as_the_catalog_does() -> None:
    script = parse_text(
        "\n".join(p.read_text(encoding="utf-8") for p in sorted(CONTOSO.glob("*.sql"))), "c.sql"
    )
    policy = parse_policy(
        "[authentication]\nwindows_groups = ['CONTOSO\\DBAs', 'contoso\\ANALYSTS']\n"
    )
    from_script, from_catalog = plan(script, policy), plan(snapshot_from_rows(load_rows()), policy)
    for login in ("CONTOSO\\DBAs", "CONTOSO\\Analysts", "CONTOSO\\jdoe", "CONTOSO\\mgarcia"):
        a, b = login_role(from_script, login), login_role(from_catalog, login)
        assert (a.name, a.login, a.auth) == (b.name, b.login, b.auth), login
    assert {f.principal for f in from_script.findings if f.rule_id == "GB034"} == {
        "CONTOSO\\jdoe", "CONTOSO\\mgarcia",
    }  # fmt: skip


def test_dacpac_windows_logins_are_inferred_too() -> None:
    snapshot = extract_dacpac(CONTOSO / "contoso-subset.dacpac")
    windows = {lg.name: lg.type_inferred for lg in snapshot.logins if lg.type != LoginType.SQL}
    assert windows == {"CONTOSO\\Analysts": True, "CONTOSO\\mgarcia": True}
    assert not any(lg.type_inferred for lg in snapshot.logins if lg.type == LoginType.SQL)


def test_a_snapshot_saved_before_the_field_loads_with_the_default(
    scripted: SecuritySnapshot,
) -> None:
    data = json.loads(scripted.to_json())
    for login in data["logins"]:
        del login["type_inferred"]
    for user in data["databases"][0]["users"]:
        del user["type_inferred"]
    old = SecuritySnapshot.from_json(json.dumps(data))
    assert not any(lg.type_inferred for lg in old.logins)
    assert old.to_json() == SecuritySnapshot.from_json(old.to_json()).to_json()
    assert scripted.to_json() == parse_text(SCRIPT, "w.sql").to_json()


def test_policy_windows_groups_match_names_and_globs_case_insensitively() -> None:
    auth = parse_policy(
        "[authentication]\nwindows_groups = ['CONTOSO\\DBAs', 'contoso\\sql-*']\n"
    ).authentication
    assert auth.is_windows_group("contoso\\dbas")
    assert auth.is_windows_group("CONTOSO\\SQL-Readers")
    assert not auth.is_windows_group("CONTOSO\\jdoe")
    assert not Policy().authentication.is_windows_group("CONTOSO\\DBAs")


def test_an_empty_windows_group_entry_names_key_and_line() -> None:
    with pytest.raises(PolicyError) as error:
        parse_policy("[authentication]\nrealm = 'C.COM'\nwindows_groups = ['']\n", "p.toml")
    assert error.value.location.key == "authentication.windows_groups.0"
    assert error.value.location.line == 3


def test_a_user_whose_login_is_not_in_the_snapshot_follows_the_policy_by_its_login() -> None:
    """A database dacpac holds no logins: its users name theirs (SqlUser's Login annotation).
    The policy then decides by the login's name, which is the group's (the user's own name may
    be anything)."""
    database_only = parse_text(SCRIPT, "w.sql").model_copy(update={"logins": ()})
    (sales,) = classify_windows_groups(database_only, parse_policy(GROUPS)).databases
    users = {u.name: u.type for u in sales.users}
    assert users["readers"] == UserType.WINDOWS_GROUP  # its login CONTOSO\SQL-Readers matches
    assert users["CONTOSO\\jdoe"] == UserType.WINDOWS_USER
