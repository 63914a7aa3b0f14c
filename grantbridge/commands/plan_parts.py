"""``grantbridge plan --per-database``: one plan directory per database, never the whole estate
in memory (issue 7; docs/architecture.md, "Scale").

A large estate (bench scale L: 40 databases, 5M permission rows, a 2.4 GB snapshot) cannot be
planned whole on a laptop: its validated snapshot alone is about 10 GB. Databases are
independent once the server-level principals are known, so each database is planned with the
server part (logins, server roles, their memberships and permissions) and written as a plan
directory of its own, ``OUTDIR/<database>/``, which ``verify``, ``apply``, ``diff`` and
``drift`` read as any plan directory (and ``OUTDIR`` as the whole set:
:mod:`grantbridge.commands.plan_set`, :mod:`grantbridge.commands.diff_set`);
``OUTDIR/rollback.sql`` undoes every part (:mod:`pg_emit.render_set_rollback`). Each part is named as in the whole estate's plan
(``plan(…, part_of=N)``): a login's role, a database's roles, are the same names in every part
and in the whole plan, so the parts' scripts can be applied to one cluster, in any order, and
add up to the whole plan's (``tests/test_plan_per_database.py`` checks the union of the parts
against the whole plan). What differs is what a server-level fact says about the other
databases: a downscoped sysadmin member's finding lists only the part's own ``db_owner`` role.

The databases are cut out of the snapshot file as text (:mod:`mssql_extract.snapshot_parts`)
and planned by ``--jobs`` worker processes, each holding one part at a time; ``parts.json``
lists the parts. A snapshot not in the canonical layout is loaded whole and split in memory.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path

from grantbridge.commands import PARTS_FILE
from grantbridge.errors import GrantbridgeError, InputError, Location
from grantbridge.output import Layout, atomic_directory
from mapper.plan import MigrationPlan
from mapper.planner import plan as make_plan
from mapper.policy import Policy
from mssql_extract.snapshot import SecuritySnapshot
from mssql_extract.snapshot_parts import (
    DatabaseText,
    ServerPart,
    database_names,
    database_texts,
    file_line,
    part_text,
    scan,
    server_part,
)
from pg_emit.artifacts import write_artifacts
from pg_emit.render_set_report import SET_REPORT, SetPart, decisions, render_set_report
from pg_emit.render_set_rollback import SET_ROLLBACK, Leftover, leftover, render_set_rollback


def parts_layout(plan_layout: Layout) -> Layout:
    """``parts.json``, the set's ``report.md`` and ``rollback.sql``, and one plan directory
    (``plan_layout``) per database."""
    files = (PARTS_FILE, SET_REPORT, SET_ROLLBACK, *plan_layout.under("*"))
    return Layout(marker=PARTS_FILE, files=files)


def default_jobs() -> int:
    """The worker processes ``--jobs`` defaults to: the CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class _Job:
    """One part to plan: the server part's text and one database's (cut out of a canonical
    file), or, with no ``server``, the part's whole text."""

    index: int
    server: ServerPart | None
    item: DatabaseText
    origin: str
    policy: Policy
    target: MigrationPlan | None
    part_of: int
    directory: Path


@dataclass(frozen=True, kw_only=True)
class Part(SetPart):
    """What one part's plan holds, for ``parts.json``, the set's report and the command's
    summary. The server facts' dispositions are by key: most are in every part, some in one
    (``server/database:<name>``)."""

    index: int
    fingerprint: str
    #: what the part's rollback leaves for the set's (the roles every part shares)
    leftover: Leftover = field(default_factory=Leftover)


#: The part's one database in a validation error's path (``databases.0.name``).
_FIRST = re.compile(r"\bdatabases\.0\b")


def _read(job: _Job) -> SecuritySnapshot:
    """The part's snapshot; a problem is located in the file, not in the part's text."""
    if job.server is None:
        return SecuritySnapshot.from_json(job.item.text, origin=job.origin)
    try:
        return SecuritySnapshot.from_json(part_text(job.server, job.item), origin=job.origin)
    except InputError as exc:  # said as loading the whole file says it
        where, path = exc.location, f"databases.{job.index}"
        line = where.line and file_line(Path(job.origin), job.server, job.item, where.line)
        key = where.key and _FIRST.sub(path, where.key)
        message = _FIRST.sub(path, exc.message)
        raise type(exc)(message, replace(where, line=line, key=key)) from None


def _plan_part(job: _Job) -> Part:
    """Plan one part and write its plan directory (run in a worker process)."""
    snapshot = _read(job)
    result = make_plan(snapshot, job.policy, job.target, part_of=job.part_of)
    (database,) = (db.name for db in snapshot.databases)
    del snapshot
    job.directory.mkdir()
    result.write_json(job.directory / "plan.json")
    write_artifacts(result, job.directory)
    dispositions: Counter[str] = Counter()
    server: dict[str, str] = {}
    for d in result.dispositions:
        if d.fact.startswith("server/"):
            server[d.fact] = d.disposition.value
        else:
            dispositions[d.disposition.value] += 1
    return Part(
        index=job.index, database=database, fingerprint=result.fingerprint, part_of=job.part_of,
        roles=len(result.roles), memberships=len(result.memberships),
        grants=len(result.grants), default_privileges=len(result.default_privileges),
        revokes=len(result.revokes), dispositions=dispositions, server_dispositions=server,
        findings={f.key: f.severity for f in result.findings if not f.accepted},
        decisions=decisions(result), leftover=leftover(result),
    )  # fmt: skip


def _jobs(
    path: Path, policy: Policy, target: MigrationPlan | None, scratch: Path,
    load: Callable[[], SecuritySnapshot], only: Sequence[str] = (),
) -> Iterator[_Job]:  # fmt: skip
    """One job per database (``only``: per database so named), in the snapshot's order: cut
    out of the file as text, or, for a snapshot not in the canonical layout, split from the
    whole snapshot ``load`` reads. Every part is named as in the whole estate's plan, the
    databases left out counted (``part_of``)."""
    names: list[str] = []
    try:
        layout = scan(path)
        server = None if layout is None else server_part(path, layout)
        names = [] if layout is None else database_names(path, layout)
    except (OSError, UnicodeDecodeError):  # the whole load says what is wrong, and where
        layout = server = None
    items: Iterable[tuple[int, DatabaseText]]
    if layout is not None and server is not None:
        count = len(layout.items)
        chosen = selected(names, only, path)
        items = zip(sorted(chosen), database_texts(path, layout, chosen), strict=True)
    else:
        whole = load()
        count = len(whole.databases)
        chosen = selected([db.name for db in whole.databases], only, path)
        items = [
            (index, DatabaseText(0, whole.model_copy(update={"databases": (db,)}).to_json()))
            for index, db in enumerate(whole.databases)
            if index in chosen
        ]
        del whole
    if count == 0:
        raise InputError(
            "the snapshot holds no database: plan it without --per-database", Location(str(path))
        )
    for index, item in items:
        yield _Job(
            index, server, item, str(path), policy, target, count, scratch / f".part-{index}"
        )


def selected(names: Sequence[str], only: Sequence[str], path: Path) -> set[int]:
    """The positions of the databases ``only`` names (every one when it names none), matched
    without case as SQL Server's default collation matches database names; a name the snapshot
    does not hold is exit 2, naming those it does."""
    if not only:
        return set(range(len(names)))
    where = {name.casefold(): index for index, name in enumerate(names)}
    missing = [name for name in only if name.casefold() not in where]
    if missing:
        held = ", ".join(names) or "none"
        raise InputError(
            f"--database {missing[0]!r}: the snapshot holds no such database (it holds: {held})",
            Location(str(path)),
        )
    return {where[name.casefold()] for name in only}


def _planned(jobs: Iterator[_Job], workers: int) -> Iterator[Part]:
    """Each job planned, in order; at most ``workers`` parts (and their texts) at a time."""
    if workers == 1:
        yield from map(_plan_part, jobs)
        return
    pool = ProcessPoolExecutor(max_workers=workers)
    pending: deque[tuple[_Job, Future[Part]]] = deque()
    try:
        for job in jobs:
            pending.append((job, pool.submit(_plan_part, job)))
            if len(pending) >= workers:
                yield _result(*pending.popleft())
        while pending:
            yield _result(*pending.popleft())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _result(job: _Job, future: Future[Part]) -> Part:
    """The part ``future`` planned; a worker that died (killed: the kernel's out-of-memory
    killer, most likely) is an error naming the database, not a traceback."""
    try:
        return future.result()
    except BrokenProcessPool:
        raise GrantbridgeError(
            f"a worker process stopped while planning database {_name(job)} (out of memory?): "
            "run with fewer --jobs",
            Location(job.origin),
        ) from None


def _name(job: _Job) -> str:
    """The database's name, from its text's first field (``Database.name``), quoted."""
    lines = job.item.text.split("\n", 2)
    try:
        return repr(json.loads(lines[1].partition(":")[2].rstrip().rstrip(",")))
    except (IndexError, ValueError):
        return f"number {job.index + 1}"


def directory_names(databases: list[str]) -> list[str]:
    """A directory name per database: its name with every character other than a letter, a
    digit, ``_`` and ``-`` replaced by ``_``, and ``-2``, ``-3``… after a name met before
    (compared without case: a case-insensitive file system holds one of ``Sales`` and
    ``SALES``)."""
    names: list[str] = []
    taken: set[str] = set()
    for database in databases:
        base = re.sub(r"[^A-Za-z0-9_-]", "_", database) or "_"
        name, n = base, 1
        while name.casefold() in taken:
            n += 1
            name = f"{base}-{n}"
        taken.add(name.casefold())
        names.append(name)
    return names


def plan_per_database(
    path: Path, output: Path, layout: Layout, policy: Policy, target: MigrationPlan | None,
    workers: int, load: Callable[[], SecuritySnapshot], step: Callable[[str], None],
    only: Sequence[str] = (),
) -> list[Part]:  # fmt: skip
    """Plan the snapshot at ``path`` one database at a time (``only``: the databases so named)
    into ``output`` (``layout``: :func:`parts_layout`), atomically: a failing part, or a name
    the snapshot does not hold, leaves no output directory."""
    parts: list[Part] = []
    with atomic_directory(output, layout) as scratch:
        for part in _planned(_jobs(path, policy, target, scratch, load, only), workers):
            parts.append(part)
            step(f"planned {part.database}: {part.grants:,} grants, {part.roles:,} roles")
        names = directory_names([p.database for p in parts])
        parts = [_moved(p, name, scratch) for p, name in zip(parts, names, strict=True)]
        (scratch / PARTS_FILE).write_text(_index(parts), encoding="utf-8")
        rollback = render_set_rollback(names, [p.leftover for p in parts], policy.target)
        (scratch / SET_ROLLBACK).write_text(rollback, encoding="utf-8")
        report = render_set_report(parts, policy.target)
        (scratch / SET_REPORT).write_text(report, encoding="utf-8")
    return parts


def _moved(part: Part, name: str, scratch: Path) -> Part:
    (scratch / f".part-{part.index}").rename(scratch / name)
    return replace(part, directory=name)


def _index(parts: list[Part]) -> str:
    """``parts.json``: each part's database, directory, fingerprint and counts."""
    rows = [
        {"database": p.database, "directory": p.directory, "fingerprint": p.fingerprint,
         "roles": p.roles, "memberships": p.memberships, "grants": p.grants,
         "default_privileges": p.default_privileges, "revokes": p.revokes,
         "open_findings": {s.value: n for s, n in sorted(
             Counter(p.findings.values()).items(), key=lambda sn: sn[0].rank, reverse=True)}}
        for p in parts
    ]  # fmt: skip
    return json.dumps({"schema_version": 1, "parts": rows}, indent=2) + "\n"
