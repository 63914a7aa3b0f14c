"""The ``grantbridge`` command line: a thin typer app that wires the stages.

Each command lives in ``grantbridge/commands/<name>.py`` and exposes ``register(app)``. This
module owns only what is common: the app, error → exit-code mapping (DESIGN §6) and the
bug-report message for unexpected exceptions.
"""

from __future__ import annotations

import importlib
import sys
from typing import Annotated

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


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (the console script exits with it).

    Typer handles usage errors itself (exit 2); grantbridge's own errors are printed as one line
    naming the file, line and thing, with the exit code of their kind (DESIGN §6).
    """
    try:
        app(args=argv, prog_name="grantbridge")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except GrantbridgeError as exc:
        err_console.print(f"error: {exc}", markup=False, highlight=False)
        code = exc.exit_code
    else:
        code = 0
    if argv is None:
        sys.exit(code)
    return code
