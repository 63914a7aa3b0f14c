"""PostgreSQL role and object names from SQL Server names (DESIGN §3.3, "Principals").

SQL Server users and roles are per database, PostgreSQL roles are per cluster: names come from
the policy's templates, are folded, and cut to PostgreSQL's 63-byte identifier limit
(NAMEDATALEN - 1). Any collision after that is a :class:`MappingError` naming both sources —
never a silent merge. Quoting is the emitter's job: names here are final and unquoted.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from grantbridge.errors import Location, MappingError
from mapper.policy import Naming

#: PostgreSQL truncates identifiers to NAMEDATALEN - 1 = 63 bytes (PostgreSQL docs §4.1.1).
MAX_IDENTIFIER_BYTES = 63
#: Role names CREATE ROLE refuses: "public", "none" and the "pg_" prefix (PostgreSQL
#: src/backend/commands/user.c, CreateRole; docs §22.1 "pg_ … reserved for system roles").
RESERVED_ROLE_NAMES = frozenset({"public", "none"})
RESERVED_ROLE_PREFIX = "pg_"


def truncate(name: str) -> str:
    """Cut a name to 63 bytes of UTF-8 without splitting a character."""
    data = name.encode("utf-8")
    if len(data) <= MAX_IDENTIFIER_BYTES:
        return name
    return data[:MAX_IDENTIFIER_BYTES].decode("utf-8", errors="ignore")


def shorten(name: str) -> str:
    """Fit a name grantbridge makes into 63 bytes, keeping it unique: cut + 8-hex hash.

    Derived names (``<role>_minus_<grantee>``, derived again for a second DENY) grow past the
    limit on real estates; a bare cut would make two of them collide. The hash of the full
    name keeps them apart, deterministically.
    """
    if len(name.encode("utf-8")) <= MAX_IDENTIFIER_BYTES:
        return name
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
    head = name.encode("utf-8")[: MAX_IDENTIFIER_BYTES - 9].decode("utf-8", errors="ignore")
    return f"{head}_{digest}"


def fold(name: str, naming: Naming) -> str:
    """Fold a name as the policy says (lower case by default)."""
    return name.lower() if naming.fold_case == "lower" else name


def split_windows(name: str) -> tuple[str | None, str]:
    """``DOMAIN\\user`` → ``("DOMAIN", "user")``; other names have no domain."""
    domain, sep, user = name.rpartition("\\")
    return (domain, user) if sep else (None, name)


def object_name(name: str, naming: Naming) -> str:
    """A schema, object or column name on the target."""
    return truncate(fold(name, naming))


@dataclass
class NameRegistry:
    """Hands out role names and refuses two sources ending up with the same name."""

    naming: Naming
    multi_database: bool
    owners: dict[str, str] = field(default_factory=dict)  # final name -> source description

    def claim(self, name: str, source: str) -> str:
        """Register ``name`` for ``source``; the same source may claim its name again."""
        final = truncate(name)
        if final in RESERVED_ROLE_NAMES or final.startswith(RESERVED_ROLE_PREFIX):
            # refused at plan time: otherwise the scripts fail half-way on the target
            raise MappingError(
                f"role name {final!r} for {source} is reserved in PostgreSQL; change naming "
                "templates in grantbridge.toml",
                Location(key=final),
            )
        holder = self.owners.setdefault(final, source)
        if holder != source:
            raise MappingError(
                f"role name {final!r} would be used by both {holder} and {source}; change "
                "naming templates in grantbridge.toml",
                Location(key=final),
            )
        return final

    def login(self, login: str, realm: str | None = None, *, windows: bool = True) -> str:
        """The role of a login; with a realm, a Kerberos ``user@REALM`` name (not folded).

        Only Windows logins are ``DOMAIN\\user``: in a SQL login a backslash is a character.
        """
        domain, user = split_windows(login) if windows else (None, login)
        if realm is not None:
            return self.claim(f"{fold(user, self.naming)}@{realm.upper()}", f"login [{login}]")
        text = self.naming.login.format(name=user, domain=domain or "")
        return self.claim(fold(text, self.naming), f"login [{login}]")

    def database_principal(
        self, database: str, name: str, kind: str, *, always_prefixed: bool = False
    ) -> str:
        """The role of a database role or of a user without a login.

        ``always_prefixed`` uses the multi-database template even for one database: roles
        grantbridge makes per database (owner roles, fixed-role equivalents) keep the database
        in their name so they read clearly on a shared cluster.
        """
        multi = self.multi_database or always_prefixed
        template = self.naming.database_role if multi else self.naming.single_database_role
        # only users can be DOMAIN\\user (orphans of Windows logins); in a role name a
        # backslash is a character
        base = split_windows(name)[1] if kind == "user" else name
        text = template.format(database=database, name=base)
        return self.claim(fold(text, self.naming), f"{kind} [{database}].[{name}]")

    def derived(self, base: str, source: str) -> str:
        """A name for a role grantbridge makes (owner roles, DENY-derived roles)."""
        return self.claim(shorten(fold(base, self.naming)), source)
