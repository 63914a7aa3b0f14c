"""PostgreSQL role and object names from SQL Server names (DESIGN §3.3, "Principals").

SQL Server users and roles are per database, PostgreSQL roles are per cluster: names come from
the policy's templates, are folded, and cut to PostgreSQL's 63-byte identifier limit
(NAMEDATALEN - 1). Databases, schemas, objects and columns keep the names the schema conversion
gives them: folded and cut the same way. Any collision after that is a :class:`MappingError`
naming both sources — never a silent merge, which would hand one source's grants to the other.
Only names grantbridge makes itself (DENY-derived roles) take a suffix instead. Quoting is the
emitter's job: names here are final and unquoted.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from string import Formatter

from grantbridge.errors import Location, MappingError
from mapper.policy import Naming

#: PostgreSQL truncates identifiers to NAMEDATALEN - 1 = 63 bytes (PostgreSQL docs §4.1.1).
MAX_IDENTIFIER_BYTES = 63
#: Role names CREATE ROLE refuses: "public", "none" and the "pg_" prefix (PostgreSQL
#: src/backend/commands/user.c, CreateRole; docs §22.1 "pg_ … reserved for system roles").
RESERVED_ROLE_NAMES = frozenset({"public", "none"})
RESERVED_ROLE_PREFIX = "pg_"
#: What an empty placeholder takes along in a naming template (see :func:`render`).
SEPARATORS = "_-.@"

#: What to do about two sources that end up with one name, by cause.
TRUNCATED = (
    "the names share their first 63 bytes, where PostgreSQL cuts identifiers: the schema "
    "conversion must rename one of them; rename it the same way in SQL Server (or in the "
    "scripts) before planning"
)
FOLDED = 'the names differ only in case: set fold_case = "preserve" in grantbridge.toml'
PREFIXED = (
    'database_mode = "schema" names each schema <database>_<schema>: rename one of the '
    'schemas in SQL Server (or in the scripts), or use database_mode = "database"'
)


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
    return _suffixed(name, name)


def _suffixed(name: str, seed: str) -> str:
    """``name`` cut to leave room for ``_`` and 8 hex digits of the hash of ``seed``."""
    digest = hashlib.sha256(seed.encode("utf-8")).hexdigest()[:8]
    head = name.encode("utf-8")[: MAX_IDENTIFIER_BYTES - 9].decode("utf-8", errors="ignore")
    return f"{head}_{digest}"


def fold(name: str, naming: Naming) -> str:
    """Fold a name as the policy says (lower case by default)."""
    return name.lower() if naming.fold_case == "lower" else name


def split_windows(name: str) -> tuple[str | None, str]:
    """``DOMAIN\\user`` → ``("DOMAIN", "user")``; other names have no domain."""
    domain, sep, user = name.rpartition("\\")
    return (domain, user) if sep else (None, name)


def render(template: str, **values: str) -> str:
    """Fill a naming template (validated by :mod:`mapper.policy`).

    An empty placeholder (``{domain}`` of a SQL login) takes its separator along, so that
    ``{domain}_{name}`` gives ``bob``, not ``_bob``: the run of separators (``_ - . @``) just
    before it, or, when none is there, the run just after it.
    """
    out = ""
    take_next = False  # an empty placeholder without a separator before it takes the next one
    for literal, placeholder, _, _ in Formatter().parse(template):
        text = literal.lstrip(SEPARATORS) if take_next else literal
        value = None if placeholder is None else values[placeholder]
        take_next = False
        if value == "":  # only the template's own separators go, never a character of a name
            kept = text.rstrip(SEPARATORS)
            take_next, text = kept == text, kept
        out += text + (value or "")
    return out


def object_name(name: str, naming: Naming) -> str:
    """A database, schema, object or column name on the target (no collision check)."""
    return truncate(fold(name, naming))


@dataclass(frozen=True, slots=True)
class _Source:
    """Who holds a database, schema or object name, and the name before the 63-byte cut."""

    kind: str  # database, schema, object
    names: tuple[str, ...]  # the SQL Server names, e.g. ("Sales", "dbo", "Orders")
    full: str

    def same(self, other: _Source) -> bool:
        """Whether both are one source (SQL Server names are case-insensitive here)."""
        return self.names == other.names or [n.casefold() for n in self.names] == [
            n.casefold() for n in other.names
        ]

    def __str__(self) -> str:
        return f"{self.kind} {'.'.join(f'[{n}]' for n in self.names)}"


@dataclass
class NameRegistry:
    """Hands out role and securable names, refusing two sources ending up with the same name.

    Role names are cluster-wide; database names too; schema names are per target database,
    object names per target schema, column names per object.
    """

    naming: Naming
    multi_database: bool
    owners: dict[str, str] = field(default_factory=dict)  # final name -> source description
    #: (kind, container…, final name) → its source: databases by name, schemas per target
    #: database, objects per target schema
    securables: dict[tuple[str, ...], _Source] = field(default_factory=dict)

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
                f"role name {final!r} would be used by both {holder} and {source}: "
                "PostgreSQL has one role namespace for the whole cluster (logins, users and "
                "roles alike), and both names become this one after the naming templates and "
                "case folding. Give them distinct names with the templates of [naming] in "
                'grantbridge.toml (login = "{name}", database_role = "{database}_{name}", '
                'single_database_role = "{name}", fold_case = "lower"), or leave one out with '
                "an [[exclusions]] entry",
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
        text = render(self.naming.login, name=user, domain=domain or "")
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
        text = render(template, database=database, name=base)
        return self.claim(fold(text, self.naming), f"{kind} [{database}].[{name}]")

    def server_role(self, name: str) -> str:
        """The role of a user-defined server role: a real principal, so never renamed."""
        return self.claim(shorten(fold(name, self.naming)), f"server role [{name}]")

    def derived(self, base: str, source: str) -> str:
        """A name for a role grantbridge makes (DENY-derived roles).

        Such a name is grantbridge's own choice, so it gives way: when a role of the source
        (or another made role) already has it, it takes ``_`` and 8 hex digits of a hash of
        the name, deterministically, instead of failing the plan.
        """
        wanted = shorten(fold(base, self.naming))
        name, attempt = wanted, 0
        while self.owners.get(name, source) != source:
            attempt += 1
            name = _suffixed(wanted, f"{wanted}#{attempt}")
        return self.claim(name, source)

    # ------------------------------------------------------------------ securables

    def database(self, name: str) -> str:
        """The target database of a source database (database mode)."""
        return self._securable((), _Source("database", (name,), fold(name, self.naming)), FOLDED)

    def schema(self, database: str, source_db: str, schema: str, *, prefixed: bool) -> str:
        """The target schema of a source schema in target database ``database``.

        ``prefixed`` (schema mode) names it ``<source database>_<schema>``, as AWS SCT does.
        """
        full = fold(f"{source_db}_{schema}" if prefixed else schema, self.naming)
        source = _Source("schema", (source_db, schema), full)
        return self._securable((database,), source, PREFIXED if prefixed else FOLDED)

    def object(self, scope: tuple[str, str], source_db: str, schema: str, name: str) -> str:
        """The target name of a source object in the target ``(database, schema)``."""
        source = _Source("object", (source_db, schema, name), fold(name, self.naming))
        return self._securable(scope, source, FOLDED)

    def columns(
        self, scope: tuple[str, ...], owner: tuple[str, ...], columns: tuple[str, ...]
    ) -> tuple[str, ...]:
        """The target names of the columns of object ``owner`` (its SQL Server names).

        Checked per object and not kept: a column name is unique only within its object.
        """
        seen: dict[str, str] = {}
        names = []
        for column in columns:
            full = fold(column, self.naming)
            final = truncate(full)
            holder = seen.setdefault(final, column)
            if holder != column:
                cause = FOLDED if fold(holder, self.naming) == full else TRUNCATED
                raise MappingError(
                    f"column name {final!r} would be used by both column [{holder}] and "
                    f"column [{column}] of {_Source('object', owner, '')}; {cause}",
                    Location(key=".".join((*scope, final))),
                )
            names.append(final)
        return tuple(names)

    def _securable(self, scope: tuple[str, ...], source: _Source, same: str) -> str:
        """Register a database, schema or object name within ``scope`` (its container)."""
        final = truncate(source.full)
        holder = self.securables.setdefault((source.kind, *scope, final), source)
        if holder is not source and not holder.same(source):
            cause = same if holder.full == source.full else TRUNCATED
            raise MappingError(
                f"{source.kind} name {final!r} would be used by both {holder} and {source}; "
                f"{cause}",
                Location(key=".".join((*scope, final))),
            )
        return final
