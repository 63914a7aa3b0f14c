"""Statements with a security effect the plan cannot carry over are reported, never read as
without one: a module signature (ADD [COUNTER] SIGNATURE) gives the module its certificate
user's permissions (audit repro c11), and EXECUTE AS or SETUSER makes the statements after it
run as someone else. A signature the module no longer has at the end (DROP SIGNATURE, ALTER or
DROP of the module) is not reported."""

from __future__ import annotations

import pytest

from mapper.planner import plan
from mapper.policy import Policy
from mapper.translate.skipped import (
    COUNTERSIGNING,
    IMPERSONATION,
    REPLAYED,
    SIGNING,
    UNSIGNING,
    harmless,
)
from mssql_extract.snapshot import SecuritySnapshot, Skipped
from tests.extract.tsql_helpers import snap

#: c11, shortened: the procedure x.p, signed by signcert, reads s.t through certuser's grant.
SIGNED = (
    "USE d\nGO\n"
    "CREATE CERTIFICATE signcert ENCRYPTION BY PASSWORD = 'x' WITH SUBJECT = 'sign'\nGO\n"
    "CREATE USER certuser FROM CERTIFICATE signcert\nCREATE USER caller WITHOUT LOGIN\nGO\n"
    "CREATE SCHEMA x AUTHORIZATION certuser\nGO\nCREATE TABLE dbo.t (id int)\nGO\n"
    "CREATE PROCEDURE x.p AS SELECT id FROM dbo.t\nGO\n"  # line 12
    "GRANT SELECT ON OBJECT::dbo.t TO certuser\nGRANT EXECUTE ON OBJECT::x.p TO caller\n"
)  # the statements below start at line 16


def _reported(s: SecuritySnapshot) -> list[Skipped]:
    return [x for x in s.skipped if not harmless(x)]


def test_a_module_signature_is_reported_with_its_certificate_user() -> None:
    s = snap(SIGNED + "ADD SIGNATURE TO x.p BY CERTIFICATE signcert WITH PASSWORD = 'x'\n")
    [item] = _reported(s)
    assert item.source_ref.line == 16
    assert item.reason.startswith(
        f"{SIGNING} x.p runs with the permissions of user 'certuser' (mapped to certificate "
        "'signcert') as well as its caller's, which the plan does not carry over"
    )
    assert item.text == "ADD SIGNATURE TO x.p BY CERTIFICATE signcert WITH PASSWORD = '***'"


def test_the_plan_reports_the_signature_and_says_what_to_build_instead() -> None:
    s = snap(SIGNED + "ADD SIGNATURE TO x.p BY CERTIFICATE signcert WITH PASSWORD = 'x'\n")
    [found] = [f for f in plan(s, Policy()).findings if f.rule_id == "GB045"]
    assert found.source_ref == "t.sql:16:1"
    assert "certuser" in found.evidence
    assert "SECURITY DEFINER" in found.action
    assert "owned by a NOLOGIN role that holds the certificate user's grants" in found.action


@pytest.mark.parametrize(
    ("statement", "begins", "names"),
    [
        ("ADD COUNTER SIGNATURE TO x.p BY CERTIFICATE signcert", COUNTERSIGNING,
         "user 'certuser' (mapped to certificate 'signcert')"),
        ("ADD SIGNATURE TO [x].[p] BY ASYMMETRIC KEY k WITH SIGNATURE = 0x0102", SIGNING,
         "the user or login mapped to asymmetric key 'k'"),
        ("ADD SIGNATURE TO OBJECT::x.p BY CERTIFICATE signcert, ASYMMETRIC KEY k", SIGNING,
         "user 'certuser' (mapped to certificate 'signcert') and the user or login mapped to "
         "asymmetric key 'k'"),
        ("ADD SIGNATURE TO ASSEMBLY::a BY CERTIFICATE signcert", SIGNING, "ASSEMBLY::a runs"),
    ],
    ids=["countersignature", "asymmetric-key", "two-signers", "assembly"],
)  # fmt: skip
def test_every_form_of_signature_is_reported(statement: str, begins: str, names: str) -> None:
    [item] = _reported(snap(SIGNED + statement + "\n"))
    assert item.reason.startswith(begins)
    assert names in item.reason


def test_a_signature_after_a_statement_read_as_skipped_is_not_swallowed() -> None:
    # no GO or ';' between them: the skipped statement ends where ADD SIGNATURE begins (and a
    # column named signature is still part of its ALTER TABLE; ADD SENSITIVITY CLASSIFICATION is
    # still read as without a security effect)
    s = snap(
        SIGNED + "CREATE CERTIFICATE c2 FROM FILE = 'c2.cer'\n"
        "ADD SIGNATURE TO x.p BY CERTIFICATE c2\nALTER TABLE dbo.t ADD signature varbinary(8);\n"
        "ADD SENSITIVITY CLASSIFICATION TO dbo.t.id WITH (LABEL = 'x')\n"
    )
    lines = {x.source_ref.line: harmless(x) for x in s.skipped if x.source_ref.line >= 16}
    assert lines == {16: True, 17: False, 18: True, 19: True}


@pytest.mark.parametrize(
    ("statements", "reported"),
    [
        # DROP SIGNATURE removes it (and is itself without an effect on the plan)
        ("ADD SIGNATURE TO x.p BY CERTIFICATE signcert\n"
         "DROP SIGNATURE FROM x.p BY CERTIFICATE signcert\n", []),
        # … only the signer it names
        ("ADD SIGNATURE TO x.p BY CERTIFICATE signcert, ASYMMETRIC KEY k\n"
         "DROP SIGNATURE FROM x.p BY CERTIFICATE signcert\n", [16]),
        ("ADD COUNTER SIGNATURE TO x.p BY CERTIFICATE signcert\n"
         "DROP SIGNATURE FROM x.p BY CERTIFICATE signcert\n", [16]),
        # altering the module drops its signature: signed again, the new one is reported
        ("ADD SIGNATURE TO x.p BY CERTIFICATE signcert\nGO\n"
         "ALTER PROCEDURE x.p AS SELECT 2\nGO\nADD SIGNATURE TO x.p BY CERTIFICATE signcert\n",
         [20]),
        ("ADD SIGNATURE TO x.p BY CERTIFICATE signcert\nGO\n"
         "CREATE OR ALTER PROCEDURE x.p AS SELECT 2\nGO\n"
         "ADD COUNTER SIGNATURE TO x.p BY CERTIFICATE signcert\n", [20]),
        # dropping it drops its signatures; another module's stay
        ("ADD SIGNATURE TO x.p BY CERTIFICATE signcert\nADD SIGNATURE TO x.q BY CERTIFICATE "
         "signcert\nDROP PROCEDURE x.p\n", [17]),
    ],
    ids=["drop-signature", "drop-one-signer", "drop-is-not-countersignature", "alter",
         "create-or-alter", "drop-procedure"],
)  # fmt: skip
def test_only_the_signatures_a_module_still_has_are_reported(
    statements: str, reported: list[int]
) -> None:
    s = snap(SIGNED + statements)
    assert [x.source_ref.line for x in _reported(s)] == reported
    assert [x.reason for x in s.skipped if x.text.startswith("DROP SIGNATURE")] in (
        [],
        ["removes a module signature, which the plan does not carry over: without a security "
         "effect on the plan"],
    )  # fmt: skip


@pytest.mark.parametrize(
    ("statement", "who"),
    [
        ("EXECUTE AS USER = 'caller'", "EXECUTE AS USER = 'caller' run as 'caller' up to REVERT"),
        ("EXEC AS LOGIN = N'l' WITH NO REVERT", "EXECUTE AS LOGIN = 'l' run as 'l'"),
        ("EXECUTE AS USER = 'caller' WITH COOKIE INTO @cookie", "run as 'caller'"),
        ("SETUSER 'caller'", "SETUSER 'caller' run as 'caller' up to a SETUSER without a name"),
    ],
    ids=["execute-as-user", "exec-as-login", "cookie", "setuser"],
)
def test_a_script_that_impersonates_is_reported(statement: str, who: str) -> None:
    # the role is owned by 'caller' on the server (CREATE ROLE without AUTHORIZATION), which
    # the replay does not model: it says so; going back (REVERT, SETUSER, EXECUTE AS CALLER
    # outside a module) changes nothing
    s = snap(
        SIGNED + "DECLARE @cookie varbinary(8000)\n" + statement + "\nCREATE ROLE r\nREVERT\n"
        "SETUSER\nEXECUTE AS CALLER\n"
    )
    [item] = _reported(s)
    assert (item.source_ref.line, item.reason.startswith(IMPERSONATION)) == (17, True)
    assert who in item.reason
    assert "a role they create without AUTHORIZATION is owned by" in item.reason
    [found] = [f for f in plan(s, Policy()).findings if f.rule_id == "GB045"]
    assert found.action.startswith("The statements after it are in the plan as if the script's")


ADD = "ADD SIGNATURE TO x.p BY CERTIFICATE signcert WITH PASSWORD = 'x'"
DROP = "DROP SIGNATURE FROM x.p BY CERTIFICATE signcert"


def _loop(*body: str) -> SecuritySnapshot:
    """SIGNED with a WHILE loop at line 16 running ``body`` (from line 18 on)."""
    return snap(SIGNED + "WHILE @i < 2\nBEGIN\n" + "".join(f"  {b}\n" for b in body) + "END\n")


def test_a_signature_in_a_loop_says_so_and_the_loop_is_reported() -> None:
    # as a DROP or a new owner in a loop's body does (test_tsql_loop_drops.py): the signature
    # was replayed once, though the script may add it never, or many times
    items = {x.source_ref.line: x for x in _reported(_loop(ADD))}
    assert sorted(items) == [16, 18]
    assert items[16].reason.startswith(REPLAYED)
    assert items[16].text == "WHILE @i < 2"
    assert items[18].reason.startswith(SIGNING)
    assert "in the body of the WHILE loop at t.sql:16:1" in items[18].reason
    [found] = [
        f
        for f in plan(_loop(ADD), Policy()).findings
        if f.rule_id == "GB045" and f.source_ref == "t.sql:18:3"
    ]
    assert found.action.endswith(
        "The statement is in a loop or a branch the script may not run: check on the server "
        "whether the module is signed."
    )


def test_a_signature_removed_in_a_loop_reports_the_loop() -> None:
    s = snap(SIGNED + ADD + "\n" + "WHILE @i < 2\nBEGIN\n" + f"  {DROP}\nEND\n")
    [loop] = _reported(s)  # the signature is gone, maybe: the loop says the plan holds one pass
    assert (loop.source_ref.line, loop.reason.startswith(REPLAYED)) == (17, True)


def test_a_signature_in_a_branch_that_may_not_run_says_so() -> None:
    s = snap(SIGNED + "IF @@SERVERNAME = N'prod'\n  " + ADD + "\n")
    [item] = _reported(s)
    assert item.reason.startswith(SIGNING)
    assert "runs only if the condition of the IF at t.sql:16:1 holds" in item.reason


def test_a_signature_outside_loops_and_branches_says_nothing_of_them() -> None:
    [item] = _reported(snap(SIGNED + ADD + "\n"))
    assert "(replayed" not in item.reason
    [found] = [
        f for f in plan(snap(SIGNED + ADD + "\n"), Policy()).findings if f.rule_id == "GB045"
    ]
    assert found.action.endswith("grant EXECUTE to its callers.")


def test_a_signature_removed_in_a_branch_that_may_not_run_is_reported() -> None:
    # as ADD SIGNATURE there: the signature's own item is gone (the module may still have it),
    # so the DROP's item is reported with the IF's note, and the plan says to check the server
    s = snap(SIGNED + ADD + "\n" + "IF @@SERVERNAME = N'prod'\n  " + DROP + "\n")
    [item] = _reported(s)
    assert item.source_ref.line == 18
    assert item.reason == (
        f"{UNSIGNING} x.p loses its signature by certificate 'signcert', which the plan then no "
        "longer reports (replayed, though it runs only if the condition of the IF at t.sql:17:1 "
        "holds, which grantbridge cannot evaluate)"
    )
    [found] = [f for f in plan(s, Policy()).findings if f.rule_id == "GB045"]
    assert found.action.endswith(
        "The statement is in a loop or a branch the script may not run: check on the server "
        "whether the module is signed."
    )


def test_a_signature_removed_where_the_script_runs_it_is_not_reported() -> None:
    assert _reported(snap(SIGNED + ADD + "\n" + DROP + "\n")) == []
    # an IF that removes no signature the module has: nothing to report either
    assert _reported(snap(SIGNED + "IF @@SERVERNAME = N'prod'\n  " + DROP + "\n")) == []
