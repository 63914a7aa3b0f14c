"""Shared pytest configuration: golden files and repository paths."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
CONTOSO = FIXTURES / "estates" / "contoso"
GOLDEN = Path(__file__).resolve().parent / "golden"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="Rewrite golden files under tests/golden/ from the current outputs.",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


def check_golden(name: str, actual: str, update: bool) -> None:
    """Compare ``actual`` with ``tests/golden/<name>``; rewrite it with ``--update-golden``."""
    path = GOLDEN / name
    if update or not path.exists():
        if not update:
            raise AssertionError(f"golden file {path} is missing; run pytest --update-golden")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"{name} differs from its golden file (pytest --update-golden)"
