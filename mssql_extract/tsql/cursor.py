"""The token cursor every statement handler reads from (the base of the statement parser).

Handlers receive the parser, read tokens through the small vocabulary here (``at``, ``accept``,
``expect``, ``name``, ``qualified``, ``string``) and replay what they read onto the builder.
Keywords are compared on unquoted tokens only, so ``[GRANT]`` is a name, never a keyword.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, TypeVar

from sqlglot.tokenizer_core import Token, TokenType

from grantbridge.errors import ExtractError, Location
from mssql_extract.snapshot import SourceRef
from mssql_extract.tsql.replay import Builder
from mssql_extract.tsql.tokens import LITERALS, STRINGS, Batch

if TYPE_CHECKING:
    from mssql_extract.tsql.duplicates import Guard
    from mssql_extract.tsql.loops import Loop

TEXT_LIMIT = 200

#: ``model_fields_set`` of every source reference the parser makes (shared, never changed).
_REF_FIELDS = {"origin", "line", "column"}

#: A statement handler: reads one statement from the parser and replays it onto its builder.
Handler = Callable[["Parser"], None]

#: Arguments of a procedure call, bound to parameter names (None: NULL, DEFAULT or left out).
Args = dict[str, str | None]

#: A system procedure handler: replays one call, given its bound arguments and its location.
ProcHandler = Callable[["Parser", Args, SourceRef], None]

#: A system procedure: its parameter names in order (from its documentation page) and handler.
Procedure = tuple[tuple[str, ...], ProcHandler]


@dataclass(frozen=True)
class Text:
    """Text the script spells out for a string expression, and its first literal (the place
    that errors and source references inside the text point to)."""

    value: str
    at: Token


T = TypeVar("T")

#: Words that mark a statement whose other values may be secrets too (a password passed as a
#: number or an unquoted word): its text keeps only keywords, names and punctuation.
SECRET_WORDS = frozenset(
    {"PASSWORD", "SECRET", "SP_ADDLOGIN", "SP_ADDAPPROLE", "SP_CHANGE_USERS_LOGIN", "SP_PASSWORD"}
    | {"SP_SETAPPROLE", "SP_APPROLEPASSWORD", "HASHED", "SP_ADDLINKEDSRVLOGIN", "RMTPASSWORD"}
    | {"PASSWD", "SP_ADDLINKEDSERVER", "SP_ADDREMOTELOGIN"}
)

#: What a redacted value reads as.
REDACTED = "'***'"

#: Words that end an unknown or noise statement written without a semicolon. Deliberately
#: narrow: ``SET`` (``UPDATE … SET``) and ``SELECT`` (``INSERT … SELECT``) would cut statements
#: in two.
STOP_WORDS = frozenset(
    {"GRANT", "DENY", "REVOKE", "CREATE", "ALTER", "DROP", "EXEC", "EXECUTE", "USE", "IF"}
    | {"BEGIN", "END", "ELSE", "PRINT", "DECLARE", "COMMIT", "ROLLBACK", "WHILE", "RETURN"}
    | {"SETUSER"}  # a statement of its own, reported (``impersonation``): never swallowed
)

#: ``ADD [COUNTER] SIGNATURE TO`` starts a statement too (``signatures``); ADD alone does not
#: (``ALTER TABLE … ADD``, ``ALTER ROLE … ADD MEMBER``), so it is no stop word.
_SIGNATURE_STARTS = (("ADD", "SIGNATURE", "TO"), ("ADD", "COUNTER", "SIGNATURE", "TO"))


#: Token types that are never words (keywords or unquoted names).
_NOT_WORDS = LITERALS | {TokenType.IDENTIFIER}


def _is_word(token: Token) -> bool:
    if token.token_type in _NOT_WORDS:
        return False
    first = token.text[:1]
    return first.isalpha() or first == "_"


def _words(tokens: list[Token]) -> list[str]:
    """The upper-cased text of each word token, else ``""`` (``_is_word``, inlined: hot path)."""
    not_words = _NOT_WORDS
    words = []
    for token in tokens:
        text = token.text
        if token.token_type in not_words or not text:
            words.append("")
            continue
        first = text[0]
        words.append(text.upper() if first.isalpha() or first == "_" else "")
    return words


class Parser:
    """Token navigation, locations and error reporting over one batch at a time."""

    #: System procedures by lower-case name (filled by ``statements.StatementParser``).
    PROCEDURES: ClassVar[dict[str, Procedure]] = {}

    def __init__(self, builder: Builder, origin: str, *, include_definitions: bool) -> None:
        self.builder = builder
        self.origin = origin
        self.include_definitions = include_definitions
        self.batch = Batch.at("", origin, 1)
        self.tokens: list[Token] = []
        self.words: list[str] = []  # upper-cased text of each unquoted word token, else ""
        self.pos = 0
        self.start = 0  # index of the current statement's first token
        self.variables: dict[str, Text | None] = {}  # what the batch's variables hold, if known
        self.uncertain = False  # inside a branch of an IF whose condition cannot be evaluated
        self.condition_ref: SourceRef | None = None  # where that IF is
        self.loop: Loop | None = None  # the innermost WHILE whose body is being read
        self.guard: Guard | None = None  # the existence check of the IF whose branch is read
        self.schema: str | None = None  # in CREATE SCHEMA's elements: where one-part names are

    def replay_text(self, text: Text) -> None:
        """Replay dynamic SQL as a nested batch (``statements.StatementParser`` does)."""
        raise NotImplementedError

    # ----------------------------------------------------------------- reading tokens

    def tok(self, k: int = 0) -> Token | None:
        """The token ``k`` places ahead, or None past the end of the batch."""
        i = self.pos + k
        return self.tokens[i] if i < len(self.tokens) else None

    def load(self, tokens: list[Token]) -> None:
        """Start reading a batch's tokens (keywords are upper-cased once, here)."""
        self.tokens, self.pos, self.start = tokens, 0, 0
        self.words = _words(tokens)

    def word(self, k: int = 0) -> str:
        """The upper-cased text of an unquoted word token ``k`` ahead, else ``""``."""
        i = self.pos + k
        return self.words[i] if 0 <= i < len(self.words) else ""

    def at_type(self, token_type: TokenType, k: int = 0) -> bool:
        token = self.tok(k)
        return token is not None and token.token_type == token_type

    def at(self, *words: str) -> bool:
        """True when the next tokens are exactly these keywords."""
        pos, count = self.pos, len(words)
        if pos + count > len(self.words):
            return False
        if count == 1:  # the common case, without building a slice
            return self.words[pos] == words[0]
        return tuple(self.words[pos : pos + count]) == words

    def accept(self, *words: str) -> bool:
        """Consume the keywords if they come next."""
        if not self.at(*words):
            return False
        self.pos += len(words)
        return True

    def accept_type(self, token_type: TokenType) -> Token | None:
        token = self.tok()
        if token is None or token.token_type != token_type:
            return None
        self.pos += 1
        return token

    def expect(self, *words: str) -> None:
        if not self.accept(*words):
            raise self.error(f"expected {' '.join(words)}")

    def expect_type(self, token_type: TokenType, what: str) -> Token:
        token = self.accept_type(token_type)
        if token is None:
            raise self.error(f"expected {what}")
        return token

    def advance(self) -> Token:
        token = self.tok()
        if token is None:
            raise self.error("unexpected end of statement")
        self.pos += 1
        return token

    def name(self, what: str = "a name") -> str:
        """A quoted (``[x]``, ``"x"``) or unquoted identifier; keywords are names here too."""
        token = self.tok()
        if token is None or not (token.token_type == TokenType.IDENTIFIER or _is_word(token)):
            raise self.error(f"expected {what}")
        self.pos += 1
        return token.text

    def qualified(self, what: str = "a name") -> list[str]:
        """``a.b.c`` (``master..x`` keeps an empty part); at least one part."""
        parts = [self.name(what)]
        while self.accept_type(TokenType.DOT):
            parts.append("" if self.at_type(TokenType.DOT) else self.name(what))
        return parts

    def string(self, what: str = "a string") -> str:
        token = self.tok()
        if token is None or token.token_type not in STRINGS:
            raise self.error(f"expected {what}")
        self.pos += 1
        return token.text

    def name_or_string(self, what: str) -> str:
        token = self.tok()
        return self.string(what) if token and token.token_type in STRINGS else self.name(what)

    def on_off(self) -> bool:
        if self.accept("ON"):
            return True
        self.expect("OFF")
        return False

    def comma_list(self, read: Callable[[], T]) -> list[T]:
        items = [read()]
        while self.accept_type(TokenType.COMMA):
            items.append(read())
        return items

    def paren_names(self, what: str) -> list[str]:
        """``(a, b, …)`` of names."""
        self.expect_type(TokenType.L_PAREN, "(")
        names = self.comma_list(lambda: self.name(what))
        self.expect_type(TokenType.R_PAREN, ")")
        return names

    def skip_parens(self) -> None:
        """Skip a balanced ``( … )`` group starting at the current token."""
        depth = 0
        while (token := self.tok()) is not None:
            self.pos += 1
            if token.token_type == TokenType.L_PAREN:
                depth += 1
            elif token.token_type == TokenType.R_PAREN:
                depth -= 1
                if depth <= 0:
                    return

    # ----------------------------------------------------------------- boundaries

    def skip_to_boundary(self, stops: frozenset[str] = STOP_WORDS) -> None:
        """Skip to ``;`` or a statement keyword at parenthesis depth 0 (``CASE … END`` kept)."""
        depth = cases = 0
        while (token := self.tok()) is not None:
            kind = token.token_type
            if kind == TokenType.SEMICOLON and depth == 0:
                return
            if kind == TokenType.L_PAREN:
                depth += 1
            elif kind == TokenType.R_PAREN:
                depth -= 1
            elif depth == 0 and self.pos > self.start:
                word = self.word()
                if word == "CASE":
                    cases += 1
                elif word == "END" and cases:
                    cases -= 1
                elif word in stops or (word == "ADD" and self._at_signature()):
                    return
            self.pos += 1

    def _at_signature(self) -> bool:
        return any(self.at(*words) for words in _SIGNATURE_STARTS)

    def skip_to_batch_end(self) -> None:
        self.pos = len(self.tokens)

    def skip_statement(self, reason: str) -> None:
        """Record the current statement as skipped and move past it."""
        self.skip_to_boundary()
        self.builder.skip("statement", reason, self.statement_text(), self.ref())

    # ----------------------------------------------------------------- locations and text

    def location(self, token: Token | None = None) -> tuple[str, int, int]:
        """(origin, line, column) of a token in the file it comes from (1-based)."""
        if token is None:
            token = self.tokens[self.start] if self.start < len(self.tokens) else None
        batch = self.batch
        if token is None:
            return batch.origin, batch.first_line, 1
        text = batch.text
        line_start = text.rfind("\n", 0, token.start) + 1
        line = token.line  # where the token ends: a string may span lines
        if text.find("\n", token.start, token.end) >= 0:
            line -= text.count("\n", token.start, token.end + 1)
        column = token.start - line_start + 1 + (batch.column if line == 1 else 0)
        return *batch.where(line), column

    def ref(self, token: Token | None = None) -> SourceRef:
        origin, line, column = self.location(token)
        # built without validation: three plain values on the hot path of every statement; the
        # set of fields given is the same for every reference, so they share one (frozen models
        # never change it): 216 bytes less per statement, millions of statements at scale
        return SourceRef.model_construct(_REF_FIELDS, origin=origin, line=line, column=column)

    def statement_text(self, end: int | None = None, *, shown: Token | None = None) -> str:
        """The statement's text (first token to the current one), redacted and truncated.

        Every string and binary literal is shown as ``'***'``: a literal may be a password
        anywhere (dynamic SQL, ``DECLARE @pw = N'…'``, ``@rmtpassword = '…'``), and the text
        reaches the snapshot, the report and SARIF. With a word of ``SECRET_WORDS`` in the
        statement, numbers and the values after ``=`` or ``,`` are hidden as well. ``shown``: a
        token an error message names already, quoted as it is.
        """
        last = min(max(end if end is not None else self.pos, self.start + 1), len(self.tokens))
        if self.start >= last:
            return ""
        span = self.tokens[self.start : last]
        strict = any(_is_word(t) and t.text.upper() in SECRET_WORDS for t in span)
        # the token after the span tells a value from an option name (``, BADOPT = 1``)
        span_after = self.tokens[last] if last < len(self.tokens) else None
        text = " ".join(self._redacted(span, span_after, shown, strict=strict).split())
        return text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 1] + "…"

    def _redacted(
        self, span: list[Token], span_after: Token | None, shown: Token | None, *, strict: bool
    ) -> str:
        parts: list[str] = []
        text = self.batch.text
        for i, token in enumerate(span):
            if i:
                parts.append(text[span[i - 1].end + 1 : token.start])
            secret = token is not shown and _secret(span, i, strict, span_after)
            parts.append(REDACTED if secret else text[token.start : token.end + 1])
        return "".join(parts)

    def error(self, message: str, token: Token | None = None) -> ExtractError:
        """An ExtractError at the current token, quoting the statement's text."""
        at = token if token is not None else self.tok()
        if at is None and self.tokens:
            at = self.tokens[-1]
        # the token the message names is quoted in it already: the excerpt shows it too
        named = (
            at if at is not None and at.token_type not in LITERALS and at.text in message else None
        )
        text = self.statement_text(self.pos + 1, shown=named)
        return ExtractError(f"{message} in: {text}", Location(*self.location(at)))


def _secret(span: list[Token], i: int, strict: bool, span_after: Token | None = None) -> bool:
    """Whether token ``i`` of a statement's text is shown as ``'***'`` (see ``statement_text``):
    a literal; and in a strict statement also a number, and a name given as a value (after
    ``=``, or a positional procedure argument after ``,``: ``sp_addlogin bob, Secret1``; not
    an option name, followed by ``=``, even by a token past the span: ``span_after``)."""
    token = span[i]
    if token.token_type in LITERALS:
        return strict or token.token_type != TokenType.NUMBER
    if not strict or i == 0 or not (token.token_type == TokenType.IDENTIFIER or _is_word(token)):
        return False
    before = span[i - 1].token_type
    following = span[i + 1] if i + 1 < len(span) else span_after
    after = following.token_type if following is not None else None
    return before == TokenType.EQ or (before == TokenType.COMMA and after != TokenType.EQ)


def skipped(reason: str) -> Handler:
    """A handler that records its statement as skipped, with ``reason``.

    For statements that begin like a handled one but are of another kind: keyed in the table
    under their own longer key, they never reach the handler of the shorter one.
    """

    def handler(p: Parser) -> None:
        p.skip_statement(reason)

    handler.__doc__ = f"Recorded as skipped: {reason}."
    return handler
