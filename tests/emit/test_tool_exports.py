"""The tool exports of ``tests/data/exports`` through the commands a migration engineer runs:
``extract --script``, ``plan``, ``verify`` (each on an embedded server of its own: the samples
share role names), and no password or hash in anything they write.

dbatools' Export-DbaLogin grants on a schema it does not script (``GRANT EXECUTE ON
SCHEMA::[hr]``): the plan once granted on it without making it, and ``verify`` failed with
'schema "hr" does not exist'.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grantbridge.cli import main
from tests.extract.test_tsql_tool_exports import EXPORTS, SECRETS

pytestmark = pytest.mark.postgres

SAMPLES = [
    ("ssms_generate_scripts.sql",),
    ("dbatools_export_dbalogin.sql",),
    ("dbatools_export_dbauser_nogo.sql",),
    ("sp_help_revlogin.sql",),
    ("sp_help_revlogin_2000.sql",),
    ("sqlpackage_script.sql",),
    ("sqlpackage_rebuild.sql",),
    ("smo_agent_job.sql",),
    ("ssdt/SalesDb", "--database", "SalesDb"),
]


@pytest.mark.parametrize("args", SAMPLES, ids=[a[0] for a in SAMPLES])
def test_extract_plan_verify(
    args: tuple[str, ...], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    snapshot, plan_dir = tmp_path / "snapshot.json", tmp_path / "plan"
    given = ["--script", str(EXPORTS / args[0]), *args[1:]]
    assert main(["extract", *given, "-o", str(snapshot)]) == 0
    assert main(["plan", str(snapshot), "-o", str(plan_dir)]) == 0
    assert main(["verify", str(plan_dir)]) == 0
    said = "".join(capsys.readouterr())
    assert "verification passed" in said
    assert "Traceback" not in said
    written = [snapshot, *(p for p in plan_dir.rglob("*") if p.is_file())]
    leaked = [
        (p.name, s) for p in written for s in SECRETS if s in p.read_text(encoding="utf-8")
    ] + [("output", s) for s in SECRETS if s in said]
    assert leaked == []
