"""Plan items for privileges: GRANTs (expanded per object), REVOKEs, and default privileges
(``ALTER DEFAULT PRIVILEGES`` grants and PUBLIC-hardening revokes).
"""

from __future__ import annotations

from typing import Literal

from mapper.plan_base import PlanModel

GrantObjectType = Literal[
    "DATABASE", "SCHEMA", "TABLE", "SEQUENCE", "FUNCTION", "PROCEDURE", "TYPE", "PARAMETER"
]

DefaultObjectType = Literal["TABLES", "SEQUENCES", "FUNCTIONS", "ROUTINES", "TYPES"]


class PgGrant(PlanModel):
    """One privilege on one securable to one grantee (expanded; the emitter groups them).

    ``name`` is the database name for DATABASE, the schema name for SCHEMA, and the object name
    (with ``schema_name``) for the rest. ``columns`` makes it a column privilege.
    """

    database: str
    object_type: GrantObjectType
    schema_name: str | None = None
    name: str
    signature: str | None = None
    columns: tuple[str, ...] = ()
    privilege: str
    grantee: str  # role name, or "PUBLIC"
    grant_option: bool = False
    facts: tuple[str, ...] = ()
    comment: str = ""

    @property
    def securable(self) -> str:
        schema, name = self.schema_name, self.name
        path = f"{schema}.{name}" if schema and name else (schema or name)
        cols = f"({','.join(self.columns)})" if self.columns else ""
        return f"{self.object_type} {self.database}:{path}{self.signature or ''}{cols}"

    @property
    def key(self) -> str:
        return f"grant:{self.securable}:{self.privilege}:{self.grantee}"


class PgRevoke(PlanModel):
    """A REVOKE the plan needs: PUBLIC hardening, or removing a default PostgreSQL grants."""

    database: str
    object_type: GrantObjectType
    schema_name: str | None = None
    name: str
    signature: str | None = None
    privilege: str
    grantee: str
    reason: str
    facts: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        path = ".".join(p for p in (self.schema_name, self.name) if p)
        return (
            f"revoke:{self.object_type} {self.database}:{path}{self.signature or ''}:"
            f"{self.privilege}:{self.grantee}"
        )


class PgDefaultPrivilege(PlanModel):
    """``ALTER DEFAULT PRIVILEGES FOR ROLE owner IN SCHEMA schema GRANT … TO grantee``."""

    database: str
    owner: str
    schema_name: str | None = None
    object_type: DefaultObjectType
    privilege: str
    grantee: str
    facts: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return (
            f"default:{self.database}.{self.schema_name or '*'}:{self.owner}:{self.object_type}:"
            f"{self.privilege}:{self.grantee}"
        )


class PgDefaultRevoke(PlanModel):
    """``ALTER DEFAULT PRIVILEGES FOR ROLE owner REVOKE privilege ON object_type FROM grantee``.

    Global (no ``IN SCHEMA``): it takes away a privilege PostgreSQL's built-in defaults give
    PUBLIC on every object ``owner`` creates later, which only the global form can do (per-schema
    default privileges are added to the global ones). PUBLIC hardening: EXECUTE ON FUNCTIONS
    (procedures included) for each role that creates objects in a target database.
    """

    database: str
    owner: str
    object_type: DefaultObjectType = "FUNCTIONS"
    privilege: str = "EXECUTE"
    grantee: str = "PUBLIC"
    reason: str = ""
    facts: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return (
            f"default-revoke:{self.database}.*:{self.owner}:{self.object_type}:"
            f"{self.privilege}:{self.grantee}"
        )
