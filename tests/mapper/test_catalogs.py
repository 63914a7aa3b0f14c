"""Findings catalog and privilege mapping table: generated docs up to date, rows tested."""

from __future__ import annotations

import pytest

from mapper import findings, privileges
from mapper.findings import Rule, RuleRegistry
from mapper.permissions import CATALOG
from mapper.plan import Severity
from tests.conftest import ROOT


@pytest.mark.parametrize(
    ("path", "render"),
    [
        ("docs/findings.md", findings.render_markdown),
        ("docs/mapping.md", privileges.render_markdown),
    ],
)
def test_generated_docs_are_current(path: str, render: object) -> None:
    assert callable(render)
    committed = (ROOT / path).read_text(encoding="utf-8")
    assert committed == render(), f"{path} is stale: python -m mapper.{path[5:-3]} > {path}"


def test_registry_refuses_duplicates() -> None:
    rule = Rule("GB999", Severity.LOW, "t", "r")
    registry = RuleRegistry([rule])
    with pytest.raises(ValueError, match="GB999"):
        registry.register(rule)


def test_rule_ids_are_stable_format() -> None:
    assert all(r.startswith("GB") and len(r) == 5 for r in findings.RULES)


def test_every_builtin_permission_has_a_row() -> None:
    pairs = {(r.securable_class, r.permission) for r in CATALOG.rows}
    assert pairs == set(privileges.TABLE)


def test_every_row_explains_itself() -> None:
    for row in privileges.TABLE.values():
        grants_something = bool(row.privileges or row.role or row.attribute)
        assert grants_something or row.note, row


# (class, permission, PostgreSQL kind, expected privileges) — DESIGN §3.3 examples
EXAMPLES = [
    ("OBJECT", "SELECT", "table", ("SELECT",)),
    ("OBJECT", "INSERT", "view", ("INSERT",)),
    ("OBJECT", "UPDATE", "table", ("UPDATE",)),
    ("OBJECT", "DELETE", "table", ("DELETE",)),
    ("OBJECT", "REFERENCES", "table", ("REFERENCES",)),
    ("OBJECT", "EXECUTE", "procedure", ("EXECUTE",)),
    ("OBJECT", "EXECUTE", "function", ("EXECUTE",)),
    ("DATABASE", "CONNECT", "database", ("CONNECT",)),
    ("SCHEMA", "ALTER", "schema", ("CREATE",)),
    ("SCHEMA", "SELECT", "table", ("SELECT",)),
]


@pytest.mark.parametrize(("cls", "permission", "kind", "expected"), EXAMPLES)
def test_mapping_examples(cls: str, permission: str, kind: str, expected: tuple[str, ...]) -> None:
    assert privileges.lookup(cls, permission).privileges[kind] == expected


@pytest.mark.parametrize(
    ("permission", "role", "attribute"),
    [
        ("VIEW SERVER STATE", "pg_read_all_stats", None),
        ("ALTER ANY CONNECTION", "pg_signal_backend", None),
        ("CREATE ANY DATABASE", None, "CREATEDB"),
    ],
)
def test_server_rows(permission: str, role: str | None, attribute: str | None) -> None:
    row = privileges.lookup("SERVER", permission)
    assert (row.role, row.attribute, row.outcome) == (role, attribute, "mapped")


@pytest.mark.parametrize(
    "row", list(privileges.TABLE.values()), ids=lambda r: f"{r.securable_class}:{r.permission}"
)
def test_row_is_consistent(row: privileges.PrivilegeRow) -> None:
    # not_applicable rows grant nothing; mapped rows grant something
    if row.outcome == "not_applicable":
        assert not row.privileges
        assert not row.role
        assert not row.attribute
    if row.outcome == "mapped":
        assert row.privileges or row.role or row.attribute
    assert set(row.privileges) <= {
        "table",
        "view",
        "sequence",
        "function",
        "procedure",
        "type",
        "schema",
        "database",
    }


def test_view_definition_is_not_applicable() -> None:
    assert privileges.lookup("OBJECT", "VIEW DEFINITION").outcome == "not_applicable"
    assert "catalog" in privileges.lookup("OBJECT", "VIEW DEFINITION").note
