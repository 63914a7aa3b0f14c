"""The policy file ``grantbridge.toml``: how names, authentication and over-grants are mapped.

Every field has a sensible default, so ``Policy()`` is a usable policy. The model is frozen and
refuses unknown keys; :func:`load_policy` reports a bad key or value with the line of the file
it is on (found by scanning the TOML text, as tomllib keeps no positions).
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from enum import StrEnum
from pathlib import Path
from string import Formatter
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from grantbridge.errors import InputError, Location, PolicyError
from grantbridge.inputs import read_input


class PolicyModel(BaseModel):
    """Base of every policy section: frozen, unknown keys refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


#: The placeholders each naming template may use; ``{name}`` is required in every one.
TEMPLATE_PLACEHOLDERS: dict[str, tuple[str, ...]] = {
    "database_role": ("database", "name"),
    "single_database_role": ("database", "name"),
    "login": ("name", "domain"),
}


def check_template(template: str, placeholders: tuple[str, ...]) -> str:
    """A naming template, refused unless it uses only ``placeholders``, plainly, and ``{name}``.

    ``str.format`` would read ``{name.upper}`` as attribute access and ``{name[0]}`` as an
    index, and fail with a traceback on an unknown ``{db}`` or an unbalanced ``{name``: none of
    these can name a role, so the policy refuses them when it loads.
    """
    allowed = " and ".join(f"{{{p}}}" for p in placeholders)
    try:
        parts = list(Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"{exc} in {template!r}: write a literal brace as {{{{ or }}}}") from None
    used = set()
    for _, field, spec, conversion in parts:
        if field is None:
            continue
        if field not in placeholders:
            raise ValueError(f"{{{field}}} is not a placeholder of this template, which takes "
                             f"{allowed}")  # fmt: skip
        if spec or conversion:
            raise ValueError(f"placeholders take no format or conversion: write {{{field}}}")
        used.add(field)
    if "name" not in used:
        raise ValueError(f"{template!r} lacks {{name}}, so every principal would get one name")
    return template


class Naming(PolicyModel):
    """Role name templates. ``{database}`` and ``{name}`` are replaced, then folded.

    An empty placeholder (``{domain}`` of a SQL login) takes the separator next to it along
    (:func:`mapper.naming.render`).
    """

    database_role: str = Field(
        "{database}_{name}",
        description="Template ({database}, {name}) for database users without login and "
        "database roles when more than one database is migrated.",
    )
    single_database_role: str = Field(
        "{name}",
        description="The same template ({database}, {name}) when only one database is migrated.",
    )
    login: str = Field(
        "{name}",
        description="Template for login roles ({name}, {domain}: the Windows domain, empty for "
        "other logins, taking the separator next to it along).",
    )
    fold_case: Literal["lower", "preserve"] = Field(
        "lower", description="Fold role, schema and object names to lower case (as AWS SCT does)."
    )

    @field_validator("database_role", "single_database_role", "login")
    @classmethod
    def _template(cls, value: str, info: ValidationInfo) -> str:
        return check_template(value, TEMPLATE_PLACEHOLDERS[str(info.field_name)])


class Hardening(PolicyModel):
    """Revokes PostgreSQL's PUBLIC defaults that SQL Server does not have."""

    revoke_public_defaults: StrictBool = Field(
        True,
        description="REVOKE CONNECT, TEMPORARY and EXECUTE defaults from PUBLIC, and EXECUTE on "
        "routines the owner roles create later (ALTER DEFAULT PRIVILEGES).",
    )


class OvergrantMode(StrEnum):
    DOWNSCOPE = "downscope"  # least privilege: DML and EXECUTE, no DDL, no ownership
    FAITHFUL = "faithful"  # keep the power: owner role membership, rds_superuser


#: Finding rules whose emission has a mode: the over-grants (db_owner, sysadmin, CONTROL,
#: securityadmin, principal administration, IMPERSONATE) and ownership (GB016).
ModeRule = Literal["GB001", "GB002", "GB003", "GB004", "GB005", "GB006", "GB016"]
MODE_RULES: frozenset[str] = frozenset(get_args(ModeRule))


class AcceptedOvergrant(PolicyModel):
    """An over-grant approved with a reason: its finding is shown as accepted."""

    principal: str = Field(description="The SQL Server principal, e.g. 'CONTOSO\\DBAs'.")
    rule: str = Field(pattern=r"^GB\d{3}$", description="Finding rule id, e.g. GB002.")
    reason: str = Field(min_length=1)


class Overgrants(PolicyModel):
    """What to emit for over-grants, per rule id, and the approved ones."""

    default_mode: OvergrantMode = OvergrantMode.DOWNSCOPE
    modes: dict[ModeRule, OvergrantMode] = Field(
        default_factory=dict,
        description="Mode per rule id, e.g. {GB002 = 'faithful'}; GB016 is ownership: "
        "faithful makes a former owner a member of its owner role.",
    )
    accepted: tuple[AcceptedOvergrant, ...] = ()

    def mode(self, rule_id: str) -> OvergrantMode:
        """The mode for one rule."""
        return next((m for r, m in self.modes.items() if r == rule_id), self.default_mode)

    def acceptance(self, rule_id: str, principal: str | None) -> AcceptedOvergrant | None:
        """The accepted entry for this rule and principal, if any (principal case-insensitive)."""
        wanted = (principal or "").casefold()
        return next(
            (a for a in self.accepted if a.rule == rule_id and a.principal.casefold() == wanted),
            None,
        )


AuthName = Literal["iam", "password", "kerberos", "ad_group"]
LoginTypeName = Literal[
    "SQL_LOGIN", "WINDOWS_LOGIN", "WINDOWS_GROUP", "CERTIFICATE_MAPPED_LOGIN",
    "ASYMMETRIC_KEY_MAPPED_LOGIN", "EXTERNAL_LOGIN", "EXTERNAL_GROUP",
]  # fmt: skip


class AuthRule(PolicyModel):
    """Logins whose name matches ``match`` (glob, case-insensitive) and type use ``method``."""

    match: str = "*"
    login_types: tuple[LoginTypeName, ...] = ()  # empty: any type
    method: AuthName

    def matches(self, name: str, login_type: str) -> bool:
        """Whether this rule applies to a login."""
        if self.login_types and login_type not in self.login_types:
            return False
        return fnmatch.fnmatchcase(name.casefold(), self.match.casefold())


#: Microsoft Entra ID logins (types E and X) have no PostgreSQL counterpart on Aurora or RDS,
#: which authenticate with a password, IAM or Kerberos: a cloud identity becomes an IAM login,
#: an Entra group a NOLOGIN group role to map as an AD group (GB032), never a password login.
DEFAULT_AUTH_RULES = (
    AuthRule(login_types=("SQL_LOGIN",), method="password"),
    AuthRule(login_types=("WINDOWS_LOGIN",), method="kerberos"),
    AuthRule(login_types=("WINDOWS_GROUP",), method="ad_group"),
    AuthRule(login_types=("EXTERNAL_LOGIN",), method="iam"),
    AuthRule(login_types=("EXTERNAL_GROUP",), method="ad_group"),
    AuthRule(method="password"),
)


class Authentication(PolicyModel):
    """Authentication per login; the first matching rule wins."""

    rules: tuple[AuthRule, ...] = DEFAULT_AUTH_RULES
    realm: str | None = Field(None, description="Kerberos realm, e.g. CONTOSO.COM.")
    aws_account: str | None = None
    aws_region: str | None = None
    resource_id: str | None = Field(None, description="DB cluster/instance resource id.")
    windows_groups: tuple[Annotated[str, Field(min_length=1)], ...] = Field(
        (),
        description="Windows principals that are groups: exact names or case-insensitive globs, "
        "e.g. 'CONTOSO\\SQL-*'. Only for logins and users whose source could not tell a "
        "Windows user from a group (T-SQL scripts, dacpac); a type read from the catalog is kept.",
    )

    def method(self, name: str, login_type: str) -> AuthName:
        """The method of the first rule matching a login (password when none matches)."""
        rule = next((r for r in self.rules if r.matches(name, login_type)), None)
        return rule.method if rule else "password"

    def is_windows_group(self, name: str) -> bool:
        """Whether ``windows_groups`` declares the Windows principal ``name`` a group."""
        folded = name.casefold()
        return any(fnmatch.fnmatchcase(folded, g.casefold()) for g in self.windows_groups)


class Exclusion(PolicyModel):
    """Principals (glob on the name) left out of the plan, with the reason."""

    match: str
    reason: str = Field(min_length=1)


DEFAULT_EXCLUSIONS = (
    Exclusion(match="##MS_*##", reason="SQL Server internal certificate login"),
    Exclusion(match="NT SERVICE\\*", reason="Windows service account of SQL Server itself"),
    Exclusion(match="NT AUTHORITY\\*", reason="Windows built-in account"),
    Exclusion(match="BUILTIN\\*", reason="Windows built-in group"),
)


class Modules(PolicyModel):
    """How modules that ran as their owner or relied on ownership chaining are migrated."""

    mode: Literal["security_definer", "grant_underlying"] = Field(
        "security_definer",
        description="security_definer: SECURITY DEFINER routines owned by the owner role, "
        "EXECUTE to the callers only; grant_underlying: grant the objects the module touches "
        "to its callers (a widening, reported as a finding).",
    )


class Policy(PolicyModel):
    """The whole ``grantbridge.toml``."""

    target: Literal["aurora", "rds", "postgresql"] = "aurora"
    database_mode: Literal["database", "schema"] = "database"
    #: schema mode only: the one target database (default: the source server's name, folded;
    #: scripts name no server, so theirs is ``scripts``)
    target_database: Annotated[str, Field(min_length=1, max_length=63)] | None = None
    naming: Naming = Naming()
    hardening: Hardening = Hardening()
    overgrants: Overgrants = Overgrants()
    authentication: Authentication = Authentication()
    exclusions: tuple[Exclusion, ...] = DEFAULT_EXCLUSIONS
    modules: Modules = Modules()

    @field_validator("target_database")
    @classmethod
    def _only_in_schema_mode(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("database_mode") != "schema":
            raise ValueError('applies only with database_mode = "schema"')
        return value

    def exclusion(self, name: str) -> Exclusion | None:
        """The exclusion matching a principal name, if any."""
        folded = name.casefold()
        return next(
            (e for e in self.exclusions if fnmatch.fnmatchcase(folded, e.match.casefold())), None
        )


def load_policy(path: Path) -> Policy:
    """Read and validate a policy file.

    Raises:
        PolicyError: the file cannot be read, is not TOML, or has an unknown key or a bad value
            (the message names the key and the location has its line).
    """
    try:
        text = read_input(Path(path), "the policy file")
    except InputError as exc:
        raise PolicyError(exc.message, exc.location) from None
    return parse_policy(text, str(path))


_TOML_POSITION = re.compile(r"at line (\d+), column (\d+)")


def parse_policy(text: str, origin: str = "grantbridge.toml") -> Policy:
    """Validate policy TOML text (see :func:`load_policy`). A UTF-8 byte-order mark, which
    Windows editors write (Notepad, PowerShell 5's ``-Encoding UTF8``), is dropped: tomllib
    reports it as "Invalid statement" at 1:1, where the user sees nothing wrong."""
    text = text.removeprefix("\ufeff")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = _TOML_POSITION.search(str(exc))
        # tomllib reports "at end of document" without a position: that is the last line
        end = (max(len(text.splitlines()), 1), None)
        line, column = (int(found[1]), int(found[2])) if found else end
        message = re.sub(r"\s*\((at line \d+, column \d+|at end of document)\)", "", str(exc))
        raise PolicyError(f"not valid TOML: {message}", Location(origin, line, column)) from None
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(p for p in first["loc"] if p != "[key]")  # a bad dict key: the key itself
        where = ".".join(str(p) for p in loc)
        problem = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
        raise PolicyError(
            f"{problem}: {where!r}", Location(origin, _line_of(text, loc), key=where)
        ) from None


def _line_of(text: str, loc: tuple[Any, ...]) -> int | None:
    """The line of the last key of ``loc``, searched after the lines of its parents."""
    lines = text.splitlines()
    start, found = 0, None
    for part in (p for p in loc if isinstance(p, str)):
        key = re.escape(part)
        pattern = re.compile(rf"^\s*(\[\[?[^\]]*\b{key}\]\]?|\"?{key}\"?\s*=)")
        for index in range(start, len(lines)):
            if pattern.search(lines[index]):
                start, found = index, index + 1
                break
    return found


def policy_schema() -> dict[str, Any]:
    """The JSON Schema of the policy file."""
    return Policy.model_json_schema()
