"""Which PostgreSQL to talk to: ``--dsn`` / ``GRANTBRIDGE_DSN``, or a throwaway embedded server.

``embedded_server()`` starts a cluster in a temporary directory and removes it afterwards:
``pgserver`` (PyPI) when installed, else ``initdb`` / ``pg_ctl`` from ``PATH`` or from
``pg_config --bindir``, else :class:`ConnectionFailed` saying what to install.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from grantbridge.errors import ConnectionFailed, InputError, Location

DSN_ENV = "GRANTBRIDGE_DSN"


def resolve_dsn(dsn: str | None) -> str | None:
    """The DSN from ``--dsn``, else ``GRANTBRIDGE_DSN``, else None (use an embedded server).

    Raises:
        InputError: the DSN is not a libpq connection string or URI (exit 2; the message names
            ``--dsn`` or ``GRANTBRIDGE_DSN`` and never quotes the DSN, which may hold a password).
    """
    if dsn:
        return check_dsn(dsn, "--dsn")
    from_env = os.environ.get(DSN_ENV)
    return check_dsn(from_env, DSN_ENV) if from_env else None


def check_dsn(dsn: str, source: str = "DSN") -> str:
    """``dsn`` itself when libpq can parse it; an InputError naming ``source`` otherwise."""
    try:
        conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as exc:
        raise _malformed(exc, source) from None
    return dsn


def _malformed(exc: Exception, source: str) -> InputError:
    """libpq's parse error, without the pieces of the DSN it quotes (they may be a password:
    an unquoted ``password=a b`` gives 'missing "=" after "b"')."""
    lines = str(exc).strip().splitlines()
    reason = _LIBPQ_QUOTED.sub(_blank_quoted, lines[0]) if lines else "unparsable"
    return InputError(
        f"not a valid PostgreSQL connection string ({reason}); write key=value pairs, quoting "
        "values with spaces (password='a b'), or a postgresql://user@host/db URI",
        Location(key=source),
    )


#: A quoted fragment of a libpq error message; only single punctuation marks are kept.
_LIBPQ_QUOTED = re.compile(r'"([^"]*)"')


def _blank_quoted(match: re.Match[str]) -> str:
    kept = len(match[1]) == 1 and not match[1].isalnum()
    return match[0] if kept else '"…"'


#: Password values in a DSN or in text quoting one, and what replaces each: URI user info
#: (``postgresql://user:secret@host``; up to the last ``@`` before the path, so an unencoded
#: ``@`` in the password is covered), URI query parameters (``?password=secret&…``) and libpq
#: keyword/value pairs (``password=secret``, ``password=a\ b``, or single-quoted
#: ``password='a \' b'`` with ``\'`` and ``\\`` escapes; an unterminated quote hides the rest of
#: the line). Case-insensitive, ``sslpassword`` and ``PGPASSWORD`` too.
_SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(://[^:/@\s]*:)[^/\n]*@"), r"\1***@"),
    (re.compile(r"([?&](?:ssl)?password=)[^&#\s]*", re.IGNORECASE), r"\1***"),
    (
        re.compile(
            r"((?<![\w?&])(?:pg|ssl)?password\s*=\s*)(?:'(?:\\.|[^'\\\n])*'|'[^\n]*|(?:\\.|\S)+)",
            re.IGNORECASE,
        ),
        r"\1***",
    ),
)


def redact(dsn: str) -> str:
    """A DSN (or a message quoting one) safe to print: any password replaced by ``***``."""
    text = dsn
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def dsn_secrets(dsn: str) -> list[str]:
    """The passwords a DSN holds, as libpq reads them (decoded, unquoted); [] if unparsable.

    For scrubbing text that quotes a password without its ``password=`` (a driver message, a
    traceback), which :func:`redact` cannot recognise.
    """
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.Error:
        return []
    found = [str(params[k]) for k in ("password", "sslpassword") if params.get(k)]
    return found + _userinfo_pieces(dsn)


#: A URI's password as written, up to the last ``@`` before the path (:data:`_SECRET_PATTERNS`).
_URI_PASSWORD = re.compile(r"://[^:/@\s]*:([^/\n]*)@")


def _userinfo_pieces(dsn: str) -> list[str]:
    """The pieces of a URI password holding an unencoded ``@`` (``postgresql://u:a@b@h/db``):
    libpq ends the password at the first ``@`` and reads the rest as the host, which its
    messages then quote ("failed to resolve host 'b@h'"). Percent-decoded too."""
    match = _URI_PASSWORD.search(dsn)
    if match is None or "@" not in match[1]:
        return []
    raw = match[1]
    pieces = {raw, unquote(raw), *raw.split("@"), *unquote(raw).split("@")} - {""}
    return sorted(pieces, key=lambda p: (-len(p), p))


def scrub(text: str, dsn: str) -> str:
    """``text`` with ``dsn``'s passwords removed, both as ``password=`` values and verbatim."""
    text = redact(text)
    for secret in dsn_secrets(dsn):
        text = text.replace(secret, "***")
    return text


@contextmanager
def embedded_server() -> Iterator[str]:
    """Start a throwaway PostgreSQL and yield its DSN; stop and delete it afterwards.

    Raises:
        ConnectionFailed: neither pgserver nor initdb/pg_ctl is available.
    """
    pgserver = _import_pgserver()
    if pgserver is not None:
        tmp = Path(tempfile.mkdtemp(prefix="grantbridge-pg-"))
        try:
            server = pgserver.get_server(tmp, cleanup_mode="stop")
            try:
                _configure(pgserver, server, tmp)
                yield str(server.get_uri())
            finally:
                server.cleanup()
        finally:
            remove_cluster(tmp)
        return
    with _initdb_server(_find_bindir()) as dsn:
        yield dsn


def remove_cluster(path: Path, attempts: int = 40) -> None:
    """Delete a stopped throwaway cluster's directory, waiting for its last writes.

    pgserver stops the server with ``pg_ctl -w stop`` and kills the postmaster when that times
    out (a long shutdown checkpoint after a large verify): its children may write WAL a moment
    longer, and a removal that meets a file created meanwhile fails ("Directory not empty:
    'pg_wal'", once at bench scale M, after verification had passed). So it is tried again, a
    quarter second apart, and what is still left after ten seconds stays in the temporary
    directory rather than failing the command.
    """
    for _ in range(attempts):
        try:
            shutil.rmtree(path)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.25)
    shutil.rmtree(path, ignore_errors=True)


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
    tmp = Path(tempfile.mkdtemp(prefix="grantbridge-pg-"))
    try:
        data, port = tmp / "data", _free_port()
        _run([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"])
        options = f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1" + "".join(
            f" -c {name}={value}" for name, value in SETTINGS.items()
        )
        _run([str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-w", "start"])
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        finally:
            _run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"])
    finally:
        remove_cluster(tmp)


def _run(argv: list[str]) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ConnectionFailed(f"{Path(argv[0]).name} failed: {result.stderr.strip()[:500]}")


def connect(
    dsn: str, database: str | None = None, *, autocommit: bool = True
) -> psycopg.Connection[Any]:
    """Open a psycopg connection, optionally to another database of the same server.

    Raises:
        InputError: the DSN is malformed (exit 2).
        ConnectionFailed: the server cannot be reached or refuses the login (exit 4).
    """
    try:
        conninfo = make_conninfo(dsn, dbname=database) if database else dsn
        return psycopg.connect(conninfo, autocommit=autocommit)
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unreachable"
        invalid = _INVALID_OPTION.match(first)
        if invalid:  # libpq refused an option's value before reaching any server: bad input
            raise InputError(
                f"invalid connection option in {redact(dsn)}: {scrub(invalid[1], dsn)} (the "
                "values each accepts: https://www.postgresql.org/docs/current/libpq-connect.html"
                "#LIBPQ-PARAMKEYWORDS)",
                Location(key="DSN"),
            ) from None
        raise ConnectionFailed(
            f"cannot connect to PostgreSQL at {redact(dsn)}: {scrub(first, dsn)}"
        ) from None
    except psycopg.ProgrammingError as exc:  # libpq cannot parse the DSN: bad input
        raise _malformed(exc, "DSN") from None


#: libpq's refusal of an option's value, before it tries any server (psycopg's "connection is
#: bad": ``invalid sslmode value: "bogus"``, ``invalid port number: "70000"``, ``invalid integer
#: value "abc" for connection option "port"``).
_INVALID_OPTION = re.compile(r"connection is bad: (invalid .*)")


#: What a server that answered (and accepted the login) says when the DSN's own database is
#: missing or closed to the role: ``FATAL:  database "x" does not exist``, ``FATAL:  permission
#: denied for database "x"`` (libpq's text, as :func:`connect` quotes it).
_NOT_THIS_DATABASE = re.compile(
    r'FATAL:\s+(?:database "[^"]*" does not exist|permission denied for database)'
)


#: Databases every PostgreSQL has and lets PUBLIC connect to by default (PostgreSQL docs §23.3,
#: "Template Databases"; ``postgres`` is made by initdb for users and applications).
MAINTENANCE_DATABASES = ("postgres", "template1")


def answers_elsewhere(dsn: str) -> bool:
    """Whether the server of ``dsn`` accepts the login in a database it always has
    (:data:`MAINTENANCE_DATABASES`): what tells "this database is missing or closed to the role"
    from "the server is unreachable or refuses the login" in any language, where the server's
    message (``FATAL:  Datenbank »x« existiert nicht`` under ``lc_messages`` German) cannot."""
    for database in MAINTENANCE_DATABASES:
        try:
            connect(dsn, database).close()
        except ConnectionFailed:
            continue
        return True
    return False


def check_reachable(dsn: str, *, own_database: bool = True) -> None:
    """Connect to ``dsn`` and close again, before a command loads its plan.

    Loading a large plan takes long (about 30 s at bench scale M), and a wrong DSN would
    otherwise be reported only afterwards. ``own_database=False`` is for a command that never
    connects to the DSN's own database, only to the plan's (``drift``): a server saying that
    database is missing or closed to the role has answered, and counts as reachable; so does
    one that accepts the login in a maintenance database (:func:`answers_elsewhere`), whatever
    the language of its messages.

    Raises:
        ConnectionFailed: as :func:`connect` raises it, with the same message (exit 4).
    """
    try:
        connect(dsn).close()
    except ConnectionFailed as exc:
        if own_database:
            raise
        if not _NOT_THIS_DATABASE.search(str(exc)) and not answers_elsewhere(dsn):
            raise
