"""Replaying a script written for a test: what the script replay tests share."""

from __future__ import annotations

from pathlib import Path

from mssql_extract.snapshot import SecuritySnapshot
from mssql_extract.tsql import extract_scripts


def replay_script(tmp_path: Path, text: str) -> SecuritySnapshot:
    """The snapshot of ``text`` written to one script file and replayed as ``extract`` does."""
    path = tmp_path / "s.sql"
    path.write_text(text, encoding="utf-8")
    return extract_scripts([path])
