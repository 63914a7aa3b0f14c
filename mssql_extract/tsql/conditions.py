"""``IF`` conditions: which branch a script takes, when the script itself says.

SSDT post-deployment scripts choose their security by a sqlcmd variable::

    IF (UPPER(N'$(DeployType)') = N'DEVELOPMENT') BEGIN :r .\\DEV.sql END
    ELSE IF (UPPER(N'$(DeployType)') = N'PRODUCTION') BEGIN :r .\\PROD.sql END

Once ``$(DeployType)`` is substituted, each condition compares two literals: it is evaluated, and
only the branch taken is replayed. A condition is evaluated only in this form, a comparison of
constants (``=``, ``<>``, ``!=``, ``[NOT] LIKE`` without wildcards; ``UPPER``, ``LOWER``,
``LTRIM``, ``RTRIM``, ``TRIM`` of them; ``NOT``, parentheses), compared as SQL Server's default
collation does: case-insensitively, trailing spaces ignored.

Anything else depends on the server (``@@VERSION``, ``SERVERPROPERTY``, what a query returns).
An existence check without ELSE (``IF NOT EXISTS (…)``, ``IF OBJECT_ID(…) IS NULL``) only makes
a script re-runnable: its statement states what the script leaves behind, and is replayed as any
other, unless it creates a name the replay holds already (then SQL Server skips it: see
``duplicates``). For every other condition both branches are replayed, and each statement replayed in one
is kept as a skipped item too, so that the plan reports it (GB045): the script may not run it.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot.tokenizer_core import Token, TokenType

from mssql_extract.tsql.tokens import STRINGS

#: Functions of one string argument whose value the condition can compute.
_FUNCTIONS: dict[str, Callable[[str], str]] = {
    "UPPER": str.upper,
    "LOWER": str.lower,
    "LTRIM": str.lstrip,
    "RTRIM": str.rstrip,
    "TRIM": str.strip,
}

#: Functions that test whether something exists (with IS [NOT] NULL): re-runnable scripts.
_EXISTENCE = frozenset(
    {"EXISTS", "OBJECT_ID", "SCHEMA_ID", "DB_ID", "USER_ID", "SUSER_ID", "SUSER_SID", "TYPE_ID"}
    | {"DATABASE_PRINCIPAL_ID", "DATABASEPROPERTYEX"}
)

_WILDCARDS = frozenset("%_[")


class _Reader:
    """A cursor over a condition's tokens; every method returns None when it cannot evaluate."""

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens, self.pos = tokens, 0

    def _at(self, kind: TokenType) -> bool:
        return self.pos < len(self.tokens) and self.tokens[self.pos].token_type == kind

    def _word(self) -> str:
        if self.pos >= len(self.tokens) or self.tokens[self.pos].token_type in STRINGS:
            return ""
        return self.tokens[self.pos].text.upper()

    def condition(self) -> bool | None:
        if self._word() == "NOT":
            self.pos += 1
            inner = self.condition()
            return None if inner is None else not inner
        if self._at(TokenType.L_PAREN) and self._comparison_inside():
            self.pos += 1
            inner = self.condition()
            if inner is None or not self._at(TokenType.R_PAREN):
                return None
            self.pos += 1
            return inner
        return self._comparison()

    def _comparison_inside(self) -> bool:
        """Whether a ``(`` opens a condition, not a value (``('a') = 'a'`` is a value)."""
        saved = self.pos
        self.pos += 1
        value = self._value()
        opens_value = value is not None and self._at(TokenType.R_PAREN)
        self.pos = saved
        return not opens_value

    def _comparison(self) -> bool | None:
        left = self._value()
        if left is None:
            return None
        negate = self._word() == "NOT"
        self.pos += negate
        operator = self.tokens[self.pos].token_type if self.pos < len(self.tokens) else None
        self.pos += 1
        right = self._value()
        if right is None:
            return None
        return _compare(left, operator, right, negate)

    def _value(self) -> str | None:
        if self.pos >= len(self.tokens):
            return None
        token = self.tokens[self.pos]
        if token.token_type in STRINGS or token.token_type == TokenType.NUMBER:
            self.pos += 1
            return token.text
        if self._at(TokenType.L_PAREN):
            self.pos += 1
            inner = self._value()
            if inner is None or not self._at(TokenType.R_PAREN):
                return None
            self.pos += 1
            return inner
        function = _FUNCTIONS.get(self._word())
        if function is None:
            return None
        self.pos += 1
        if not self._at(TokenType.L_PAREN):
            return None
        argument = self._value()  # the parentheses are the argument's
        return None if argument is None else function(argument)


def _compare(left: str, operator: TokenType | None, right: str, negate: bool) -> bool | None:
    """Compare as the default collation does: case-insensitive, trailing spaces ignored."""
    a, b = left.rstrip(" ").casefold(), right.rstrip(" ").casefold()
    if operator == TokenType.LIKE:
        if _WILDCARDS & set(right):
            return None
        return (a == b) is not negate
    if negate:
        return None
    if operator == TokenType.EQ:
        return a == b
    if operator == TokenType.NEQ:
        return a != b
    return None


def evaluate(tokens: list[Token]) -> bool | None:
    """The value of an IF condition made of constants, or None when it depends on the server."""
    reader = _Reader(tokens)
    value = reader.condition()
    return value if reader.pos == len(tokens) else None


def is_existence_check(words: list[str]) -> bool:
    """Whether a condition only tests that something exists (``[NOT] EXISTS``, ``…_ID() IS
    [NOT] NULL``), as generated scripts do to be re-runnable."""
    return "EXISTS" in words or ("NULL" in words and any(w in _EXISTENCE for w in words))
