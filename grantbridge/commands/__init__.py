"""One module per CLI command group; each exposes ``register(app)``.

The package itself holds what several commands share: reading an input file
(:func:`read_input`) and reading a plan (:func:`load_plan`), so that every command reports an
unreadable or undecodable input the same way: one line naming the file, exit 2 (DESIGN §6).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from grantbridge.errors import InputError, Location

if TYPE_CHECKING:
    from mapper.plan import MigrationPlan

PLAN_FILE = "plan.json"


def read_input(path: Path, what: str) -> str:
    """The text of an input file (UTF-8); an InputError naming the file when it cannot be read.

    Args:
        path: The file.
        what: What the file is, for the message (``"the snapshot"``, ``"the plan"``).

    Raises:
        InputError: the file cannot be read, or is not UTF-8 (the message gives the offset of the
            first bad byte, the location its line).
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {what}: {exc.strerror}", Location(str(path))) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(
            f"{what} is not UTF-8: byte 0x{data[exc.start]:02x} at offset {exc.start} "
            "cannot be decoded; save the file as UTF-8",
            Location(str(path), line),
        ) from None


def load_plan(path: Path) -> MigrationPlan:
    """Read a plan from a plan directory or a ``plan.json`` file; bad input is an InputError."""
    from mapper.plan import MigrationPlan

    file = path / PLAN_FILE if path.is_dir() else path
    if not file.is_file():
        what = f"no {PLAN_FILE} in this directory" if path.is_dir() else "no such plan file"
        raise InputError(what, Location(str(file)))
    return MigrationPlan.from_json(read_input(file, "the plan"), origin=str(file))
