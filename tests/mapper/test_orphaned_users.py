"""An orphaned user's finding (GB013) and disposition name the login the source gave it.

``CREATE USER [u] FOR LOGIN [l]`` where no script creates ``l`` is kept with ``login=None`` (so
nothing links the user to a login of that name: mssql_extract/tsql/replay.py) and
``missing_login='l'``, which only the plan's messages read.
"""

from __future__ import annotations

from mapper.plan import Disposition, MigrationPlan
from mapper.planner import plan
from mapper.policy import Policy
from mssql_extract.snapshot import SecuritySnapshot
from mssql_extract.tsql import parse_text
from tests.mapper.estate import database, snapshot, user

SCRIPT = "USE Sales\nGO\nCREATE USER [u] FOR LOGIN [l]\nCREATE USER [v]\n"


def _gb013(p: MigrationPlan) -> dict[str, str]:
    return {f.principal or "": f.evidence for f in p.findings if f.rule_id == "GB013"}


def _reason(p: MigrationPlan, fact: str) -> str:
    [found] = [d for d in p.dispositions if d.fact == fact]
    assert found.disposition == Disposition.MAPPED
    return found.reason


def test_the_finding_and_the_disposition_name_the_login_the_script_gave() -> None:
    s = parse_text(SCRIPT, "t.sql")
    users = {x.name: (x.login, x.orphaned, x.missing_login) for x in s.databases[0].users}
    assert users == {"u": (None, True, "l"), "v": (None, True, "v")}
    p = plan(s, Policy())
    assert _gb013(p) == {
        "[Sales].[u]": "user [Sales].[u] has no login on the server: it was created for "
        "login [l], which the snapshot does not hold",
        "[Sales].[v]": "user [Sales].[v] has no login on the server: it was created for "
        "login [v], which the snapshot does not hold",
    }
    assert _reason(p, "Sales/user:u") == (
        "its login [l] is not in the snapshot (orphaned user): a NOLOGIN role"
    )


def test_a_user_orphaned_by_sid_names_no_login() -> None:
    p = plan(snapshot(database(users=(user("ghost", orphaned=True),))), Policy())
    assert _gb013(p) == {"[Sales].[ghost]": "user [Sales].[ghost] has no login on the server"}
    assert _reason(p, "Sales/user:ghost") == (
        "its login is not in the snapshot (orphaned user): a NOLOGIN role"
    )


def test_a_user_with_its_login_has_none_and_old_snapshots_load() -> None:
    s = parse_text("CREATE LOGIN [l] WITH PASSWORD = 'x'\nGO\n" + SCRIPT, "t.sql")
    text = s.to_json()
    assert text.count('"missing_login"') == 1  # v's; u has its login, and None is left out
    old = text.replace('      "missing_login": "v",\n', "")
    assert old != text
    assert SecuritySnapshot.model_validate_json(old).databases[0].users[1].missing_login is None
