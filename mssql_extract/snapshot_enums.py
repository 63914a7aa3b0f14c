"""The snapshot's enumerations: principal types, authentication, permission states, object
kinds and securable classes, spelled as SQL Server's catalog views spell them:

https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-server-principals-transact-sql
https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-database-principals-transact-sql
https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-database-permissions-transact-sql
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal


class LoginType(StrEnum):
    """``sys.server_principals.type`` for logins (R, server roles, are modelled separately)."""

    SQL = "SQL_LOGIN"  # S
    WINDOWS_USER = "WINDOWS_LOGIN"  # U
    WINDOWS_GROUP = "WINDOWS_GROUP"  # G
    CERTIFICATE = "CERTIFICATE_MAPPED_LOGIN"  # C
    ASYMMETRIC_KEY = "ASYMMETRIC_KEY_MAPPED_LOGIN"  # K
    EXTERNAL_USER = "EXTERNAL_LOGIN"  # E (Entra ID)
    EXTERNAL_GROUP = "EXTERNAL_GROUP"  # X (Entra ID)


class UserType(StrEnum):
    """``sys.database_principals.type_desc`` for users."""

    SQL = "SQL_USER"  # S
    WINDOWS_USER = "WINDOWS_USER"  # U
    WINDOWS_GROUP = "WINDOWS_GROUP"  # G
    CERTIFICATE = "CERTIFICATE_MAPPED_USER"  # C
    ASYMMETRIC_KEY = "ASYMMETRIC_KEY_MAPPED_USER"  # K
    EXTERNAL_USER = "EXTERNAL_USER"  # E
    EXTERNAL_GROUP = "EXTERNAL_GROUPS"  # X


class AuthenticationType(StrEnum):
    """``sys.database_principals.authentication_type_desc``."""

    NONE = "NONE"  # WITHOUT LOGIN, or a certificate / key user
    INSTANCE = "INSTANCE"  # mapped to a server login
    DATABASE = "DATABASE"  # contained database user with a password
    WINDOWS = "WINDOWS"
    EXTERNAL = "EXTERNAL"  # Microsoft Entra ID


class PermissionState(StrEnum):
    """``state`` of sys.*_permissions (REVOKE rows do not survive: a revoke removes the row)."""

    GRANT = "G"
    GRANT_WITH_GRANT_OPTION = "W"
    DENY = "D"


class ObjectKind(StrEnum):
    """Kinds of schema-scoped objects a GRANT can target (from ``sys.objects.type``)."""

    TABLE = "TABLE"  # U
    VIEW = "VIEW"  # V
    PROCEDURE = "PROCEDURE"  # P, PC
    SCALAR_FUNCTION = "SCALAR_FUNCTION"  # FN, FS
    TABLE_FUNCTION = "TABLE_FUNCTION"  # IF, TF, FT
    AGGREGATE = "AGGREGATE"  # AF
    SEQUENCE = "SEQUENCE"  # SO
    SYNONYM = "SYNONYM"  # SN
    TYPE = "TYPE"  # user-defined types (sys.types; TT for table types)
    XML_SCHEMA_COLLECTION = "XML_SCHEMA_COLLECTION"
    SECURITY_POLICY = "SECURITY_POLICY"  # SP
    OTHER = "OTHER"


#: Securable classes, spelled as ``sys.fn_builtin_permissions`` spells ``class_desc``
#: (see shared/reference/mssql/builtin_permissions_sql2022.csv).
SecurableClass = Literal[
    "SERVER",
    "ENDPOINT",
    "LOGIN",
    "SERVER ROLE",
    "AVAILABILITY GROUP",
    "DATABASE",
    "SCHEMA",
    "OBJECT",
    "TYPE",
    "USER",
    "ROLE",
    "APPLICATION ROLE",
    "XML SCHEMA COLLECTION",
    "ASSEMBLY",
    "CERTIFICATE",
    "ASYMMETRIC KEY",
    "SYMMETRIC KEY",
    "MESSAGE TYPE",
    "CONTRACT",
    "SERVICE",
    "REMOTE SERVICE BINDING",
    "ROUTE",
    "FULLTEXT CATALOG",
    "FULLTEXT STOPLIST",
    "SEARCH PROPERTY LIST",
    "DATABASE SCOPED CREDENTIAL",
    "EXTERNAL LANGUAGE",
]

SERVER_CLASSES: frozenset[str] = frozenset(
    {"SERVER", "ENDPOINT", "LOGIN", "SERVER ROLE", "AVAILABILITY GROUP"}
)
