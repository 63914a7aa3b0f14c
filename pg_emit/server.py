"""Which PostgreSQL to talk to: ``--dsn`` / ``GRANTBRIDGE_DSN``, or a throwaway embedded server.

``embedded_server()`` starts a cluster in a temporary directory and removes it afterwards:
``pgserver`` (PyPI) when installed, else ``initdb`` / ``pg_ctl`` from ``PATH`` or from
``pg_config --bindir``, else :class:`ConnectionFailed` saying what to install.
"""

from __future__ import annotations

import importlib
import os
import shutil
import socket
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo

from grantbridge.errors import ConnectionFailed

DSN_ENV = "GRANTBRIDGE_DSN"


def resolve_dsn(dsn: str | None) -> str | None:
    """The DSN from ``--dsn``, else ``GRANTBRIDGE_DSN``, else None (use an embedded server)."""
    return dsn or os.environ.get(DSN_ENV) or None


def redact(dsn: str) -> str:
    """A DSN safe to print: any password replaced by ``***``."""
    import re

    text = re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", dsn)
    return re.sub(r"(password\s*=\s*)\S+", r"\1***", text, flags=re.IGNORECASE)


@contextmanager
def embedded_server() -> Iterator[str]:
    """Start a throwaway PostgreSQL and yield its DSN; stop and delete it afterwards.

    Raises:
        ConnectionFailed: neither pgserver nor initdb/pg_ctl is available.
    """
    pgserver = _import_pgserver()
    if pgserver is not None:
        with tempfile.TemporaryDirectory(prefix="grantbridge-pg-") as tmp:
            server = pgserver.get_server(Path(tmp), cleanup_mode="stop")
            try:
                _configure(pgserver, server, Path(tmp))
                yield str(server.get_uri())
            finally:
                server.cleanup()
        return
    with _initdb_server(_find_bindir()) as dsn:
        yield dsn


#: Settings of the throwaway server. Each script section runs in one transaction, and every
#: role created, object re-owned or object granted on holds a lock until it commits: with
#: PostgreSQL's default lock table (64 per connection slot) an estate of M's size (issue 7)
#: cannot apply at all. The throwaway server is sized for it; a real target says what to raise
#: (pg_emit.apply.LOCKS_HINT).
SETTINGS = {"max_locks_per_transaction": "1024"}


def _configure(pgserver: Any, server: Any, pgdata: Path) -> None:
    """Apply :data:`SETTINGS` to a pgserver cluster (they need a restart)."""
    for name, value in SETTINGS.items():
        server.psql(f"ALTER SYSTEM SET {name} = '{value}'")
    pgserver.postgres_server.pg_ctl(["-w", "restart"], pgdata=pgdata, user=server.system_user)


def _import_pgserver() -> Any:
    """The pgserver module, or None; imported without platformdirs' XDG_RUNTIME_DIR warning.

    pgserver computes its lock-file directory (platformdirs.user_runtime_path) while its module
    is imported. Without ``XDG_RUNTIME_DIR`` (containers, CI, sudo) platformdirs warns once and
    falls back to ``$TMPDIR/runtime-<uid>``, a private directory that serves the lock just as
    well; the warning is noise for grantbridge's users, so only that one is silenced, and only
    around this import (platformdirs emits it once per process, on first use).
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR", category=UserWarning)
        try:
            return importlib.import_module("pgserver")
        except ImportError:
            return None


def _find_bindir() -> Path:
    initdb = shutil.which("initdb")
    if initdb is not None and shutil.which("pg_ctl") is not None:
        return Path(initdb).parent
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        bindir = Path(out.stdout.strip())
        if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
            return bindir
    raise ConnectionFailed(
        "no embedded PostgreSQL available: install pgserver (pip install pgserver), or put "
        "PostgreSQL's initdb and pg_ctl on PATH, or pass --dsn / set GRANTBRIDGE_DSN"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _initdb_server(bindir: Path) -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="grantbridge-pg-") as tmp:
        data, port = Path(tmp) / "data", _free_port()
        _run([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"])
        options = f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1" + "".join(
            f" -c {name}={value}" for name, value in SETTINGS.items()
        )
        _run([str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-w", "start"])
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        finally:
            _run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"])


def _run(argv: list[str]) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ConnectionFailed(f"{Path(argv[0]).name} failed: {result.stderr.strip()[:500]}")


def connect(
    dsn: str, database: str | None = None, *, autocommit: bool = True
) -> psycopg.Connection[Any]:
    """Open a psycopg connection, optionally to another database of the same server."""
    try:
        conninfo = make_conninfo(dsn, dbname=database) if database else dsn
        return psycopg.connect(conninfo, autocommit=autocommit)
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unreachable"
        raise ConnectionFailed(f"cannot connect to PostgreSQL at {redact(dsn)}: {first}") from None
