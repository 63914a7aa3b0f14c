"""GB306: what each caller reached only through ownership chains, and what the plan did.

SQL Server checks nothing on an object a module reaches through an intact chain ("Ownership
Chains", https://learn.microsoft.com/sql/relational-databases/security/ownership-chains);
PostgreSQL has no chain, so each such access is preserved only where a view reads the relation
with its owner's privileges or a SECURITY DEFINER routine runs the link ("a SECURITY DEFINER
function is executed with the privileges of the user that owns it", CREATE FUNCTION,
https://www.postgresql.org/docs/15/sql-createfunction.html; CREATE VIEW,
https://www.postgresql.org/docs/15/sql-createview.html). Elsewhere the caller needs a GRANT.

One finding per (caller, module it runs itself): the evidence names every object it reaches
through that module at any depth (:func:`mapper.module_reach.chain_finding`), the action what
the plan did about them and the GRANTs that restore what is lost, merged per privilege and
object type (the first :data:`NAMED` objects named, the rest counted). Each reliance is judged
as one per-link finding used to be (:func:`_outcome`); only the grouping is new. A finding per
link made over 100,000 findings on a synthetic 300-procedure estate whose procedures call
each other.
"""

from __future__ import annotations

from collections.abc import Iterable
from operator import attrgetter
from typing import NamedTuple

from mapper.module_reach import ChainReliance, chain_finding, entry_groups, entry_of
from mapper.plan import Severity
from mapper.quoting import quote_role
from mapper.translate.advice_sql import in_database, on_object
from mapper.translate.module_actions import (
    ROUTINE_KINDS,
    PlannedModule,
    grant_underlying,
    privilege,
    target_of,
)
from mapper.translate.module_routes import Routes
from mapper.translate.usage_advice import advise
from mssql_extract.snapshot import fold

#: How many objects a GB306's action names in its GRANTs (and grants made); the rest counted.
NAMED = 100
#: How many modules (or routine notes) a GB306's action names per reason.
_MODULES_NAMED = 5

#: Why a caller loses an access, by kind: the sentence (with the modules named) says why.
_LOST = {
    "calls": "PostgreSQL checks EXECUTE on the functions a view calls against the view's user, "
    "who also runs them (CREATE VIEW): {modules}",
    "view": "{modules} check{s} the caller's privileges (security_invoker, GB310)",
    "routine": "{modules} stay{s} SECURITY INVOKER (GB310)",
}
_PRESERVED = {
    "view": "{modules} use{s} the view owner's privileges on the tables",
    "definer": "{modules} {is_are} SECURITY DEFINER",
}


#: A GRANT that restores a lost access: (privilege, object type keyword, quoted name, (target
#: database, schema)), the last for the USAGE it needs too (``usage_advice``).
Grant = tuple[str, str, str, tuple[str, str]]


class _Outcome(NamedTuple):
    """What the plan did about one reliance: ``status`` preserved, lost, granted or unhandled;
    ``reason`` a key of :data:`_LOST` / :data:`_PRESERVED` and ``module`` the module it names;
    ``grant``: (privilege, object type, name, (target database, schema)) where a GRANT restores
    it. A tuple: one is made per reliance, over 100,000 on a call-heavy estate, from the one
    judged for its way."""

    chain: ChainReliance
    status: str
    reason: str
    module: str
    grant: Grant | None = None
    note: str | None = None  # what a routine the caller now runs itself reaches


def chain_findings(routes: Routes, modules: Iterable[PlannedModule]) -> None:
    """Every module's GB306, one per (caller, module it runs itself). Judged module by module in
    plan order (``grant_underlying`` grants and their GB340 findings are made there)."""
    outcomes: list[_Outcome] = []  # every reliance once: chain_reliance made them unique
    judged: dict[tuple[str, str, str, tuple[str, ...]], _Outcome] = {}  # the same for every caller
    per_caller = routes.state.policy.modules.mode == "grant_underlying"  # grants per caller
    for module in modules:
        module_key = module.obj.key
        for chain in module.relied:
            key = (module_key, fold(chain.target), chain.access, chain.via)
            same = None if per_caller else judged.get(key)
            if same is None:
                same = judged[key] = _outcome(routes, module, chain)
            outcomes.append(_Outcome(chain, *same[1:]))
    for group in entry_groups(outcomes, attrgetter("chain")).values():
        _finding(routes, group)


def _outcome(routes: Routes, module: PlannedModule, chain: ChainReliance) -> _Outcome:
    state, as_owner = routes.state, routes.as_owner.get(module.obj.key, False)
    definer = routes.definer_on(chain)
    if definer is not None:
        return _Outcome(chain, "preserved", "definer", definer)
    target = target_of(state, module.db, chain)
    if module.kind == "view":
        if target is not None and target.kind in ROUTINE_KINDS:
            return _lost(routes, module, chain, "calls")
        if as_owner:
            return _Outcome(chain, "preserved", "view", module.name)
        return _lost(routes, module, chain, "view")
    if module.kind == "routine":
        if as_owner:
            return _Outcome(chain, "preserved", "definer", module.name)
        return _lost(routes, module, chain, "routine")
    return _Outcome(chain, "unhandled", "", module.name)


def _lost(routes: Routes, module: PlannedModule, chain: ChainReliance, reason: str) -> _Outcome:
    state = routes.state
    target = target_of(state, module.db, chain)
    if state.policy.modules.mode == "grant_underlying":
        granted = grant_underlying(state, module.db, chain, module.fact)
        status = "lost" if granted is None else "granted"
        return _Outcome(chain, status, reason, module.name)
    source = state.find_object(module.db, chain.target_schema, chain.target_name)
    if target is None or source is None:
        return _Outcome(chain, "lost", reason, module.name)
    grant = (privilege(chain.access, target), *on_object(target),
             (target.database, target.schema_name))  # fmt: skip
    note = None
    if target.kind in ROUTINE_KINDS:  # the caller now runs it itself: what does it reach?
        name = f"{source.schema_name}.{source.name}"
        planned = routes.modules.get(source.key)
        unknown = planned.chain.unknown if planned is not None else "its body is not analysed"
        if routes.definer(source.key):
            note = f"{name} is SECURITY DEFINER, so what it reaches needs no grant"
        elif unknown:
            note = f"{name} then runs with the caller's privileges, and what it reaches is not known: {unknown}"
    return _Outcome(chain, "lost", reason, module.name, grant, note)


def _finding(routes: Routes, outcomes: list[_Outcome]) -> None:
    """The GB306 of one group, recorded; its GRANTs to restore what is lost name the USAGE on
    their schemas the caller lacks (``usage_advice``)."""
    spec = chain_finding([o.chain for o in outcomes])
    first = outcomes[0].chain
    caller = routes.state.role_of(routes.db.name, first.principal) or first.principal
    by_status: dict[str, list[_Outcome]] = {}
    for outcome in outcomes:
        by_status.setdefault(outcome.status, []).append(outcome)
    before, parts = "", []
    schemas: list[tuple[str, str]] = []
    if lost := by_status.get("lost"):
        before, lost_after, schemas = _lost_text(first.principal, caller, lost, routes)
        parts.append(lost_after)
    if granted := by_status.get("granted"):
        listed = _named([f"{_access(routes, o)} on {o.chain.target}" for o in granted])
        parts.append(f"Granted to {caller} (grant_underlying, GB340): {listed}.")
    if unhandled := by_status.get("unhandled"):
        modules = _modules({o.module for o in unhandled})
        parts.append(
            f"Not handled: {modules} {_has(unhandled)} no PostgreSQL routine kind; review it."
        )
    if preserved := by_status.get("preserved"):
        reasons = _reasons(_PRESERVED, preserved)
        count = "" if len(outcomes) == 1 else f" ({len(preserved)} of {len(outcomes)})"
        parts.append(f"Preserved{count}: {reasons}.")
    severity = Severity.INFO if len(by_status.get("preserved", ())) == len(outcomes) else None
    if severity is not None:
        spec = spec.model_copy(update={"severity": severity})
    after = " ".join(parts)
    if schemas:
        advise(routes.state, spec, caller, schemas, (before, after))
    else:
        routes.state.finding(spec.to_finding(before + after))


def _lost_text(
    principal: str, caller: str, lost: list[_Outcome], routes: Routes
) -> tuple[str, str, list[tuple[str, str]]]:
    """What is lost and how to restore it: the text before the GRANTs and from them on (the
    USAGE they need goes between), and the (database, schema) of the objects they name."""
    loses = _named([f"{o.chain.access} on {o.chain.target}" for o in lost], _MODULES_NAMED)
    entry = entry_of(lost[0].chain)
    text = f"Not preserved: {principal} loses {loses} through {entry}, as {_reasons(_LOST, lost)}."
    grants = list(dict.fromkeys(o.grant for o in lost if o.grant is not None))  # nearest first
    missing = [o.chain.target for o in lost if o.grant is None]
    if missing:
        text += f" No PostgreSQL counterpart: {_named(sorted(set(missing), key=fold))}."
    before, schemas = "", []
    if grants:
        them = "it" if len(grants) == 1 else "them"
        before = f"{text} To restore it, {in_database(grants[0][3][0])}: "
        text = f"{_grants(grants, caller)} (a widening: {caller} can then use {them} directly), "
        text += "or modules.mode = 'grant_underlying' does that."
        schemas = [schema for *_, schema in grants[:NAMED]]
    notes = sorted({o.note for o in lost if o.note})
    if notes:
        more = len(notes) - _MODULES_NAMED
        text += " Also: " + "; ".join(notes[:_MODULES_NAMED])
        text += f"; and {more} more such routines." if more > 0 else "."
    return before, text, schemas


def _grants(grants: list[Grant], caller: str) -> str:
    """``GRANT priv ON TYPE a, b TO caller`` per (privilege, type) for the first :data:`NAMED`
    objects (nearest first), the rest counted."""
    statements: dict[tuple[str, str], list[str]] = {}
    for granted, kind, name, _ in grants[:NAMED]:
        statements.setdefault((granted, kind), []).append(name)
    text = "; ".join(
        f"GRANT {granted} ON {kind} {', '.join(names)} TO {quote_role(caller)}"
        for (granted, kind), names in sorted(statements.items())
    )
    rest = len(grants) - NAMED
    return text + (
        f"; and GRANTs on {rest} more objects (the first {NAMED} are named)" if rest > 0 else ""
    )


def _reasons(sentences: dict[str, str], outcomes: list[_Outcome]) -> str:
    by_reason: dict[str, set[str]] = {}
    for outcome in outcomes:
        by_reason.setdefault(outcome.reason, set()).add(outcome.module)
    texts = []
    for reason in sentences:
        if modules := by_reason.get(reason):
            one = len(modules) == 1
            texts.append(sentences[reason].format(
                modules=_modules(modules), s="s" if one else "", is_are="is" if one else "are"
            ))  # fmt: skip
    return "; ".join(texts)


def _modules(names: set[str]) -> str:
    return _named(sorted(names, key=fold), _MODULES_NAMED)


def _named(items: list[str], limit: int = NAMED) -> str:
    more = len(items) - limit
    return ", ".join(items[:limit]) + (f" and {more} more" if more > 0 else "")


def _has(outcomes: list[_Outcome]) -> str:
    return "has" if len({o.module for o in outcomes}) == 1 else "have"


def _access(routes: Routes, outcome: _Outcome) -> str:
    target = target_of(routes.state, routes.db, outcome.chain)
    return privilege(outcome.chain.access, target) if target is not None else outcome.chain.access
