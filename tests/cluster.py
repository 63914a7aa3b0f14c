"""A throwaway PostgreSQL 15 cluster with chosen settings (the machine's binaries, initdb/pg_ctl).

For checks that need server settings the shared servers do not have: pgaudit preloaded
(tests/modules/test_audit.py), a tiny lock table (tests/emit/test_apply_locks.py).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BINDIR = Path(os.environ.get("GRANTBRIDGE_PG15_BINDIR", "/usr/lib/postgresql/15/bin"))


def _as_postgres() -> dict[str, str]:
    # initdb refuses to run as root: run the cluster as the postgres OS user then
    return {"user": "postgres"} if os.geteuid() == 0 else {}


@contextmanager
def throwaway_cluster(
    settings: dict[str, str], environment: dict[str, str] | None = None
) -> Iterator[tuple[str, Path]]:
    """Start a cluster with ``-c name=value`` for each setting, the server's environment
    updated with ``environment`` (``LANGUAGE``): yields (DSN, server log path)."""
    with tempfile.TemporaryDirectory(prefix="grantbridge-cluster-") as tmp:
        if os.geteuid() == 0:
            shutil.chown(tmp, "postgres")
        data, log = Path(tmp) / "data", Path(tmp) / "server.log"
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        run = {"check": True, "capture_output": True, **_as_postgres()}
        subprocess.run(
            [str(BINDIR / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"], **run
        )  # type: ignore[call-overload]
        options = f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 " + " ".join(
            f"-c {name}={value}" for name, value in sorted(settings.items())
        )
        subprocess.run(
            [str(BINDIR / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start"],
            **run,
            env={**os.environ, **(environment or {})},
        )  # type: ignore[call-overload]
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres", log
        finally:
            subprocess.run(
                [str(BINDIR / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], **run
            )  # type: ignore[call-overload]
