"""``WITH name = value, …`` option lists of principal statements, read through one table.

Passwords (``PASSWORD = '…'``, ``PASSWORD = 0x… HASHED``, ``OLD_PASSWORD``) are consumed and
dropped here: the option reader returns only ``True`` ("a password exists"), so no later code
ever holds the literal. dbatools' ``Export-DbaLogin -ExcludePassword`` writes the hash as
``#######``: the login has a password, which the script does not hold. SIDs are identifiers, not secrets, and are kept as ``0x…`` hex.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot.tokenizer_core import TokenType

from mssql_extract.tsql.cursor import Parser
from mssql_extract.tsql.tokens import STRINGS

Options = dict[str, object]
Reader = Callable[[Parser, Options], None]


def _eq(p: Parser) -> None:
    p.expect_type(TokenType.EQ, "=")


def _hex(p: Parser) -> str:
    token = p.expect_type(TokenType.HEX_STRING, "a 0x… value")
    return "0x" + token.text.upper()


def _password(p: Parser, opts: Options) -> None:
    _eq(p)
    token = p.advance()
    if token.token_type == TokenType.HASH:  # dbatools Export-DbaLogin -ExcludePassword
        while p.accept_type(TokenType.HASH):
            pass
        p.expect("HASHED")
    elif token.token_type == TokenType.HEX_STRING:
        p.expect("HASHED")
    elif token.token_type not in STRINGS:
        raise p.error("expected a password string, 0x… HASHED or ####### HASHED", token)
    opts["password"] = True  # the literal itself is dropped here, on purpose
    if p.accept("OLD_PASSWORD"):  # ALTER LOGIN … PASSWORD = 'new' OLD_PASSWORD = 'old'
        _old_password(p, opts)
    while p.word() in ("MUST_CHANGE", "UNLOCK"):
        opts[p.word().lower()] = True
        p.pos += 1


def _old_password(p: Parser, opts: Options) -> None:
    _eq(p)
    p.string("the old password")


def _value(key: str, read: Callable[[Parser], object]) -> Reader:
    def reader(p: Parser, opts: Options) -> None:
        _eq(p)
        opts[key] = read(p)

    return reader


def _name_or_null(p: Parser) -> str | None:
    return None if p.accept("NULL") else p.name("a name")


def _language(p: Parser) -> str:
    token = p.tok()
    if token is not None and token.token_type == TokenType.NUMBER:
        p.pos += 1
        return token.text
    return p.name_or_string("a language")


def _no_credential(p: Parser, opts: Options) -> None:
    p.expect("CREDENTIAL")
    opts["credential"] = None


def _flag(key: str) -> Reader:
    def reader(p: Parser, opts: Options) -> None:
        opts[key] = True

    return reader


OPTIONS: dict[str, Reader] = {
    "PASSWORD": _password,
    "OLD_PASSWORD": _old_password,
    "SID": _value("sid", _hex),
    "DEFAULT_DATABASE": _value("default_database", lambda p: p.name("a database name")),
    "DEFAULT_LANGUAGE": _value("default_language", _language),
    "DEFAULT_SCHEMA": _value("default_schema", _name_or_null),
    "CHECK_EXPIRATION": _value("check_expiration", Parser.on_off),
    "CHECK_POLICY": _value("check_policy", Parser.on_off),
    "CREDENTIAL": _value("credential", lambda p: p.name("a credential name")),
    "NAME": _value("name", lambda p: p.name("a new name")),
    "LOGIN": _value("login", lambda p: p.name("a login name")),
    "ALLOW_ENCRYPTED_VALUE_MODIFICATIONS": _value("allow_encrypted", Parser.on_off),
    "OBJECT_ID": _value("object_id", lambda p: p.string("an object id")),
    "TYPE": _value("type", lambda p: p.name("E or X")),
    "NO": _no_credential,
    "MUST_CHANGE": _flag("must_change"),
    "UNLOCK": _flag("unlock"),
}


def read_options(p: Parser, allowed: frozenset[str]) -> Options:
    """``name = value [, …]`` after WITH; an option not in ``allowed`` is an error."""
    opts: Options = {}
    while True:
        word = p.word()
        if word not in allowed:
            raise p.error(f"unexpected option {word or 'here'}")
        p.pos += 1
        OPTIONS[word](p, opts)
        if not p.accept_type(TokenType.COMMA):
            return opts
