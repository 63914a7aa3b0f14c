"""USAGE on the schema in a finding's advised GRANTs, where the plan does not give it already.

A finding whose action advises a GRANT on an object for after review (GB306's "To restore it:
GRANT …", GB311's "after review: GRANT …") is advice the reader applies by hand. In PostgreSQL
the GRANT alone does not reach the object: "USAGE … For schemas, allows access to objects
contained in the schema (assuming that the objects' own privilege requirements are also met)"
(https://www.postgresql.org/docs/15/ddl-priv.html). The plan gives USAGE on a schema to every
grantee of something in it (:func:`mapper.translate.grants.plan_schema_usage`), not to the
grantee of advice that is not in the plan. So the advice names ``GRANT USAGE ON SCHEMA`` too,
for each of its schemas the grantee does not get USAGE on in the finished plan: a USAGE grant to
it, to a role it inherits or to PUBLIC, or the schema's ownership (its owner holds every
privilege on it) by it or by a role it inherits.

The advised statements are spelled by :mod:`mapper.translate.advice_sql`, as the scripts are.

That is known only once the plan has its USAGE grants, after the findings are made (module
planning comes first), so a finding with such advice is recorded with its action in two parts
(:func:`advise`), and :func:`finish` writes the USAGE grants between them, when there are any.
"""

from __future__ import annotations

from dataclasses import dataclass

from mapper.plan import PgGrant, PgSchema
from mapper.quoting import quote_ident, quote_role
from mapper.review_rules import FindingSpec
from mapper.translate.owner_members import roles_above
from mapper.translate.state import PlanState

#: The privileges on a schema that include USAGE.
_USAGE = ("USAGE", "ALL")


@dataclass(frozen=True, slots=True)
class Advice:
    """A finding (``key``) whose action is ``before`` + the USAGE grants + ``after``; the
    advised GRANTs go to ``grantee`` on objects of ``schemas`` (target database, schema)."""

    key: str
    grantee: str
    schemas: tuple[tuple[str, str], ...]
    before: str
    after: str


def advise(
    state: PlanState,
    spec: FindingSpec,
    grantee: str,
    schemas: list[tuple[str, str]],
    split: tuple[str, str],
) -> str:
    """Record the finding of ``spec`` with the action ``split`` (before, after) joined, and keep
    it for :func:`finish`, which puts the USAGE grants ``grantee`` lacks between the two."""
    before, after = split
    key = state.finding(spec.to_finding(before + after))
    unique = tuple(dict.fromkeys(schemas))
    state.usage_advice.append(Advice(key, grantee, unique, before, after))
    return key


def finish(state: PlanState) -> None:
    """Name ``GRANT USAGE ON SCHEMA`` in each advice for the schemas its grantee gets no USAGE
    on in the plan (call once the plan's USAGE grants are in: after ``plan_schema_usage``)."""
    holders: dict[str, set[str]] = {}  # grantee → the roles whose USAGE it has
    for advice in state.usage_advice:
        found = state.findings.get(advice.key)
        if found is None or found.action != advice.before + advice.after:
            continue  # another finding with the same key was recorded first: not this advice
        held = holders.get(advice.grantee)
        if held is None:
            held = holders[advice.grantee] = {advice.grantee, "PUBLIC"} | roles_above(
                state, advice.grantee
            )
        missing = [
            schema
            for database, schema in advice.schemas
            if not _has_usage(state, held, database, schema)
        ]
        if missing:
            grantee = quote_role(advice.grantee)
            usage = "".join(
                f"GRANT USAGE ON SCHEMA {quote_ident(s)} TO {grantee}; " for s in missing
            )
            action = advice.before + usage + advice.after
            state.findings[advice.key] = found.model_copy(update={"action": action})
    state.usage_advice.clear()


def _has_usage(state: PlanState, holders: set[str], database: str, schema: str) -> bool:
    """Whether a grantee may use ``database``'s ``schema`` in the plan, through one of
    ``holders`` (itself, the roles it inherits, PUBLIC)."""
    owned = state.items.get(PgSchema(database=database, name=schema, owner="").key)
    if isinstance(owned, PgSchema) and owned.owner in holders:
        return True
    return any(
        PgGrant(database=database, object_type="SCHEMA", name=schema, privilege=privilege,
                grantee=holder).key in state.items
        for holder in sorted(holders)
        for privilege in _USAGE
    )  # fmt: skip
