"""Late binding to the pipeline stages, so the harness runs before every stage exists.

Each stage is looked up by module and attribute when a measurement needs it; a missing one
raises :class:`Unavailable`, which the harness prints as "not available yet (<module> missing)"
instead of a figure.
"""

from __future__ import annotations

import importlib
from typing import Any


class Unavailable(Exception):
    """A pipeline stage the measurement needs does not exist (yet)."""


#: Stage name → (module, attribute): the agreed module APIs of the shared brief.
STAGES: dict[str, tuple[str, str]] = {
    "extract_scripts": ("mssql_extract.tsql", "extract_scripts"),
    "parse_text": ("mssql_extract.tsql", "parse_text"),
    "EffectivePermissions": ("mapper.effective", "EffectivePermissions"),
    "plan": ("mapper.planner", "plan"),
    "Policy": ("mapper.policy", "Policy"),
    "render_sql": ("pg_emit.render", "render_sql"),
    "embedded_server": ("pg_emit.server", "embedded_server"),
}


def stage(name: str) -> Any:
    """The callable registered as ``name`` in :data:`STAGES`.

    Raises:
        Unavailable: when its module (or the attribute in it) does not exist yet.
    """
    module_name, attribute = STAGES[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise Unavailable(f"{exc.name or module_name} missing") from None
    if not hasattr(module, attribute):
        raise Unavailable(f"{module_name}.{attribute} missing")
    return getattr(module, attribute)


def module_attr(module_name: str, *candidates: str) -> Any:
    """The first of ``candidates`` that ``module_name`` defines (for APIs still settling)."""
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise Unavailable(f"{exc.name or module_name} missing") from None
    for attribute in candidates:
        if hasattr(module, attribute):
            return getattr(module, attribute)
    raise Unavailable(f"{module_name}.{'/'.join(candidates)} missing")
