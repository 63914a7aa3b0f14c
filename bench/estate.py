"""Write a generated estate to disk (snapshot JSON, T-SQL scripts, manifest) and reuse it.

Layout of ``bench/out/<scale>-seed<seed>/``::

    snapshot.json     the generated SecuritySnapshot, canonical JSON
    tsql/*.sql        the equivalent scripts: 00_server.sql and one per database
    manifest.json     scale, seed, counts, and a fingerprint of the generator's source

``bench/out`` is the cache of generated estates, keyed by scale and seed (the directory name)
and by a fingerprint of the generator's source (in the manifest): an estate whose manifest
matches is reused, so repeated runs do not regenerate. The manifest is written last, so an
interrupted generation is never taken for a finished one. ``GRANTBRIDGE_BENCH_OUT`` moves the
cache.

Generation streams: the databases are drawn one at a time (:func:`bench.generate.generate_estate`)
and each is appended to ``snapshot.json`` and written as its script before the next is drawn,
so scale L (5M rows) needs the memory of one database, not of the estate.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import construct, database_builder, estate_shape, generate, scales, tsql
from bench.scales import Scale
from grantbridge.output import write_file_atomic
from mssql_extract.snapshot import Database, SecuritySnapshot

#: Where estates and results go; tests point it at a temporary directory.
OUT = Path(os.environ.get("GRANTBRIDGE_BENCH_OUT") or Path(__file__).resolve().parent / "out")


@dataclass(frozen=True)
class Estate:
    """A generated estate on disk and its counts."""

    root: Path
    scale: Scale
    seed: int
    statements: int
    permission_rows: int
    principals: int

    @property
    def snapshot_path(self) -> Path:
        return self.root / "snapshot.json"

    @property
    def scripts(self) -> list[Path]:
        return sorted((self.root / "tsql").glob("*.sql"))


#: The modules an estate is made by (snapshot and scripts): their source is the fingerprint.
GENERATOR_MODULES = (generate, estate_shape, construct, database_builder, scales, tsql)


def generator_fingerprint() -> str:
    """sha256 of the generator's modules: a changed generator regenerates its estates."""
    digest = hashlib.sha256()
    for module in GENERATOR_MODULES:
        digest.update(Path(str(module.__file__)).read_bytes())
    return digest.hexdigest()


def count_database_principals(db: Database) -> int:
    """One database's users, user-defined roles and application roles."""
    return len(db.users) + sum(not r.is_fixed for r in db.roles) + len(db.application_roles)


def count_principals(snapshot: SecuritySnapshot) -> int:
    """Logins, user-defined server roles, and every database's users, roles and app roles."""
    per_db = sum(count_database_principals(d) for d in snapshot.databases)
    return len(snapshot.logins) + sum(not r.is_fixed for r in snapshot.server_roles) + per_db


def count_rows(snapshot: SecuritySnapshot) -> int:
    """Permission rows, server and database."""
    return len(snapshot.server_permissions) + sum(len(d.permissions) for d in snapshot.databases)


def _from_manifest(root: Path, data: dict[str, Any]) -> Estate:
    return Estate(
        root=root,
        scale=Scale(**data["scale"]),
        seed=data["seed"],
        statements=data["statements"],
        permission_rows=data["permission_rows"],
        principals=data["principals"],
    )


#: The header's empty database list, replaced by the streamed databases.
_NO_DATABASES = '\n  "databases": [],\n'


def write_estate(scale: Scale, seed: int, root: Path) -> Estate:
    """Generate ``scale`` with ``seed`` and write it under ``root`` (replacing what was there).

    ``snapshot.json`` is byte-identical to ``generate_snapshot(scale, seed).to_json()``; it is
    written one database at a time (pydantic's ``indent=2`` output of a nested model is its own
    output indented one level per nesting, here two levels: four spaces).
    """
    header, databases = generate.generate_estate(scale, seed)
    (root / "tsql").mkdir(parents=True, exist_ok=True)
    (root / "manifest.json").unlink(missing_ok=True)  # unfinished until the manifest is back
    for stale in (root / "tsql").glob("*.sql"):
        stale.unlink()
    head, tail = header.to_json().split(_NO_DATABASES)
    rows, principals, statements = count_rows(header), count_principals(header), 0
    names: list[str] = []
    scratch = root / ".snapshot.json.tmp"
    with scratch.open("w", encoding="utf-8") as out:
        out.write(head + '\n  "databases": [')
        for db in databases:
            out.write(",\n    " if names else "\n    ")
            out.write(db.model_dump_json(indent=2).replace("\n", "\n    "))
            names.append(db.name)
            script, count = tsql.render_text(tsql.database_statements(db))
            write_file_atomic(root / "tsql" / tsql.database_file(len(names), db.name), script)
            statements += count
            rows += len(db.permissions)
            principals += count_database_principals(db)
        out.write("\n  ],\n" if names else "],\n")
        out.write(tail)
    scratch.replace(root / "snapshot.json")
    script, count = tsql.render_text(tsql.server_statements(header, names))
    write_file_atomic(root / "tsql" / tsql.SERVER_FILE, script)
    manifest = {
        "scale": asdict(scale),
        "seed": seed,
        "generator": generator_fingerprint(),
        "statements": statements + count,
        "permission_rows": rows,
        "principals": principals,
    }
    write_file_atomic(root / "manifest.json", json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return _from_manifest(root, manifest)


def estate_root(scale: Scale, seed: int = 0, out: Path = OUT) -> Path:
    """Where the estate of ``scale`` and ``seed`` is cached."""
    return out / f"{scale.name}-seed{seed}"


def cached_estate(scale: Scale, seed: int = 0, out: Path = OUT) -> Estate | None:
    """The cached estate for ``scale`` and ``seed``, or None when missing, unfinished or stale."""
    root = estate_root(scale, seed, out)
    manifest = root / "manifest.json"
    if manifest.exists():
        data = json.loads(manifest.read_text(encoding="utf-8"))
        if data.get("generator") == generator_fingerprint() and data.get("scale") == asdict(scale):
            return _from_manifest(root, data)
    return None


def ensure_estate(scale: Scale, seed: int = 0, out: Path = OUT) -> Estate:
    """The estate for ``scale`` and ``seed`` under ``out``, generated if missing or stale."""
    return cached_estate(scale, seed, out) or write_estate(
        scale, seed, estate_root(scale, seed, out)
    )


def ensure_statement_script(statements: int, seed: int = 0, out: Path = OUT) -> tuple[Path, int]:
    """A single script of ``statements`` GRANT/DENY/CREATE statements (issue 2's parse figure)."""
    path = out / f"script{statements}-seed{seed}.sql"
    stamp = path.with_suffix(".fingerprint")
    fingerprint = f"{generator_fingerprint()}:{statements}"
    if path.exists() and stamp.exists() and stamp.read_text(encoding="utf-8") == fingerprint:
        return path, statements
    # one database with enough rows: each statement is about one permission row
    snapshot = generate.generate_snapshot(scales.rows_scale(statements + statements // 10), seed)
    text, count = tsql.statement_script(snapshot, statements)
    out.mkdir(parents=True, exist_ok=True)
    write_file_atomic(path, text)
    write_file_atomic(stamp, fingerprint)
    return path, count
