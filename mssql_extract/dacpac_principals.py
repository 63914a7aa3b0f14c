"""The principals of a dacpac's ``model.xml``: logins, users, database roles, memberships.

Read for :mod:`mssql_extract.dacpac`. A user's ``Login`` target resolves against the logins the
model scripts (:class:`Logins`): a database dacpac holds none (they live in ``master``), so the
user keeps the login's name and is not orphaned; a model that scripts logins is read like a set
of scripts, where a user whose login is not among them is orphaned. Fixed database roles are
listed when something names them (``public`` always). Booleans are read under their serialised
``Is…`` names and their DacFx API names (see :mod:`mssql_extract.dacpac`).
"""

from __future__ import annotations

from xml.etree import ElementTree

from mssql_extract.dacpac_model import ModelXml, flag, prop, target
from mssql_extract.snapshot import (
    AuthenticationType,
    DatabaseRole,
    Login,
    LoginType,
    Membership,
    SourceRef,
    User,
    UserType,
    fold,
)

#: ``AuthenticationType`` property of SqlUser: sys.database_principals.authentication_type numbers.
_AUTHENTICATION = {
    "0": AuthenticationType.NONE,
    "1": AuthenticationType.INSTANCE,
    "2": AuthenticationType.DATABASE,
    "3": AuthenticationType.WINDOWS,
    "4": AuthenticationType.EXTERNAL,
}
#: Authentication → user type; a Windows user may be a group and an Entra user a group
#: (the model does not say), so those types are the snapshot's usual guesses.
_USER_TYPES = {AuthenticationType.WINDOWS: UserType.WINDOWS_USER,
               AuthenticationType.EXTERNAL: UserType.EXTERNAL_USER}  # fmt: skip
#: shared/reference/mssql/fixed_database_roles.csv
_FIXED_DB_ROLES = frozenset({"db_owner", "db_accessadmin", "db_securityadmin", "db_ddladmin",
                             "db_backupoperator", "db_datareader", "db_datawriter",
                             "db_denydatareader", "db_denydatawriter", "public"})  # fmt: skip


def _sid(el: ElementTree.Element) -> str | None:
    """The ``Sid`` property as ``0x…`` upper-case hex (the snapshot's spelling)."""
    value = prop(el, "Sid")
    if not value:
        return None
    digits = value[2:] if value[:2].lower() == "0x" else value
    return "0x" + digits.upper()


def element_name(m: ModelXml, el: ElementTree.Element) -> str:
    """The one-part name of a top-level element (a login, a role, a schema …)."""
    return m.name(el, 1, str(el.get("Type")))[0]


def _login(m: ModelXml, e: ElementTree.Element) -> Login:
    windows = bool(flag(e, "IsMappedToWindowsLogin", "MappedToWindowsLogin"))
    # absent means the CREATE LOGIN default: CHECK_POLICY ON, CHECK_EXPIRATION OFF (SQL logins)
    policy = None if windows else flag(e, "IsCheckPolicyOn", "CheckPolicy", default=True)
    expiration = (
        None if windows else flag(e, "IsCheckExpirationOn", "CheckExpiration", default=False)
    )
    return Login(
        name=element_name(m, e),
        type=LoginType.WINDOWS_USER if windows else LoginType.SQL,
        sid=_sid(e),
        disabled=bool(flag(e, "IsDisabled", "Disabled")),
        default_database=prop(e, "DefaultDatabase"),
        default_language=prop(e, "DefaultLanguage"),
        check_policy=policy,
        check_expiration=expiration,
        has_password=not windows,  # the Password property itself is never read
        type_inferred=windows,  # the model does not say user or group
        source_ref=m.ref(e),
    )


class Logins:
    """The logins of the model, and how a user's login reference resolves against them."""

    def __init__(self, m: ModelXml) -> None:
        self.found = [_login(m, e) for e in m.of("SqlLogin")]
        self.by_name = {fold(x.name): x for x in self.found}

    def resolve(self, login: str | None) -> tuple[Login | None, str | None, bool]:
        """(login in the model, login name kept, orphaned) for a user's ``Login`` target."""
        mapped = self.by_name.get(fold(login)) if login else None
        if login is None or mapped is not None:
            return mapped, mapped.name if mapped else None, False
        if self.found:  # the model scripts logins, as scripts do: one not among them is missing
            return None, None, True
        return None, login, False  # a database dacpac: the login is in master, not here


def read_user(m: ModelXml, e: ElementTree.Element, logins: Logins) -> User:
    """A SqlUser element → :class:`User`, its login resolved against ``logins``."""
    name = element_name(m, e)
    wanted = None if flag(e, "IsWithoutLogin", "WithoutLogin") else target(e, "Login")
    mapped, login, orphaned = logins.resolve(wanted)
    windows = mapped.type != LoginType.SQL if mapped else "\\" in (wanted or "")
    guessed = AuthenticationType.NONE if wanted is None \
        else AuthenticationType.WINDOWS if windows else AuthenticationType.INSTANCE  # fmt: skip
    authentication = _AUTHENTICATION.get(prop(e, "AuthenticationType") or "", guessed)
    user_type = _USER_TYPES.get(authentication, UserType.SQL)
    return User(
        name=name, type=user_type, type_inferred=user_type == UserType.WINDOWS_USER,
        authentication_type=authentication, login=login,
        sid=mapped.sid if mapped else _sid(e), default_schema=target(e, "DefaultSchema"),
        orphaned=orphaned, missing_login=wanted if orphaned else None,
        has_password=authentication == AuthenticationType.DATABASE,
        source_ref=m.ref(e),
    )  # fmt: skip


def read_memberships(m: ModelXml, kind: str) -> list[Membership]:
    """The role memberships of one element kind (database or server role memberships)."""
    found = []
    for e in m.of(kind):
        role, member = target(e, "Role"), target(e, "Member")
        name = e.get("Name") or f"[{role or '?'}]<-[{member or '?'}]"
        if not role or not member:
            raise m.error(e, f"{kind} has no {'Role' if not role else 'Member'}", name)
        found.append(Membership(role=role, member=member, source_ref=m.ref(e, name)))
    return found


def read_roles(m: ModelXml, memberships: list[Membership]) -> list[DatabaseRole]:
    """The SqlRole elements, plus the fixed roles ``memberships`` name (and ``public``)."""
    roles = [DatabaseRole(name=element_name(m, e), owner=target(e, "Authorizer"),
                          source_ref=m.ref(e))
             for e in m.of("SqlRole")]  # fmt: skip
    defined = {fold(r.name) for r in roles}
    # public exists in every database; other fixed roles are listed when something names them
    named = {x.role for x in memberships} | {"public"}
    fixed = sorted({r for r in named if fold(r) in _FIXED_DB_ROLES - defined})
    return roles + [
        DatabaseRole(name=r, is_fixed=True, source_ref=SourceRef(origin=m.origin)) for r in fixed
    ]
