"""Idempotence, atomicity and rollback of ``apply`` at scale (issue 8, item 5): runner and helpers.

Run on a benchmark estate (any scale of ``bench.scales``: XS, S, M, L or ``rows<N>``;
``--databases``, ``--principals`` and ``--permission-rows`` override its sizes)::

    uv run python -m tests.reliability.scale_apply --scale M --seed 0
    uv run python -m tests.reliability.scale_apply --scale rows50000 --failures 5 --dsn "$DSN"
    uv run python -m tests.reliability.scale_apply --scale M --permission-rows 100000

The runner generates the estate (``bench.generate``), plans and renders it, and creates its
databases with stub objects owned by the connected user on a throwaway embedded PostgreSQL
(``pg_emit.server.embedded_server``) or on ``--dsn`` (there the database names get a unique
``gbscale…_`` prefix: such a server is shared). A pristine copy of each database is kept as a
template, so every check starts from a fresh copy (``Target.reset``). Then, reading the catalogs
directly (``tests/reliability/catalog.py``: what it reads, and why rollback compares ACLs through
``acldefault()``):

1. **apply twice**: ``apply_plan_dir`` (what ``grantbridge apply`` runs) changes the catalog, and
   a second run leaves it byte-identical;
2. **rollback**: ``sql/rollback.sql`` after the apply gives back the state before it;
3. **failure at a random statement** (``--failures N``: seeds 1 … N, each on a fresh copy): a
   failing ``GRANT`` inserted before a seeded random statement of ``01`` … ``07`` makes the apply
   fail, and the catalog is exactly what it was before. A plan spanning several databases cannot
   be one transaction (PostgreSQL has none across databases; see ``pg_emit.apply``), so there the
   expected state is the one after exactly the sections that committed before the failing one
   (measured on another fresh copy); in both cases ``rollback.sql`` then gives back the state
   before the apply.

It prints the counts (databases, roles, statements, catalog rows compared, ACL entries) and the
time of each step, and exits 1 on any difference (the first few are printed), 2 on bad arguments.

The CI test (``test_scale_apply.py``) runs the same checks on a one-database 1,500-row estate and
on XS (two databases).
"""

from __future__ import annotations

import argparse
import gc
import random
import re
import resource
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path

from bench.scales import Scale, get_scale
from pg_emit.apply import APPLY_ORDER, ApplyFailed, apply_plan_dir, run_scripts
from pg_emit.psql import parse_script
from pg_emit.render import render_sql
from pg_emit.server import connect, embedded_server, redact
from tests.reliability.catalog import Catalog, read_catalog
from tests.reliability.target import Target, estate_plan, slim, unique_prefix, write_plan_dir

ROLLBACK = "sql/rollback.sql"

#: The statement inserted to make an apply fail: it names a table that does not exist.
FAILING = "GRANT SELECT ON TABLE grantbridge_no_such_table TO PUBLIC;\n"

#: The server's version and lock table size: max_locks_per_transaction × (max_connections +
#: max_prepared_transactions). CREATE ROLE and ALTER … OWNER each hold a lock until commit, so
#: 01_roles.sql (one transaction) fails with "out of shared memory" beyond a few times that many
#: new roles (PostgreSQL 16 defaults: 6,400 nominal; measured: after 12,876 CREATE ROLEs).
LOCKS_SQL = """
SELECT current_setting('server_version'),
       current_setting('max_locks_per_transaction')::int
       * (current_setting('max_connections')::int
          + current_setting('max_prepared_transactions')::int),
       current_setting('max_locks_per_transaction')::int
"""

#: A statement starting at the beginning of a line (lines inside DO blocks are indented).
STATEMENT = re.compile(r"^(?:GRANT|REVOKE|ALTER|CREATE|COMMENT|DO) ", re.MULTILINE)

# --- the checks


@dataclass(frozen=True)
class Check:
    """One property checked: how many catalog rows were compared, what differed, how long."""

    name: str
    rows: int
    differences: tuple[str, ...]
    seconds: float

    @property
    def passed(self) -> bool:
        return not self.differences


def _check(name: str, start: float, before: Catalog, after: Catalog, *, normalized: bool) -> Check:
    found = tuple(before.differences(after, normalized=normalized))
    rows = len(before.rows.keys() | after.rows.keys())
    return Check(name, rows, found, time.perf_counter() - start)


def check_apply_twice(target: Target, plan_dir: Path, before: Catalog) -> Check:
    """On a fresh copy: apply changes the catalog; a second apply leaves it byte-identical."""
    start = time.perf_counter()
    try:
        apply_plan_dir(plan_dir, target.dsn)
        once = read_catalog(target.dsn, target.plan)
        if not before.differences(once):
            return Check("apply twice", len(once.rows), ("apply changed nothing",), 0.0)
        apply_plan_dir(plan_dir, target.dsn)
    except ApplyFailed as exc:  # e.g. the server's lock table is too small (see LOCKS_SQL)
        return Check("apply twice", 0, (f"the apply failed: {exc}",), time.perf_counter() - start)
    return _check(
        "apply twice", start, once, read_catalog(target.dsn, target.plan), normalized=False
    )


def check_rollback(target: Target, scripts: Mapping[str, str], before: Catalog, name: str) -> Check:
    """``rollback.sql`` gives back ``before`` (ACLs compared through ``acldefault``)."""
    start = time.perf_counter()
    run_scripts(target.dsn, [(ROLLBACK, scripts[ROLLBACK])])
    after = read_catalog(target.dsn, target.plan)
    return _check(name, start, before, after, normalized=True)


@dataclass(frozen=True)
class Injection:
    """The apply scripts with a failing statement, and what commits before it fails."""

    scripts: tuple[tuple[str, str], ...]
    committed: tuple[tuple[str, str], ...]
    script: str
    line: int


def inject_failure(scripts: Mapping[str, str], seed: int) -> Injection:
    """Insert :data:`FAILING` before a seeded random statement of ``01`` … ``07``.

    ``committed`` holds the scripts before that one and that one up to the start of the failing
    section (its ``BEGIN;``): what a multi-database apply commits before it fails.
    """
    candidates = [
        (name, match.start()) for name in APPLY_ORDER for match in STATEMENT.finditer(scripts[name])
    ]
    name, position = random.Random(seed).choice(candidates)
    text = scripts[name]
    section = text.rfind("\nBEGIN;\n", 0, position) + 1
    failing = text[:position] + FAILING + text[position:]
    index = APPLY_ORDER.index(name)
    before = tuple((n, scripts[n]) for n in APPLY_ORDER[:index])
    after = tuple((n, scripts[n]) for n in APPLY_ORDER[index + 1 :])
    return Injection(
        scripts=(*before, (name, failing), *after),
        committed=(*before, (name, text[:section])),
        script=name,
        line=text.count("\n", 0, position) + 1,
    )


def one_transaction(scripts: Sequence[tuple[str, str]]) -> bool:
    """Does ``run_scripts`` run these in one transaction (every section in one database)?"""
    parsed = [s for name, text in scripts for s in parse_script(text, name)]
    home = next((s.database for s in parsed if s.database), None)
    return len({s.database or home for s in parsed}) <= 1


def check_failure(
    target: Target, scripts: Mapping[str, str], seed: int, before: Catalog
) -> tuple[Check, Check]:
    """On fresh copies: a failing apply leaves the catalog as the module docstring says, and
    ``rollback.sql`` then gives back ``before``. Leaves the target in the rolled-back state."""
    start = time.perf_counter()
    injection = inject_failure(scripts, seed)
    where = f"{injection.script.removeprefix('sql/')}:{injection.line}"
    name = f"failure at {where} (seed {seed})"
    expected = before
    if not one_transaction(injection.scripts):
        target.reset()
        run_scripts(target.dsn, injection.committed)
        expected = read_catalog(target.dsn, target.plan)
    target.reset()
    try:
        run_scripts(target.dsn, injection.scripts)
    except ApplyFailed as exc:
        if "grantbridge_no_such_table" not in str(exc):
            raise
    else:
        return (Check(name, 0, ("the apply did not fail",), 0.0), Check("", 0, (), 0.0))
    failed = read_catalog(target.dsn, target.plan)
    check = _check(name, start, expected, failed, normalized=False)
    recovered = check_rollback(target, scripts, before, f"rollback after the failure (seed {seed})")
    return check, recovered


# --- the runner


@dataclass
class Report:
    """What the runner prints: counts and timed steps."""

    lines: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)

    def say(self, text: str) -> None:
        self.lines.append(text)
        print(text, flush=True)

    def add(self, check: Check) -> None:
        self.checks.append(check)
        verdict = "ok" if check.passed else f"FAILED: {len(check.differences)} differences"
        self.say(
            f"  {check.name}: {check.rows:,} catalog rows compared, "
            f"{check.seconds:.1f} s, {verdict}"
        )
        for line in check.differences[:10]:
            self.say(f"    {line}")


def _peak_rss_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


PSS = re.compile(r"^Pss:\s+(\d+) kB", re.MULTILINE)


class ServerMemory:
    """Peak memory of a local server: the summed PSS of its postmaster and children (Linux).

    A thread samples ``/proc`` every ``interval`` seconds; ``peak_mb`` is None when the server
    is not local (its ``postmaster.pid`` is not readable here).
    """

    def __init__(self, dsn: str, interval: float = 2.0) -> None:
        with connect(dsn) as conn:
            row = conn.execute("SHOW data_directory").fetchone()
        try:
            text = (Path(str(row[0])) / "postmaster.pid").read_text() if row else ""
            self.postmaster: int | None = int(text.split()[0])
        except (OSError, ValueError, IndexError):
            self.postmaster = None
        self.peak_mb: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)
        if self.postmaster is not None:
            self._thread.start()

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self.sample()

    def sample(self) -> None:
        """Add the current PSS of the postmaster and its children to the peak."""
        if self.postmaster is None:
            return
        kb = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                pid, ppid = (
                    int(stat.parent.name),
                    int(stat.read_text().rsplit(")", 1)[1].split()[1]),
                )
                if self.postmaster in (pid, ppid):
                    rollup = (stat.parent / "smaps_rollup").read_text()
                    pss = PSS.search(rollup)
                    kb += int(pss[1]) if pss else 0
            except (OSError, ValueError, IndexError):
                continue  # a backend that just ended
        self.peak_mb = max(self.peak_mb or 0, kb // 1024)

    def stop(self) -> None:
        self._stop.set()
        self.sample()


def _statements(scripts: Mapping[str, str], names: Sequence[str]) -> int:
    return sum(len(s.statements) for n in names for s in parse_script(scripts[n], n))


def run(scale: Scale, seed: int, failures: int, dsn: str | None, report: Report) -> bool:
    """Every check on the estate of ``scale``; True when all hold."""
    with ExitStack() as stack:
        start = time.perf_counter()
        # a throwaway server holds nothing else: the benchmark's own names; a shared one: unique
        estate = estate_plan(scale, seed, unique_prefix() if dsn else "")
        scripts = render_sql(estate)
        report.say(
            f"scale {scale.name} (seed {seed}): {scale.databases} databases, {scale.principals:,} "
            f"principals, {scale.permission_rows:,} permission rows; planned and rendered in "
            f"{time.perf_counter() - start:.1f} s (peak RSS {_peak_rss_mb():,} MB)"
        )
        report.say(
            f"plan: {len(estate.databases)} databases, {len(estate.roles):,} roles, "
            f"{len(estate.memberships):,} memberships, {len(estate.objects):,} objects, "
            f"{len(estate.grants):,} grants, {len(estate.revokes):,} revokes, "
            f"{len(estate.default_privileges):,} default privileges"
        )
        report.say(
            f"statements: {_statements(scripts, APPLY_ORDER):,} in 01-07, "
            f"{_statements(scripts, [ROLLBACK]):,} in rollback.sql"
        )
        server = dsn or stack.enter_context(embedded_server())
        with connect(server) as conn:
            version, locks, per_transaction = conn.execute(LOCKS_SQL).fetchone() or ("?", 0, 0)
        report.say(
            f"server: {redact(server) if dsn else 'embedded (throwaway)'}, PostgreSQL {version}; "
            f"lock table {locks:,} locks (max_locks_per_transaction {per_transaction})"
        )
        memory = ServerMemory(server)
        stack.callback(memory.stop)
        target = Target(server, estate)
        stack.callback(target.drop)
        start = time.perf_counter()
        target.create()
        objects = len(estate.objects)
        work = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        plan_dir = write_plan_dir(work, estate, scripts)
        # from here on only the databases and roles are needed: apply reads plan.json itself
        estate = target.plan = slim(estate)
        gc.collect()
        before = read_catalog(server, estate)
        report.say(
            f"target: databases and {objects:,} stub objects in "
            f"{time.perf_counter() - start:.1f} s; {len(before.rows):,} catalog rows, "
            f"{before.acl_entries:,} ACL entries before the apply"
        )
        report.add(check_apply_twice(target, plan_dir, before))
        report.add(check_rollback(target, scripts, before, "rollback after the apply"))
        for failure_seed in range(1, failures + 1):
            for check in check_failure(target, scripts, failure_seed, before):
                report.add(check)
        compared = sum(c.rows for c in report.checks)
        memory.stop()
        server_peak = "not local" if memory.peak_mb is None else f"{memory.peak_mb:,} MB"
        report.say(
            f"{len(report.checks)} checks, {compared:,} catalog rows compared; peak memory: "
            f"this process {_peak_rss_mb():,} MB RSS, the server {server_peak} (PSS)"
        )
    return all(c.passed for c in report.checks)


#: Scale fields the command line may override.
SIZES = ("databases", "principals", "permission_rows")


def main(argv: Sequence[str]) -> int:
    """Parse the arguments, run, and return the exit status (0 ok, 1 a difference, 2 usage)."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.reliability.scale_apply", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--scale", required=True, help="XS, S, M, L or rows<N> (bench.scales)")
    parser.add_argument("--seed", type=int, default=0, help="the estate generator's seed")
    parser.add_argument("--failures", type=int, default=3, help="injected failures (seeds 1 … N)")
    parser.add_argument("--dsn", help="a PostgreSQL to use instead of an embedded one")
    for name in SIZES:
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, help=f"override {name}")
    args = parser.parse_args(argv)
    try:
        scale = get_scale(args.scale)
    except KeyError:
        parser.error(f"unknown scale {args.scale!r}: XS, S, M, L or rows<N>")
    sizes = {name: getattr(args, name) for name in SIZES if getattr(args, name) is not None}
    if any(value < 1 for value in sizes.values()):
        parser.error("sizes must be positive")
    if sizes:  # e.g. M's shape with fewer rows: --scale M --permission-rows 100000
        spelled = ",".join(f"{k}={v}" for k, v in sizes.items())
        scale = replace(scale, name=f"{scale.name}({spelled})", **sizes)
    # stopped by SIGINT or SIGTERM (also when started in the background): clean up the server
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))
    start = time.perf_counter()
    passed = run(scale, args.seed, args.failures, args.dsn, Report())
    verdict = "all checks passed" if passed else "DIFFERENCES FOUND"
    print(f"{verdict} in {time.perf_counter() - start:.1f} s", flush=True)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
