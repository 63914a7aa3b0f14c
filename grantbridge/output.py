"""Writing output directories atomically: write aside, then rename.

A command that fails half-way must never leave a half-written output directory behind
(DESIGN, "Bad input"). :func:`atomic_directory` yields a temporary sibling directory; on
success it replaces the target in one rename, on any error it is removed.

Replacing deletes what the target held, so only a directory grantbridge itself wrote is
replaced: one holding its :class:`Layout`'s marker file and nothing the layout does not name
(an empty directory is fine too). Anything else, and a directory holding the current working
directory (``-o .``), is bad input (exit 2), refused before anything is written.
"""

from __future__ import annotations

import glob
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from grantbridge import ui
from grantbridge.errors import InputError, Location

#: How many entries a refusal quotes.
_EXAMPLES = 3


@dataclass(frozen=True)
class Layout:
    """What a command writes into its output directory.

    ``files`` are relative paths with ``/`` between parts, each part a glob (``sql/*.sql``);
    ``marker`` is the file every directory the command wrote holds.
    """

    marker: str
    files: tuple[str, ...]

    def under(self, folder: str) -> tuple[str, ...]:
        """The same files, one folder down (a layout nested in another one)."""
        return tuple(f"{folder}/{f}" for f in self.files)

    def holds_file(self, parts: tuple[str, ...]) -> bool:
        """Whether the layout names this file."""
        return any(_matches(p.split("/"), parts) for p in self.files)

    def holds_folder(self, parts: tuple[str, ...]) -> bool:
        """Whether the layout has files in this folder (or below it)."""
        return any(_matches(p.split("/")[: len(parts)], parts) for p in self.files
                   if p.count("/") >= len(parts))  # fmt: skip


def _matches(pattern: list[str], parts: tuple[str, ...]) -> bool:
    return len(pattern) == len(parts) and all(map(fnmatchcase, parts, pattern))


def _foreign_entries(folder: Path, layout: Layout, parts: tuple[str, ...] = ()) -> list[str]:
    """Relative paths under ``folder`` the layout does not name (a folder: once, with ``/``)."""
    found = []
    for entry in sorted(folder.iterdir()):
        rel = (*parts, entry.name)
        if entry.is_symlink():  # grantbridge writes none; whatever it points to is not ours
            found.append("/".join(rel))
        elif entry.is_dir():
            if layout.holds_folder(rel):
                found += _foreign_entries(entry, layout, rel)
            else:
                found.append("/".join(rel) + "/")
        elif not layout.holds_file(rel):
            found.append("/".join(rel))
    return found


def _examples(entries: list[str]) -> str:
    shown = ", ".join(entries[:_EXAMPLES])
    return shown if len(entries) <= _EXAMPLES else f"{shown}, … ({len(entries)} in all)"


def check_output_directory(target: Path, layout: Layout) -> None:
    """Refuse (InputError, exit 2) an output directory :func:`atomic_directory` may not replace.

    A missing or empty directory is fine, and so is one grantbridge wrote: it holds
    ``layout.marker`` and only what ``layout`` names. A directory holding the current working
    directory cannot be renamed away from under it, and is refused whatever it holds.
    """
    target = Path(target)
    where = Location(str(target))
    if not target.exists():
        return
    if not target.is_dir():
        raise InputError("the output path exists and is not a directory", where)
    resolved = target.resolve()
    cwd = Path.cwd().resolve()
    if resolved == cwd or resolved in cwd.parents:
        raise InputError(
            "the output directory holds the current working directory, so it cannot be "
            "replaced: name a new directory (a subdirectory of it, for instance)",
            where,
        )
    try:
        foreign = _foreign_entries(resolved, layout)
        entries = sorted(p.name for p in resolved.iterdir())
    except OSError as exc:
        raise InputError(f"cannot read the output directory: {exc.strerror}", where) from None
    if entries and not (resolved / layout.marker).is_file():
        raise InputError(
            f"the output directory is not empty and grantbridge did not write it (it has no "
            f"{layout.marker}; it holds {_examples(entries)}): name a new or empty directory",
            where,
        )
    if foreign:
        raise InputError(
            f"the output directory holds files grantbridge does not write ({_examples(foreign)}),"
            " which replacing it would delete: move them away or name another directory",
            where,
        )


@contextmanager
def atomic_directory(target: Path, layout: Layout) -> Iterator[Path]:
    """Yield a scratch directory that becomes ``target`` only if the block succeeds.

    ``target`` is checked (:func:`check_output_directory`) before the block and again before
    it is replaced, so that nothing written meanwhile is deleted.
    """
    target = Path(target)
    check_output_directory(target, layout)
    resolved = target.resolve()
    _note_leftovers(resolved, layout)
    try:
        resolved.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f".{resolved.name}.", dir=resolved.parent))
        scratch.chmod(_default_mode())  # mkdtemp's 0700 would become the output's mode
    except OSError as exc:
        raise InputError(
            f"cannot create the output directory: {exc.strerror}", Location(str(target))
        ) from None
    try:
        yield scratch
        check_output_directory(target, layout)
        _replace(scratch, resolved, Location(str(target)))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)  # gone already when the rename succeeded


def _replace(scratch: Path, target: Path, where: Location) -> None:
    """Rename ``scratch`` to ``target``, moving an existing ``target`` aside first and
    deleting it after; on failure, ``target`` is put back as it was."""
    old = scratch.with_name(scratch.name + ".old")  # unique: the scratch name is
    moved = False
    try:
        if target.exists():
            target.rename(old)
            moved = True
        scratch.rename(target)
    except OSError as exc:
        if moved:
            old.rename(target)
        raise InputError(f"cannot replace the output directory: {exc.strerror}", where) from None
    if moved:
        shutil.rmtree(old, ignore_errors=True)


def write_file_atomic(target: Path, text: str | Iterable[str]) -> None:
    """Write one file (its text, or its text in pieces) through a temporary sibling and a
    rename; the sibling is removed whatever stops the write (an error, Ctrl-C, SIGTERM)."""
    target = Path(target)
    if target.is_dir():
        raise InputError("the output path is a directory, not a file", Location(str(target)))
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("w", encoding="utf-8") as out:
            out.writelines([text] if isinstance(text, str) else text)
        tmp.replace(target)
    except BaseException as exc:
        if tmp.parent.is_dir():
            tmp.unlink(missing_ok=True)
        if not isinstance(exc, OSError):
            raise
        raise InputError(  # e.g. a parent that is a file: one line, not a traceback
            f"cannot write the output file: {exc.strerror}", Location(str(target))
        ) from None


def _default_mode() -> int:
    """The mode a directory made now gets (0o777 less the umask), as ``mkdir`` would give."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o777 & ~mask


def _note_leftovers(target: Path, layout: Layout) -> None:
    """Say where a run killed outright (SIGKILL, a power cut: no ``finally`` runs) left its
    scratch copy of ``target``: a ``.<name>.*`` sibling holding the layout's marker. Not
    removed: another run may be writing it right now."""
    try:
        found = sorted(
            p for p in target.parent.glob(f".{glob.escape(target.name)}.*")
            if p.is_dir() and (p / layout.marker).is_file()
        )  # fmt: skip
    except OSError:
        return
    for path in found:
        ui.say(f"note: {path} is left from an interrupted run; delete it", err=True)
