"""The shape of a generated estate, as data: the words names are made of, the kinds of logins
and objects with their shares, the permissions drawn per securable class, and the shares of
each kind of permission row. Permission names are those of ``sys.fn_builtin_permissions``
(https://learn.microsoft.com/sql/relational-databases/system-functions/sys-fn-builtin-permissions-transact-sql).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from mssql_extract.snapshot import AuthenticationType, LoginType, ObjectKind, UserType

FIRST = ("anna", "ben", "chen", "dara", "eli", "fatima", "gus", "hana", "ivan", "jose", "kim")
LAST = ("smith", "garcia", "ng", "okafor", "muller", "rossi", "tanaka", "khan", "silva")
DEPTS = ("sales", "hr", "finance", "ops", "it", "audit", "support", "billing", "logistics")
DB_WORDS = ("Sales", "HR", "Finance", "Reporting", "Inventory", "Billing", "Crm", "Payroll")
NOUNS = ("orders", "customers", "invoices", "items", "shipments", "accounts", "ledger", "staff")
VERBS = ("reader", "writer", "analyst", "admin", "exec", "auditor")
COLUMNS = ("id", "name", "amount", "created_at", "status", "owner_id", "email", "phone", "ssn")
COLUMNS_MORE = ("salary", "notes", "code", "region", "total", "updated_at", "due_date")

#: Login types with their share of logins, and the user type / authentication of their users.
LOGIN_KINDS: tuple[tuple[LoginType, float, UserType, AuthenticationType], ...] = (
    (LoginType.SQL, 0.50, UserType.SQL, AuthenticationType.INSTANCE),
    (LoginType.WINDOWS_USER, 0.35, UserType.WINDOWS_USER, AuthenticationType.WINDOWS),
    (LoginType.WINDOWS_GROUP, 0.15, UserType.WINDOWS_GROUP, AuthenticationType.WINDOWS),
)

#: Object kinds: share of objects, object permissions (sys.fn_builtin_permissions, class OBJECT).
OBJECT_KINDS: tuple[tuple[ObjectKind, float, tuple[str, ...]], ...] = (
    (ObjectKind.TABLE, 0.55, ("SELECT", "INSERT", "UPDATE", "DELETE", "REFERENCES")),
    (ObjectKind.VIEW, 0.20, ("SELECT", "INSERT", "UPDATE", "DELETE")),
    (ObjectKind.PROCEDURE, 0.20, ("EXECUTE", "VIEW DEFINITION")),
    (ObjectKind.SCALAR_FUNCTION, 0.05, ("EXECUTE", "REFERENCES")),
)
PERMISSIONS_OF = {kind: perms for kind, _, perms in OBJECT_KINDS}
MODULES = frozenset({ObjectKind.PROCEDURE, ObjectKind.SCALAR_FUNCTION})
COLUMN_PERMISSIONS = ("SELECT", "UPDATE", "REFERENCES")
SCHEMA_PERMISSIONS = ("SELECT", "INSERT", "UPDATE", "DELETE", "EXECUTE", "VIEW DEFINITION", "ALTER")
DATABASE_PERMISSIONS = ("CREATE TABLE", "CREATE VIEW", "SHOWPLAN", "VIEW DEFINITION", "EXECUTE")
SERVER_PERMISSIONS = ("VIEW SERVER STATE", "VIEW ANY DEFINITION", "VIEW ANY DATABASE")
#: Fixed database roles and the share of users in each.
FIXED_ROLE_SHARES = (("db_datareader", 0.10), ("db_datawriter", 0.04), ("db_denydatawriter", 0.02))

#: Shares of a database's permission rows (after CONNECT and database-level grants).
SCHEMA_SHARE, COLUMN_SHARE, DENY_SHARE, GRANT_OPTION_SHARE = 0.04, 0.05, 0.03, 0.01
MAX_DEPTH = 5  # roles are nested up to five deep


def weighted(rng: random.Random, table: Sequence[tuple[Any, ...]]) -> tuple[Any, ...]:
    """A row of ``table`` drawn with the weight of its share (each row's second item)."""
    return rng.choices(table, weights=[row[1] for row in table])[0]
