"""The one root error of grantbridge and its per-stage subclasses.

Every error carries a structured location (file, line, column, object key) and a one-line
message that quotes the offending name. The CLI maps them to exit codes (DESIGN §6):
bad input → 2, verification or drift mismatch → 3, unreachable server → 4.

This module is a leaf: every stage (``mssql_extract``, ``mapper``, ``pg_emit``) may import it,
and it imports nothing of theirs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """Where a problem is: a file (or catalog view), a line, a column, an object key."""

    file: str | None = None
    line: int | None = None
    column: int | None = None
    key: str | None = None

    def __str__(self) -> str:
        parts = [self.file or ""]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        text = ":".join(p for p in parts if p)
        if self.key:
            text = f"{text} [{self.key}]" if text else self.key
        return text


class GrantbridgeError(Exception):
    """Root of every error grantbridge raises on purpose."""

    exit_code = 2

    def __init__(self, message: str, location: Location | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location or Location()

    def __str__(self) -> str:
        where = str(self.location)
        return f"{where}: {self.message}" if where else self.message

    def __reduce__(self) -> tuple[type[GrantbridgeError], tuple[str, Location]]:
        """Pickled with its location (``plan --per-database`` raises it in a worker process)."""
        return type(self), (self.message, self.location)


class InputError(GrantbridgeError):
    """Bad input or usage: a malformed script, snapshot, policy or argument (exit 2)."""


class ExtractError(InputError):
    """A source (script, catalog rows, dacpac) cannot be read into a snapshot."""


class PolicyError(InputError):
    """The policy file is invalid."""


class MappingError(InputError):
    """The snapshot cannot be mapped: a cycle, a name collision, an unresolvable reference."""


class TargetError(InputError):
    """The target PostgreSQL lacks something the plan refers to: an object, a column."""


class MismatchError(GrantbridgeError):
    """Verification or drift found a difference between the plan and the server (exit 3)."""

    exit_code = 3


class ConnectionFailed(GrantbridgeError):
    """A server (SQL Server or PostgreSQL) cannot be reached, or a driver is missing (exit 4)."""

    exit_code = 4
