"""GB047: a case-sensitive collation, under which grantbridge's case-insensitive names may merge.

SQL Server compares identifiers as the database's collation does (the server's, for logins,
server roles and database names): ``*_CI_*`` case-insensitively, the default; ``*_CS_*`` and
the binary ``*_BIN`` / ``*_BIN2`` collations case-sensitively ("Collation and Unicode support":
https://learn.microsoft.com/sql/relational-databases/collations/collation-and-unicode-support,
the ``_CS`` and ``_BIN`` options). grantbridge folds names (``mssql_extract.snapshot.fold``), as
the default collation compares them and as PostgreSQL's unquoted names fold, so under a
case-sensitive collation ``[Orders]`` and ``[ORDERS]``, two tables there, are one in the plan. The
snapshot cannot tell such names apart any more, so the plan says so once per server or database.
"""

from __future__ import annotations

import re

from mapper import findings
from mapper.translate.state import PlanState

#: The collation options that compare case-sensitively: ``_CS`` and the binary sort orders.
_CASE_SENSITIVE = re.compile(r"_(CS|BIN2?)(_|$)", re.IGNORECASE)


def case_sensitive(collation: str | None) -> bool:
    """Whether a SQL Server collation name compares identifiers case-sensitively."""
    return bool(collation) and _CASE_SENSITIVE.search(collation or "") is not None


def plan_collations(state: PlanState) -> None:
    """One GB047 for the server and for each database whose collation is case-sensitive."""
    server = state.snapshot.server
    if case_sensitive(server.collation):
        state.finding(findings.make(
            "GB047", f"the server's collation is {server.collation}",
            "Logins, server roles and databases whose names differ only in case would be "
            "merged into one; nothing else changed.",
            securable="SERVER",
        ))  # fmt: skip
    for db in state.snapshot.databases:
        if case_sensitive(db.collation):
            state.finding(findings.make(
                "GB047", f"[{db.name}] has the collation {db.collation}",
                "Users, roles, schemas and objects whose names differ only in case would be "
                "merged into one; nothing else changed.",
                securable=f"DATABASE {db.name}", source_ref=str(db.source_ref),
            ))  # fmt: skip
