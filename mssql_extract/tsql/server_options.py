"""``sp_configure``: the one server option grantbridge's semantics depend on.

With *common criteria compliance enabled* on, "a table-level DENY takes precedence over a
column-level GRANT" (Microsoft Learn, "common criteria compliance enabled Server Configuration
Option"); off, the default, a column GRANT outlives its table's DENY ("GRANT Object
Permissions"). A script that sets it (``EXEC sp_configure 'common criteria compliance
enabled', 1`` and ``RECONFIGURE``; the option takes effect when the server restarts) says how
the server runs: ``Server.common_criteria``. sp_configure takes "any unique part of the
option name" (sp_configure, Arguments): ``'common criteria'`` is the option too. Any other
option, and a call that only shows one, is kept as skipped as before (procedures._unknown).
"""

from __future__ import annotations

from mssql_extract.snapshot import SourceRef
from mssql_extract.tsql.cursor import Args, Parser, Procedure

#: sys.configurations.name of the option (mssql_extract.catalog.COMMON_CRITERIA).
COMMON_CRITERIA = "common criteria compliance enabled"
#: The shortest part of its name no other option starts with (``co`` is also ``cost …``,
#: ``contained …``, ``cross db …``, ``cursor …``).
_SHORTEST = "com"


def sp_configure(p: Parser, args: Args, ref: SourceRef) -> None:
    name = " ".join((args.get("configname") or "").lower().split())
    value = args.get("configvalue")
    if not (len(name) >= len(_SHORTEST) and COMMON_CRITERIA.startswith(name)) or value is None:
        p.skip_statement(
            "EXEC sp_configure: a system procedure grantbridge does not replay "
            "(what it changes is not in the plan)"
        )
        return
    if value.strip() not in ("0", "1"):
        p.skip_statement(f"EXEC sp_configure: {COMMON_CRITERIA} takes 0 or 1, not {value}")
        return
    p.builder.common_criteria = value.strip() == "1"


#: sp_configure's parameters (sp_configure (Transact-SQL), Syntax).
PROCEDURES: dict[str, Procedure] = {
    "sp_configure": (("configname", "configvalue"), sp_configure),
}
