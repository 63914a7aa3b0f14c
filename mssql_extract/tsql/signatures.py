"""Module signing: ``ADD [COUNTER] SIGNATURE`` and ``DROP [COUNTER] SIGNATURE``.

A module signed with a certificate or an asymmetric key runs with the permissions of the user
mapped to it as well as its caller's (ADD SIGNATURE (Transact-SQL); "Module Signing"): whoever
may execute the module uses what is granted to the certificate user. A countersignature grants
nothing by itself, but keeps a signature by the same certificate or key in force while a module
it signs calls the countersigned one (ADD SIGNATURE, Remarks, "Countersignatures").

PostgreSQL has no module signing, so the plan cannot carry a signature over. Each signature is
kept as skipped, with a reason the plan reports (GB045, its action saying what to build in
PostgreSQL instead: ``mapper.translate.skipped``). The replay keeps the signatures a module
holds, and only those standing at the end are reported: ``DROP SIGNATURE`` removes one, and
altering or dropping the module removes all of its (ADD SIGNATURE, Remarks: altering a module
drops its signature; ``modules``). In a WHILE loop's body, or a branch of an IF grantbridge
cannot evaluate, a signature's item says so, and the loop is reported (``loops``), as for any
statement replayed there. A DROP SIGNATURE there is replayed too: in the loop, the loop is
reported; in such a branch, its own item is (``UNSIGNING``, with the IF's note), as the
signature it removed no longer is.

Grammar::

    ADD [COUNTER] SIGNATURE TO [class ::] module BY crypto [, …]
    DROP [COUNTER] SIGNATURE FROM [class ::] module BY {CERTIFICATE c | ASYMMETRIC KEY k} [, …]
    crypto ::= {CERTIFICATE c | ASYMMETRIC KEY k} [WITH {PASSWORD | SIGNATURE} = value]
"""

from __future__ import annotations

from sqlglot.tokenizer_core import TokenType

from mssql_extract.snapshot import fold
from mssql_extract.tsql import branches, loops, modules
from mssql_extract.tsql.cursor import Handler, Parser
from mssql_extract.tsql.grants import class_prefix
from mssql_extract.tsql.state import Module, Signer

#: How the reason of a signature begins (the mapper's GB045 action tells them apart by it).
SIGNING = "module signing:"
COUNTERSIGNING = "module countersigning:"
UNSIGNING = "module signature removed:"


def _module(p: Parser) -> tuple[Module, str]:
    """``[class ::] name``: the module's key and its name as messages spell it."""
    cls = class_prefix(p) or "OBJECT"
    if cls != "OBJECT":  # an assembly: one part
        name = p.name("a module name")
        return (cls, "", fold(name)), f"{cls}::{name}"
    schema, name = modules.object_name(p)
    return (cls, fold(schema), fold(name)), f"{schema}.{name}"


def _crypto(p: Parser) -> tuple[str, str]:
    """``CERTIFICATE c`` or ``ASYMMETRIC KEY k``: (kind, name)."""
    if p.accept("CERTIFICATE"):
        return "certificate", p.name("a certificate name")
    if p.accept("ASYMMETRIC", "KEY"):
        return "asymmetric key", p.name("an asymmetric key name")
    raise p.error("expected CERTIFICATE or ASYMMETRIC KEY")


def _signer(p: Parser, counter: bool) -> tuple[Signer, str]:
    """One item of ADD SIGNATURE's BY list (its password or signed blob is not kept)."""
    kind, name = _crypto(p)
    if p.accept("WITH"):
        if not (p.accept("PASSWORD") or p.accept("SIGNATURE")):
            raise p.error("expected PASSWORD or SIGNATURE")
        p.expect_type(TokenType.EQ, "=")
        p.advance()
    return (counter, kind, fold(name)), _whose(p, kind, name)


def _whose(p: Parser, kind: str, name: str) -> str:
    """Whose permissions a signature by ``kind name`` gives: its user's, when a script made one."""
    for user in p.builder.db().users.values():
        if user.via == kind and user.key is not None and fold(user.key) == fold(name):
            return f"user {user.name!r} (mapped to {kind} {name!r})"
    return f"the user or login mapped to {kind} {name!r}"


def add_signature(p: Parser) -> None:
    """``ADD [COUNTER] SIGNATURE TO module BY …``: kept, and reported, while the module has it."""
    ref, counter = p.ref(), p.words[p.start + 1] == "COUNTER"
    p.expect("TO")
    module, spelled = _module(p)
    p.expect("BY")
    signed = p.comma_list(lambda: _signer(p, counter))
    whose = " and ".join(who for _, who in signed)
    if counter:
        reason = (
            f"{COUNTERSIGNING} while a module signed with the same certificate or key calls "
            f"{spelled}, {spelled} keeps the permissions of {whose}, which the plan does not "
            "carry over (PostgreSQL has no module signing)"
        )
    else:
        reason = (
            f"{SIGNING} {spelled} runs with the permissions of {whose} as well as its "
            "caller's, which the plan does not carry over (PostgreSQL has no module signing)"
        )
    # replayed: in a loop's body or a branch that may not run, its item says so and the loop
    # is reported, as for a DROP or a new owner there (``dropped``)
    reason += branches.in_branch(p) + loops.in_loop(p)
    p.builder.sign(module, [signer for signer, _ in signed], reason, p.statement_text(), ref)


def drop_signature(p: Parser) -> None:
    """``DROP [COUNTER] SIGNATURE FROM module BY …``: the module no longer has those signatures.
    Kept as skipped without a finding: the plan never had them. Unless the script may not run
    it (a branch of an IF grantbridge cannot evaluate): the signature it removes is then no
    longer reported, and its own item is, with the IF's note, as ADD SIGNATURE's is there."""
    counter = p.words[p.start + 1] == "COUNTER"
    p.expect("FROM")
    module, spelled = _module(p)
    p.expect("BY")
    named = {(counter, kind, fold(name)): f"{kind} {name!r}" for kind, name in p.comma_list(
        lambda: _crypto(p)
    )}  # fmt: skip
    held = p.builder.db().signatures.get(module, {})
    removed = [spelled_by for signer, spelled_by in named.items() if signer in held]
    p.builder.unsign(module, list(named))
    branch = branches.in_branch(p)
    if removed and branch:  # the plan no longer says the module is signed, maybe wrongly
        reason = (
            f"{UNSIGNING} {spelled} loses its {'counter' if counter else ''}signature by "
            f"{' and '.join(removed)}, which the plan then no longer reports{branch}"
        )
    else:
        reason = (
            "removes a module signature, which the plan does not carry over: without a "
            "security effect on the plan"
        )
    reason += loops.in_loop(p)  # the signature it removes is no longer reported: the loop is
    p.builder.skip("statement", reason, p.statement_text(), p.ref())


STATEMENTS: dict[str, Handler] = {
    "ADD SIGNATURE": add_signature,
    "ADD COUNTER SIGNATURE": add_signature,
    "DROP SIGNATURE": drop_signature,
    "DROP COUNTER SIGNATURE": drop_signature,
}
