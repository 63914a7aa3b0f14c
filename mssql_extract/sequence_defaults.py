"""Which sequences a column default takes its values from: ``NEXT VALUE FOR`` in its expression.

SQL Server runs ``DEFAULT (NEXT VALUE FOR s.seq)`` under the table's ownership chain: "If the
default constraint has the same owner as the sequence object, no permissions are required on the
sequence object when the default constraint is called" ("NEXT VALUE FOR (Transact-SQL)",
Security, Ownership Chaining, https://learn.microsoft.com/sql/t-sql/functions/
next-value-for-transact-sql). PostgreSQL runs the converted ``nextval('s.seq')`` as the
inserting role, which needs USAGE on the sequence (:mod:`mapper.translate.default_sequences`).

Every source reads a default's expression here: ``sys.default_constraints.definition`` (stored
decoded, ``(NEXT VALUE FOR [s].[seq])``), a dacpac's ``DefaultExpressionScript``, the tokens of
a script's ``DEFAULT`` clause. A default that calls no sequence is not kept.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot.dialects.tsql import TSQL
from sqlglot.errors import TokenError
from sqlglot.tokenizer_core import Token, TokenType

from mssql_extract.snapshot_database import SequenceDefault, quote_name

_TOKENIZER = TSQL.Tokenizer()

#: Token types that are never names (``'NEXT VALUE FOR x'`` is a string, not a call).
_NOT_NAMES = frozenset(
    {TokenType.STRING, TokenType.NATIONAL_STRING, TokenType.HEX_STRING, TokenType.NUMBER,
     TokenType.BIT_STRING, TokenType.BYTE_STRING}
)  # fmt: skip


def _word(token: Token) -> str:
    """The upper-cased text of an unquoted word, else ``""`` (``[NEXT]`` is a name)."""
    if token.token_type in _NOT_NAMES or token.token_type == TokenType.IDENTIFIER:
        return ""
    first = token.text[:1]
    return token.text.upper() if first.isalpha() or first == "_" else ""


def _is_name(token: Token) -> bool:
    return token.token_type == TokenType.IDENTIFIER or bool(_word(token))


def _name_at(tokens: Sequence[Token], i: int) -> tuple[list[str], int]:
    """``[db.][schema.]name`` from ``tokens[i]`` (``db..name`` keeps an empty part): its parts
    (none when it is not a name of one to three parts) and the index after it."""
    if i >= len(tokens) or not _is_name(tokens[i]):
        return [], i
    parts, i = [tokens[i].text], i + 1
    while i < len(tokens) and tokens[i].token_type == TokenType.DOT:
        i += 1
        if i < len(tokens) and tokens[i].token_type == TokenType.DOT:
            parts.append("")
        elif i < len(tokens) and _is_name(tokens[i]):
            parts.append(tokens[i].text)
            i += 1
        else:
            return [], i
    return (parts if len(parts) <= 3 else []), i


def sequences_in_tokens(tokens: Sequence[Token]) -> list[str]:
    """The sequences the tokens of an expression call, quoted (``[s].[seq]``), in text order."""
    found: list[str] = []
    i = 0
    while i < len(tokens) - 3:
        if (_word(tokens[i]), _word(tokens[i + 1]), _word(tokens[i + 2])) != (
            "NEXT",
            "VALUE",
            "FOR",
        ):
            i += 1
            continue
        parts, i = _name_at(tokens, i + 3)
        if parts:
            found.append(quote_name(parts))
    return found


def sequences_in(expression: str | None) -> list[str]:
    """The sequences a default's T-SQL expression calls (none when it cannot be read: a
    default that is no call of a sequence is ignored, whatever it is)."""
    if not expression or "NEXT" not in expression.upper():
        return []
    try:
        return sequences_in_tokens(_TOKENIZER.tokenize(expression))
    except TokenError:
        return []


def sequence_defaults(
    called: dict[str, list[str]], names: dict[str, str | None] | None = None
) -> tuple[SequenceDefault, ...]:
    """``column → the sequences its default calls`` as the snapshot's field holds them (one item
    per column and sequence; a name written twice, in any case, once), each with its default
    constraint's name from ``names`` (column → name), where a script gives one."""
    found: dict[str, SequenceDefault] = {}
    for column, sequences in called.items():
        constraint = (names or {}).get(column)
        for sequence in sequences:
            item = SequenceDefault(column=column, sequence=sequence, constraint=constraint)
            found.setdefault(item.key, item)
    return tuple(sorted(found.values(), key=lambda item: item.key))
