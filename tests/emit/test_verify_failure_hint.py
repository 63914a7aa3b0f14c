"""``verify``'s message for a statement the server refuses suits where it ran: on a live target
(``--dsn``) create what is missing or verify on the embedded server; on the embedded server,
which already got every object of the plan as a stub, the plan itself is the problem."""

from __future__ import annotations

import pytest

from mapper.plan import PgMembership, PgRole, RoleKind
from pg_emit.apply import ApplyFailed
from pg_emit.verify import verify_plan
from tests.emit.conftest import Scratch

pytestmark = pytest.mark.postgres

LIVE_HINT = "or verify on the embedded server (no --dsn)"
EMBEDDED_HINT = "the embedded server starts empty and verify creates the plan's objects as stubs"


@pytest.mark.parametrize("embedded", [False, True], ids=["live", "embedded"])
def test_the_hint_names_what_to_do_where_verify_ran(scratch: Scratch, embedded: bool) -> None:
    absent = PgRole(name="pg_gb_absent", kind=RoleKind.PREDEFINED)  # no such role anywhere
    member = PgMembership(role=absent.name, member=f"{scratch.prefix}_sales_reader")
    plan = scratch.plan.model_copy(update={
        "roles": (*scratch.plan.roles, absent),
        "memberships": (*scratch.plan.memberships, member),
    })  # fmt: skip
    with pytest.raises(ApplyFailed, match='role "pg_gb_absent" does not exist') as raised:
        verify_plan(plan, scratch.dsn, embedded=embedded)
    message = str(raised.value)
    assert (EMBEDDED_HINT in message) is embedded
    assert (LIVE_HINT in message) is not embedded
