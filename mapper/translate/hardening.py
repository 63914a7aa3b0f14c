"""PUBLIC hardening (DESIGN §3.3): revoke what PostgreSQL gives PUBLIC and SQL Server does not.

PostgreSQL grants PUBLIC ``CONNECT`` and ``TEMPORARY`` on every database and ``EXECUTE`` on every
function and procedure (PostgreSQL docs §5.8 table 5.2, reference/mssql/pg_object_privileges.csv);
before PostgreSQL 15 PUBLIC may also CREATE in schema ``public``. SQL Server gives none of these
to ``public``. On by default; ``[hardening] revoke_public_defaults = false`` turns it off.
"""

from __future__ import annotations

from mapper.plan import PgGrant, PgObject, PgRevoke
from mapper.translate.state import SERVER, PlanState, fact_key

_DEFAULTS = "PostgreSQL default for PUBLIC; SQL Server's public has no such permission"


def plan_hardening(state: PlanState) -> None:
    """Revokes from PUBLIC for every target database and routine."""
    if not state.policy.hardening.revoke_public_defaults:
        return
    for db in state.snapshot.databases:
        fact, name = fact_key(SERVER, db.key), state.target_db(db)
        for privilege in ("CONNECT", "TEMPORARY"):
            public = PgGrant(database=name, object_type="DATABASE", name=name,
                             privilege=privilege, grantee="PUBLIC")  # fmt: skip
            if public.key in state.items:
                continue  # the source grants it to public: keep it
            state.add(PgRevoke(database=name, object_type="DATABASE", name=name,
                               privilege=privilege, grantee="PUBLIC", reason=_DEFAULTS), fact)  # fmt: skip
        state.add(PgRevoke(database=name, object_type="SCHEMA", name="public", privilege="CREATE",
                           grantee="PUBLIC", reason="PUBLIC may create in schema public before PostgreSQL 15"), fact)  # fmt: skip
    for obj in state.of_type(PgObject):
        if obj.kind in ("function", "procedure"):
            revoke = PgRevoke(
                database=obj.database, object_type="FUNCTION" if obj.kind == "function" else "PROCEDURE",
                schema_name=obj.schema_name, name=obj.name, signature=obj.signature,
                privilege="EXECUTE", grantee="PUBLIC", reason=_DEFAULTS,
            )  # fmt: skip
            if _granted_to_public(state, revoke):
                continue  # the source grants EXECUTE to public: the plan keeps that grant
            for fact in obj.facts:
                state.add(revoke, fact)


def _granted_to_public(state: PlanState, revoke: PgRevoke) -> bool:
    grant = PgGrant(
        database=revoke.database, object_type=revoke.object_type, schema_name=revoke.schema_name,
        name=revoke.name, signature=revoke.signature, privilege=revoke.privilege, grantee="PUBLIC",
    )  # fmt: skip
    return grant.key in state.items
