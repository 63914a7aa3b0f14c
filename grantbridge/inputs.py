"""Reading an input file the same way everywhere: an unreadable or undecodable file is bad
input naming the file (exit 2, DESIGN §6), never a traceback. The CLI's commands, the plan
directory loader (:mod:`pg_emit.apply`) and the policy loader use it."""

from __future__ import annotations

import codecs
from pathlib import Path

from grantbridge.errors import InputError, Location

_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def read_input(
    path: Path, what: str, *, byte_order_mark: bool = False, hint: str = "save the file as UTF-8"
) -> str:
    """The text of an input file (UTF-8); an InputError naming the file when it cannot be read.

    Args:
        path: The file.
        what: What the file is, for the message (``"the snapshot"``, ``"the plan"``).
        byte_order_mark: Also accept what Windows tools write: a UTF-8 byte-order mark is
            dropped, and a UTF-16 one (``sqlcmd -u``, Notepad's "Unicode") decodes the file as
            UTF-16. Off, the bytes must be UTF-8 (a byte-order mark stays in the text).
        hint: What to do about bytes that cannot be decoded, ending the message.

    Raises:
        InputError: the file cannot be read, or is not UTF-8 (the message gives the offset of the
            first bad byte, the location its line).
    """
    data = read_input_bytes(path, what)
    if byte_order_mark and data.startswith(_UTF16_BOMS):
        return _utf16(data, path, what, hint)
    return decode_input(data, path, what, byte_order_mark=byte_order_mark, hint=hint)


def read_input_bytes(path: Path, what: str) -> bytes:
    """The bytes of an input file; an InputError naming the file when it cannot be read.

    For grantbridge's own JSON documents (plans, snapshots), which pydantic validates from
    bytes: a plan is about 1 GB at bench scale M, and its decoded text was one more copy (two
    when a non-ASCII character made Python store it in two bytes a character).
    """
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {what}: {exc.strerror}", Location(str(path))) from None


def decode_input(
    data: bytes,
    path: Path | str,
    what: str,
    *,
    byte_order_mark: bool = False,
    hint: str = "save the file as UTF-8",
) -> str:
    """``data`` decoded as :func:`read_input` decodes a file (UTF-8), or its InputError."""
    try:
        return data.decode("utf-8-sig" if byte_order_mark else "utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(
            f"{what} is not UTF-8: byte 0x{data[exc.start]:02x} at offset {exc.start} "
            f"cannot be decoded; {hint}",
            Location(str(path), line),
        ) from None


def _utf16(data: bytes, path: Path, what: str, hint: str) -> str:
    try:
        return data.decode("utf-16")  # the byte-order mark says which end first, and is dropped
    except UnicodeDecodeError as exc:  # an odd length (cut off) or a lone surrogate
        line = data[: exc.start].decode("utf-16", "replace").count("\n") + 1
        raise InputError(
            f"{what} is not valid UTF-16 ({exc.reason} at offset {exc.start}); {hint}",
            Location(str(path), line),
        ) from None
