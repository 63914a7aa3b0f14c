"""The SQL a finding advises to run after review, spelled as the rendered scripts spell it.

Engineers copy a finding's advised statements into psql, so they must run verbatim: every name
quoted where PostgreSQL needs it (:mod:`mapper.quoting`, the rule the scripts use: a mixed-case
``"Sales"."OrderLines"``, a Windows group ``"CONTOSO\\Sales Team"``), the plan's PostgreSQL names
rather than SQL Server's, ``ROUTINE`` for a procedure named without its arguments (the
conversion may have made it a function), and the target database to run them in: a GRANT on a
schema or an object applies in the database one is connected to ("GRANT", Description:
https://www.postgresql.org/docs/15/sql-grant.html), and each source database has a target
database of its own in database mode. Role memberships are cluster-wide and name no database.
"""

from __future__ import annotations

from mapper.plan import PgObject
from mapper.quoting import quote_ident, quote_role, routine_keyword, securable_sql
from mapper.translate.grants import GRANT_TYPES


def in_database(database: str) -> str:
    """``in database d``: where advised statements run (the name quoted as ``\\connect`` takes
    it too)."""
    return f"in database {quote_ident(database)}"


def on_object(target: PgObject) -> tuple[str, str]:
    """The object type keyword and quoted name of ``GRANT … ON <type> <name>`` for a target
    object, as the scripts spell them (``TABLE "Sales"."OrderLines"``, ``ROUTINE s.p``)."""
    keyword = routine_keyword(GRANT_TYPES[target.kind], target.signature)
    return keyword, securable_sql(keyword, target.schema_name, target.name, target.signature)


def grant_sql(privilege: str, target: PgObject, grantee: str) -> str:
    """``GRANT privilege ON TYPE name TO grantee``, every name quoted."""
    keyword, name = on_object(target)
    return f"GRANT {privilege} ON {keyword} {name} TO {quote_role(grantee)}"


def grant_role(role: str, member: str) -> str:
    """``GRANT role TO member``, both quoted (a membership: no database to name)."""
    return f"GRANT {quote_ident(role)} TO {quote_role(member)}"


def set_role_advice(role: str, database: str) -> str:
    """How an application reaches an application role's PostgreSQL role (GB017), every name the
    plan knows quoted: membership without inheritance, then ``SET ROLE`` where it called
    ``sp_setapprole``. The login of each application is not in the snapshot (SQL Server does
    not record who activates an application role): ``<login>`` is the reader's to fill.
    ``WITH INHERIT FALSE`` is new in PostgreSQL 16, as the rendered scripts' inherit=False
    memberships (:mod:`pg_emit.render_roles`). Before 16 the membership goes through a NOINHERIT
    role (``<role>_gate``): SET ROLE may use any chain of memberships, privileges are inherited
    only through INHERIT roles (PostgreSQL 15, CREATE ROLE: "INHERIT … NOINHERIT"; SET ROLE), so
    the login's other roles stay inherited — making the login itself NOINHERIT would cut them
    too. ``SET ROLE`` needs no database, but the application runs it in its session, connected
    to the database named."""
    name, gate = quote_ident(role), quote_ident(f"{role}_gate")
    return (
        f"Grant it to the login role of each application that calls sp_setapprole (<login>): "
        f"GRANT {name} TO <login> WITH INHERIT FALSE (PostgreSQL 16 and later; before 16, "
        f"through a NOINHERIT role, which leaves the login's other roles inherited: CREATE ROLE "
        f"{gate} NOINHERIT; GRANT {name} TO {gate}; GRANT {gate} TO <login>). The application "
        f"then runs, {in_database(database)}: SET ROLE {name}. That is where it called "
        "sp_setapprole; RESET ROLE replaces sp_unsetapprole."
    )
