"""Fuzzing the T-SQL extractor: generated inputs, one property, a reproducible campaign runner.

The property (issue 8, item 1): on any input, ``parse_text`` / ``extract_scripts`` either return
a snapshot or raise a :class:`GrantbridgeError` that names the file and a line — never another
exception, never a hang.

Inputs come from :func:`generate`, driven by a ``random.Random``. The CI tests hand it
hypothesis' ``st.randoms()`` (so hypothesis shrinks and replays); the campaign runner derives one
``Random`` per input index from a fixed seed, so any input is reproducible by its index::

    uv run python -m tests.reliability.fuzz --count 100000 --workers 2
    uv run python -m tests.reliability.fuzz --replay 4711      # print one input and its outcome
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import re
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from random import Random
from types import FrameType

from grantbridge.errors import GrantbridgeError
from mssql_extract.tsql import extract_scripts, parse_text

CONTOSO = Path(__file__).resolve().parents[2] / "fixtures" / "estates" / "contoso"
ORIGIN = "fuzz.sql"
#: Seconds one input may take before it counts as a hang.
HANG_SECONDS = 10

#: Words and fragments that steer generated text into the parser's statement handlers.
KEYWORDS = (
    "GRANT", "DENY", "REVOKE", "CREATE", "ALTER", "DROP", "LOGIN", "USER", "ROLE", "SERVER",
    "APPLICATION", "SCHEMA", "AUTHORIZATION", "ON", "TO", "FROM", "AS", "WITH", "GRANT OPTION",
    "CASCADE", "OBJECT::", "SCHEMA::", "DATABASE::", "LOGIN::", "USER::", "ROLE::", "TYPE::",
    "ADD MEMBER", "DROP MEMBER", "EXEC", "EXECUTE", "sp_addrolemember", "sp_addsrvrolemember",
    "sp_droprolemember", "sp_addlogin", "sp_change_users_login", "USE", "IF NOT EXISTS", "BEGIN",
    "END", "ELSE", "PASSWORD", "HASHED", "SID", "DEFAULT_SCHEMA", "FOR LOGIN", "WITHOUT LOGIN",
    "PROCEDURE", "FUNCTION", "VIEW", "TABLE", "EXECUTE AS OWNER", "SECURITY POLICY",
    "ADD FILTER PREDICATE", "MASKED WITH", "SELECT", "INSERT", "UPDATE", "DELETE", "CONTROL",
    "CASE", "WHEN", "THEN", "RETURN", "DISABLE", "ENABLE", "SET", "PRINT", "DECLARE",
)  # fmt: skip
PUNCTUATION = (
    "[", "]", "]]", "'", "''", '"', '""', "N'", "0x", "0x0200AB", "::", ";", ",", ".", "..",
    "(", ")", "=", "@", "@rc", "$(", "$(x)", "$(unset)", "--", "/*", "*/", "\n", "\r\n", "\r",
    "\t", " ", "GO", "\nGO\n", "\nGO 2\n", "\nGO \u00b2\n", "\nGO 99999999999999999999\n",
    "\n:setvar x \"1\"\n", "\n:setvar\n", "\n:r other.sql\n", "\n:on error exit\n",
    "\u202e", "\u200f", "e\u0301", "\U0001f600", "\x00", "\ufeff", "\ud800", "\x0b", "\x85",
    "\u2028", "$$", "\\", "%", "#", "##temp", "1e309", "-1", "999999999999999999999",
)  # fmt: skip
_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")


# --------------------------------------------------------------------------- generating inputs


def _seeds() -> list[str]:
    return [p.read_text(encoding="utf-8") for p in sorted(CONTOSO.glob("*.sql"))]


SEEDS: list[str] = _seeds()


def _fragment(rng: Random) -> str:
    roll = rng.random()
    if roll < 0.45:
        return rng.choice(KEYWORDS)
    if roll < 0.85:
        return rng.choice(PUNCTUATION)
    if roll < 0.95:
        return "".join(chr(rng.randrange(0x20, 0x7F)) for _ in range(rng.randrange(1, 8)))
    return "".join(chr(rng.randrange(0x110000)) for _ in range(rng.randrange(1, 4)))


def arbitrary(rng: Random) -> str:
    """Text made of keywords, punctuation and random characters, joined by spaces or not."""
    glue = rng.choice(("", " ", "\n"))
    return glue.join(_fragment(rng) for _ in range(rng.randrange(0, 40)))


def _truncate(rng: Random, text: str) -> str:
    return text[: rng.randrange(len(text) + 1)]


def _delete_tokens(rng: Random, text: str) -> str:
    tokens = _TOKEN.findall(text)
    if not tokens:
        return text
    start = rng.randrange(len(tokens))
    del tokens[start : start + rng.randrange(1, 4)]
    return "".join(tokens)


def _quote_positions(text: str) -> list[int]:
    return [i for i, c in enumerate(text) if c in "'\"[]"]


def _double_quote(rng: Random, text: str) -> str:
    """Double, drop or add one quote character (the classic unterminated-string mistakes)."""
    spots = _quote_positions(text)
    if not spots:
        return text + rng.choice("'\"[]")
    i = rng.choice(spots)
    return rng.choice((text[: i + 1] + text[i:], text[:i] + text[i + 1 :]))


def _insert(rng: Random, text: str) -> str:
    i = rng.randrange(len(text) + 1)
    return text[:i] + _fragment(rng) + text[i:]


def _replace_char(rng: Random, text: str) -> str:
    if not text:
        return text
    i = rng.randrange(len(text))
    return text[:i] + chr(rng.randrange(0x110000)) + text[i + 1 :]


def _shuffle_lines(rng: Random, text: str) -> str:
    lines = text.split("\n")
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    action = rng.randrange(3)
    if action == 0:
        lines[i], lines[j] = lines[j], lines[i]
    elif action == 1:
        lines.insert(j, lines[i])
    else:
        del lines[i]
    return "\n".join(lines)


TEXT_MUTATORS: tuple[Callable[[Random, str], str], ...] = (
    _truncate, _delete_tokens, _double_quote, _insert, _replace_char, _shuffle_lines,
)  # fmt: skip


def _flip_bytes(rng: Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randrange(1, 5)):
        i = rng.randrange(len(out) + 1)
        out[i:i] = bytes([rng.randrange(256)])
    return bytes(out)


def _utf16(rng: Random, data: bytes) -> bytes:
    """UTF-16 with a byte-order mark, sometimes cut at an odd byte or with a lone surrogate."""
    text = data.decode("utf-8", "replace")
    encoded = text.encode(rng.choice(("utf-16", "utf-16-le", "utf-16-be")))
    if not encoded.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoded = (b"\xff\xfe" if rng.random() < 0.5 else b"\xfe\xff") + encoded
    roll = rng.random()
    if roll < 0.3 and len(encoded) > 2:
        return encoded[: rng.randrange(2, len(encoded))]
    if roll < 0.6:
        i = 2 + 2 * rng.randrange(max(1, (len(encoded) - 2) // 2))
        return encoded[:i] + rng.choice((b"\x00\xd8", b"\xd8\x00", b"\x00\xdc")) + encoded[i:]
    return encoded


def _random_bytes(rng: Random, data: bytes) -> bytes:
    prefix = rng.choice((b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"))
    return prefix + bytes(rng.randrange(256) for _ in range(rng.randrange(0, 64)))


BYTE_MUTATORS: tuple[Callable[[Random, bytes], bytes], ...] = (_flip_bytes, _utf16, _random_bytes)


def generate(rng: Random) -> str | bytes:
    """One fuzz input: arbitrary text, or a mutated contoso script (window or whole file).

    A fifth of the inputs become bytes (random bytes, invalid UTF-8, broken UTF-16) that go
    through the file decoder of ``extract_scripts``.
    """
    roll = rng.random()
    if roll < 0.3:
        text = arbitrary(rng)
    else:
        seed = rng.choice(SEEDS)
        if roll < 0.75:
            lines = seed.split("\n")
            start = rng.randrange(len(lines))
            seed = "\n".join(lines[start : start + rng.randrange(1, 40)])
        text = seed
        for _ in range(rng.randrange(1, 4)):
            text = rng.choice(TEXT_MUTATORS)(rng, text)
    if rng.random() < 0.2:
        data = text.encode("utf-8", "surrogatepass")
        return rng.choice(BYTE_MUTATORS)(rng, data)
    return text


# --------------------------------------------------------------------------- the property


@dataclass(frozen=True)
class Failure:
    """An input broke the property: what happened, and where in the code."""

    kind: str  # "crash", "no-location", "hang"
    signature: str
    detail: str


class Hang(Exception):
    """Raised by the alarm when one input takes longer than :data:`HANG_SECONDS`."""


def _alarm(_signum: int, _frame: FrameType | None) -> None:
    raise Hang


def _signature(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/mssql_extract/" in f.filename or "/grantbridge/" in f.filename]
    last = (ours or frames)[-1] if frames else None
    where = f"{Path(last.filename).name}:{last.lineno} {last.name}" if last else "?"
    return f"{type(exc).__name__} at {where}"


def _check_location(exc: GrantbridgeError, origin: str) -> Failure | None:
    loc = exc.location
    if loc.file == origin and loc.line is not None and loc.line >= 1:
        return None
    return Failure("no-location", f"{type(exc).__name__}: {exc.message[:60]}", str(exc)[:300])


def run_one(data: str | bytes, *, lenient: bool, workdir: Path) -> Failure | None:
    """Extract one input (text: ``parse_text``; bytes: a file through ``extract_scripts``)."""
    path = workdir / ORIGIN
    origin = path.as_posix() if isinstance(data, bytes) else ORIGIN
    variables = {"x": "1"}
    try:
        if isinstance(data, bytes):
            path.write_bytes(data)
            extract_scripts([path], variables=variables, lenient=lenient)
        else:
            parse_text(data, ORIGIN, variables=variables, lenient=lenient)
    except GrantbridgeError as exc:
        return _check_location(exc, origin)
    except Hang:
        return Failure("hang", "hang", f"more than {HANG_SECONDS}s")
    except Exception as exc:
        summary = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return Failure("crash", _signature(exc), summary[:300])
    return None


def check(data: str | bytes, workdir: Path) -> list[Failure]:
    """Run one input strict and lenient, each under the hang alarm."""
    failures = []
    previous = signal.signal(signal.SIGALRM, _alarm)
    try:
        for lenient in (False, True):
            signal.alarm(HANG_SECONDS)
            try:
                failure = run_one(data, lenient=lenient, workdir=workdir)
            finally:
                signal.alarm(0)
            if failure is not None:
                failures.append(failure)
    finally:
        signal.signal(signal.SIGALRM, previous)
    return failures


# --------------------------------------------------------------------------- the campaign


def input_for(seed: int, index: int) -> str | bytes:
    """The campaign's input number ``index`` (reproducible from the seed alone)."""
    return generate(Random(f"{seed}:{index}"))


def _work(job: tuple[int, int, int]) -> dict[str, tuple[int, int, str, str]]:
    """Run inputs [start, stop): signature → (count, first index, kind, detail)."""
    seed, start, stop = job
    found: dict[str, tuple[int, int, str, str]] = {}
    with tempfile.TemporaryDirectory(prefix="gbfuzz") as tmp:
        for index in range(start, stop):
            for failure in check(input_for(seed, index), Path(tmp)):
                count, first, kind, detail = found.get(
                    failure.signature, (0, index, failure.kind, failure.detail)
                )
                found[failure.signature] = (count + 1, first, kind, detail)
    return found


def campaign(count: int, seed: int, workers: int, chunk: int = 500) -> dict[str, object]:
    """Run ``count`` inputs on ``workers`` processes; a JSON-ready summary of what broke."""
    jobs = [(seed, s, min(s + chunk, count)) for s in range(0, count, chunk)]
    merged: dict[str, tuple[int, int, str, str]] = {}
    started, done = time.monotonic(), 0
    with multiprocessing.Pool(workers) as pool:
        for found in pool.imap_unordered(_work, jobs):
            done += chunk
            for sig, (n, first, kind, detail) in found.items():
                old = merged.get(sig, (0, first, kind, detail))
                merged[sig] = (old[0] + n, min(old[1], first), kind, detail)
            print(f"{min(done, count)}/{count} inputs, {len(merged)} failure kinds,"
                  f" {time.monotonic() - started:.0f}s", file=sys.stderr, flush=True)  # fmt: skip
    failures = [
        {"signature": s, "kind": k, "count": n, "first_index": i, "detail": d}
        for s, (n, i, k, d) in sorted(merged.items())
    ]
    return {"inputs": count, "seed": seed, "runs_per_input": 2, "failures": failures,
            "seconds": round(time.monotonic() - started)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Command line of the campaign; exit 1 when any input broke the property."""
    parser = argparse.ArgumentParser(prog="python -m tests.reliability.fuzz")
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--replay", type=int, help="print input INDEX and its outcome, then exit")
    parser.add_argument("--report", type=Path, help="also write the summary JSON here")
    args = parser.parse_args(argv)
    if args.replay is not None:
        data = input_for(args.seed, args.replay)
        print(repr(data))
        with tempfile.TemporaryDirectory() as tmp:
            print(check(data, Path(tmp)) or "ok")
        return 0
    summary = campaign(args.count, args.seed, args.workers)
    text = json.dumps(summary, indent=2, ensure_ascii=False)
    print(text)
    if args.report:
        args.report.write_text(text + "\n", encoding="utf-8")
    return 1 if summary["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
