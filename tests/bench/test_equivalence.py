"""The generated T-SQL scripts replay to the same facts as the generated snapshot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.generate import generate_snapshot
from bench.scales import SCALES
from bench.tsql import render_scripts

#: ``CREATE LOGIN [CORP\x] FROM WINDOWS`` does not say whether ``x`` is a user or a group: only a
#: catalog extract knows. The generator keeps groups (the planner treats them differently), so
#: the comparison reads a group as the type a script can express (login, then user), and leaves
#: out ``type_inferred``, which only says that the script could not tell.
SCRIPT_TYPE = {"WINDOWS_GROUP": "WINDOWS_LOGIN", "WINDOWS_GROUPS": "WINDOWS_USER"}


def _facts(data: Any) -> Any:
    """The snapshot as plain data without provenance (``source_ref``, ``owner_ref`` …) and the
    server's name."""
    if isinstance(data, dict):
        facts = {
            k: _facts(v)
            for k, v in data.items()
            if not k.endswith("_ref") and k not in ("server", "source", "type_inferred")
        }
        if "type" in facts:
            is_user = "authentication_type" in facts
            kind = facts["type"] + ("S" if is_user and facts["type"] == "WINDOWS_GROUP" else "")
            facts["type"] = SCRIPT_TYPE.get(kind, facts["type"])
        return facts
    if isinstance(data, list):
        return [_facts(v) for v in data]
    return data


def test_scripts_parse_to_the_generated_facts(tmp_path: Path) -> None:
    from mssql_extract import tsql

    snapshot = generate_snapshot(SCALES["XS"], 3)
    paths = []
    for name, (text, _) in render_scripts(snapshot).items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        paths.append(tmp_path / name)
    parsed = tsql.extract_scripts(sorted(paths))
    assert parsed.skipped == ()
    assert _facts(parsed.model_dump(mode="json")) == _facts(snapshot.model_dump(mode="json"))
