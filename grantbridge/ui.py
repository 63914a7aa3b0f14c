"""How commands talk to the terminal: human (default), ``--quiet`` or ``--json``.

The root callback in :mod:`grantbridge.cli` calls :func:`configure` on every invocation, so the
mode never leaks from one run into the next. Commands use three helpers:

* :func:`say` — progress and detail lines, shown only in the default (human) mode;
* :func:`result` — the final outcome: its text line in human and quiet mode, or exactly one JSON
  object on standard output under ``--json`` (so a machine reads stdout, people read stderr);
* :func:`progress` — a step logger for long steps that also draws a transient rich progress bar,
  but only when stderr is a terminal, so test output and CI logs stay byte-for-byte the same.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn


@dataclass
class OutputMode:
    """The output mode of the current run (set by the root callback)."""

    quiet: bool = False
    json: bool = False

    @property
    def human(self) -> bool:
        """True unless ``--quiet`` or ``--json`` was given."""
        return not (self.quiet or self.json)


MODE = OutputMode()


def configure(*, quiet: bool = False, json_output: bool = False) -> None:
    """Set the output mode for this run (called by the root callback, before any command)."""
    MODE.quiet = quiet
    MODE.json = json_output


def say(message: str, *, err: bool = False) -> None:
    """Print a progress or detail line; silent under ``--quiet`` and ``--json``."""
    if MODE.human:
        typer.echo(message, err=err)


def result(text: str, data: Mapping[str, object], *, err: bool = False) -> None:
    """Print the command's result: ``text`` for people, or ``data`` as one JSON object.

    Args:
        text: The result line(s) shown in human and quiet mode.
        data: The machine result; printed (sorted keys, one line) on stdout under ``--json``.
        err: Print ``text`` on standard error (where the command's human output goes).
    """
    if MODE.json:
        typer.echo(json.dumps(data, sort_keys=True, default=str))
    else:
        typer.echo(text, err=err)


def _bar_enabled() -> bool:
    """A bar only for a person watching: human mode and stderr is a terminal."""
    return MODE.human and sys.stderr.isatty()


@contextmanager
def progress(
    description: str, total: int | None = None, *, echo: bool = True, err: bool = False
) -> Iterator[Callable[[str], None]]:
    """A step logger for a long step: each call advances a transient bar and may print a line.

    Args:
        description: What the bar says (e.g. ``"extract"``).
        total: Number of steps when known (a pulsing bar otherwise).
        echo: Also print each step's message (as :func:`say` does).
        err: Print the messages on standard error.

    Yields:
        ``step(message)``: call once per step (file, database, script).
    """

    def log(message: str) -> None:
        if echo:
            say(message, err=err)

    if not _bar_enabled():
        yield log
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total)

        def step(message: str) -> None:
            log(message)
            bar.advance(task)

        yield step
