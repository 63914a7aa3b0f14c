"""GB020 names every member it is about, sorted (issue 7: its text no longer depends on the
order members are restructured in, which depends on every database a login's roles span)."""

from __future__ import annotations

from mapper.planner import plan
from mapper.policy import Policy
from mssql_extract.snapshot import SecuritySnapshot
from tests.mapper.estate import database, login, member, perm, role, snapshot, user


def _estate() -> SecuritySnapshot:
    # amy and zed are both denied Orders through 'denied'; amy's closure is larger (she is also
    # in 'extra'), so she is restructured after zed
    names = ("amy", "zed")
    rows = (perm("SELECT", "readers", schema_name="dbo", object_name="Orders"),
            perm("SELECT", "readers", schema_name="dbo", object_name="Customers"),
            perm("SELECT", "extra", schema_name="dbo", object_name="usp_Report"),
            perm("SELECT", "denied", state="D", schema_name="dbo", object_name="Orders"))  # fmt: skip
    joined = (*(member(r, n) for r in ("readers", "denied") for n in names), member("extra", "amy"))
    db = database(users=tuple(user(n, n) for n in names), permissions=rows, memberships=joined,
                  roles=(role("readers"), role("denied"), role("extra")))  # fmt: skip
    return snapshot(db, logins=tuple(login(n) for n in names))


def test_one_gb020_names_each_member_moved_sorted() -> None:
    planned = plan(_estate(), Policy())
    (found,) = [f for f in planned.findings if f.rule_id == "GB020"]
    assert found.securable == "readers"
    assert found.principal == "denied"
    amy, zed = found.action.index("'amy' is no longer"), found.action.index("'zed' is no longer")
    assert amy < zed
    derived = {m.role for m in planned.memberships if m.member in ("amy", "zed")}
    derived -= {"extra", "denied"}
    assert len(derived) == 1  # one derived role, shared
    assert derived.pop() in found.action
