"""Logins, server roles, database users, database roles and application roles → roles.

DESIGN §3.3, "Principals": logins become LOGIN roles; a database user becomes the role of its
login (no extra role); a user without a login a NOLOGIN role; database roles and user-defined
server roles NOLOGIN group roles, named by the policy's templates.

A database's ``public`` is PostgreSQL's PUBLIC in database mode, and a NOLOGIN
``<database>_public`` role in schema mode (:mod:`mapper.translate.public`).
"""

from __future__ import annotations

from grantbridge.errors import GrantbridgeError, Location, MappingError
from mapper import findings
from mapper.effective import Securable
from mapper.naming import split_windows
from mapper.plan import AuthMethod, Disposition, PgGrant, RoleKind
from mapper.platforms import administrator
from mapper.translate.advice_sql import set_role_advice
from mapper.translate.auth import method_of, plan_auth
from mapper.translate.guest import guest_finding
from mapper.translate.ownership import role_owner_unknown
from mapper.translate.public import join_public, plan_public
from mapper.translate.state import SERVER, PlanState, fact_key
from mssql_extract.snapshot import (
    ApplicationRole,
    AuthenticationType,
    Database,
    Login,
    LoginType,
    ServerRole,
    User,
    UserType,
    fold,
)

SA = "sa"
#: Users every database has that are not principals anyone migrates (sys.database_principals).
SYSTEM_USERS = frozenset({"sys", "information_schema"})


def plan_logins(state: PlanState) -> None:
    """One LOGIN role per login, with its authentication and its login findings."""
    for login in state.snapshot.logins:
        fact = fact_key(SERVER, login.key)
        ref = str(login.source_ref)
        excluded = _exclusion_reason(state, login)
        if excluded is not None:
            found = _sa_findings(state, login)
            state.dispose(fact, "login", ref, Disposition.EXCLUDED, findings=found, reason=excluded)
            continue
        role = _login_role(state, login, fact)
        found = plan_auth(state, login, role, fact) + _login_findings(state, login, role)
        state.dispose(
            fact, "login", ref, Disposition.MAPPED, items=[f"role:{role}"], findings=found
        )


def _exclusion_reason(state: PlanState, login: Login) -> str | None:
    if fold(login.name) == SA:
        return f"sa is replaced by {administrator(state.policy.target)}"
    if login.type in (LoginType.CERTIFICATE, LoginType.ASYMMETRIC_KEY):
        return "certificate and asymmetric-key logins sign modules; they do not connect"
    exclusion = state.policy.exclusion(login.name)
    return exclusion.reason if exclusion else None


def _sa_findings(state: PlanState, login: Login) -> list[str]:
    if fold(login.name) != SA or login.disabled:
        return []
    finding = findings.make(
        "GB011", "login [sa] is enabled",
        f"Not migrated: {administrator(state.policy.target)} replaces sa.", principal=login.name, source_ref=str(login.source_ref),
    )  # fmt: skip
    return [state.finding(finding)]


def _login_role(state: PlanState, login: Login, fact: str) -> str:
    method = method_of(state, login)
    realm = None
    if method == AuthMethod.KERBEROS:
        realm = state.policy.authentication.realm or split_windows(login.name)[0] or "LOCAL"
    windows = login.type in (LoginType.WINDOWS_USER, LoginType.WINDOWS_GROUP)
    name = state.names.login(login.name, realm, windows=windows)
    barred = barred_from_logging_in(state, login)
    # a Windows group mapped to an AD group (pg_ad_mapping) is a NOLOGIN group role, which its
    # members' own roles reach (DESIGN §3.3): a group, not a login, in the report and the diff
    group = method == AuthMethod.AD_GROUP
    spec = state.role(
        name, RoleKind.GROUP if group else RoleKind.LOGIN, login=barred is None and not group,
        auth=method, source=f"login [{login.name}]",
    )  # fmt: skip
    spec.facts.add(fact)
    if barred is not None:
        spec.comment = f"{barred} in SQL Server: NOLOGIN"
    state.bind(SERVER, login.name, name)
    return name


def barred_from_logging_in(state: PlanState, login: Login) -> str | None:
    """Why SQL Server lets the login not log in (None: it may): disabled, CONNECT SQL revoked
    (``sp_help_revlogin`` writes ``REVOKE CONNECT SQL`` for ``hasaccess = 0``), or a DENY
    CONNECT SQL reaching it — which, like every DENY, sysadmin members are exempt from
    ("GRANT Server Permissions"; the engine decides). Its role is then NOLOGIN."""
    if login.disabled:
        return "disabled"
    if login.connect_revoked:
        return "CONNECT SQL revoked"
    try:
        denied = state.engine.refusal(None, login.name, Securable("SERVER"), "CONNECT SQL")
    except GrantbridgeError:
        return None
    return None if denied is None else "DENY CONNECT SQL"


def _login_findings(state: PlanState, login: Login, role: str) -> list[str]:
    ref = str(login.source_ref)
    found: list[str] = []
    barred = barred_from_logging_in(state, login)
    rules = (
        ("GB010", login.check_policy is False, "CHECK_POLICY = OFF", "Kept; the password policy is the target's."),
        ("GB015", login.type == LoginType.SQL and login.check_expiration is False,
         "CHECK_EXPIRATION = OFF", "No VALID UNTIL is set; rotate the password."),
        ("GB014", barred is not None and _holds_access(state, login),
         f"{barred} and holds permissions",
         f"Created {role!r} as NOLOGIN with its grants; drop it if unused."),
        ("GB034", login.type_inferred and login.type == LoginType.WINDOWS_USER,
         "the source does not say whether it is a Windows user or a Windows group",
         f"Treated as a Windows user: role {role!r} ({state.roles[role].auth}); if it is a "
         "group, list it in authentication.windows_groups."),
    )  # fmt: skip
    for rule_id, applies, evidence, action in rules:
        if applies:
            finding = findings.make(
                rule_id, f"login [{login.name}]: {evidence}", action,
                principal=login.name, source_ref=ref,
            )  # fmt: skip
            found.append(state.finding(finding))
    return found


def _holds_access(state: PlanState, login: Login) -> bool:
    name = fold(login.name)
    snap = state.snapshot
    if any(fold(p.grantee) == name for p in snap.server_permissions):
        return True
    if any(fold(m.member) == name for m in snap.server_memberships):
        return True
    return any(u.login and fold(u.login) == name for db in snap.databases for u in db.users)


def plan_server_roles(state: PlanState) -> None:
    """User-defined server roles → NOLOGIN group roles; fixed ones are handled by membership."""
    for role in state.snapshot.server_roles:
        fact = fact_key(SERVER, role.key)
        ref = str(role.source_ref)
        if fold(role.name) == "public":
            state.bind(SERVER, role.name, "PUBLIC")
            state.dispose(fact, "server_role", ref, Disposition.MAPPED, items=["PUBLIC"],
                          reason="the server's public role is PostgreSQL's PUBLIC")  # fmt: skip
        elif role.is_fixed:
            state.dispose(fact, "server_role", ref, Disposition.NOT_APPLICABLE,
                          reason="fixed server role: its members are mapped by membership rules")  # fmt: skip
        else:
            name = _group(state, role, fact)
            state.dispose(fact, "server_role", ref, Disposition.MAPPED, items=[f"role:{name}"])


def _group(state: PlanState, role: ServerRole, fact: str) -> str:
    name = state.names.server_role(role.name)
    state.role(name, RoleKind.GROUP, source=f"server role [{role.name}]").facts.add(fact)
    state.bind(SERVER, role.name, name)
    return name


# ---------------------------------------------------------------------- database principals


def plan_users(state: PlanState, db: Database) -> None:
    """Each user → its login's role, or a NOLOGIN role; every mapped user gets CONNECT."""
    for user in db.users:
        fact = fact_key(db.name, user.key)
        ref = str(user.source_ref)
        special = _special_user(state, db, user)
        if special is not None:
            disposition, role, reason = special
            if role:
                state.bind(db.name, user.name, role)
            found = _guest_finding(state, db, user)
            state.dispose(fact, "user", ref, disposition, findings=found, reason=reason,
                          items=[f"role:{role}"] if role and role != "PUBLIC" else [])  # fmt: skip
            continue
        role, found = _user_role(state, db, user, fact)
        state.bind(db.name, user.name, role)
        items = [f"role:{role}", *join_public(state, db, role, fact)]
        orphan = _orphan_reason(user) if any(k.startswith("GB013:") for k in found) else ""
        if user.connect_revoked:  # it cannot enter the database: neither can its role
            revoked = "CONNECT revoked in SQL Server: no CONNECT on the database"
            state.dispose(fact, "user", ref, Disposition.MAPPED, items=items, findings=found,
                          reason="; ".join(filter(None, (orphan, revoked))))  # fmt: skip
            continue
        connect = PgGrant(database=state.target_db(db), object_type="DATABASE",
                          name=state.target_db(db), privilege="CONNECT", grantee=role)  # fmt: skip
        key, _ = state.add(connect, fact)
        state.dispose(fact, "user", ref, Disposition.MAPPED, items=[*items, key], findings=found,
                      reason=orphan)  # fmt: skip


def _special_user(
    state: PlanState, db: Database, user: User
) -> tuple[Disposition, str | None, str] | None:
    name = fold(user.name)
    if name in SYSTEM_USERS:
        return Disposition.NOT_APPLICABLE, None, "system user with no PostgreSQL counterpart"
    if name == "dbo":
        owner = state.role_of(db.name, "dbo")
        return Disposition.MAPPED, owner, "dbo is the database owner role"
    if name == "guest":
        role = state.role_of(db.name, "guest")
        if db.guest_enabled and role is not None:
            return (
                Disposition.MAPPED, role,
                f"an enabled guest lets logins without a user in: {role}, granted to them",
            )  # fmt: skip
        return Disposition.NOT_APPLICABLE, None, "guest is disabled (no CONNECT)"
    login = fold(user.login or "")
    if (
        login
        and state.role_of(SERVER, login) is None
        and any(fold(lg.name) == login for lg in state.snapshot.logins)
    ):
        return Disposition.EXCLUDED, None, f"its login [{user.login}] is excluded"
    exclusion = state.policy.exclusion(user.name)
    if exclusion is not None:
        return Disposition.EXCLUDED, None, f"excluded by policy: {exclusion.reason}"
    return None


def _guest_finding(state: PlanState, db: Database, user: User) -> list[str]:
    if fold(user.name) != "guest" or not db.guest_enabled:
        return []
    ref = str(user.source_ref)
    return [guest_finding(state, db, f"guest is enabled in [{db.name}]", ref, f"USER {db.name}")]


def _user_role(state: PlanState, db: Database, user: User, fact: str) -> tuple[str, list[str]]:
    login_role = state.role_of(SERVER, user.login) if user.login else None
    if login_role is not None:
        state.roles[login_role].facts.add(fact)
        return login_role, []
    name = state.names.database_principal(db.name, user.name, "user")
    spec = state.role(name, RoleKind.USER, source=f"user [{db.name}].[{user.name}]")
    spec.facts.add(fact)
    if user.has_password:
        spec.login, spec.auth = True, AuthMethod.PASSWORD
    if user.authentication_type == AuthenticationType.EXTERNAL and not user.login:
        return name, _contained_entra_user(state, user, name, fact)
    if not user.orphaned:
        return name, []
    evidence = f"user [{db.name}].[{user.name}] has no login on the server"
    if user.missing_login:  # the login the source named, which the snapshot does not hold
        evidence += (
            f": it was created for login [{user.missing_login}], which the snapshot does not hold"
        )
    finding = findings.make(
        "GB013", evidence, f"Created NOLOGIN role {name!r} with its grants.",
        principal=f"[{db.name}].[{user.name}]", source_ref=str(user.source_ref),
    )  # fmt: skip
    return name, [state.finding(finding)]


def _orphan_reason(user: User) -> str:
    """The disposition reason of an orphaned user (GB013), naming its login when known."""
    login = f"its login [{user.missing_login}]" if user.missing_login else "its login"
    return f"{login} is not in the snapshot (orphaned user): a NOLOGIN role"


def _contained_entra_user(state: PlanState, user: User, role: str, fact: str) -> list[str]:
    """A contained Microsoft Entra ID user signs in to its database without a login: its role
    authenticates as an Entra login would (the policy's rules for EXTERNAL_LOGIN / EXTERNAL_GROUP:
    IAM, or a group role by default), with the same memberships, IAM policy and findings."""
    kind = (
        LoginType.EXTERNAL_GROUP
        if user.type == UserType.EXTERNAL_GROUP
        else LoginType.EXTERNAL_USER
    )
    as_login = Login(name=user.name, type=kind, source_ref=user.source_ref)
    spec = state.roles[role]
    spec.auth = method_of(state, as_login)
    spec.login = spec.auth != AuthMethod.AD_GROUP
    return plan_auth(state, as_login, role, fact)


def plan_roles(state: PlanState, db: Database) -> None:
    """User-defined database roles and application roles → NOLOGIN roles (and public)."""
    plan_public(state, db)
    for role in db.roles:
        fact = fact_key(db.name, role.key)
        if role.is_fixed or fold(role.name) == "public":
            continue  # fixed roles: mapper.translate.fixed
        name = state.names.database_principal(db.name, role.name, "role")
        state.role(name, RoleKind.GROUP, source=f"role [{db.name}].[{role.name}]").facts.add(fact)
        state.bind(db.name, role.name, name)
        unknown_owner = role_owner_unknown(state, db, role)
        if unknown_owner is None:
            state.dispose(
                fact, "role", str(role.source_ref), Disposition.MAPPED, items=[f"role:{name}"]
            )
            continue
        reason = f"its owner [{role.owner}] is not in the snapshot: planned as dbo's"
        state.dispose(fact, "role", str(role.source_ref), Disposition.APPROXIMATED,
                      items=[f"role:{name}"], findings=[unknown_owner], reason=reason)  # fmt: skip
    for app in db.application_roles:
        plan_application_role(state, db, app)


def plan_application_role(state: PlanState, db: Database, app: ApplicationRole) -> None:
    """An application role → a NOLOGIN role with its grants and no members, ``approximated``
    with finding GB017.

    SQL Server activates an application role in a session with ``sp_setapprole`` and its
    password ("Application Roles"); the session then has the role's permissions (and public's)
    instead of its user's. PostgreSQL has neither, and the snapshot does not say which
    applications call it, so no login reaches the role after the migration: every privilege
    granted to it is lost to the application until someone grants it and the application says
    ``SET ROLE`` instead (the finding says how).
    """
    fact = fact_key(db.name, app.key)
    name = state.names.database_principal(db.name, app.name, "application role")
    source = f"application role [{db.name}].[{app.name}]"
    state.role(name, RoleKind.APPLICATION, source=source).facts.add(fact)
    state.bind(db.name, app.name, name)
    ref = str(app.source_ref)
    finding = findings.make(
        "GB017", f"{source} is activated with sp_setapprole and its password",
        f"Created NOLOGIN role {name!r} with the application role's privileges and no members: "
        "no login reaches them until it is granted the role. The password is not carried. "
        + set_role_advice(name, state.target_db(db)),
        principal=app.name, securable=f"DATABASE {db.name}", source_ref=ref,
    )  # fmt: skip
    state.dispose(fact, "application_role", ref, Disposition.APPROXIMATED,
                  items=[f"role:{name}", *join_public(state, db, name, fact)],
                  findings=[state.finding(finding)],
                  reason="no members: grant it to the login roles of the applications that "
                  "call sp_setapprole, which then SET ROLE to it (GB017)")  # fmt: skip


def require_role(state: PlanState, scope: str, principal: str, where: str) -> str:
    """The role of a principal that must exist (a dangling reference is a MappingError)."""
    role = state.role_of(scope, principal)
    if role is None:
        raise MappingError(f"[{principal}] is not a known principal of {scope}", Location(where))
    return role
