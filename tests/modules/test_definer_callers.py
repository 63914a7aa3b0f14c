"""A SECURITY DEFINER routine's callers are read from an index of the plan's EXECUTE grants
kept up to date as modules add grants (``module_security.Callers``, issue 7): checked against
the plain scan of every item it replaced, on every routine.

Carol's ``x.p`` runs as its owner and calls dbo's ``z.q``, itself ``EXECUTE AS OWNER``: planned
first (modules in key order), ``x.p`` grants carol's owner role EXECUTE on ``z.q`` (carol's own
permission it uses), and ``z.q``'s callers, read after, must include it.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from mapper.plan import PgGrant
from mapper.planner import plan
from mapper.policy import Policy
from mapper.translate import module_security
from mapper.translate.module_security import Callers
from mssql_extract.tsql import extract_scripts
from tests.conftest import CONTOSO, ROOT
from tests.modules.test_ownership_chains import planned

BODY = """
CREATE SCHEMA [x] AUTHORIZATION [{p}carol]
GO
CREATE SCHEMA [z] AUTHORIZATION [dbo]
GO
CREATE TABLE [z].[t] ([id] int)
GO
CREATE PROCEDURE [z].[q] WITH EXECUTE AS OWNER AS SELECT id FROM z.t
GO
CREATE PROCEDURE [x].[p] WITH EXECUTE AS OWNER AS EXEC z.q
GO
CREATE FUNCTION [z].[f]() RETURNS int WITH EXECUTE AS OWNER AS BEGIN RETURN 1 END
GO
GRANT EXECUTE ON OBJECT::[z].[q] TO [{p}carol]
GO
GRANT EXECUTE ON OBJECT::[z].[q] TO [{p}caller]
GO
GRANT EXECUTE ON OBJECT::[x].[p] TO [{p}caller]
GO
"""


def _plain(
    items: dict[str, Any], object_type: str, db: str, schema: str | None, name: str
) -> list[str]:
    """The callers as _security_definer scanned them before: every item, per routine."""
    return sorted(
        {i.grantee for i in items.values() if isinstance(i, PgGrant)
         and i.privilege == "EXECUTE" and i.object_type == object_type
         and (i.database, i.schema_name, i.name) == (db, schema, name)}
    )  # fmt: skip


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Routine → its callers, each answer checked against the plain scan."""
    answers: dict[str, list[str]] = {}
    original = Callers.__call__

    def checked(self: Callers, object_type: str, db: str, schema: str | None, name: str) -> Any:
        answer = original(self, object_type, db, schema, name)
        assert answer == _plain(self._items, object_type, db, schema, name), name
        answers[f"{db}.{schema}.{name}"] = answer
        return answer

    monkeypatch.setattr(module_security.Callers, "__call__", checked)
    return answers


def test_a_routines_callers_include_a_grant_an_earlier_module_added(
    tmp_path: Path, asked: dict[str, list[str]]
) -> None:
    migration = planned(tmp_path, BODY)
    assert [r.name for r in migration.routine_security] == ["p", "f", "q"]
    assert asked == {
        "d1.x.p": ["caller", "carol"],  # carol owns x: ownership gives it EXECUTE
        "d1.z.f": [],
        "d1.z.q": ["caller", "carol", "d1_carol_owner"],  # the last added by x.p's planning
    }
    [q] = [r for r in migration.routine_security if r.name == "q"]
    assert q.callers == ("caller", "carol", "d1_carol_owner")


def test_contosos_routines_have_the_callers_of_the_plain_scan(asked: dict[str, list[str]]) -> None:
    with contextlib.chdir(ROOT):
        snapshot = extract_scripts([CONTOSO.relative_to(ROOT)], include_definitions=True)
    plan(snapshot, Policy())
    assert asked
    assert Counter(bool(c) for c in asked.values())[True] > 0
