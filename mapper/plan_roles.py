"""Plan items for roles and what they own: the roles to create and their memberships, the
target databases, schemas and objects (with their owner roles), and the IAM policies of IAM
login roles.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field

from mapper.plan_base import PlanModel


class RoleKind(StrEnum):
    LOGIN = "login"  # from a SQL Server login: LOGIN role
    USER = "user"  # a database user without a login (WITHOUT LOGIN, orphaned): NOLOGIN
    GROUP = "group"  # database role, user-defined server role, AD group login: NOLOGIN group
    APPLICATION = "application"  # application role: NOLOGIN, granted to its callers
    OWNER = "owner"  # NOLOGIN owner role, one per source owner
    DERIVED = "derived"  # made by DENY restructuring: a role's privileges minus the denied ones
    PREDEFINED = "predefined"  # exists on the target already (rds_iam, pg_monitor …): not created


class AuthMethod(StrEnum):
    NONE = "none"  # NOLOGIN
    IAM = "iam"  # member of rds_iam, IAM token
    PASSWORD = "password"  # SCRAM; the plan holds no password, only a rotation step
    KERBEROS = "kerberos"  # member of rds_ad, role named user@REALM
    AD_GROUP = "ad_group"  # Windows group mapped through pg_ad_mapping (Aurora)


PgObjectKind = Literal["table", "view", "sequence", "function", "procedure", "type"]


class PgRole(PlanModel):
    """A PostgreSQL role to create (or, kind ``predefined``, one that must already exist)."""

    name: str
    kind: RoleKind
    login: bool = False
    attributes: tuple[str, ...] = ()  # e.g. ("CREATEDB",); never SUPERUSER
    auth: AuthMethod = AuthMethod.NONE
    source: str = ""  # the SQL Server principal, readable: "login [CONTOSO\\DBAs]"
    facts: tuple[str, ...] = ()
    comment: str = ""
    #: a Kerberos login on plain PostgreSQL: the policy's realm, which its ``gss`` line in
    #: ``iam/pg_hba.conf`` requires (``krb_realm``). RDS / Aurora take it from the directory,
    #: so it is left unset there, and unset it is left out of the JSON (plans read as before).
    realm: str | None = Field(default=None, exclude_if=lambda value: value is None)

    @property
    def key(self) -> str:
        return f"role:{self.name}"


class PgMembership(PlanModel):
    """``GRANT role TO member``."""

    role: str
    member: str
    inherit: bool = True
    facts: tuple[str, ...] = ()
    comment: str = ""

    @property
    def key(self) -> str:
        return f"membership:{self.role}<-{self.member}"


class PgDatabase(PlanModel):
    """A target database (or, in schema mode, the one database holding every source)."""

    name: str
    owner: str
    source_database: str | None = None
    facts: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"database:{self.name}"


class PgSchema(PlanModel):
    database: str
    name: str
    owner: str
    facts: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"schema:{self.database}.{self.name}"


class PgObject(PlanModel):
    """A target object: what ``verify`` creates as a stub on an empty server, and its owner.

    ``signature`` is the argument list of a routine, e.g. ``"()"`` or ``"(integer, text)"``, as
    read from a target catalog. The planner leaves it None: SQL Server has no overloading, so a
    converted routine is found by its name alone (``GRANT EXECUTE ON FUNCTION s.f``, which
    PostgreSQL resolves when the name is unique in its schema), whatever argument types the
    conversion gave it; ``verify`` and ``drift`` bind it to the live signature
    (:mod:`mapper.target`).

    ``default_sequences`` (``schema.name``, sorted) are the sequences a table's column defaults
    call (``DEFAULT nextval('s.orders_id_seq'::regclass)``), as read from a target catalog:
    PostgreSQL runs a default as the inserting role, which then needs USAGE on the sequence
    (:mod:`mapper.target`). The planner leaves it empty, and empty it is left out of the JSON,
    so plans without a target read as before.
    """

    database: str
    schema_name: str
    name: str
    kind: PgObjectKind
    columns: tuple[str, ...] = ()
    signature: str | None = None
    owner: str
    facts: tuple[str, ...] = ()
    default_sequences: tuple[str, ...] = Field(default=(), exclude_if=lambda value: not value)

    @property
    def key(self) -> str:
        return f"object:{self.database}.{self.schema_name}.{self.name}{self.signature or ''}"


class IamPolicy(PlanModel):
    """An IAM policy document allowing ``rds-db:connect`` for one IAM login role."""

    role: str
    document: str  # canonical JSON (sorted keys, two-space indent)

    @property
    def key(self) -> str:
        return f"iam:{self.role}"
