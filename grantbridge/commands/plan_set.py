"""A plan set: what ``plan --per-database`` writes, ``DIR/parts.json`` and one plan directory per
database, read whole by ``apply``, ``verify`` and ``drift`` (README, "Large estates").

This module reads ``parts.json`` (written by :mod:`grantbridge.commands.plan_parts`) and checks
it before any command connects anywhere: a malformed file, an entry without its ``database`` or
``directory``, a directory that is not one of the set's own (``..``, a path) or that is missing
is an InputError naming ``parts.json`` and the entry (exit 2), and nothing has run. The parts
are kept in ``parts.json``'s order, the order every command takes them in. Which part a
mismatch belongs to is said with the part's ``directory`` (unique within a set, unlike a
database name compared without case).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from grantbridge.commands import PARTS_FILE, PLAN_FILE
from grantbridge.errors import GrantbridgeError, InputError, Location
from grantbridge.inputs import read_input_bytes
from grantbridge.json_input import loads, refuse_lone_surrogates

if TYPE_CHECKING:
    from pg_emit.compare import Mismatch

#: The ``schema_version`` of ``parts.json`` this reader knows.
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class SetPart:
    """One entry of ``parts.json``: its database, its directory's name and full path, and the
    fingerprint of its plan (``diff`` of two sets skips a part whose fingerprint is the same)."""

    number: int  # 1-based, in parts.json's order
    database: str
    directory: str
    path: Path
    fingerprint: str | None = None  # None: not listed

    def label(self, total: int) -> str:
        """``part 2 of 3 (database HR, DIR/HR)``: how errors and progress name the part."""
        return f"part {self.number} of {total} (database {self.database}, {self.path})"


def is_plan_set(path: Path) -> bool:
    """True when ``path`` is a directory ``plan --per-database`` wrote: a ``parts.json`` and no
    ``plan.json`` of its own (a single plan directory is read as it always was)."""
    return path.is_dir() and not (path / PLAN_FILE).is_file() and (path / PARTS_FILE).is_file()


def read_set(path: Path) -> list[SetPart]:
    """The parts ``path/parts.json`` lists, each checked to be a plan directory of the set."""
    file = path / PARTS_FILE
    where = str(file)
    raw = read_input_bytes(file, "the plan set's parts.json")
    refuse_lone_surrogates(raw, where)
    data = loads(raw, where)
    if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
        raise InputError(
            f"not a parts.json of grantbridge plan --per-database (schema_version "
            f"{SCHEMA_VERSION} expected)",
            Location(where),
        )
    entries = data.get("parts")
    if not isinstance(entries, list) or not entries:
        raise InputError("no parts listed: a non-empty list expected", Location(where, key="parts"))
    parts = [_part(path, entry, n, where) for n, entry in enumerate(entries, start=1)]
    seen: dict[str, int] = {}
    for part in parts:
        first = seen.setdefault(part.directory.casefold(), part.number)
        if first != part.number:
            raise InputError(
                f"directory {part.directory!r} is listed twice (entries {first} and {part.number})",
                Location(where, key=f"parts.{part.number - 1}.directory"),
            )
    return parts


def _part(root: Path, entry: object, number: int, where: str) -> SetPart:
    """One entry, checked: its fields, and its directory a plan directory inside ``root``."""
    key = f"parts.{number - 1}"
    if not isinstance(entry, dict):
        raise InputError("an entry must be an object", Location(where, key=key))
    for name in ("database", "directory"):
        if not isinstance(entry.get(name), str) or not entry[name]:
            raise InputError(f"{name}: a non-empty string expected", Location(where, key=key))
    directory: str = entry["directory"]
    fingerprint = entry.get("fingerprint")
    if fingerprint is not None and not isinstance(fingerprint, str):
        raise InputError("fingerprint: a string expected", Location(where, key=key))
    if directory in (".", "..") or "/" in directory or "\\" in directory:
        raise InputError(
            f"directory {directory!r} is not a directory of the set: one name expected",
            Location(where, key=f"{key}.directory"),
        )
    part = root / directory
    if not (part / PLAN_FILE).is_file():
        what = "has no plan.json" if part.is_dir() else "is missing"
        raise InputError(
            f"the plan directory of database {entry['database']!r}, {part}, {what}",
            Location(where, key=f"{key}.directory"),
        )
    return SetPart(number, entry["database"], directory, part, fingerprint)


def in_part(error: GrantbridgeError, part: SetPart, total: int, before: str = "") -> Exception:
    """``error`` said of one part (same type, so the same exit code): the part named first, then
    ``before``, what the command had done before it."""
    label = part.label(total)
    if (error.location.file or "").startswith(f"{part.path}/"):  # the file names the directory
        label = f"part {part.number} of {total} (database {part.database})"
    return type(error)(f"{label}: {error.message}{before}", error.location)


def done_before(parts: Iterable[SetPart], what: str) -> str:
    """``; parts applied before it: HR, Reporting`` (or that there were none)."""
    names = [p.directory for p in parts]
    return f"; parts {what} before it: {', '.join(names)}" if names else f"; no part was {what}"


@dataclass(frozen=True)
class PartMismatches:
    """One part's mismatches (verify) or differences (drift)."""

    part: SetPart
    mismatches: list[Mismatch]


def as_dicts(found: Iterable[PartMismatches]) -> Iterator[dict[str, str]]:
    """Every mismatch as ``--json`` and ``--mismatches FILE`` give it, with its ``part`` (the
    part's directory) beside the fields a single plan's mismatch has."""
    from pg_emit.mismatch_report import as_dict

    for each in found:
        for m in each.mismatches:
            yield as_dict(m) | {"part": each.part.directory}


def write_part_mismatches(written: Path, found: list[PartMismatches]) -> None:
    """``--mismatches FILE`` for a set: every part's, one JSON object per line."""
    from grantbridge.output import write_file_atomic

    lines = (json.dumps(d, sort_keys=True, ensure_ascii=False) + "\n" for d in as_dicts(found))
    write_file_atomic(written, lines)


def print_part_mismatches(found: list[PartMismatches], written: Path | None) -> None:
    """Each part's mismatches on stderr, after a line naming the part, as a single plan's are
    shown (the counts, the first 50, how many more)."""
    from rich.console import Console

    from grantbridge.plural import plural
    from pg_emit.mismatch_report import print_mismatches

    console = Console(stderr=True)
    total = len(found)
    for each in found:
        if each.mismatches:
            count = plural(len(each.mismatches), "mismatch", "mismatches")
            console.print(
                f"{each.part.label(total)}: {count}", markup=False, highlight=False, soft_wrap=True
            )
            print_mismatches(console, each.mismatches, written=written)
