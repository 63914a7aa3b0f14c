"""Reading an input file the same way everywhere: an unreadable or undecodable file is bad
input naming the file (exit 2, DESIGN §6), never a traceback. The CLI's commands, the plan
directory loader (:mod:`pg_emit.apply`) and the policy loader use it."""

from __future__ import annotations

from pathlib import Path

from grantbridge.errors import InputError, Location


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
