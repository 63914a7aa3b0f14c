"""Role names: templates, empty placeholders, folding, 63-byte truncation, collisions."""

from __future__ import annotations

import pytest

from grantbridge.errors import MappingError
from mapper.naming import NameRegistry, render, truncate
from mapper.planner import plan
from mapper.policy import Naming, Policy
from tests.mapper.estate import database, login, role, snapshot, user


def test_truncate_counts_bytes_and_keeps_characters_whole() -> None:
    assert len(truncate("a" * 70).encode()) == 63
    cut = truncate("é" * 40)  # 2 bytes each
    assert len(cut.encode()) == 62
    assert cut == "é" * 31


def test_templates() -> None:
    multi = NameRegistry(Naming(), multi_database=True)
    assert multi.database_principal("Sales", "Readers", "role") == "sales_readers"
    single = NameRegistry(Naming(), multi_database=False)
    assert single.database_principal("Sales", "Readers", "role") == "readers"
    assert single.login("CONTOSO\\JDoe") == "jdoe"
    assert single.login("CONTOSO\\JDoe", realm="contoso.com") == "jdoe@CONTOSO.COM"


def test_collision_after_folding_names_both_sources() -> None:
    snap = snapshot(database(users=(user("app", "app"),), roles=(role("APP"),)),
                    logins=(login("app"),))  # fmt: skip
    with pytest.raises(MappingError) as error:
        plan(snap, Policy())
    assert "login [app]" in str(error.value)
    assert "role [Sales].[APP]" in str(error.value)
    # why, and what to change
    assert "one role namespace for the whole cluster" in str(error.value)
    assert "[[exclusions]]" in str(error.value)
    assert 'database_role = "{database}_{name}"' in str(error.value)


def test_collision_after_truncation() -> None:
    names = NameRegistry(Naming(), multi_database=False)
    names.claim("x" * 63 + "a", "first")
    with pytest.raises(MappingError, match="first"):
        names.claim("x" * 63 + "b", "second")


def test_preserve_case() -> None:
    names = NameRegistry(Naming(fold_case="preserve"), multi_database=True)
    assert names.database_principal("Sales", "Readers", "role") == "Sales_Readers"


@pytest.mark.parametrize(
    ("template", "values", "expected"),
    [
        ("{domain}_{name}", {"domain": "", "name": "iam_user"}, "iam_user"),
        ("{domain}_{name}", {"domain": "CORP", "name": "bob"}, "CORP_bob"),
        ("{name}_{domain}", {"domain": "", "name": "bob"}, "bob"),
        ("{name}@{domain}", {"domain": "", "name": "bob"}, "bob"),
        ("gb_{domain}.{name}", {"domain": "", "name": "bob"}, "gb.bob"),  # the one before
        ("{domain}__{name}", {"domain": "", "name": "bob"}, "bob"),
        ("{name}_{domain}", {"domain": "", "name": "bob_"}, "bob_"),  # the name's own _ stays
        ("{domain}_{name}", {"domain": "", "name": "_bob"}, "_bob"),
        ("{{{name}}}", {"name": "bob"}, "{bob}"),
    ],
)  # fmt: skip
def test_an_empty_placeholder_takes_its_separator(
    template: str, values: dict[str, str], expected: str
) -> None:
    assert render(template, **values) == expected


def test_sql_logins_get_no_dangling_separator() -> None:
    names = NameRegistry(Naming(login="{domain}_{name}"), multi_database=False)
    assert names.login("iam_user", windows=False) == "iam_user"
    assert names.login("CONTOSO\\JDoe") == "contoso_jdoe"
