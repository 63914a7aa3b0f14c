"""Several sources, one snapshot: ``extract --dacpac Sales.dacpac --dacpac HR.dacpac --script
logins.sql``.

An estate often reaches the migration engineer in pieces: one dacpac per database (SSDT
projects, SqlPackage ``/Action:Extract``), while the logins those databases' users map to live
in ``master`` and arrive as ``sp_help_revlogin`` or dbatools output, a ``master``-scoped
dacpac, or captured catalog rows. Planned apart, each database's users have no login, so no one
could log in. Each source is read on its own, exactly as it would be alone, and the snapshots
are then combined here:

* every **database** comes from one source; the same database from two is refused (exit 2,
  naming both), since nothing says which one the target should get;
* **server-level facts** (logins, server roles, their members and permissions, server audit
  specifications) are united by key; the same fact from two sources must say the same thing
  apart from where it was read, else it is refused, naming both places. The first source's
  location is kept;
* the **server** is one: two sources naming different real servers (catalog rows of two
  instances) are refused. Scripts and dacpacs name none (``(scripts)``, ``(dacpac)``);
* what a dacpac **lacked** is worked out again: its users whose login another source holds are
  linked to it as the planner links a user without a SID, by name (:mod:`mapper.graph`), and
  the GB045 entry listing the logins the dacpac does not hold names only those still missing
  (:func:`mssql_extract.dacpac.external_logins`).

A user read from *scripts* whose login the scripts do not create is orphaned with no login name
kept (:mod:`mssql_extract.tsql.replay`), so give a logins script in the same ``--script`` list as
the database scripts rather than as another source.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from grantbridge.errors import ExtractError, Location
from mssql_extract.dacpac import EXTERNAL_LOGINS, external_logins
from mssql_extract.snapshot import Model, SecuritySnapshot, Server, Skipped, fold

#: The server-level collections united by key.
_SERVER_FACTS = (
    "logins",
    "server_roles",
    "server_memberships",
    "server_permissions",
    "audit_specifications",
)


def combine(parts: Sequence[SecuritySnapshot]) -> SecuritySnapshot:
    """One snapshot from the snapshots of several sources of one server (module docstring).

    Raises:
        ExtractError: a database in two sources, a server-level fact two sources state
            differently, or two different servers.
    """
    if len(parts) == 1:
        return parts[0]
    fields: dict[str, Any] = {name: _united(parts, name) for name in _SERVER_FACTS}
    kinds = {part.source for part in parts}
    logins = {fold(login.name) for login in fields["logins"]}
    return SecuritySnapshot(
        source=kinds.pop() if len(kinds) == 1 else "mixed",
        server=_server(parts),
        databases=_databases(parts),
        skipped=tuple(_skipped(parts, logins)),
        **fields,
    )


def _where(item: Model) -> str:
    return str(getattr(item, "source_ref", "?"))


def _united(parts: Sequence[SecuritySnapshot], name: str) -> tuple[Any, ...]:
    """The facts of one server-level collection, each once (first source's location)."""
    found: dict[str, Any] = {}
    for part in parts:
        for item in getattr(part, name):
            first = found.setdefault(item.key, item)
            if first is not item and _content(first) != _content(item):
                raise ExtractError(
                    f"{item.key} is stated differently by two sources: {_where(first)} and "
                    f"{_where(item)}; give each server-level fact once",
                    Location(_where(item), key=item.key),
                )
    return tuple(found.values())


def _content(item: Model) -> dict[str, Any]:
    """What a fact says, apart from where it was read."""
    return item.model_dump(exclude={"source_ref"})


def _databases(parts: Sequence[SecuritySnapshot]) -> tuple[Any, ...]:
    seen: dict[str, Any] = {}
    for part in parts:
        for db in part.databases:
            first = seen.setdefault(db.key, db)
            if first is not db:
                raise ExtractError(
                    f"database [{db.name}] comes from two sources: {_where(first)} and "
                    f"{_where(db)}; give each database once",
                    Location(_where(db), key=db.key),
                )
    return tuple(seen.values())


def _server(parts: Sequence[SecuritySnapshot]) -> Server:
    """The one server the sources describe: its real name and what any source knows of it."""
    real = [part.server for part in parts if not part.server.name.startswith("(")]
    names = sorted({fold(server.name): server.name for server in real}.values())
    if len(names) > 1:
        raise ExtractError(
            f"the sources describe different servers ({', '.join(names)}); one snapshot holds "
            "one server: extract each separately",
            Location(key="server.name"),
        )
    placeholders = sorted({part.server.name for part in parts})
    values: dict[str, Any] = {
        "name": names[0] if names else placeholders[0] if len(placeholders) == 1 else "(combined)"
    }
    for server in [*real, *(part.server for part in parts)]:  # a real server's values first
        for field, value in server.model_dump(exclude={"name"}).items():
            if value is not None:
                values.setdefault(field, value)
    return Server(**values)


def _skipped(parts: Sequence[SecuritySnapshot], logins: set[str]) -> Iterator[Skipped]:
    """Every source's skipped entries, the dacpacs' missing logins worked out again against
    the combined ``logins`` (folded names)."""
    for part in parts:
        for entry in part.skipped:
            if part.source != "dacpac" or entry.reason != EXTERNAL_LOGINS:
                yield entry
                continue
            for db in part.databases:  # a database dacpac holds one database
                still = external_logins(db, logins, entry.source_ref)
                if still is not None:
                    yield still
