"""``grantbridge diff OLD NEW`` of two plan sets (``plan --per-database``): one comment, or one
JSON object, for the whole estate.

Both sides must be sets: a set and one plan is exit 2 (a part compared with a whole plan would
report every other database as lost). Both ``parts.json`` are read and checked first
(:func:`grantbridge.commands.plan_set.read_set`: exit 2 naming the file and the entry). Parts are
paired by database name, compared without case as SQL Server compares them under its default
collations; a database only in NEW is an *added* part, diffed against an empty plan (all its
access gained, all its open findings new), one only in OLD a *removed* part (all its access
lost). A pair whose ``plan.json`` files are byte for byte the same is *unchanged* and not
parsed. The files are compared only when the ``parts.json`` fingerprints agree: the fingerprint is
the SHA-256 of the part's snapshot, policy and target (:func:`mapper.planner.fingerprint`), not
of the grantbridge that planned it, so the same fingerprint from two versions may still be two
plans, which are then compared.

One pair of plans is in memory at a time (a part of bench scale L is hundreds of MB): each
part's diff is rendered to Markdown at every level of shortening
(:func:`pg_emit.diff_set_markdown.render_part`) and spooled to a temporary file as one line of
JSON, then dropped. The JSON document and the ``--json`` line are written from the spool, one
part at a time. The gates are the single diff's, over every part.
"""

from __future__ import annotations

import filecmp
import json
import tempfile
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import typer

from grantbridge import ui
from grantbridge.commands import PARTS_FILE, PLAN_FILE, load_plan
from grantbridge.commands.diff import say_gates
from grantbridge.commands.plan_set import SetPart, in_part, is_plan_set, read_set
from grantbridge.errors import GrantbridgeError, InputError, Location
from grantbridge.output import write_file_atomic
from mapper.plan import MigrationPlan, Severity

if TYPE_CHECKING:
    from pg_emit.diff_set_markdown import RenderedPart

#: Stands for the parts in the document's JSON until they are streamed in from the spool.
_PARTS = "\u0001parts\u0001"


@dataclass(frozen=True)
class _Pair:
    """A database and its part in each set (None: not in that set)."""

    database: str
    old: SetPart | None
    new: SetPart | None


@dataclass
class _Outcome:
    """What the parts add up to, gathered as they are compared."""

    rendered: list[RenderedPart] = field(default_factory=list)  # each part that differs
    unchanged: list[str] = field(default_factory=list)
    failing: set[str] = field(default_factory=set)
    failing_count: int = 0
    gained: list[str] = field(default_factory=list)
    loosened: list[str] = field(default_factory=list)


def diff_sets(
    old: Path,
    new: Path,
    *,
    markdown: bool,
    fail_on_new: Severity | None,
    fail_on_gained: bool,
    output: Path | None,
    json_output: Path | None,
) -> None:
    """The ``diff`` command given two sets (see the module docstring); ``markdown`` false for
    ``--format json``."""
    from pg_emit.diff_set_markdown import render_set_markdown

    old_parts, new_parts = _sets(old, new)
    pairs = _pairs(old, old_parts, new, new_parts)
    with tempfile.TemporaryFile("w+", encoding="utf-8") as spool:
        got = _compare(pairs, spool, (len(old_parts), len(new_parts)), fail_on_new)
        gained, loosened = (got.gained, got.loosened) if fail_on_gained else ([], [])
        widening = gained + loosened
        flags: dict[str, object] = {
            "empty": not got.rendered,
            "exit_code": 1 if got.failing or widening else 0,
            "failing": sorted(got.failing),
            "failing_access": widening,
        }
        document = {"parts": _PARTS, "unchanged": len(got.unchanged)} | flags
        if json_output is not None:
            write_file_atomic(json_output, _pretty(document, spool))
        if markdown:
            text: str | Iterator[str] = render_set_markdown(
                got.rendered, got.unchanged, (len(old_parts), len(new_parts))
            )
        else:
            text = _pretty(document, spool)
        if output is not None:
            write_file_atomic(output, text)
        elif not ui.MODE.json:
            for piece in [text] if isinstance(text, str) else text:
                typer.echo(piece, nl=False)
        if ui.MODE.json:
            line = {"diff": document, "output": None if output is None else str(output)} | flags
            for piece in _compact(line, spool):
                typer.echo(piece, nl=False)
            typer.echo("")
    say_gates(fail_on_new, got.failing_count, got.failing, gained, loosened)
    if got.failing or widening:
        raise typer.Exit(1)


def _sets(old: Path, new: Path) -> tuple[list[SetPart], list[SetPart]]:
    """Both sides' parts; a set beside a single plan is an InputError naming the plan."""
    for one, other in ((old, new), (new, old)):
        if is_plan_set(other) and not is_plan_set(one):
            raise InputError(
                f"not a plan set, but {other} is one (grantbridge plan --per-database): diff "
                f"compares two sets, each a directory with its {PARTS_FILE}, or two plans",
                Location(str(one)),
            )
    return read_set(old), read_set(new)


def _pairs(old: Path, old_parts: list[SetPart], new: Path, new_parts: list[SetPart]) -> list[_Pair]:
    """The parts paired by database, compared without case: NEW's order, then the parts only
    OLD has, in its order."""
    before = _by_database(old, old_parts)
    after = _by_database(new, new_parts)
    pairs = [_Pair(p.database, before.get(key), p) for key, p in after.items()]
    return pairs + [_Pair(p.database, p, None) for key, p in before.items() if key not in after]


def _by_database(root: Path, parts: list[SetPart]) -> dict[str, SetPart]:
    """Each part by its database's name without case; a name twice is an InputError naming
    parts.json and the second entry (SQL Server's default collations compare names without
    case, so ``Sales`` and ``SALES`` cannot be two databases of one server)."""
    found: dict[str, SetPart] = {}
    for part in parts:
        first = found.setdefault(part.database.casefold(), part)
        if first is not part:
            raise InputError(
                f"database {part.database!r} is listed twice (entries {first.number} and "
                f"{part.number})",
                Location(str(root / PARTS_FILE), key=f"parts.{part.number - 1}.database"),
            )
    return found


def _compare(
    pairs: list[_Pair], spool: IO[str], sizes: tuple[int, int], fail_on_new: Severity | None
) -> _Outcome:
    """Each pair compared in turn (one pair of plans in memory), its entry spooled."""
    from pg_emit.diff import diff_plans, exceeds
    from pg_emit.diff_set_markdown import render_part

    got = _Outcome()
    for pair in pairs:
        entry: dict[str, object] = {
            "database": pair.database,
            "directory": {s: p and p.directory for s, p in (("old", pair.old), ("new", pair.new))},
            "status": "unchanged",
            "compared": True,
            "diff": None,
        }
        if _same_plan(pair.old, pair.new):  # the same plan: not parsed
            entry["compared"] = False
        else:
            result = diff_plans(_load(pair.old, sizes[0]), _load(pair.new, sizes[1]))
            if not result.is_empty or pair.old is None or pair.new is None:
                status = (
                    "added" if pair.old is None else "removed" if pair.new is None else "changed"
                )
                entry |= {"status": status, "diff": result.model_dump(mode="json")}
                got.rendered.append(render_part(result, pair.database, status))
                failing = exceeds(result, fail_on_new) if fail_on_new is not None else []
                got.failing |= {f.rule_id for f in failing}
                got.failing_count += len(failing)
                got.gained += [f"{c.privilege} on {c.securable}" for c in result.access_gained]
                got.loosened += [f"{e.subject}: {e.change}" for e in result.security_widened]
            del result
        if entry["status"] == "unchanged":
            got.unchanged.append(pair.database)
        spool.write(json.dumps(entry, ensure_ascii=False) + "\n")
    return got


def _same_plan(old: SetPart | None, new: SetPart | None) -> bool:
    """Whether both parts hold the same ``plan.json``, byte for byte (read in blocks, never
    parsed); compared only when their fingerprints agree."""
    if old is None or new is None or old.fingerprint is None or old.fingerprint != new.fingerprint:
        return False
    return filecmp.cmp(old.path / PLAN_FILE, new.path / PLAN_FILE, shallow=False)


def _load(part: SetPart | None, total: int) -> MigrationPlan:
    """A part's plan (an error in it said with the part), or an empty plan for a side without
    the part."""
    if part is None:
        return MigrationPlan(fingerprint="")
    try:
        return load_plan(part.path)
    except GrantbridgeError as exc:
        raise in_part(exc, part, total) from None


def _entries(spool: IO[str]) -> Iterator[dict[str, Any]]:
    spool.seek(0)
    for line in spool:
        yield json.loads(line)


def _pretty(document: dict[str, object], spool: IO[str]) -> Iterator[str]:
    """The document as ``json.dumps(…, indent=2)`` writes it, the parts read from the spool one
    at a time."""
    text = json.dumps(document, indent=2, ensure_ascii=False)
    before, _, after = text.partition(f'"parts": {json.dumps(_PARTS)}')
    yield before + '"parts": ['
    for n, entry in enumerate(_entries(spool)):
        body = json.dumps(entry, indent=2, ensure_ascii=False)
        yield ("," if n else "") + "\n" + textwrap.indent(body, "    ")
    yield "\n  ]" + after + "\n"


def _compact(line: dict[str, object], spool: IO[str]) -> Iterator[str]:
    """The ``--json`` line as ``json.dumps(…, sort_keys=True)`` writes it (what
    :func:`grantbridge.ui.result` prints), the parts read from the spool one at a time."""
    text = json.dumps(line, sort_keys=True, default=str)
    before, _, after = text.partition(f'"parts": {json.dumps(_PARTS)}')
    yield before + '"parts": ['
    for n, entry in enumerate(_entries(spool)):
        yield (", " if n else "") + json.dumps(entry, sort_keys=True)
    yield "]" + after
