"""Authentication per login (DESIGN §3.3, "Authentication"): IAM, SCRAM password, Kerberos, AD.

The policy's first matching rule decides. IAM logins get an IAM policy document allowing
``rds-db:connect`` on their ``dbuser`` ARN (RDS User Guide, "Creating and using an IAM policy
for IAM database access"); placeholders stand in for what the policy does not give, with a
finding. A role may reach at most one of ``rds_iam`` and ``rds_ad``, also through nested
membership (RDS User Guide, database-authentication: "Do not grant both"). What the target
offers decides the rest (:mod:`mapper.platforms`): on plain PostgreSQL an IAM login becomes a
password login (GB048) and a Kerberos login is a member of no role (``iam/pg_hba.conf`` gives
it GSSAPI).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from grantbridge.errors import Location, MappingError
from mapper import findings, platforms
from mapper.plan import AuthMethod, IamPolicy, PgMembership, RoleKind
from mapper.translate.state import PlanState
from mssql_extract.snapshot import Login, LoginType

METHODS: Mapping[str, AuthMethod] = {
    "iam": AuthMethod.IAM,
    "password": AuthMethod.PASSWORD,
    "kerberos": AuthMethod.KERBEROS,
    "ad_group": AuthMethod.AD_GROUP,
}


def _requested(state: PlanState, login: Login) -> AuthMethod:
    """The authentication method the policy's first matching rule names for a login."""
    return METHODS[state.policy.authentication.method(login.name, login.type.value)]


def method_of(state: PlanState, login: Login) -> AuthMethod:
    """The authentication method a login gets: the policy's, if the target offers it."""
    return platforms.supported_method(state.policy.target, _requested(state, login))


def plan_auth(state: PlanState, login: Login, role: str, fact: str) -> list[str]:
    """Memberships, IAM policy and findings for one login role; returns finding keys."""
    method = state.roles[role].auth
    found: list[str] = []
    auth_role = platforms.auth_role(state.policy.target, method)
    if auth_role is not None:
        state.role(auth_role, RoleKind.PREDEFINED, source="Amazon RDS")
        state.add(PgMembership(role=auth_role, member=role, comment=f"{method} login"), fact)
    requested = _requested(state, login)
    if requested != method and method_of(state, login) == method:  # the target lacks it
        return [_unavailable(state, login, requested, method)]
    handler = _HANDLERS.get(method)
    if handler is not None:
        found += handler(state, login, role)
    return found


def _password(state: PlanState, login: Login, role: str) -> list[str]:
    evidence = f"login [{login.name}] authenticates with a SQL Server password"
    if login.type != LoginType.SQL:  # a policy rule chose passwords for it
        evidence = f"{_kind(login)} login [{login.name}] is given password authentication"
    action = "Created the role without a password; set one from a secret store after apply."
    return [_finding(state, "GB030", login, evidence, action)]


def _unavailable(state: PlanState, login: Login, requested: AuthMethod, method: AuthMethod) -> str:
    """GB048: the policy names IAM, which plain PostgreSQL lacks; the login got a password
    (:data:`mapper.platforms.FALLBACKS`), so no IAM policy document is written."""
    target = state.policy.target
    evidence = (
        f"{_kind(login)} login [{login.name}] is given {requested} authentication by the "
        f"policy, which target {target} does not offer"
    )
    action = (
        f"Gave it {method} authentication instead and wrote no IAM policy: created the role "
        "without a password; set one from a secret store after apply."
    )
    return _finding(state, "GB048", login, evidence, action)


def _iam(state: PlanState, login: Login, role: str) -> list[str]:
    auth = state.policy.authentication
    account = auth.aws_account or "<ACCOUNT_ID>"
    region = auth.aws_region or "<REGION>"
    resource = auth.resource_id or "<DB_RESOURCE_ID>"
    document = {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": ["rds-db:connect"],
            "Resource": [f"arn:aws:rds-db:{region}:{account}:dbuser:{resource}/{role}"],
        }],
    }  # fmt: skip
    text = json.dumps(document, indent=2, sort_keys=True)
    state.iam[role] = IamPolicy(role=role, document=text)
    if auth.aws_account and auth.aws_region and auth.resource_id:
        return []
    evidence = f"IAM policy for [{login.name}] lacks account, region or resource id"
    action = "Wrote the IAM policy with placeholders."
    return [_finding(state, "GB031", login, evidence, action)]


def _kerberos(state: PlanState, login: Login, role: str) -> list[str]:
    realm = state.policy.authentication.realm
    if realm:
        if not platforms.on_rds(state.policy.target):  # for its pg_hba.conf line's krb_realm
            state.roles[role].realm = realm
        return []
    evidence = f"Windows login [{login.name}] maps to Kerberos but no realm is configured"
    action = f"Named the role {role!r} after the Windows domain."
    return [_finding(state, "GB033", login, evidence, action)]


def _ad_group(state: PlanState, login: Login, role: str) -> list[str]:
    aurora = state.policy.target == "aurora"
    action = (
        f"Created NOLOGIN role {role!r}; map the AD group to it with pg_ad_mapping."
        if aurora
        else f"Created NOLOGIN role {role!r}; {state.policy.target} has no AD group mapping."
    )
    evidence = f"{_kind(login)} login [{login.name}]"
    if login.type_inferred:  # the source said only "Windows": the policy made it a group
        evidence += " (declared a group by authentication.windows_groups)"
    return [_finding(state, "GB032", login, evidence, action)]


def _finding(state: PlanState, rule_id: str, login: Login, evidence: str, action: str) -> str:
    """A finding on a login's authentication, at the login's source location."""
    finding = findings.make(
        rule_id, evidence, action, principal=login.name, source_ref=str(login.source_ref)
    )
    return state.finding(finding)


def _kind(login: Login) -> str:
    """What a login is, in words: "Windows group", "Entra ID user" …"""
    return {
        LoginType.SQL: "SQL", LoginType.WINDOWS_USER: "Windows", LoginType.WINDOWS_GROUP: "Windows group",
        LoginType.EXTERNAL_USER: "Entra ID user", LoginType.EXTERNAL_GROUP: "Entra ID group",
    }.get(login.type, login.type.value)  # fmt: skip


_HANDLERS = {
    AuthMethod.PASSWORD: _password,
    AuthMethod.IAM: _iam,
    AuthMethod.KERBEROS: _kerberos,
    AuthMethod.AD_GROUP: _ad_group,
}


def check_exclusive(memberships: list[PgMembership]) -> None:
    """Refuse a role that reaches both rds_iam and rds_ad, directly or through nesting."""
    members: dict[str, set[str]] = {}
    for m in memberships:
        members.setdefault(m.role, set()).add(m.member)
    # one walk down from each of the two roles, not one walk up from every role
    both = _below(members, platforms.AUTH_ROLES[AuthMethod.IAM]) & _below(
        members, platforms.AUTH_ROLES[AuthMethod.KERBEROS]
    )
    if both:
        role = min(both)
        raise MappingError(
            f"role {role!r} would be a member of both rds_iam and rds_ad; give it one "
            "authentication method in grantbridge.toml",
            Location(key=role),
        )


def _below(members: dict[str, set[str]], role: str) -> set[str]:
    """Every direct or nested member of ``role`` (not the role itself)."""
    seen, todo = {role}, [role]
    while todo:
        for member in members.get(todo.pop(), ()):
            if member not in seen:
                seen.add(member)
                todo.append(member)
    return seen - {role}
