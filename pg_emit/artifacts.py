"""``write_artifacts(plan, outdir)``: sql/, iam/, report.md, findings.sarif, parameters.json.

The ``plan`` command writes ``plan.json`` and calls this inside an ``atomic_directory``, so a
failure here leaves no half-written output behind.
"""

from __future__ import annotations

from pathlib import Path

from grantbridge.collector import collector_paused
from mapper.plan import MigrationPlan
from pg_emit.iam import render_iam
from pg_emit.render import render_sql
from pg_emit.render_security import render_parameters
from pg_emit.report import render_report
from pg_emit.sarif import render_sarif


def render_artifacts(plan: MigrationPlan) -> dict[str, str]:
    """Every artifact's relative path and text (deterministic), with the cyclic collector
    paused as :func:`pg_emit.render.render_sql` explains."""
    with collector_paused():
        files = render_sql(plan) | render_iam(plan)
        files["report.md"] = render_report(plan)
        files["findings.sarif"] = render_sarif(plan)
        files["parameters.json"] = render_parameters(plan)
    return files


def write_artifacts(plan: MigrationPlan, outdir: Path) -> None:
    """Write sql/, iam/, report.md and findings.sarif into the existing directory ``outdir``."""
    for relative, text in sorted(render_artifacts(plan).items()):
        path = Path(outdir) / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
