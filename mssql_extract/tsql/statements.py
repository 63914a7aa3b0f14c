"""Statement splitting and dispatch: a class-level handler table keyed on leading keywords.

Like sqlglot's ``Parser.STATEMENT_PARSERS``, ``StatementParser.STATEMENT`` maps the leading words
of a statement (``"CREATE SERVER ROLE"``) to a handler; the longest key that matches wins, and a
subclass extends the table by spreading it: ``STATEMENT = {**StatementParser.STATEMENT, …}``.
``registry`` builds such tables and refuses a key registered twice.

T-SQL statements need no terminator, so a statement ends where its handler stops reading; what
follows must then be ``;``, the end of the batch or the start of another statement, else the
statement is malformed. Statements outside the table are recorded as skipped; a few (SET, PRINT,
transaction control) are noise and leave no record.

``IF [NOT] EXISTS (…) BEGIN … END`` wrappers: the condition is skipped and the statements inside
are replayed. Generated scripts (SSMS, dbatools) wrap statements this way only to be re-runnable,
and the facts the script states are what it leaves behind after a run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import ClassVar, TypeVar

from sqlglot.tokenizer_core import TokenType

from grantbridge.errors import ExtractError
from mssql_extract.snapshot import SourceRef
from mssql_extract.tsql import grants, modules, objects, policies, principals
from mssql_extract.tsql.cursor import STOP_WORDS, Handler, Parser
from mssql_extract.tsql.tokens import LITERALS, STRINGS, Batch, tokenize

ProcHandler = Callable[[Parser, dict[str, str | None], SourceRef], None]
Procedure = tuple[tuple[str, ...], ProcHandler]


V = TypeVar("V")


def registry(*tables: Mapping[str, V]) -> dict[str, V]:
    """Merge handler tables; a key registered twice is a programming error."""
    merged: dict[str, V] = {}
    for table in tables:
        for key, value in table.items():
            if key in merged:
                raise ValueError(f"statement handler {key!r} is registered twice")
            merged[key] = value
    return merged


#: Words that may start a statement besides the handler keys (validates statement ends).
_OTHER_STARTS = frozenset(
    {"SELECT", "INSERT", "UPDATE", "DELETE", "MERGE", "WITH", "TRUNCATE", "SET", "WAITFOR"}
    | {"RAISERROR", "THROW", "BREAK", "CONTINUE", "OPEN", "CLOSE", "FETCH", "DEALLOCATE"}
    | {"CHECKPOINT", "DBCC", "BULK", "RECONFIGURE", "SAVE", "GOTO", "BACKUP", "RESTORE"}
    | {"KILL", "REVERT", "SETUSER", "ENABLE", "DISABLE", "ADD", "GO"}
)


class StatementParser(Parser):
    """Reads batches statement by statement and replays each onto the builder."""

    STATEMENT: ClassVar[dict[str, Handler]] = registry(
        grants.STATEMENTS,
        principals.STATEMENTS,
        objects.STATEMENTS,
        modules.STATEMENTS,
        policies.STATEMENTS,
        {"EXEC": lambda p: _execute(p), "EXECUTE": lambda p: _execute(p)},
        {"IF": lambda p: _if(p)},
    )
    PROCEDURES: ClassVar[dict[str, Procedure]] = registry(
        principals.PROCEDURES,  # type: ignore[arg-type]
        objects.PROCEDURES,
    )
    #: Noise: statements with no security effect that leave no record.
    NOISE: ClassVar[dict[str, tuple[str, ...]]] = {
        "SET": (),
        "PRINT": (),
        "BEGIN": ("TRAN", "TRANSACTION", "TRY", "CATCH", "DISTRIBUTED"),
        "END": ("TRY", "CATCH"),
        "ELSE": (),
        "COMMIT": ("TRAN", "TRANSACTION", "WORK"),
        "ROLLBACK": ("TRAN", "TRANSACTION", "WORK"),
    }

    def __init__(self, builder: object, origin: str, *, include_definitions: bool, lenient: bool):
        super().__init__(builder, origin, include_definitions=include_definitions)  # type: ignore[arg-type]
        self.lenient = lenient
        self._index = self._build_index()
        # a word skip_to_boundary stops at (STOP_WORDS) ends a statement, so it may start one
        self._starts = frozenset(self._index) | frozenset(self.NOISE) | _OTHER_STARTS | STOP_WORDS

    @classmethod
    def _build_index(cls) -> dict[str, list[tuple[tuple[str, ...], Handler]]]:
        """First word → (key words, handler), longest key first."""
        index: dict[str, list[tuple[tuple[str, ...], Handler]]] = {}
        for key, handler in cls.STATEMENT.items():
            words = tuple(key.split())
            index.setdefault(words[0], []).append((words, handler))
        for entries in index.values():
            entries.sort(key=lambda entry: -len(entry[0]))
        return index

    # ----------------------------------------------------------------- batches

    def parse_batch(self, batch: Batch) -> None:
        """Replay every statement of one batch (``GO n`` repeats have no further effect)."""
        self.batch = batch
        self.load([])
        try:
            self.load(tokenize(batch, self.origin))
        except ExtractError as exc:
            if not self.lenient:
                raise
            self.builder.skip("error", exc.message, "", self.ref())
            return
        while self.pos < len(self.tokens):
            if self.accept_type(TokenType.SEMICOLON):
                continue
            self.start = self.pos
            try:
                self._statement()
            except ExtractError as exc:
                if not self.lenient:
                    raise
                self._recover(exc)

    def _recover(self, exc: ExtractError) -> None:
        text = self.statement_text(self.pos + 1)
        self.pos = max(self.pos, self.start + 1)
        self.skip_to_boundary()
        self.builder.skip("error", exc.message, text, self.ref())

    def _statement(self) -> None:
        handler, length = self._lookup()
        if handler is not None:
            self.pos += length
            handler(self)
            self._check_end()
            return
        word = self.word()
        if word in self.NOISE:
            self.pos += 1
            if self.NOISE[word] and self.word() in self.NOISE[word]:
                self.pos += 1
            if word in ("SET", "PRINT"):
                self.skip_to_boundary()
            return
        self.pos += 1
        self.skip_statement("statement without a security effect (not read)")

    def _lookup(self) -> tuple[Handler | None, int]:
        for words, handler in self._index.get(self.word(), ()):
            if self.at(*words):
                return handler, len(words)
        return None, 0

    def _check_end(self) -> None:
        token = self.tok()
        if token is None or token.token_type == TokenType.SEMICOLON:
            return
        if self.word() not in self._starts:
            raise self.error(f"unexpected {token.text!r} after the statement")


# --------------------------------------------------------------------------- wrappers and EXEC


def _if(p: Parser) -> None:
    """``IF condition``: skip the condition; the statement or block after it is replayed."""
    p.skip_to_boundary(STOP_WORDS - {"IF"} | {"SELECT", "INSERT", "UPDATE", "DELETE", "SET"})


def _argument(p: Parser) -> str | bool | None:
    """One procedure argument: a string, name, number or NULL/DEFAULT; False for a variable."""
    token = p.advance()
    if token.token_type == TokenType.PARAMETER:
        p.name("a variable name")
        return False
    if token.token_type == TokenType.HEX_STRING:
        return "0x" + token.text.upper()
    if token.token_type in STRINGS or token.token_type in LITERALS:
        return token.text
    if token.text.upper() in ("NULL", "DEFAULT"):
        return None
    p.pos -= 1
    return p.name("an argument")


def _arguments(p: Parser, params: tuple[str, ...]) -> dict[str, str | None] | None:
    """Bind positional and ``@name = value`` arguments; None when one is a variable."""
    bound: dict[str, str | None] = {}
    if p.tok() is None or p.at_type(TokenType.SEMICOLON) or p.word() in STOP_WORDS:
        return bound
    position, variable = 0, False
    while True:
        if p.at_type(TokenType.PARAMETER) and p.at_type(TokenType.EQ, 2):
            at = p.advance()
            key = p.name("a parameter name").lower()
            p.pos += 1
            if key not in params:
                raise p.error(f"unknown parameter @{key}", at)
        else:
            if position >= len(params):
                raise p.error("too many arguments")
            key, position = params[position], position + 1
        value = _argument(p)
        variable = variable or value is False
        bound[key] = value if isinstance(value, str) or value is None else None
        if not p.accept_type(TokenType.COMMA):
            return None if variable else bound


def _execute(p: Parser) -> None:
    """``EXEC [@rc =] [db.][schema.]procedure args``: known system procedures are replayed."""
    ref = p.ref()
    if p.at_type(TokenType.PARAMETER) and p.at_type(TokenType.EQ, 2):
        p.pos += 3  # EXEC @rc = procedure …
    token = p.tok()
    if token is None or not (token.token_type == TokenType.IDENTIFIER or p.word()):
        p.skip_statement("EXEC of dynamic SQL or of a procedure variable (not read)")
        return
    parts = p.qualified("a procedure name")
    procedure = StatementParser.PROCEDURES.get(parts[-1].lower())
    if procedure is None:
        p.skip_statement(f"EXEC {parts[-1]} has no security effect grantbridge reads")
        return
    params, handler = procedure
    args = _arguments(p, params)
    if args is None:
        p.skip_statement(f"{parts[-1]} with variable arguments cannot be read statically")
        return
    handler(p, args, ref)
