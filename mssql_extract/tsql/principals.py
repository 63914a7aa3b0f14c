"""Logins, users, roles, server roles, application roles and memberships.

Statements: CREATE / ALTER / DROP LOGIN, USER, ROLE, SERVER ROLE, APPLICATION ROLE;
ALTER [SERVER] ROLE … ADD | DROP MEMBER. The system procedures that predate them (sp_addlogin,
sp_grantdbaccess, sp_adduser, sp_addrolemember, …) are in ``PROCEDURES``, bound by parameter
name or position (names from each procedure's documentation page). A CREATE of a principal
whose name is taken is refused, as SQL Server refuses it (``duplicates``), and so is a DROP of
a role with members or of a principal that owns something (``drop_refusals``).
"""

from __future__ import annotations

from mssql_extract.snapshot import LoginType, SourceRef
from mssql_extract.tsql import containment, drop_refusals, duplicates, login_users
from mssql_extract.tsql.cursor import Args, Handler, Parser, Procedure, ProcHandler
from mssql_extract.tsql.options import Options, read_options
from mssql_extract.tsql.state import LoginState, UserState, guess_login_type

_LOGIN_OPTIONS = frozenset(
    {"PASSWORD", "SID", "DEFAULT_DATABASE", "DEFAULT_LANGUAGE", "CHECK_EXPIRATION"}
    | {"CHECK_POLICY", "CREDENTIAL", "OBJECT_ID"}
)
_ALTER_LOGIN_OPTIONS = _LOGIN_OPTIONS | {"OLD_PASSWORD", "NAME", "NO", "MUST_CHANGE", "UNLOCK"}
_USER_OPTIONS = frozenset(
    {"DEFAULT_SCHEMA", "PASSWORD", "SID", "DEFAULT_LANGUAGE", "OBJECT_ID", "TYPE"}
    | {"ALLOW_ENCRYPTED_VALUE_MODIFICATIONS"}
)
_ALTER_USER_OPTIONS = _USER_OPTIONS | {"NAME", "LOGIN", "OLD_PASSWORD"}

#: ``CREATE LOGIN x FROM …`` sources and the login type each makes. FROM WINDOWS reads the same
#: for a Windows user and a Windows group: the login is a user with ``type_inferred`` (freeze),
#: and the mapper's policy (``authentication.windows_groups``) says which ones are groups.
_LOGIN_SOURCES: dict[tuple[str, ...], LoginType] = {
    ("WINDOWS",): LoginType.WINDOWS_USER,
    ("CERTIFICATE",): LoginType.CERTIFICATE,
    ("ASYMMETRIC", "KEY"): LoginType.ASYMMETRIC_KEY,
    ("EXTERNAL", "PROVIDER"): LoginType.EXTERNAL_USER,
}

#: ``CREATE USER x {FOR | FROM} …`` sources other than LOGIN, and ``UserState.via`` for each.
_USER_SOURCES: dict[tuple[str, ...], str] = {
    ("EXTERNAL", "PROVIDER"): "external",
    ("CERTIFICATE",): "certificate",
    ("ASYMMETRIC", "KEY"): "asymmetric key",
}


def new_server_principal(p: Parser, name: str) -> bool:
    """Whether a CREATE LOGIN or SERVER ROLE of ``name`` is applied: not when a login or server
    role holds the name (Msg 15025)."""
    taken = p.builder.server_principal(name)
    return not duplicates.refused(p, name, taken, duplicates.SERVER_PRINCIPAL)


def new_database_principal(p: Parser, name: str) -> bool:
    """Whether a CREATE USER, ROLE or APPLICATION ROLE of ``name`` is applied: not when a user,
    role or application role of the current database holds the name (Msg 15023)."""
    taken = p.builder.db().principal(name)
    return not duplicates.refused(p, name, taken, duplicates.DATABASE_PRINCIPAL)


def _apply_login(login: LoginState, opts: Options) -> None:
    for key in ("sid", "default_database", "default_language", "check_policy"):
        if key in opts:
            setattr(login, key, opts[key])
    for key in ("check_expiration", "credential"):
        if key in opts:
            setattr(login, key, opts[key])
    if opts.get("password"):
        login.has_password = True
        login.must_change = bool(opts.get("must_change"))


def create_login(p: Parser) -> None:
    """``CREATE LOGIN name {WITH … | FROM {WINDOWS | CERTIFICATE c | ASYMMETRIC KEY k | …}}``."""
    ref, name = p.ref(), p.name("a login name")
    login = LoginState(name, LoginType.SQL, ref)
    if p.accept("FROM"):
        source = next((words for words in _LOGIN_SOURCES if p.accept(*words)), None)
        if source is None:
            raise p.error("expected WINDOWS, CERTIFICATE, ASYMMETRIC KEY or EXTERNAL PROVIDER")
        login.type = _LOGIN_SOURCES[source]
        if source in (("CERTIFICATE",), ("ASYMMETRIC", "KEY")):
            p.name("a certificate or key name")
        if p.accept("WITH"):
            _apply_login(login, read_options(p, _LOGIN_OPTIONS))
    else:
        p.expect("WITH")
        opts = read_options(p, _LOGIN_OPTIONS)
        if not opts.get("password"):
            raise p.error("CREATE LOGIN … WITH needs PASSWORD")
        _apply_login(login, opts)
    if new_server_principal(p, name):
        p.builder.add_login(login)


def _login_change(p: Parser) -> Options:
    """What an ALTER LOGIN changes, as options (``disabled`` for ENABLE and DISABLE)."""
    if p.word() in ("ENABLE", "DISABLE"):
        disabled = p.word() == "DISABLE"
        p.pos += 1
        return {"disabled": disabled}
    if p.accept("ADD", "CREDENTIAL"):
        return {"credential": p.name("a credential name")}
    if p.accept("DROP", "CREDENTIAL"):
        p.name("a credential name")
        return {"credential": None}
    p.expect("WITH")
    return read_options(p, _ALTER_LOGIN_OPTIONS)


def alter_login(p: Parser) -> None:
    """``ALTER LOGIN name {ENABLE | DISABLE | WITH … | ADD | DROP CREDENTIAL c}``."""
    ref, name = p.ref(), p.name("a login name")
    opts = _login_change(p)  # read whole first: a malformed statement must not add the login
    login = p.builder.login(name, ref)
    if "disabled" in opts:
        login.disabled = bool(opts["disabled"])
    _apply_login(login, opts)
    if "name" in opts:
        p.builder.rename_server_principal(login.name, str(opts["name"]))


def drop_login(p: Parser) -> None:
    """``DROP LOGIN name``."""
    ref, name = p.ref(), p.name("a login name")
    drop_refusals.drop_login(p, "DROP LOGIN", name, ref)


def create_user(p: Parser) -> None:
    """``CREATE USER name [{FOR | FROM} LOGIN l | WITHOUT LOGIN | FROM …] [WITH …]``."""
    ref, name = p.ref(), p.name("a user name")
    user = UserState(name, ref, login=name)  # no clause: the login of the same name
    if p.accept("FOR") or p.accept("FROM"):
        if p.accept("LOGIN"):
            user.login = p.name("a login name")
        else:
            source = next((words for words in _USER_SOURCES if p.accept(*words)), None)
            if source is None:
                raise p.error("expected LOGIN, EXTERNAL PROVIDER, CERTIFICATE or ASYMMETRIC KEY")
            user.via, user.login = _USER_SOURCES[source], None
            if source != ("EXTERNAL", "PROVIDER"):
                user.key = p.name("a certificate or key name")
    elif p.accept("WITHOUT", "LOGIN"):
        user.via, user.login = "none", None
    if p.accept("WITH"):
        _apply_user(user, read_options(p, _USER_OPTIONS))
    refused = containment.refused(p, user, ref) or not new_database_principal(p, name)
    if not refused and not login_users.user_refused(p, user):
        p.builder.add_user(user)


def _apply_user(user: UserState, opts: Options) -> None:
    if "default_schema" in opts:
        user.default_schema = opts["default_schema"]  # type: ignore[assignment]
    if "sid" in opts:
        user.sid = str(opts["sid"])
    if opts.get("password"):
        user.via, user.login = "password", None
    if "login" in opts:
        user.via, user.login = "login", str(opts["login"])


def alter_user(p: Parser) -> None:
    """``ALTER USER name WITH {NAME | DEFAULT_SCHEMA | LOGIN | PASSWORD …} = …``."""
    ref, name = p.ref(), p.name("a user name")
    p.expect("WITH")
    opts = read_options(p, _ALTER_USER_OPTIONS)
    if containment.alter_refused(p, name, opts, ref):
        return
    _apply_user(p.builder.user(name, ref), opts)
    if "name" in opts:
        p.builder.rename_principal(name, str(opts["name"]))


def _drop_principal(statement: str) -> Handler:
    """The handler of ``DROP USER | ROLE | APPLICATION ROLE [IF EXISTS] name``."""

    def drop(p: Parser) -> None:
        ref = p.ref()
        p.accept("IF", "EXISTS")
        name = p.name("a principal name")
        drop_refusals.drop_database_principal(p, statement, name, ref)

    return drop


def create_role(p: Parser) -> None:
    """``CREATE ROLE name [AUTHORIZATION owner]``."""
    ref, name = p.ref(), p.name("a role name")
    owner = p.name("an owner") if p.accept("AUTHORIZATION") else None
    if new_database_principal(p, name):
        p.builder.add_role(name, owner, ref)


def create_server_role(p: Parser) -> None:
    """``CREATE SERVER ROLE name [AUTHORIZATION login]``."""
    ref, name = p.ref(), p.name("a server role name")
    owner = p.name("an owner") if p.accept("AUTHORIZATION") else None
    if new_server_principal(p, name):
        p.builder.add_server_role(name, owner, ref)


def create_application_role(p: Parser) -> None:
    """``CREATE APPLICATION ROLE name WITH PASSWORD = '…' [, DEFAULT_SCHEMA = s]``."""
    ref, name = p.ref(), p.name("an application role name")
    p.expect("WITH")
    opts = read_options(p, frozenset({"PASSWORD", "DEFAULT_SCHEMA"}))
    if not opts.get("password"):
        raise p.error("CREATE APPLICATION ROLE needs PASSWORD")
    if new_database_principal(p, name):
        p.builder.add_app_role(name, opts.get("default_schema"), ref)  # type: ignore[arg-type]


def alter_application_role(p: Parser) -> None:
    """``ALTER APPLICATION ROLE name WITH {NAME | PASSWORD | DEFAULT_SCHEMA} = …``."""
    name = p.name("an application role name")
    p.expect("WITH")
    opts = read_options(p, frozenset({"PASSWORD", "DEFAULT_SCHEMA", "NAME"}))
    found = p.builder.db().app_roles.get(name.casefold())
    if found is not None and "default_schema" in opts:
        found.owner = opts["default_schema"]  # type: ignore[assignment]
    if "name" in opts:
        p.builder.rename_principal(name, str(opts["name"]))


def _alter_membership(p: Parser, server: bool) -> None:
    ref, role = p.ref(), p.name("a role name")
    if p.accept("WITH"):
        new = str(read_options(p, frozenset({"NAME"}))["name"])
        if server:
            p.builder.rename_server_principal(role, new)
        else:
            p.builder.rename_principal(role, new)
        return
    add = p.accept("ADD")
    if not add:
        p.expect("DROP")
    p.expect("MEMBER")
    member = p.name("a member name")
    if server:
        p.builder.server_member(role, member, add, ref)
    else:
        p.builder.member(role, member, add, ref)


def alter_role(p: Parser) -> None:
    """``ALTER ROLE r {ADD | DROP} MEMBER m`` or ``WITH NAME = n``."""
    _alter_membership(p, server=False)


def alter_server_role(p: Parser) -> None:
    """``ALTER SERVER ROLE r {ADD | DROP} MEMBER m`` or ``WITH NAME = n``."""
    _alter_membership(p, server=True)


def drop_server_role(p: Parser) -> None:
    """``DROP SERVER ROLE name``."""
    ref, name = p.ref(), p.name("a server role name")
    drop_refusals.drop_server_role(p, "DROP SERVER ROLE", name, ref)


STATEMENTS = {
    "CREATE LOGIN": create_login,
    "ALTER LOGIN": alter_login,
    "DROP LOGIN": drop_login,
    "CREATE USER": create_user,
    "ALTER USER": alter_user,
    "DROP USER": _drop_principal("DROP USER"),
    "CREATE ROLE": create_role,
    "CREATE SERVER ROLE": create_server_role,
    "CREATE APPLICATION ROLE": create_application_role,
    "ALTER APPLICATION ROLE": alter_application_role,
    "ALTER ROLE": alter_role,
    "ALTER SERVER ROLE": alter_server_role,
    "DROP ROLE": _drop_principal("DROP ROLE"),
    "DROP APPLICATION ROLE": _drop_principal("DROP APPLICATION ROLE"),
    "DROP SERVER ROLE": drop_server_role,
}

# ----------------------------------------------------------------------- system procedures


def required(p: Parser, args: Args, name: str) -> str:
    """A procedure argument that must be given (``@name is required`` otherwise)."""
    value = args.get(name)
    if not value:
        raise p.error(f"@{name} is required")
    return value


def sp_addlogin(p: Parser, args: Args, ref: SourceRef) -> None:
    name = required(p, args, "loginame")
    login = LoginState(name, LoginType.SQL, ref, has_password=bool(args.get("passwd")))
    login.default_database = args.get("defdb")
    login.default_language = args.get("deflanguage")
    login.sid = args.get("sid")
    if new_server_principal(p, name):
        p.builder.add_login(login)


def sp_droplogin(p: Parser, args: Args, ref: SourceRef) -> None:
    name = required(p, args, "loginame")
    drop_refusals.drop_login(p, "sp_droplogin", name, ref)


def _grant_access(p: Parser, args: Args, ref: SourceRef) -> str | None:
    """The user ``sp_grantdbaccess`` and ``sp_adduser`` create, None when refused."""
    login = required(p, args, "loginame")
    name = args.get("name_in_db") or login
    user = UserState(name, ref, login=login)
    if not new_database_principal(p, name) or login_users.user_refused(p, user):
        return None
    p.builder.add_user(user)
    return name


def sp_grantdbaccess(p: Parser, args: Args, ref: SourceRef) -> None:
    _grant_access(p, args, ref)


def sp_adduser(p: Parser, args: Args, ref: SourceRef) -> None:
    name = _grant_access(p, args, ref)
    if name is not None and args.get("grpname"):
        p.builder.member(str(args["grpname"]), name, True, ref)


def sp_change_users_login(p: Parser, args: Args, ref: SourceRef) -> None:
    """``Update_One`` / ``Auto_Fix`` relink a user to a login; ``Report`` only lists."""
    action = required(p, args, "action").casefold()
    if action == "report":
        return
    user = required(p, args, "usernamepattern")
    login = args.get("loginname") or user
    if action not in ("update_one", "auto_fix"):
        raise p.error("unknown @Action: expected Update_One, Auto_Fix or Report")
    state = p.builder.user(user, ref)
    state.via, state.login = "login", login
    if action == "auto_fix" and args.get("password") and login.casefold() not in p.builder.logins:
        p.builder.add_login(LoginState(login, guess_login_type(login), ref, has_password=True))


def sp_dropuser(p: Parser, args: Args, ref: SourceRef) -> None:
    name = required(p, args, "name_in_db")
    drop_refusals.drop_database_principal(p, "sp_dropuser", name, ref)


def sp_addrole(p: Parser, args: Args, ref: SourceRef) -> None:
    name = required(p, args, "rolename")
    if new_database_principal(p, name):
        p.builder.add_role(name, args.get("ownername"), ref)


def sp_droprole(p: Parser, args: Args, ref: SourceRef) -> None:
    name = required(p, args, "rolename")
    drop_refusals.drop_database_principal(p, "sp_droprole", name, ref)


def sp_addapprole(p: Parser, args: Args, ref: SourceRef) -> None:
    name = required(p, args, "rolename")
    if new_database_principal(p, name):
        p.builder.add_app_role(name, None, ref)


def _membership(add: bool, server: bool) -> ProcHandler:
    def handler(p: Parser, args: Args, ref: SourceRef) -> None:
        role = required(p, args, "rolename")
        member = required(p, args, "loginame" if server else "membername")
        if server:
            p.builder.server_member(role, member, add, ref)
        else:
            p.builder.member(role, member, add, ref)

    return handler


#: procedure → (parameter names in order, handler). Names: each procedure's doc page.
PROCEDURES: dict[str, Procedure] = {
    "sp_addlogin": (
        ("loginame", "passwd", "defdb", "deflanguage", "sid", "encryptopt"),
        sp_addlogin,
    ),
    "sp_droplogin": (("loginame",), sp_droplogin),
    "sp_grantdbaccess": (("loginame", "name_in_db"), sp_grantdbaccess),
    "sp_adduser": (("loginame", "name_in_db", "grpname"), sp_adduser),
    "sp_change_users_login": (
        ("action", "usernamepattern", "loginname", "password"),
        sp_change_users_login,
    ),
    "sp_dropuser": (("name_in_db",), sp_dropuser),
    "sp_revokedbaccess": (("name_in_db",), sp_dropuser),
    "sp_addrole": (("rolename", "ownername"), sp_addrole),
    "sp_droprole": (("rolename",), sp_droprole),
    "sp_addapprole": (("rolename", "password"), sp_addapprole),
    "sp_addrolemember": (("rolename", "membername"), _membership(True, False)),
    "sp_droprolemember": (("rolename", "membername"), _membership(False, False)),
    "sp_addsrvrolemember": (("loginame", "rolename"), _membership(True, True)),
    "sp_dropsrvrolemember": (("loginame", "rolename"), _membership(False, True)),
}
