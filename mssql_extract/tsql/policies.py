"""Row-level security policies and audit specifications (ALTER and DROP of a specification are
recorded as skipped). A CREATE SECURITY POLICY of a name taken is refused (``duplicates``); a
second CREATE of an audit specification replaces the first, as its DROP is not replayed."""

from __future__ import annotations

from typing import Literal, cast

from pydantic import ValidationError
from sqlglot.tokenizer_core import TokenType

from mssql_extract.snapshot import (
    AuditAction,
    AuditSpecification,
    SecurityPolicy,
    SecurityPredicate,
    fold,
)
from mssql_extract.tsql import duplicates
from mssql_extract.tsql.cursor import Handler, Parser, skipped
from mssql_extract.tsql.grants import class_prefix
from mssql_extract.tsql.modules import object_name

Operation = Literal["AFTER INSERT", "AFTER UPDATE", "BEFORE UPDATE", "BEFORE DELETE"]
_OPERATIONS = frozenset({"AFTER INSERT", "AFTER UPDATE", "BEFORE UPDATE", "BEFORE DELETE"})


def _predicate(p: Parser) -> SecurityPredicate:
    """``ADD {FILTER | BLOCK} PREDICATE fn(args) ON table [operation]``."""
    p.expect("ADD")
    kind = p.word()
    if kind not in ("FILTER", "BLOCK"):
        raise p.error("expected FILTER or BLOCK")
    p.pos += 1
    p.expect("PREDICATE")
    first = p.tok()
    object_name(p)
    if not p.at_type(TokenType.L_PAREN):
        raise p.error("expected ( and the predicate's arguments")
    p.skip_parens()
    assert first is not None
    definition = p.batch.text[first.start : p.tokens[p.pos - 1].end + 1]
    p.expect("ON")
    schema, table = object_name(p)
    operation = f"{p.word()} {p.word(1)}"
    if operation in _OPERATIONS:
        p.pos += 2
    return SecurityPredicate(
        predicate_type=cast(Literal["FILTER", "BLOCK"], kind),
        operation=cast(Operation, operation) if operation in _OPERATIONS else None,
        target_schema=schema, target_table=table, predicate_definition=definition,
    )  # fmt: skip


def _state(p: Parser, default: bool) -> bool:
    """``WITH (STATE = ON | OFF [, …])``; other options are read and ignored."""
    if not p.accept("WITH"):
        return default
    p.expect_type(TokenType.L_PAREN, "(")
    state = default
    while not p.accept_type(TokenType.R_PAREN):
        option = p.name("an option")
        p.expect_type(TokenType.EQ, "=")
        value = p.on_off()
        state = value if option.upper() == "STATE" else state
        p.accept_type(TokenType.COMMA)
    return state


def create_security_policy(p: Parser) -> None:
    """``CREATE SECURITY POLICY name ADD … PREDICATE …, … [WITH (STATE = …)]``."""
    ref = p.ref()
    schema, name = object_name(p)
    predicates = [_predicate(p)]
    while p.accept_type(TokenType.COMMA):
        predicates.append(_predicate(p))
    enabled = _state(p, default=True)  # STATE defaults to ON for security policies
    p.accept("NOT", "FOR", "REPLICATION")
    try:
        policy = SecurityPolicy(
            schema_name=schema, name=name, enabled=enabled, predicates=tuple(predicates),
            source_ref=ref,
        )  # fmt: skip
    except ValidationError:  # the same predicate added twice (found by fuzzing)
        raise p.error(
            "a predicate is added twice to the security policy", p.tokens[p.start]
        ) from None
    taken = p.builder.db().object_named(schema, name, type_=False)
    if not duplicates.refused(p, name, taken, duplicates.OBJECT):
        p.builder.db().policies[(fold(schema), fold(name))] = policy


def drop_security_policy(p: Parser) -> None:
    """``DROP SECURITY POLICY [IF EXISTS] name``."""
    p.accept("IF", "EXISTS")
    schema, name = object_name(p)
    p.builder.db().policies.pop((fold(schema), fold(name)), None)


def _audit_actions(p: Parser) -> list[AuditAction]:
    """``ADD (group)`` or ``ADD (action [, …] ON [class ::] securable BY principal [, …])``."""
    p.expect("ADD")
    p.expect_type(TokenType.L_PAREN, "(")
    actions = p.comma_list(lambda: p.name("an audit action or group"))
    if not p.accept("ON"):
        p.expect_type(TokenType.R_PAREN, ")")
        return [AuditAction(action=a.upper()) for a in actions]
    cls = class_prefix(p) or "OBJECT"
    securable = ".".join(p.qualified("a securable"))
    p.expect("BY")
    principals = p.comma_list(lambda: p.name("a principal"))
    p.expect_type(TokenType.R_PAREN, ")")
    return [
        AuditAction(action=a.upper(), securable_class=cls, securable=securable, principal=who)
        for a in actions
        for who in principals
    ]


def _audit_specification(p: Parser, level: Literal["SERVER", "DATABASE"]) -> None:
    ref, name = p.ref(), p.name("an audit specification name")
    p.expect("FOR", "SERVER", "AUDIT")
    audit = p.name("an audit name")
    actions: list[AuditAction] = []
    while p.at("ADD"):
        actions += _audit_actions(p)
        p.accept_type(TokenType.COMMA)
    enabled = _state(p, default=False)  # audit specifications are created OFF by default
    unique = {a.key: a for a in actions}
    spec = AuditSpecification(name=name, level=level, audit_name=audit, enabled=enabled,
                              actions=tuple(unique.values()), source_ref=ref)  # fmt: skip
    if level == "SERVER":
        p.builder.server_audits[fold(name)] = spec
    else:
        p.builder.db().audits[fold(name)] = spec


def create_server_audit_specification(p: Parser) -> None:
    """``CREATE SERVER AUDIT SPECIFICATION name FOR SERVER AUDIT a ADD (group) …``."""
    _audit_specification(p, "SERVER")


def create_database_audit_specification(p: Parser) -> None:
    """``CREATE DATABASE AUDIT SPECIFICATION name FOR SERVER AUDIT a ADD (…) …``."""
    _audit_specification(p, "DATABASE")


#: ALTER and DROP of an audit specification are not replayed: the snapshot keeps it as created.
#: Each is kept as skipped, and its reason (not "without a security effect") makes it a finding.
#: ALTER DATABASE AUDIT SPECIFICATION needs its key: ALTER DATABASE would read AUDIT as a name.
_NOT_REPLAYED = {
    f"{verb} {level} AUDIT SPECIFICATION": skipped(
        f"{verb} {level} AUDIT SPECIFICATION: a change to an audit specification "
        "(not replayed: the snapshot keeps it as created)"
    )
    for verb in ("ALTER", "DROP")
    for level in ("SERVER", "DATABASE")
}

STATEMENTS: dict[str, Handler] = {
    "CREATE SECURITY POLICY": create_security_policy,
    "DROP SECURITY POLICY": drop_security_policy,
    "CREATE SERVER AUDIT SPECIFICATION": create_server_audit_specification,
    "CREATE DATABASE AUDIT SPECIFICATION": create_database_audit_specification,
    **_NOT_REPLAYED,
}
