"""The ``grantbridge`` command line: a thin typer app that wires the stages.

Each command lives in ``grantbridge/commands/<name>.py`` and exposes ``register(app)``. This
module owns only what is common: the app, error → exit-code mapping (DESIGN §6) and the
bug-report message for unexpected exceptions.
"""

from __future__ import annotations

import importlib
import os
import re
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from types import FrameType
from typing import Annotated, Any

import typer
from rich.console import Console

from grantbridge import ui
from grantbridge.errors import GrantbridgeError

#: Command modules, in the order their commands appear in ``--help``.
COMMAND_MODULES: tuple[str, ...] = (
    "extract",
    "plan",
    "policy",
    "diff",
    "verify",
    "apply",
    "inspect",
    "drift",
    "demo",
)

app = typer.Typer(
    name="grantbridge",
    help="Migrate SQL Server security (logins, users, roles, DENYs, ownership) to PostgreSQL.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
)


@app.callback()
def _root(
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print only errors and the result line.")
    ] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print exactly one JSON object (the result) on stdout.")
    ] = False,
) -> None:
    """Migrate SQL Server security to least-privilege PostgreSQL roles and GRANT scripts.

    Typical session: extract → plan → verify (or just: grantbridge demo).
    """
    ui.configure(quiet=quiet, json_output=json_output)


for _name in COMMAND_MODULES:
    importlib.import_module(f"grantbridge.commands.{_name}").register(app)

err_console = Console(stderr=True, soft_wrap=True)

BUG_REPORT = (
    "grantbridge hit an unexpected error. This is a bug: please report it with the traceback "
    "above and the command you ran (remove any secrets first)."
)

#: The exit code of an unexpected exception. DESIGN §6 asks for a traceback and a bug report
#: but names no code of its own, so it is Python's own for an uncaught exception.
INTERNAL_ERROR = 1

#: Options whose value may hold a password (a libpq DSN, an ODBC connection string).
_SECRET_OPTIONS = ("--dsn", "--server")

#: Password literals in free text (a traceback) that a DSN's patterns miss, each with the part
#: kept before it: T-SQL (``PASSWORD = N'it''s'``, quotes doubled inside) and ODBC
#: (``PWD={a;b}`` with ``}}`` inside, or up to ``;``). An unterminated one hides the rest of its
#: line, never more.
_TSQL_SECRET = re.compile(r"(?i)\b((?:PASSWORD|SECRET)\s*=\s*)N?'(?:[^'\n]|'')*(?:'|$)", re.M)
_ODBC_SECRET = re.compile(r"(?i)\b(PWD\s*=\s*)(?:\{(?:[^}\n]|\}\})*\}?|[^;\n]*)")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (the console script exits with it).

    Typer handles usage errors itself (exit 2); grantbridge's own errors are printed as one line
    naming the file, line and thing, with the exit code of their kind (DESIGN §6). Anything else
    is a bug: its traceback (secrets redacted) and a request for a bug report, exit 1.
    """
    previous = _on_sigterm()
    try:
        app(args=argv, prog_name="grantbridge")
    except Terminated as exc:
        err_console.print(f"grantbridge: stopped by {exc}; nothing half-written is left")
        code = 128 + exc.signum
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except GrantbridgeError as exc:
        err_console.print(f"error: {visible(str(exc))}", markup=False, highlight=False)
        code = exc.exit_code
    except Exception as exc:
        _report_bug(exc, sys.argv[1:] if argv is None else argv)
        code = INTERNAL_ERROR
    else:
        code = 0
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if argv is None:
        sys.exit(code)
    return code


#: Control characters but newline and tab, as the escapes Python's repr writes.
_CONTROLS = {c: f"\\x{c:02x}" for c in [*range(0x20), 0x7F] if chr(c) not in "\n\t"}


def visible(text: str) -> str:
    """``text`` with its control characters escaped: an error quotes names from the input,
    and one holding a NUL (cut by log tools) or an escape sequence (which the terminal would
    obey) must print as what it is."""
    return text.translate(_CONTROLS)


class Terminated(BaseException):
    """SIGTERM arrived (``kill``, ``timeout``, a CI job cancelled or timed out). Raised in the
    main thread, so that ``finally`` blocks run: an output written aside (``output.py``) is
    removed instead of left behind. Like KeyboardInterrupt, not an ``Exception``."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _on_sigterm() -> signal.Handlers | Callable[[int, FrameType | None], Any] | int | None:
    """Turn SIGTERM into :class:`Terminated` while a command runs; the handler it replaced
    (None: not the main thread, where Python allows no handler)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def terminate(signum: int, _frame: FrameType | None) -> None:
        raise Terminated(signum)

    return signal.signal(signal.SIGTERM, terminate)


def _report_bug(exc: Exception, argv: list[str]) -> None:
    """Print the traceback, with every secret the run was given redacted, and BUG_REPORT."""
    text = "".join(traceback.format_exception(exc))
    try:
        text = redact_secrets(text, argv)
    except Exception:  # never print an unredacted traceback: say only what was raised
        text = f"{type(exc).__name__} (traceback withheld: it could not be redacted)\n"
    err_console.print(text.rstrip("\n"), markup=False, highlight=False)
    err_console.print(BUG_REPORT, markup=False, highlight=False)


def redact_secrets(text: str, argv: list[str]) -> str:
    """``text`` without the passwords of this run: DSN and ODBC passwords, wherever they appear.

    Each DSN or connection string of ``argv`` and the environment is replaced by its redacted
    form (wholly by ``***`` when libpq cannot parse it, as its password's extent is then
    unknown), the passwords it holds and ``GRANTBRIDGE_MSSQL_PASSWORD`` wherever they appear
    verbatim, and any other DSN, T-SQL or ODBC password by ``***``.
    """
    from mssql_extract.live import redact as redact_odbc
    from pg_emit.server import dsn_secrets

    secrets = {os.environ.get("GRANTBRIDGE_MSSQL_PASSWORD", "")}
    values = [*_option_values(argv, _SECRET_OPTIONS), os.environ.get("GRANTBRIDGE_DSN", "")]
    for value in filter(None, values):
        found = dsn_secrets(value)
        readable = bool(found) or "password" not in value.lower()
        text = text.replace(value, redact_odbc(_redact_text(value), ()) if readable else "***")
        secrets.update(found)
    for secret in sorted(filter(None, secrets), key=len, reverse=True):
        text = text.replace(secret, "***")
    return _redact_text(text)


def _redact_text(text: str) -> str:
    """Every password the patterns recognise (a DSN's, T-SQL's, ODBC's) replaced by ``***``."""
    from pg_emit.server import redact

    text = redact(_TSQL_SECRET.sub(r"\1'***'", text))
    return _ODBC_SECRET.sub(r"\1***", text)


def _option_values(argv: list[str], options: tuple[str, ...]) -> list[str]:
    """The values given to ``options`` in ``argv`` (``--opt VALUE`` and ``--opt=VALUE``)."""
    values = []
    for i, arg in enumerate(argv):
        name, sep, value = arg.partition("=")
        if name in options:
            values.append(value if sep else (argv[i + 1] if i + 1 < len(argv) else ""))
    return [v for v in values if v]
