"""``grantbridge apply SET --dsn``: every part of a ``plan --per-database`` set, in order.

All or nothing where it can be: every part is checked before the first one runs (its scripts
are what its ``plan.json`` renders to, :func:`pg_emit.apply.load_plan_dir`, and the target can
take it, :func:`pg_emit.apply.check_target`), so a part edited by hand, or one the target lacks
a database or an object for, refuses the whole set with nothing applied. The parts cannot be
one transaction (each is at least one database's, and PostgreSQL has none across databases),
so a part that fails while it runs leaves the parts before it applied: the error says which,
and each part's ``sql/rollback.sql`` undoes that part alone (README, "Large estates").

Every part is checked against the target as it is before the first part runs, which is what
each part would see if applied first: the parts can be applied in any order
(``tests/test_plan_per_database.py``). Only one plan is in memory at a time: after the checks
a part is remembered by its scripts' SHA-256, and its scripts are read again and compared with
those before they run.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import typer

from grantbridge import ui
from grantbridge.commands.plan_set import SetPart, done_before, in_part
from grantbridge.errors import GrantbridgeError, InputError, Location
from grantbridge.inputs import read_input
from grantbridge.plural import plural


@dataclass(frozen=True)
class _Checked:
    """A part checked: what to say of it, and its scripts' digests."""

    part: SetPart
    fingerprint: str
    roles: frozenset[str]
    grants: int
    digests: dict[str, str]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _check(part: SetPart, total: int, target: str) -> _Checked:
    from pg_emit.apply import APPLY_ORDER, check_target, load_plan_dir

    try:
        plan, scripts = load_plan_dir(part.path)
        check_target(plan, target)
    except GrantbridgeError as exc:
        raise in_part(exc, part, total, "; nothing was applied") from None
    digests = {name: _digest(scripts[name]) for name in APPLY_ORDER}
    roles = frozenset(r.name for r in plan.roles)
    return _Checked(part, plan.fingerprint, roles, len(plan.grants), digests)


def _scripts(checked: _Checked) -> list[tuple[str, str]]:
    """The part's scripts, in apply order, as they were when checked."""
    scripts = []
    for name, digest in checked.digests.items():
        path = checked.part.path / name
        text = read_input(path, "the script")
        if _digest(text) != digest:
            raise InputError("the script changed since apply checked it", Location(str(path)))
        scripts.append((name, text))
    return scripts


def apply_set(outdir: Path, parts: list[SetPart], target: str, *, yes: bool) -> None:
    """Check every part, ask once, then apply the parts in ``parts.json``'s order."""
    from pg_emit.apply import run_scripts
    from pg_emit.server import check_reachable, redact

    total = len(parts)
    check_reachable(target)  # a wrong DSN is exit 4 in seconds, not after loading the parts
    checked: list[_Checked] = []
    with ui.progress("apply: check", total) as step:
        for part in parts:
            checked.append(_check(part, total, target))
            step(f"checked {part.label(total)}")
    roles = len(frozenset().union(*(c.roles for c in checked)))
    grants = sum(c.grants for c in checked)
    counts = f"{plural(roles, 'role')} and {plural(grants, 'grant')}"
    if not yes:
        typer.confirm(
            f"Apply {plural(total, 'part')} ({counts} in all) to {redact(target)}?", abort=True
        )
    ui.say(f"apply: {plural(total, 'part')} from {outdir} to {redact(target)}")
    applied: list[SetPart] = []
    for each in checked:
        part = each.part
        ui.say(f"apply: {part.label(total)}: plan {each.fingerprint[:12]}")
        try:
            with ui.progress("apply") as step:
                run_scripts(target, _scripts(each), log=step)
        except GrantbridgeError as exc:
            before = done_before(applied, "applied")
            note = " (each part's sql/rollback.sql undoes that part)" if applied else ""
            raise in_part(exc, part, total, before + note) from None
        applied.append(part)
    rows = [
        {"database": c.part.database, "directory": c.part.directory,
         "fingerprint": c.fingerprint, "roles": len(c.roles), "grants": c.grants}
        for c in checked
    ]  # fmt: skip
    data = {"applied": True, "parts": rows, "roles": roles, "grants": grants}
    ui.result(f"applied {plural(total, 'part')}; each part's sql/rollback.sql undoes it", data)
