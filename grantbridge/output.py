"""Writing output directories atomically: write aside, then rename.

A command that fails half-way must never leave a half-written output directory behind
(DESIGN, "Bad input"). :func:`atomic_directory` yields a temporary sibling directory; on
success it replaces the target in one rename, on any error it is removed.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from grantbridge.errors import InputError, Location


@contextmanager
def atomic_directory(target: Path) -> Iterator[Path]:
    """Yield a scratch directory that becomes ``target`` only if the block succeeds."""
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise InputError("the output path exists and is not a directory", Location(str(target)))
    parent = target.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"cannot create the output directory: {exc.strerror}", Location(str(target))
        ) from None
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=parent))
    try:
        yield scratch
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=parent))
        old.rmdir()
        target.rename(old)
    scratch.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_file_atomic(target: Path, text: str | Iterable[str]) -> None:
    """Write one file (its text, or its text in pieces) through a temporary sibling and a
    rename."""
    target = Path(target)
    if target.is_dir():
        raise InputError("the output path is a directory, not a file", Location(str(target)))
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("w", encoding="utf-8") as out:
            out.writelines([text] if isinstance(text, str) else text)
        tmp.replace(target)
    except OSError as exc:  # e.g. a parent that is a file: one line, not a traceback
        if tmp.parent.is_dir():
            tmp.unlink(missing_ok=True)
        raise InputError(
            f"cannot write the output file: {exc.strerror}", Location(str(target))
        ) from None
