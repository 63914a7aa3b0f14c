"""Microsoft Entra ID logins (sys.server_principals types E and X) are no password logins.

Aurora and RDS for PostgreSQL authenticate with a password, IAM or Kerberos; by default an Entra
user becomes an IAM login (an IAM policy, ``rds_iam``) and an Entra group a NOLOGIN group role to
map as an AD group (GB032). Regression: both fell to the catch-all rule and became password
logins with a GB030 saying they authenticated with a SQL Server password. A contained Entra ID
user (no login) maps as an Entra login would.
"""

from __future__ import annotations

from mapper.plan import AuthMethod, MigrationPlan
from mapper.planner import plan
from mapper.policy import Policy, parse_policy
from mssql_extract.snapshot import AuthenticationType, LoginType, User, UserType
from tests.mapper.estate import REF, database, login, snapshot


def _plan(policy: Policy) -> MigrationPlan:
    logins = (login("ana@contoso.com", LoginType.EXTERNAL_USER),
              login("SQL Admins", LoginType.EXTERNAL_GROUP))  # fmt: skip
    return plan(snapshot(logins=logins), policy)


def _evidence(p: MigrationPlan, principal: str) -> set[tuple[str, str]]:
    return {(f.rule_id, f.evidence) for f in p.findings if f.principal == principal}


def test_an_entra_user_is_an_iam_login_and_an_entra_group_a_group_role() -> None:
    p = _plan(Policy())
    methods = {r.source: (r.auth, r.login) for r in p.roles if r.source.startswith("login")}
    assert methods == {
        "login [ana@contoso.com]": (AuthMethod.IAM, True),
        "login [SQL Admins]": (AuthMethod.AD_GROUP, False),
    }
    assert {i.role for i in p.iam_policies} == {"ana@contoso.com"}
    assert "GB030" not in {f.rule_id for f in p.findings}
    assert ("GB032", "Entra ID group login [SQL Admins]") in _evidence(p, "SQL Admins")


def test_a_policy_giving_an_entra_user_a_password_says_what_it_is() -> None:
    policy = parse_policy(
        '[[authentication.rules]]\nlogin_types = ["EXTERNAL_LOGIN"]\nmethod = "password"\n'
    )
    evidence = _evidence(_plan(policy), "ana@contoso.com")
    assert ("GB030", "Entra ID user login [ana@contoso.com] is given password authentication") in (
        evidence
    )


def test_a_contained_entra_user_signs_in_as_an_entra_login_would() -> None:
    """A contained Entra ID user (Azure SQL Database: authentication EXTERNAL, no login) signs
    in to its database itself. Regression: a NOLOGIN role with no finding, so nobody could."""
    users = (
        User(name="bob@contoso.com", type=UserType.EXTERNAL_USER,
             authentication_type=AuthenticationType.EXTERNAL, source_ref=REF),
        User(name="Readers", type=UserType.EXTERNAL_GROUP,
             authentication_type=AuthenticationType.EXTERNAL, source_ref=REF),
    )  # fmt: skip
    p = plan(snapshot(database(users=users)), Policy())
    roles = {r.source: (r.auth, r.login) for r in p.roles if r.source.startswith("user")}
    assert roles == {
        "user [Sales].[bob@contoso.com]": (AuthMethod.IAM, True),
        "user [Sales].[Readers]": (AuthMethod.AD_GROUP, False),
    }
    bob = next(r.name for r in p.roles if r.source == "user [Sales].[bob@contoso.com]")
    assert ("rds_iam", bob) in {(m.role, m.member) for m in p.memberships}
    assert {i.role for i in p.iam_policies} == {bob}
