"""Split a T-SQL module definition into its header and its body statements.

sqlglot parses single T-SQL statements well but often not a whole procedure body (control
flow, ``THROW``, ``INSERT … EXEC``, ``SET @v += …``). So the body is cut into statements with
sqlglot's tokenizer and each is parsed on its own (``mapper.module_parse``), falling back per
statement. T-SQL does not require semicolons: a statement also ends where a keyword that can
only start a new statement appears at parenthesis depth 0, unless the current statement's head
keyword takes it as a continuation (``INSERT … SELECT``, ``UPDATE … SET``, ``WITH … INSERT``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from sqlglot.dialects.tsql import TSQL
from sqlglot.errors import TokenError
from sqlglot.tokenizer_core import Token, TokenType

#: Keywords that begin a statement at depth 0 (T-SQL has no mandatory terminator).
STARTERS = frozenset(
    {
     "SELECT", "INSERT", "UPDATE", "DELETE", "MERGE", "EXEC", "EXECUTE", "DECLARE", "SET", "IF",
     "WHILE", "RETURN", "PRINT", "RAISERROR", "THROW", "WITH", "BEGIN", "END", "ELSE", "COMMIT",
     "ROLLBACK", "SAVE", "REVERT", "OPEN", "CLOSE", "FETCH", "DEALLOCATE", "TRUNCATE", "CREATE",
     "DROP", "ALTER", "GOTO", "BREAK", "CONTINUE", "WAITFOR", "GRANT", "DENY", "REVOKE", "BULK",
    }
)  # fmt: skip

#: Keywords a statement head takes as a continuation instead of a new statement, and the head
#: it then becomes (``INSERT … SELECT`` is then a SELECT: a later INSERT starts a new one).
CONTINUATIONS: dict[str, dict[str, str]] = {
    "INSERT": {"SELECT": "SELECT", "EXEC": "EXEC", "EXECUTE": "EXEC", "VALUES": "VALUES"},
    "WITH": {
        "SELECT": "SELECT",
        "INSERT": "INSERT",
        "UPDATE": "UPDATE",
        "DELETE": "DELETE",
        "MERGE": "MERGE",
    },
    "UPDATE": {"SET": "UPDATE SET"},
    "MERGE": {"UPDATE": "MERGE", "DELETE": "MERGE", "INSERT": "MERGE", "SET": "MERGE"},
    "RETURN": {"SELECT": "SELECT", "WITH": "WITH"},
    "BULK": {"INSERT": "BULK INSERT"},
}

#: A previous token after which a starter keyword is part of the current statement.
JOINERS = frozenset({"UNION", "ALL", "EXCEPT", "INTERSECT", "FOR", "(", "=", ","})

#: Block and transaction keywords that carry no access: dropped, with their second word.
BLOCK_WORDS = frozenset({"BEGIN", "END", "ELSE"})
BLOCK_SECOND = frozenset({"TRY", "CATCH", "TRAN", "TRANSACTION", "DISTRIBUTED"})

#: WITH followed by one of these is a hint or option, not a common table expression.
WITH_OPTIONS = frozenset({"(", "CHECK", "NOLOCK", "RECOMPILE", "RESULT", "ROLLUP", "CUBE", "TIES"})

_LITERALS = frozenset(
    {TokenType.STRING, TokenType.NATIONAL_STRING, TokenType.IDENTIFIER, TokenType.NUMBER}
)
MODULE_KINDS = frozenset({"PROCEDURE", "PROC", "FUNCTION", "TRIGGER", "VIEW"})


def word(token: Token) -> str:
    """The upper-cased keyword a token spells, or "" for literals and quoted identifiers."""
    return "" if token.token_type in _LITERALS else token.text.upper()


@dataclass(frozen=True)
class Statement:
    """One body statement: its text, first line, and tokens."""

    text: str
    line: int
    tokens: tuple[Token, ...]

    @property
    def head(self) -> str:
        return word(self.tokens[0])


@dataclass(frozen=True)
class SplitModule:
    """A module cut up: its header's EXECUTE AS clause (None if absent) and body statements."""

    execute_as: str | None
    statements: tuple[Statement, ...]


class _BodyTokenizer(TSQL.Tokenizer):
    """T-SQL tokens without "command" folding: after ``;`` sqlglot would read ``END …`` or
    ``FETCH …`` to the next semicolon as one token, swallowing the statements that follow."""

    COMMANDS: ClassVar[set[TokenType]] = set()


def tokenize(sql: str) -> list[Token]:
    """Tokenize T-SQL with sqlglot; a TokenError becomes ValueError (reported as unparsed)."""
    try:
        return list(_BodyTokenizer().tokenize(sql))
    except TokenError as exc:
        raise ValueError(f"cannot tokenize: {exc}") from None


def split_module(definition: str) -> SplitModule:
    """Split a module definition (``CREATE PROCEDURE …`` or a bare body) into statements."""
    tokens = tokenize(definition)
    body_start = _body_start(tokens)
    execute_as = _execute_as(tokens[:body_start])
    groups = _split(tokens[body_start:])
    return SplitModule(execute_as, tuple(_statement(definition, g) for g in groups if g))


def _body_start(tokens: Sequence[Token]) -> int:
    """Index of the first body token: after the header's ``AS`` (0 when there is no header)."""
    if not tokens or word(tokens[0]) not in {"CREATE", "ALTER"}:
        return 0
    if not any(word(t) in MODULE_KINDS for t in tokens[:4]):
        return 0
    depth = 0
    for i, token in enumerate(tokens):
        depth += {"(": 1, ")": -1}.get(token.text, 0)
        if depth or word(token) != "AS" or i < 2:
            continue
        before = word(tokens[i - 1])
        if before in {"EXEC", "EXECUTE"} or tokens[i - 2].token_type == TokenType.PARAMETER:
            continue  # EXECUTE AS …, or a parameter declared "@p AS int"
        return i + 1
    return len(tokens)


def _execute_as(header: Sequence[Token]) -> str | None:
    """The principal of ``WITH EXECUTE AS x`` in the header: CALLER, SELF, OWNER or a name."""
    for i in range(len(header) - 2):
        if word(header[i]) in {"EXEC", "EXECUTE"} and word(header[i + 1]) == "AS":
            value = header[i + 2]
            return value.text if value.token_type in _LITERALS else value.text.upper()
    return None


def _split(tokens: Sequence[Token]) -> list[list[Token]]:
    groups: list[list[Token]] = [[]]
    head, depth, case_depth, skip_next = "", 0, 0, False
    for i, token in enumerate(tokens):
        kw = word(token)
        if skip_next and kw in BLOCK_SECOND:
            skip_next = False
            continue
        skip_next = False
        if token.token_type == TokenType.SEMICOLON and not depth:
            groups.append([])
            head = ""
            continue
        depth += {"(": 1, ")": -1}.get(token.text, 0)
        case_depth += kw == "CASE"
        if kw == "END" and case_depth:
            case_depth -= 1
        elif not depth and _starts_statement(tokens, i, head):
            continuation = CONTINUATIONS.get(head, {}).get(kw)
            if continuation is not None:
                head = continuation
            elif kw in BLOCK_WORDS:
                groups.append([])
                head, skip_next = "", True
                continue
            else:
                groups.append([])
                head = kw
        elif not depth and kw == "VALUES" and head == "INSERT":
            head = "VALUES"
        groups[-1].append(token)
    return groups


def _starts_statement(tokens: Sequence[Token], i: int, head: str) -> bool:
    kw = word(tokens[i])
    if kw not in STARTERS and not (head in CONTINUATIONS and kw in CONTINUATIONS[head]):
        return False
    if i and tokens[i - 1].text.upper() in JOINERS:
        return False
    if kw == "WITH":
        following = tokens[i + 1].text.upper() if i + 1 < len(tokens) else ""
        return following not in WITH_OPTIONS
    return True


def _statement(source: str, tokens: list[Token]) -> Statement:
    text = source[tokens[0].start : tokens[-1].end + 1]
    return Statement(text=text, line=tokens[0].line, tokens=tuple(tokens))
