"""Write a generated estate to disk (snapshot JSON, T-SQL scripts, manifest) and reuse it.

Layout of ``bench/out/<scale>-seed<seed>/``::

    snapshot.json     the generated SecuritySnapshot, canonical JSON
    tsql/*.sql        the equivalent scripts: 00_server.sql and one per database
    manifest.json     scale, seed, counts, and a fingerprint of the generator's source

An estate whose manifest matches the current generator source is reused, so a benchmark run
does not pay for generation twice.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import generate, scales, tsql
from bench.scales import Scale
from grantbridge.output import write_file_atomic
from mssql_extract.snapshot import SecuritySnapshot

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


def generator_fingerprint() -> str:
    """sha256 of the generator's modules: a changed generator regenerates its estates."""
    digest = hashlib.sha256()
    for module in (generate, scales, tsql):
        digest.update(Path(str(module.__file__)).read_bytes())
    return digest.hexdigest()


def count_principals(snapshot: SecuritySnapshot) -> int:
    """Logins, user-defined server roles, and every database's users, roles and app roles."""
    per_db = sum(
        len(d.users) + sum(not r.is_fixed for r in d.roles) + len(d.application_roles)
        for d in snapshot.databases
    )
    return len(snapshot.logins) + sum(not r.is_fixed for r in snapshot.server_roles) + per_db


def count_rows(snapshot: SecuritySnapshot) -> int:
    """Permission rows, server and database."""
    return len(snapshot.server_permissions) + sum(len(d.permissions) for d in snapshot.databases)


def _manifest(
    scale: Scale, seed: int, statements: int, snapshot: SecuritySnapshot
) -> dict[str, Any]:
    return {
        "scale": asdict(scale),
        "seed": seed,
        "generator": generator_fingerprint(),
        "statements": statements,
        "permission_rows": count_rows(snapshot),
        "principals": count_principals(snapshot),
    }


def _from_manifest(root: Path, data: dict[str, Any]) -> Estate:
    return Estate(
        root=root,
        scale=Scale(**data["scale"]),
        seed=data["seed"],
        statements=data["statements"],
        permission_rows=data["permission_rows"],
        principals=data["principals"],
    )


def write_estate(scale: Scale, seed: int, root: Path) -> Estate:
    """Generate ``scale`` with ``seed`` and write it under ``root`` (replacing what was there)."""
    snapshot = generate.generate_snapshot(scale, seed)
    (root / "tsql").mkdir(parents=True, exist_ok=True)
    for stale in (root / "tsql").glob("*.sql"):
        stale.unlink()
    statements = 0
    for name, (text, count) in tsql.render_scripts(snapshot).items():
        write_file_atomic(root / "tsql" / name, text)
        statements += count
    write_file_atomic(root / "snapshot.json", snapshot.to_json())
    manifest = _manifest(scale, seed, statements, snapshot)
    write_file_atomic(root / "manifest.json", json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return _from_manifest(root, manifest)


def ensure_estate(scale: Scale, seed: int = 0, out: Path = OUT) -> Estate:
    """The estate for ``scale`` and ``seed`` under ``out``, generated if missing or stale."""
    root = out / f"{scale.name}-seed{seed}"
    manifest = root / "manifest.json"
    if manifest.exists():
        data = json.loads(manifest.read_text(encoding="utf-8"))
        if data.get("generator") == generator_fingerprint() and data.get("scale") == asdict(scale):
            return _from_manifest(root, data)
    return write_estate(scale, seed, root)


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
