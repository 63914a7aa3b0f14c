"""One module per CLI command group; each exposes ``register(app)``.

The package itself holds what several commands share: reading a plan (:func:`load_plan`), with
input files read by :func:`grantbridge.inputs.read_input`, so that every command reports an
unreadable or undecodable input the same way: one line naming the file, exit 2 (DESIGN §6).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from grantbridge.errors import InputError, Location
from grantbridge.inputs import read_input

if TYPE_CHECKING:
    from mapper.plan import MigrationPlan

PLAN_FILE = "plan.json"


def load_plan(path: Path) -> MigrationPlan:
    """Read a plan from a plan directory or a ``plan.json`` file; bad input is an InputError."""
    from mapper.plan import MigrationPlan

    file = path / PLAN_FILE if path.is_dir() else path
    if not file.is_file():
        what = f"no {PLAN_FILE} in this directory" if path.is_dir() else "no such plan file"
        raise InputError(what, Location(str(file)))
    return MigrationPlan.from_json(read_input(file, "the plan"), origin=str(file))
