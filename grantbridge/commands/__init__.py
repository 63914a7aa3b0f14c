"""One module per CLI command group; each exposes ``register(app)``.

The package itself holds what several commands share: reading a plan (:func:`load_plan`), with
input files read by :func:`grantbridge.inputs.read_input`, so that every command reports an
unreadable or undecodable input the same way: one line naming the file, exit 2 (DESIGN §6).
"""

from __future__ import annotations

import json
from inspect import cleandoc  # not `import inspect`: the submodule `inspect` would shadow it
from pathlib import Path
from typing import TYPE_CHECKING

from grantbridge.errors import InputError, Location
from grantbridge.inputs import read_input_bytes

if TYPE_CHECKING:
    from mapper.plan import MigrationPlan

PLAN_FILE = "plan.json"
PARTS_FILE = "parts.json"  # plan --per-database's list of plan directories


def flowing(doc: str | None) -> str:
    """A command's docstring as its ``--help`` text: the paragraphs kept, the line breaks inside
    each joined, since typer's rich help prints every paragraph after the first line by line."""
    paragraphs = cleandoc(doc or "").split("\n\n")
    return "\n\n".join(" ".join(p.split()) for p in paragraphs)


def require_plan_dir(path: Path) -> Path:
    """``path``, a directory; a missing path or a file is an InputError saying so (reading the
    plan directory would only say that it lacks plan.json)."""
    if not path.exists():
        raise InputError("the plan directory does not exist", Location(str(path)))
    if not path.is_dir():
        raise InputError("not a directory: pass the plan directory", Location(str(path)))
    _refuse_plan_set(path)
    return path


def _refuse_plan_set(path: Path) -> None:
    """An InputError naming one of its plan directories when ``path`` is what ``plan
    --per-database`` wrote (a directory per database, no ``plan.json`` of its own)."""
    if not path.is_dir() or (path / PLAN_FILE).is_file() or not (path / PARTS_FILE).is_file():
        return
    first = sorted(p.name for p in path.iterdir() if (p / PLAN_FILE).is_file())[:1]
    example = f", such as {path / first[0]}" if first else ""
    raise InputError(
        f"a plan directory per database (grantbridge plan --per-database): pass one of "
        f"them{example}",
        Location(str(path)),
    )


def plan_file(path: Path) -> Path:
    """The ``plan.json`` of a plan directory, or ``path`` itself; an InputError if it is not a
    file (checked before anything slow: a connection, or loading the plan)."""
    file = path / PLAN_FILE if path.is_dir() else path
    _refuse_plan_set(path)
    if not file.is_file():
        what = f"no {PLAN_FILE} in this directory" if path.is_dir() else "no such plan file"
        raise InputError(what, Location(str(file)))
    return file


def load_plan(path: Path) -> MigrationPlan:
    """Read a plan from a plan directory or a ``plan.json`` file; bad input is an InputError."""
    from mapper.plan import MigrationPlan

    file = plan_file(path)
    raw = read_input_bytes(file, "the plan")
    try:
        return MigrationPlan.from_json(raw, origin=str(file))
    except InputError:
        refuse_other_document(raw, str(file), "plan")
        raise


#: What to do with one kind of grantbridge document given where another is read:
#: (given, expected) → the advice.
_OTHER_DOCUMENT = {
    ("snapshot", "plan"): "a snapshot (grantbridge extract's output), not a plan: run "
    "grantbridge plan on it first",
    ("plan", "snapshot"): "a plan (grantbridge plan's output), not a snapshot: grantbridge plan "
    "reads the snapshot grantbridge extract wrote",
    ("snapshot", "target"): "a snapshot (grantbridge extract's output), not a target catalog: "
    "--target takes grantbridge inspect's output for the converted target",
}


def refuse_other_document(raw: bytes, origin: str, expected: str) -> None:
    """Raise an InputError saying so when ``raw``, which did not load as the ``expected``
    document (``plan``, ``snapshot``, ``target``), is another kind of grantbridge document: a
    snapshot and a plan have the same ``schema_version``, so validation alone only reports a
    missing field (``invalid plan: Field required at fingerprint``). Called on that error's
    path only: the file is parsed once more."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return
    if not isinstance(data, dict):
        return
    if "server" in data and "fingerprint" not in data:
        given = "snapshot"
    elif "fingerprint" in data and "server" not in data:
        given = "plan"
    else:
        return
    advice = _OTHER_DOCUMENT.get((given, expected))
    if advice is not None:
        raise InputError(advice, Location(origin))
