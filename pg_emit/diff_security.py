"""``07_security.sql``'s settings in a plan diff: SECURITY DEFINER routines, security_invoker
views and row-level security, item by item and by what each change does to access.

Items are matched by their plan key and compared on meaning (``facts`` and ``comment`` aside),
as the rest of :mod:`pg_emit.diff` does: added, removed, or changed with the fields that
changed. Each change is then classified for the comment's first lines and ``--fail-on-gained``:

===========================================  =======  =========================================
change                                       effect   why
===========================================  =======  =========================================
routine made SECURITY DEFINER                widens   callers run it with its owner's privileges
routine no longer SECURITY DEFINER           narrows  it runs with its caller's privileges
definer's search_path unpinned, given a      widens   names may resolve through a schema the
schema it did not have, or pg_temp unlisted           caller can create objects in (1)
definer's search_path pinned, or only losing narrows   (a change of order only is listed,
schemas                                               not classified)
view loses security_invoker                  widens   it reads its tables with its owner's
                                                      privileges, for every caller (2)
view gains security_invoker                  narrows
row-level security disabled                  widens   no policy filters a row any more (3)
row-level security enabled                   narrows
FORCE removed / set                          widens / the table's owner bypasses / obeys the
                                             narrows  policies (3)
PERMISSIVE policy added / removed            widens / permissive policies are OR-ed: each
                                             narrows  passes more rows (4)
RESTRICTIVE policy added / removed           narrows  restrictive policies are AND-ed: each
                                             / widens passes fewer rows (4)
policy RESTRICTIVE → PERMISSIVE / back       widens / as above
                                             narrows
policy's command or expression changed       widens   a text diff cannot tell a looser
                                                      expression from a tighter one, so a
                                                      person approves it
===========================================  =======  =========================================

A routine's owner or callers changing is listed but not classified: the callers' EXECUTE
grants are in the privileges and in effective access. A setting whose object is new (absent
from the old plan's objects) narrows nothing, and one whose object is gone widens nothing,
except that a new SECURITY DEFINER routine still widens.

(1) PostgreSQL, "Writing SECURITY DEFINER Functions Safely":
https://www.postgresql.org/docs/current/sql-createfunction.html#SQL-CREATEFUNCTION-SECURITY
(2) ``security_invoker``: https://www.postgresql.org/docs/current/sql-createview.html
(3) "Row Security Policies": https://www.postgresql.org/docs/current/ddl-rowsecurity.html
(4) "When multiple policies apply to a given query, they are combined using either OR (for
permissive policies, which are the default) or using AND (for restrictive policies)", (3); and
"Permissive and restrictive policies" in
https://www.postgresql.org/docs/current/sql-createpolicy.html
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from grantbridge.plural import plural
from mapper.plan import MigrationPlan, PgPolicy, PgRoutineSecurity, PgRowSecurity, PgViewSecurity
from pg_emit import markdown as md

if TYPE_CHECKING:
    from pg_emit.diff import PlanDiff

S = TypeVar("S", PgRoutineSecurity, PgViewSecurity, PgRowSecurity)

#: The plan's lists of 07's settings and the name of their row in the summary table.
KINDS = (
    ("routine_security", "Routine security"),
    ("view_security", "View security"),
    ("row_security", "Row-level security"),
)
#: Fields that record provenance, not meaning (as :mod:`pg_emit.diff` ignores them).
_PROVENANCE = frozenset({"facts", "comment"})


class SecurityItemChange(BaseModel, Generic[S]):
    """A setting present in both plans whose meaning changed, with the fields that did."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subject: str
    fields: tuple[str, ...]
    old: S
    new: S


class SecurityEffect(BaseModel):
    """What one change of 07's settings does to access: ``change`` says it in a sentence."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subject: str
    change: str


def subject(item: PgRoutineSecurity | PgViewSecurity | PgRowSecurity) -> str:
    """``PROCEDURE db:s.f(integer)``, ``VIEW db:s.v``, ``TABLE db:s.t``: as a securable reads."""
    if isinstance(item, PgRoutineSecurity):
        where = f"{item.database}:{item.schema_name}.{item.name}{item.signature or ''}"
        return f"{item.kind.upper()} {where}"
    if isinstance(item, PgViewSecurity):
        return f"VIEW {item.database}:{item.schema_name}.{item.name}"
    return f"TABLE {item.database}:{item.schema_name}.{item.table_name}"


def diff_security(old: MigrationPlan, new: MigrationPlan) -> dict[str, Any]:
    """The ``PlanDiff`` fields of 07's settings: ``<kind>_added`` / ``_removed`` /
    ``_changed`` per kind, and ``security_widened`` / ``security_narrowed``."""
    fields: dict[str, Any] = {}
    widened: list[SecurityEffect] = []
    narrowed: list[SecurityEffect] = []
    objects = _objects(old), _objects(new)
    for kind, _ in KINDS:
        before = {i.key: i for i in getattr(old, kind)}
        after = {i.key: i for i in getattr(new, kind)}
        fields[f"{kind}_added"] = tuple(after[k] for k in sorted(after.keys() - before.keys()))
        fields[f"{kind}_removed"] = tuple(before[k] for k in sorted(before.keys() - after.keys()))
        fields[f"{kind}_changed"] = tuple(
            SecurityItemChange(subject=subject(after[k]), fields=changed,
                               old=before[k], new=after[k])
            for k in sorted(before.keys() & after.keys())
            if (changed := _changed_fields(before[k], after[k]))
        )  # fmt: skip
        for key in sorted(before.keys() | after.keys()):
            was, now = _existing(before.get(key), after.get(key), objects)
            for widens, effect in _EFFECTS[kind](was, now):
                (widened if widens else narrowed).append(effect)
    fields["security_widened"] = tuple(sorted(widened, key=_order))
    fields["security_narrowed"] = tuple(sorted(narrowed, key=_order))
    return fields


def _order(effect: SecurityEffect) -> tuple[str, str]:
    return effect.subject, effect.change


def _changed_fields(old: BaseModel, new: BaseModel) -> tuple[str, ...]:
    names = [n for n in type(old).model_fields if n not in _PROVENANCE]
    return tuple(n for n in names if getattr(old, n) != getattr(new, n))


Objects = frozenset[tuple[str, str, str]]


def _objects(plan: MigrationPlan) -> Objects:
    return frozenset((o.database, o.schema_name, o.name) for o in plan.objects)


def _existing(
    was: S | None, now: S | None, objects: tuple[Objects, Objects]
) -> tuple[S | None, S | None]:
    """The two items to classify: none when the object is in the old plan's objects only (a
    dropped view loses nothing), nor when a view or table is in the new plan's only (it never
    ran without its settings); a new routine is kept (SECURITY DEFINER, it widens). Where
    neither plan lists the object (a plan without ``objects``), both items are kept."""
    item = was or now
    assert item is not None  # one of them exists
    name = item.table_name if isinstance(item, PgRowSecurity) else item.name
    where = (item.database, item.schema_name, name)
    before, after = where in objects[0], where in objects[1]
    if before and not after:
        return None, None  # the object is gone
    if after and not before and not isinstance(item, PgRoutineSecurity):
        return None, None  # a new view or table: nothing it narrows
    return was, now


Effect = tuple[bool, SecurityEffect]  # (widens, what)


def _effect(widens: bool, item: Any, change: str, policy: str = "") -> Effect:
    on = f"POLICY {policy} ON " if policy else ""
    return widens, SecurityEffect(subject=on + subject(item), change=change)


def _routine_effects(was: PgRoutineSecurity | None, now: PgRoutineSecurity | None) -> list[Effect]:
    before = was is not None and was.security_definer
    after = now is not None and now.security_definer
    if after and not before:
        assert now is not None
        return [_effect(True, now, f"made SECURITY DEFINER: its callers run it with the "
                                   f"privileges of {now.owner}")]  # fmt: skip
    if before and not after:
        assert was is not None
        return [_effect(False, was, "no longer SECURITY DEFINER: it runs with its caller's "
                                    "privileges")]  # fmt: skip
    if not after or was is None or now is None:
        return []
    path = _search_path_effect(was.search_path, now.search_path)
    return [_effect(path[0], now, path[1])] if path else []


def _search_path_effect(before: tuple[str, ...], after: tuple[str, ...]) -> tuple[bool, str] | None:
    """How a SECURITY DEFINER routine's search_path changed; None for a change of order only
    (names resolve among the same schemas)."""
    if before == after:
        return None
    if not after:
        return True, "search_path no longer pinned: names resolve through the caller's search_path"
    if not before:
        return False, f"search_path pinned to {', '.join(after)}"
    added = [s for s in after if s not in before]
    if added:
        return True, f"search_path adds {', '.join(added)}: names resolve through it too"
    if "pg_temp" in before and "pg_temp" not in after:
        return True, "search_path no longer lists pg_temp: the caller's temporary schema is "\
                     "searched first"  # fmt: skip
    dropped = [s for s in before if s not in after]
    return (False, f"search_path drops {', '.join(dropped)}") if dropped else None


def _view_effects(was: PgViewSecurity | None, now: PgViewSecurity | None) -> list[Effect]:
    before = was is not None and was.security_invoker
    after = now is not None and now.security_invoker
    if before and not after:
        return [_effect(True, was, "security_invoker removed: it reads its tables with its "
                                   "owner's privileges, for every caller")]  # fmt: skip
    if after and not before:
        return [_effect(False, now, "security_invoker set: it checks its caller's privileges")]
    return []


def _row_effects(was: PgRowSecurity | None, now: PgRowSecurity | None) -> list[Effect]:
    before = was is not None and was.enable
    after = now is not None and now.enable
    if before and not after:
        return [_effect(True, was, "row-level security disabled: no policy filters its rows")]
    if after and not before:
        return [_effect(False, now, "row-level security enabled: its policies filter its rows")]
    if not after or was is None or now is None:
        return []
    effects = []
    if was.force != now.force:
        change = ("FORCE removed: the table's owner bypasses its policies" if was.force
                  else "FORCE set: the table's owner obeys its policies too")  # fmt: skip
        effects.append(_effect(was.force, now, change))
    old = {p.name: p for p in was.policies}
    new = {p.name: p for p in now.policies}
    for name in sorted(old.keys() | new.keys()):
        change_of = _policy_effect(old.get(name), new.get(name))
        if change_of is not None:
            effects.append(_effect(change_of[0], now, change_of[1], policy=name))
    return effects


def _policy_effect(was: PgPolicy | None, now: PgPolicy | None) -> tuple[bool, str] | None:
    """(widens, what) of one policy of a table whose row-level security stays on."""
    if was is None or now is None:
        policy, verb = (now, "added") if was is None else (was, "removed")
        assert policy is not None
        more = policy.permissive == (verb == "added")  # more rows pass
        return more, f"{verb} ({policy_text(policy)}): {_COMBINED[policy.permissive]}, so " + (
            "more rows pass" if more else "fewer rows pass"
        )
    if was == now:
        return None
    if was.model_copy(update={"permissive": now.permissive}) == now:
        kind = "PERMISSIVE" if now.permissive else "RESTRICTIVE"
        return now.permissive, f"made {kind}: {_COMBINED[now.permissive]}"
    return True, (f"changed ({policy_text(was)} → {policy_text(now)}): a looser expression "
                  "cannot be told from a tighter one")  # fmt: skip


#: How PostgreSQL combines a policy with the others, by ``permissive``.
_COMBINED = {
    True: "permissive policies are OR-ed with each other",
    False: "restrictive policies are AND-ed with the rest",
}


def policy_text(policy: PgPolicy) -> str:
    """``RESTRICTIVE FOR INSERT WITH CHECK (amount < 1000000)``."""
    text = f"{'PERMISSIVE' if policy.permissive else 'RESTRICTIVE'} FOR {policy.command}"
    text += f" USING ({policy.using})" if policy.using else ""
    return text + (f" WITH CHECK ({policy.with_check})" if policy.with_check else "")


_EFFECTS: dict[str, Callable[[Any, Any], list[Effect]]] = {
    "routine_security": _routine_effects,
    "view_security": _view_effects,
    "row_security": _row_effects,
}


# --- the pull-request comment ---------------------------------------------------------------


def summary_rows(diff: PlanDiff) -> list[tuple[str, int, int, int]]:
    """The summary table's rows of 07's settings: added, removed, changed per kind."""
    rows = []
    for kind, noun in KINDS:
        added, removed, changed = (len(getattr(diff, f"{kind}_{verb}")) for verb in _VERBS)
        rows.append((noun, added, removed, changed))
    return rows


_VERBS = ("added", "removed", "changed")


def headline(diff: PlanDiff) -> str:
    """The line under the access line: whether 07's settings widen access ("" when they do
    not change it)."""
    widened, narrowed = len(diff.security_widened), len(diff.security_narrowed)
    what = md.text(
        "(07_security.sql: SECURITY DEFINER routines, security_invoker views, row-level security)"
    )
    if widened:
        rest = f"{_verb(narrowed, 'narrow')} it" if narrowed else "none narrows it"
        return (f"**⚠️ Security settings widened:** {_verb(widened, 'widen', 'change')} access "
                f"{what}; {rest}.")  # fmt: skip
    if narrowed:
        return (f"**Security settings:** {_verb(narrowed, 'narrow', 'change')} access {what}; "
                "none widens it.")  # fmt: skip
    return ""


def _verb(count: int, verb: str, noun: str = "") -> str:
    """``2 changes widen`` / ``1 change widens`` (``1 narrows`` without a noun)."""
    subject = plural(count, noun) if noun else str(count)
    return f"{subject} {verb}{'s' if count == 1 else ''}"


def effect_rows(effects: Sequence[SecurityEffect]) -> list[str]:
    """``- `VIEW db:s.v`: security_invoker removed: …``."""
    return [f"- {md.code(e.subject)}: {md.text(e.change)}" for e in effects]


def item_rows(diff: PlanDiff) -> list[str]:
    """07's settings added, removed and changed, each with what it sets or what changed."""
    return list(_item_rows(diff))


def _item_rows(diff: PlanDiff) -> Iterator[str]:
    for kind, _ in KINDS:
        for sign, verb in (("➕", "added"), ("➖", "removed")):
            for item in getattr(diff, f"{kind}_{verb}"):
                yield f"- {sign} {md.code(subject(item))}: {_setting(item)}"
        for change in getattr(diff, f"{kind}_changed"):
            yield f"- ✏️ {md.code(change.subject)}: {_fields(change)}"


def _setting(item: PgRoutineSecurity | PgViewSecurity | PgRowSecurity) -> str:
    if isinstance(item, PgRoutineSecurity):
        parts = [("SECURITY DEFINER as " if item.security_definer else "SECURITY INVOKER, owner ")
                 + md.code(item.owner)]  # fmt: skip
        parts.append(f"{md.text('search_path')} {_value(item.search_path)}")
        parts.append(f"callers {_value(item.callers)}")
        return ", ".join(parts)
    if isinstance(item, PgViewSecurity):
        return md.text("security_invoker" + ("" if item.security_invoker else " off"))
    switches = ("row-level security " + ("enabled" if item.enable else "disabled")
                + (", forced" if item.force else ""))  # fmt: skip
    policies = "; ".join(f"policy {md.code(p.name)} {md.text(policy_text(p))}"
                         for p in item.policies)  # fmt: skip
    return f"{switches}; {policies}" if policies else switches


def _fields(change: SecurityItemChange[Any]) -> str:
    parts = []
    for field in change.fields:
        before, after = getattr(change.old, field), getattr(change.new, field)
        if field == "policies":
            parts += _policy_changes(before, after)
        else:
            parts.append(f"{md.text(field)} {_value(before)} → {_value(after)}")
    return "; ".join(parts)


def _policy_changes(old: Sequence[PgPolicy], new: Sequence[PgPolicy]) -> list[str]:
    before, after = {p.name: p for p in old}, {p.name: p for p in new}
    parts = []
    for name in sorted(before.keys() | after.keys()):
        was, now = before.get(name), after.get(name)
        if was == now:
            continue
        shown = [md.text(policy_text(p)) for p in (was, now) if p is not None]
        verb = "added" if was is None else "removed" if now is None else "changed"
        parts.append(f"policy {md.code(name)} {verb} ({' → '.join(shown)})")
    if [p.name for p in old if p.name in after] != [p.name for p in new if p.name in before]:
        parts.append("policies reordered")
    return parts


def _value(value: object) -> str:
    if isinstance(value, bool):
        return md.code(str(value).lower())
    if isinstance(value, tuple):
        shown = [f"{v.name} {v.data_type}" if hasattr(v, "data_type") else str(v) for v in value]
        return md.code(", ".join(shown)) if shown else "(none)"
    return md.code(str(value))
