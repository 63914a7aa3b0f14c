"""Idempotence, atomicity and rollback of ``apply`` at scale (issue 8, item 5): runner and helpers.

Run on a benchmark estate (any scale of ``bench.scales``: XS, S, M, L or ``rows<N>``)::

    uv run python -m tests.reliability.scale_apply --scale M --seed 0
    uv run python -m tests.reliability.scale_apply --scale rows50000 --failures 3 --dsn postgresql://…

The runner generates the estate (``bench.generate``), plans and renders it, and creates its
databases (names get a unique ``gbscale…_`` prefix) with stub objects owned by the connected
user on a throwaway embedded PostgreSQL (``pg_emit.server.embedded_server``) or on ``--dsn``.
A pristine copy of each database is kept as a template, so every check starts from a fresh copy
(``Target.reset``). Then, reading the catalogs directly (:func:`read_catalog`):

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

**The catalog** (:func:`read_catalog`): in every database of the plan, the owner and the ACL of
the database, each schema (with its comment), relation, column, routine (with SECURITY DEFINER
and its settings), type, language, foreign-data wrapper, foreign server and large object, the
default ACLs, row-level security switches and policies; cluster-wide, the attributes, settings
and comments of the plan's roles, the RDS stand-ins, the ``pg_*`` roles and the connected user,
every membership involving them (with grantor and options), their per-database settings, and
the ACLs of tablespaces and (PostgreSQL 15+) parameters. Each row keeps the catalog text exactly
(``relacl::text``, NULL included) and a normalized form: the ACL entries, sorted, of
``coalesce(acl, acldefault(kind, owner))``. Apply-twice and failure checks compare the exact
text; rollback checks compare the normalized form, because PostgreSQL never turns an ACL back
into NULL: where an object had NULL (the built-in default) before the apply, rollback leaves the
same privileges spelled out, and ``acldefault()`` is PostgreSQL's own definition of what NULL
means. Nothing else is relaxed: owners, grantors, every entry and every other row are compared
as they are.

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
import uuid
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from bench.generate import generate_snapshot
from bench.scales import Scale, get_scale
from mapper.plan import MigrationPlan
from mapper.planner import plan as make_plan
from mapper.policy import Policy
from pg_emit import intent
from pg_emit.apply import APPLY_ORDER, ApplyFailed, apply_plan_dir, run_scripts
from pg_emit.psql import parse_script
from pg_emit.quoting import quote_ident
from pg_emit.render import render_sql
from pg_emit.server import connect, embedded_server, redact
from pg_emit.stubs import create_stubs

ROLLBACK = "sql/rollback.sql"

#: The statement inserted to make an apply fail: it names a table that does not exist.
FAILING = "GRANT SELECT ON TABLE grantbridge_no_such_table TO PUBLIC;\n"

#: A statement starting at the beginning of a line (lines inside DO blocks are indented).
STATEMENT = re.compile(r"^(?:GRANT|REVOKE|ALTER|CREATE|COMMENT|DO) ", re.MULTILINE)

_USER_NS = "nspname !~ '^pg_' AND nspname <> 'information_schema'"
_QUALIFIED = "quote_ident(ns.nspname) || '.' || quote_ident({})"

#: Per database: (kind, identity, owner, exact ACL text, normalized ACL, entries).
ACL_SQL = f"""
WITH ns AS (SELECT oid, nspname FROM pg_catalog.pg_namespace WHERE {_USER_NS}),
acl (kind, ident, owner, acl, dflt) AS (
  SELECT 'database', quote_ident(d.datname), d.datdba, d.datacl, acldefault('d', d.datdba)
  FROM pg_catalog.pg_database d WHERE d.datname = current_database()
  UNION ALL
  SELECT 'schema', quote_ident(ns.nspname), n.nspowner, n.nspacl, acldefault('n', n.nspowner)
  FROM pg_catalog.pg_namespace n JOIN ns ON ns.oid = n.oid
  UNION ALL
  SELECT 'relation', {_QUALIFIED.format("c.relname")}, c.relowner, c.relacl,
         acldefault(CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END::"char", c.relowner)
  FROM pg_catalog.pg_class c JOIN ns ON ns.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'c')
  UNION ALL
  SELECT 'column', {_QUALIFIED.format("c.relname")} || '.' || quote_ident(a.attname),
         c.relowner, a.attacl, acldefault('c', c.relowner)
  FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
  JOIN ns ON ns.oid = c.relnamespace
  WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
  UNION ALL
  SELECT 'routine',
         {_QUALIFIED.format("p.proname")} || '(' || pg_get_function_identity_arguments(p.oid) || ')',
         p.proowner, p.proacl, acldefault('f', p.proowner)
  FROM pg_catalog.pg_proc p JOIN ns ON ns.oid = p.pronamespace
  UNION ALL
  SELECT 'type', {_QUALIFIED.format("t.typname")}, t.typowner, t.typacl,
         acldefault('T', t.typowner)
  FROM pg_catalog.pg_type t JOIN ns ON ns.oid = t.typnamespace
  UNION ALL
  SELECT 'language', quote_ident(l.lanname), l.lanowner, l.lanacl, acldefault('l', l.lanowner)
  FROM pg_catalog.pg_language l
  UNION ALL
  SELECT 'foreign data wrapper', quote_ident(w.fdwname), w.fdwowner, w.fdwacl,
         acldefault('F', w.fdwowner)
  FROM pg_catalog.pg_foreign_data_wrapper w
  UNION ALL
  SELECT 'foreign server', quote_ident(s.srvname), s.srvowner, s.srvacl,
         acldefault('S', s.srvowner)
  FROM pg_catalog.pg_foreign_server s
  UNION ALL
  SELECT 'large object', m.oid::text, m.lomowner, m.lomacl, acldefault('L', m.lomowner)
  FROM pg_catalog.pg_largeobject_metadata m
)
SELECT kind, ident, pg_get_userbyid(owner), coalesce(acl::text, 'NULL'),
       coalesce((SELECT string_agg(x::text, ',' ORDER BY x::text)
                 FROM unnest(coalesce(acl, dflt)) x), ''),
       coalesce(cardinality(coalesce(acl, dflt)), 0)
FROM acl
"""

#: Per database: (kind, identity, attribute, value) of everything else the scripts may change.
OTHER_SQL = f"""
WITH ns AS (SELECT oid, nspname FROM pg_catalog.pg_namespace WHERE {_USER_NS})
SELECT 'default acl',
       quote_ident(pg_get_userbyid(d.defaclrole)) || ' in ' || coalesce(quote_ident(n.nspname), '*')
       || ' on ' || d.defaclobjtype::text, 'acl', d.defaclacl::text,
       coalesce((SELECT string_agg(x::text, ',' ORDER BY x::text) FROM unnest(d.defaclacl) x), ''),
       coalesce(cardinality(d.defaclacl), 0)
FROM pg_catalog.pg_default_acl d LEFT JOIN pg_catalog.pg_namespace n ON n.oid = d.defaclnamespace
UNION ALL
SELECT 'schema', quote_ident(ns.nspname), 'comment',
       coalesce(obj_description(ns.oid, 'pg_namespace'), ''), NULL, 0
FROM ns
UNION ALL
SELECT 'relation', {_QUALIFIED.format("c.relname")}, 'row security',
       concat_ws(' ', c.relrowsecurity, c.relforcerowsecurity), NULL, 0
FROM pg_catalog.pg_class c JOIN ns ON ns.oid = c.relnamespace WHERE c.relkind IN ('r', 'p')
UNION ALL
SELECT 'policy', quote_ident(schemaname) || '.' || quote_ident(tablename) || ' '
       || quote_ident(policyname), 'definition',
       concat_ws(' | ', cmd, permissive, roles::text, qual, with_check), NULL, 0
FROM pg_catalog.pg_policies WHERE schemaname !~ '^pg_' AND schemaname <> 'information_schema'
UNION ALL
SELECT 'routine',
       {_QUALIFIED.format("p.proname")} || '(' || pg_get_function_identity_arguments(p.oid) || ')',
       'security', concat_ws(' ', p.prosecdef, p.proconfig::text), NULL, 0
FROM pg_catalog.pg_proc p JOIN ns ON ns.oid = p.pronamespace
"""

#: Cluster-wide, for the roles in scope (%(roles)s) and the plan's databases (%(databases)s).
CLUSTER_SQL = """
WITH r AS (SELECT * FROM pg_catalog.pg_roles
           WHERE rolname = ANY (%(roles)s) OR rolname ~ '^pg_' OR rolname = current_user)
SELECT 'role', quote_ident(rolname), 'attributes',
       concat_ws(' ', rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin,
                 rolreplication, rolbypassrls, rolconnlimit, rolvaliduntil), NULL, 0
FROM r
UNION ALL
SELECT 'role', quote_ident(rolname), 'settings', coalesce(rolconfig::text, ''), NULL, 0 FROM r
UNION ALL
SELECT 'role', quote_ident(rolname), 'comment',
       coalesce(shobj_description(oid, 'pg_authid'), ''), NULL, 0
FROM r
UNION ALL
SELECT 'membership', quote_ident(g.rolname) || ' > ' || quote_ident(m.rolname) || ' by '
       || coalesce(quote_ident(pg_get_userbyid(a.grantor)), '?'), 'options',
       (to_jsonb(a) - 'oid' - 'roleid' - 'member' - 'grantor')::text, NULL, 0
FROM pg_catalog.pg_auth_members a
JOIN pg_catalog.pg_roles g ON g.oid = a.roleid JOIN pg_catalog.pg_roles m ON m.oid = a.member
WHERE g.oid IN (SELECT oid FROM r) OR m.oid IN (SELECT oid FROM r)
UNION ALL
SELECT 'role setting', coalesce(quote_ident(pg_get_userbyid(s.setrole)), '*') || ' in '
       || coalesce(quote_ident(d.datname), '*'), 'settings', s.setconfig::text, NULL, 0
FROM pg_catalog.pg_db_role_setting s LEFT JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase
WHERE s.setrole IN (SELECT oid FROM r) OR d.datname = ANY (%(databases)s)
UNION ALL
SELECT 'tablespace', quote_ident(spcname), 'acl',
       pg_get_userbyid(spcowner) || ' ' || coalesce(spcacl::text, 'NULL'),
       pg_get_userbyid(spcowner) || ' ' || coalesce((SELECT string_agg(x::text, ',' ORDER BY x::text)
       FROM unnest(coalesce(spcacl, acldefault('t', spcowner))) x), ''),
       coalesce(cardinality(coalesce(spcacl, acldefault('t', spcowner))), 0)
FROM pg_catalog.pg_tablespace
"""

#: PostgreSQL 15+: GRANT SET / ALTER SYSTEM ON PARAMETER (no owner; NULL is no grant).
PARAMETER_SQL = """
SELECT 'parameter', parname, 'acl', coalesce(paracl::text, 'NULL'),
       coalesce((SELECT string_agg(x::text, ',' ORDER BY x::text) FROM unnest(paracl) x), ''),
       coalesce(cardinality(paracl), 0)
FROM pg_catalog.pg_parameter_acl
"""

Key = tuple[str, str, str, str]


@dataclass(frozen=True)
class Value:
    """One catalog row: its exact text, its normalized form and how many ACL entries it has."""

    exact: str
    normalized: str
    entries: int


@dataclass(frozen=True)
class Catalog:
    """What :func:`read_catalog` read: (database, kind, identity, attribute) → value."""

    rows: dict[Key, Value]

    @property
    def acl_entries(self) -> int:
        """ACL entries in the normalized form (``acldefault`` where the catalog has NULL)."""
        return sum(v.entries for v in self.rows.values())

    def differences(self, other: Catalog, *, normalized: bool = False) -> list[str]:
        """Every row that differs (``self`` before, ``other`` after), sorted by key."""
        found = []
        for key in sorted(self.rows.keys() | other.rows.keys()):
            before, after = self.rows.get(key), other.rows.get(key)
            text_before = _text(before, normalized)
            text_after = _text(after, normalized)
            if text_before != text_after:
                where = " ".join(part for part in key if part)
                found.append(f"{where}: {text_before} -> {text_after}")
        return found


def _text(value: Value | None, normalized: bool) -> str:
    if value is None:
        return "(absent)"
    return value.normalized if normalized else value.exact


def read_catalog(dsn: str, plan: MigrationPlan) -> Catalog:
    """Read the plan's databases and the roles in scope (see the module docstring)."""
    roles = sorted({r.name for r in plan.roles} | set(intent.RDS_ROLES))
    databases = [db.name for db in plan.databases]
    rows: dict[Key, Value] = {}
    with connect(dsn) as conn:
        queries = [CLUSTER_SQL] + ([PARAMETER_SQL] if conn.info.server_version >= 150000 else [])
        for query in queries:
            params = {"roles": roles, "databases": databases}
            for kind, ident, attribute, exact, normalized, entries in conn.execute(
                query.encode(), params if "%(" in query else None
            ).fetchall():
                rows[("", kind, ident, attribute)] = _value(exact, normalized, entries)
    for database in databases:
        with connect(dsn, database) as conn:
            for kind, ident, owner, exact, normalized, entries in conn.execute(
                ACL_SQL.encode()
            ).fetchall():
                rows[(database, kind, ident, "owner")] = Value(owner, owner, 0)
                rows[(database, kind, ident, "acl")] = _value(exact, normalized, entries)
            for kind, ident, attribute, exact, normalized, entries in conn.execute(
                OTHER_SQL.encode()
            ).fetchall():
                rows[(database, kind, ident, attribute)] = _value(exact, normalized, entries)
    return Catalog(rows)


def _value(exact: str, normalized: str | None, entries: int) -> Value:
    return Value(exact, exact if normalized is None else normalized, entries)


# --- the estate and the target server


def estate_plan(scale: Scale, seed: int, prefix: str) -> MigrationPlan:
    """Generate the estate of ``scale`` and plan it; database names start with ``prefix``."""
    snapshot = generate_snapshot(scale, seed=seed)
    renamed = tuple(
        db.model_copy(update={"name": f"{prefix}{db.name}"}) for db in snapshot.databases
    )
    return make_plan(snapshot.model_copy(update={"databases": renamed}), Policy())


def unique_prefix() -> str:
    """A database-name prefix no other run uses (servers are shared)."""
    return f"gbscale{uuid.uuid4().hex[:8]}_"


def write_plan_dir(
    directory: Path, plan: MigrationPlan, scripts: Mapping[str, str] | None = None
) -> Path:
    """``plan.json`` and ``sql/`` as ``grantbridge plan`` writes them (what apply reads);
    ``scripts``: the plan's ``render_sql`` when already rendered."""
    (directory / "plan.json").write_text(plan.to_json(), encoding="utf-8")
    for name, text in (scripts or render_sql(plan)).items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(text, encoding="utf-8")
    return directory


@dataclass
class Target:
    """The plan's databases with stub objects on ``dsn``, restorable to that pristine state.

    Stubs are owned by the connected user, as the data migration would leave them. After
    :meth:`create`, each database is copied to a template; :meth:`reset` drops the databases and
    the roles the plan created, and copies the templates back.
    """

    dsn: str
    plan: MigrationPlan
    roles_before: frozenset[str] = frozenset()
    created: bool = field(default=False)

    @property
    def databases(self) -> list[str]:
        return [db.name for db in self.plan.databases]

    def _template(self, index: int) -> str:
        return f"{self.databases[index][:40]}_pristine{index}"

    def create(self) -> None:
        """Create the databases, the stubs and the pristine templates."""
        with connect(self.dsn) as conn:
            user = str(conn.execute("SELECT current_user").fetchone()[0])  # type: ignore[index]
            self.roles_before = frozenset(
                str(r[0]) for r in conn.execute("SELECT rolname FROM pg_roles").fetchall()
            )
            for name in self.databases:
                conn.execute(f"CREATE DATABASE {quote_ident(name)}".encode())
        self.created = True
        stub_plan = self.plan.model_copy(update={
            "schemas": tuple(s.model_copy(update={"owner": user}) for s in self.plan.schemas),
            "objects": tuple(o.model_copy(update={"owner": user}) for o in self.plan.objects),
        })  # fmt: skip
        for name in self.databases:
            with connect(self.dsn, name) as conn:
                create_stubs(conn, stub_plan, name)
        with connect(self.dsn) as conn:
            for index, name in enumerate(self.databases):
                conn.execute(
                    f"CREATE DATABASE {quote_ident(self._template(index))} "
                    f"TEMPLATE {quote_ident(name)}".encode()
                )

    def _drop_databases_and_roles(self, templates: bool) -> None:
        with connect(self.dsn) as conn:
            names = list(self.databases)
            if templates:
                names += [self._template(i) for i in range(len(self.databases))]
            for name in names:
                conn.execute(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)".encode())
            ours = set(intent.created_roles(self.plan)) | set(intent.RDS_ROLES)
            existing = {str(r[0]) for r in conn.execute("SELECT rolname FROM pg_roles").fetchall()}
            created = sorted((existing & ours) - self.roles_before)
            if created:
                conn.execute(f"DROP ROLE {', '.join(quote_ident(r) for r in created)}".encode())

    def reset(self) -> None:
        """Back to the state :meth:`create` left: a fresh copy of each database, no plan roles."""
        self._drop_databases_and_roles(templates=False)
        with connect(self.dsn) as conn:
            for index, name in enumerate(self.databases):
                conn.execute(
                    f"CREATE DATABASE {quote_ident(name)} "
                    f"TEMPLATE {quote_ident(self._template(index))}".encode()
                )

    def drop(self) -> None:
        """Remove everything :meth:`create` and the checks made."""
        if self.created:
            self._drop_databases_and_roles(templates=True)


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
    apply_plan_dir(plan_dir, target.dsn)
    once = read_catalog(target.dsn, target.plan)
    if not before.differences(once):
        return Check("apply twice", len(once.rows), ("apply changed nothing",), 0.0)
    apply_plan_dir(plan_dir, target.dsn)
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
            f"  {check.name}: {check.rows:,} catalog rows compared, {check.seconds:.1f} s, {verdict}"
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


def slim(plan: MigrationPlan) -> MigrationPlan:
    """The plan with only what the checks read (databases, roles): saves memory at scale."""
    bulky = ("memberships", "schemas", "objects", "grants", "revokes", "default_privileges",
             "findings", "dispositions", "iam_policies")  # fmt: skip
    return plan.model_copy(update=dict.fromkeys(bulky, ()))


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
        report.say(f"server: {redact(server)}" if dsn else "server: embedded (throwaway)")
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


def main(argv: Sequence[str]) -> int:
    """Parse the arguments, run, and return the exit status (0 ok, 1 a difference, 2 usage)."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.reliability.scale_apply", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--scale", required=True, help="XS, S, M, L or rows<N> (bench.scales)")
    parser.add_argument("--seed", type=int, default=0, help="the estate generator's seed")
    parser.add_argument("--failures", type=int, default=3, help="injected failures (seeds 1 … N)")
    parser.add_argument("--dsn", help="a PostgreSQL to use instead of an embedded one")
    args = parser.parse_args(argv)
    try:
        scale = get_scale(args.scale)
    except KeyError:
        parser.error(f"unknown scale {args.scale!r}: XS, S, M, L or rows<N>")
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
