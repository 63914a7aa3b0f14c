"""Statement splitting and dispatch: a class-level handler table keyed on leading keywords.

Like sqlglot's ``Parser.STATEMENT_PARSERS``, ``StatementParser.STATEMENT`` maps the leading words
of a statement (``"CREATE SERVER ROLE"``) to a handler; the longest key that matches wins, and a
subclass extends the table by spreading it: ``STATEMENT = {**StatementParser.STATEMENT, …}``.
``registry`` builds such tables and refuses a key registered twice.

T-SQL statements need no terminator, so a statement ends where its handler stops reading; what
follows must then be ``;``, the end of the batch or the start of another statement, else the
statement is malformed. Statements outside the table are recorded as skipped; a few (SET, PRINT,
transaction control) are noise and leave no record. The first statement of a batch may call a
procedure without EXEC (``sp_addrolemember 'r', 'u'``, as SSMS scripts for SQL Server 2005 and
2008 do): a system procedure named there is dispatched as if EXEC preceded it.

``IF … [ELSE …]`` replays the branch the script takes, when its condition can be evaluated, and
otherwise replays the branches noting what it replayed (``branches.py``, ``conditions.py``).
``WHILE`` replays its body once and notes the loop when the body replayed anything
(``loops.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, TypeVar

from sqlglot.tokenizer_core import TokenType

from grantbridge.errors import ExtractError
from mssql_extract.snapshot import SourceRef
from mssql_extract.tsql import (
    branches,
    drop_database,
    dynamic,
    grants,
    impersonation,
    indexes,
    legacy,
    loops,
    modules,
    object_drops,
    object_renames,
    objects,
    policies,
    principals,
    procedures,
    server_options,
    signatures,
)
from mssql_extract.tsql.cursor import STOP_WORDS, Handler, Parser, Procedure, Text
from mssql_extract.tsql.tokens import LITERALS, Batch, tokenize

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


#: Other first words of T-SQL statements ("Transact-SQL statements" and "Control-of-Flow" in
#: the T-SQL reference): read as without a security effect. A first word outside every list is
#: not T-SQL grantbridge knows (``GRNAT SELECT …``): kept as skipped with a reason that makes it
#: a finding (GB045), never dropped in silence.
_HARMLESS_STARTS = frozenset(
    {"DECLARE", "RETURN", "GET", "RECEIVE", "SEND", "MOVE", "READTEXT", "UPDATETEXT"}
    | {"WRITETEXT", "SHUTDOWN", "LINENO", "DUMP", "LOAD", "TRY", "CATCH", "BEGIN", "END"}
)

#: What CREATE, ALTER and DROP make or change besides the statements read as security
#: ("CREATE …", "ALTER …", "DROP …" in the T-SQL reference): without a security effect. Any
#: other word after them (``CREATE LOGN``) is kept as skipped with a finding, like an unknown
#: first word.
_DDL_OBJECTS = frozenset(
    {"TABLE", "INDEX", "VIEW", "PROCEDURE", "PROC", "FUNCTION", "TRIGGER", "TYPE", "SYNONYM"}
    | {"SEQUENCE", "DEFAULT", "RULE", "STATISTICS", "FULLTEXT", "XML", "SPATIAL", "CLUSTERED"}
    | {"NONCLUSTERED", "UNIQUE", "COLUMNSTORE", "PRIMARY", "PARTITION", "QUEUE", "SERVICE"}
    | {"CONTRACT", "MESSAGE", "ROUTE", "REMOTE", "EVENT", "SELECTIVE", "EXTERNAL", "SEARCH"}
    | {"RESOURCE", "WORKLOAD", "COLUMN", "DATABASE", "ASSEMBLY", "AGGREGATE", "BROKER"}
    | {"ENDPOINT", "CERTIFICATE", "ASYMMETRIC", "SYMMETRIC", "MASTER", "CREDENTIAL", "OR"}
    | {"CRYPTOGRAPHIC", "SERVER", "AVAILABILITY", "LOGIN", "USER", "ROLE", "APPLICATION"}
    | {"SCHEMA", "SECURITY", "AUDIT", "JSON", "LEDGER", "MATERIALIZED", "DIAGNOSTICS"}
)

#: The first words of the statements ``_DDL_OBJECTS`` completes.
_DDL_VERBS = frozenset({"CREATE", "ALTER", "DROP"})

#: The reason of a statement grantbridge does not know: not "without a security effect", so
#: the plan reports it (mapper/translate/skipped.py).
UNKNOWN_STATEMENT = (
    "not a T-SQL statement grantbridge knows: not read (if it is a misspelled GRANT, DENY, "
    "REVOKE or other security statement, correct the script and extract again)"
)


#: The reason of a statement grantbridge knows and finds without a security effect.
_NOT_READ = "statement without a security effect (not read)"
#: A temporary table lives in tempdb for the session that made it (CREATE TABLE (Transact-SQL),
#: "Temporary tables"): nothing of the estate's security. Scripts (SSDT post-deployment ones)
#: stage data in them; reading one as an object name stopped the whole extract.
_TEMPORARY = f"{_NOT_READ}: a temporary table (#name), in tempdb for its session only"
#: What CREATE, ALTER or DROP is about when its object may be a temporary table.
_ON_TEMPORARY = frozenset({"TABLE", "INDEX", "STATISTICS", "UNIQUE", "CLUSTERED", "NONCLUSTERED"})
#: How far into the statement the temporary table's name may be (DROP INDEX ix ON #t …).
_TEMPORARY_REACH = 8

#: Statements that hold statements (their own are dispatched one by one).
_COMPOUND: frozenset[Handler] = frozenset({branches.parse_if, loops.parse_while})


class StatementParser(Parser):
    """Reads batches statement by statement and replays each onto the builder."""

    STATEMENT: ClassVar[dict[str, Handler]] = registry(
        grants.STATEMENTS,
        principals.STATEMENTS,
        objects.STATEMENTS,
        drop_database.STATEMENTS,
        modules.STATEMENTS,
        object_drops.STATEMENTS,
        policies.STATEMENTS,
        signatures.STATEMENTS,
        impersonation.STATEMENTS,
        indexes.STATEMENTS,
        {"EXEC": procedures.execute, "EXECUTE": procedures.execute},
        {"IF": branches.parse_if, "WHILE": loops.parse_while},
    )
    PROCEDURES: ClassVar[dict[str, Procedure]] = registry(
        principals.PROCEDURES,
        legacy.PROCEDURES,
        objects.PROCEDURES,
        object_renames.PROCEDURES,
        server_options.PROCEDURES,
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
        self.first = True  # the statement read is the first of its batch
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
        """Replay every statement of one batch (``GO n`` repeats have no further effect, and
        ``GO 0`` runs it no time)."""
        if batch.repeat == 0:
            return
        self.batch = batch
        self.load([])
        try:
            self.load(tokenize(batch, self.origin))
        except ExtractError as exc:
            if not self.lenient:
                raise
            at = exc.location
            ref = SourceRef(origin=at.file or self.origin, line=at.line, column=at.column)
            self.builder.skip("error", exc.message, "", ref)
            return
        self.first, self.variables = True, {}
        while self.pos < len(self.tokens):
            self.run_statement()

    def run_statement(self) -> None:
        """Replay the statement at the current token (``;`` before it skipped); under
        ``lenient``, a malformed one is recorded as a skipped error and skipped."""
        while self.accept_type(TokenType.SEMICOLON):
            pass
        if self.pos >= len(self.tokens):
            return
        self.start = self.pos
        try:
            self._statement()
        except ExtractError as exc:
            if not self.lenient:
                raise
            self._recover(exc)
        self.first = False

    def replay_text(self, text: Text) -> None:
        """Replay dynamic SQL as the batch SQL Server makes of it; its locations are those of
        the literal in the file. A USE inside it lasts until its end, as in SQL Server (on the
        builder it began with: a refused CREATE in it may swap the builder, ``duplicates``)."""
        origin, line, column = self.location(text.at)
        quote = self.batch.text.find("'", text.at.start, text.at.end + 1)
        column += max(quote - text.at.start, 0) + 1  # the first character inside the quotes
        nested = Batch(text.value, ((1, origin, line),), column=column - 1)
        saved = (self.batch, self.tokens, self.words, self.pos, self.start, self.first)
        variables, builder, current = self.variables, self.builder, self.builder.current
        try:
            self.parse_batch(nested)
        finally:
            self.batch, self.tokens, self.words, self.pos, self.start, self.first = saved
            self.variables, builder.current = variables, current

    def _recover(self, exc: ExtractError) -> None:
        text = self.statement_text(self.pos + 1)
        self.pos = max(self.pos, self.start + 1)
        self.skip_to_boundary()
        self.builder.skip("error", exc.message, text, self.ref())

    def _statement(self) -> None:
        if self._on_temporary_table():
            self.pos += 1
            self.skip_statement(_TEMPORARY)
            return
        handler, length = self._lookup()
        if handler is None and self.first and procedures.at_procedure_name(self):
            # the first statement of a batch may call a procedure without EXEC
            handler, length = procedures.execute, 0
        if handler is not None:
            if (self.uncertain or self.loop is not None) and handler not in _COMPOUND:
                branches.replay_noted(self, handler, length)
                return
            self.pos += length
            handler(self)
            self.check_end()
            return
        word = self.word()
        if word in self.NOISE:
            self.pos += 1
            if self.NOISE[word] and self.word() in self.NOISE[word]:
                self.pos += 1
            if word in ("SET", "PRINT"):
                self.skip_to_boundary()
        elif word == "GOTO" and self.tok(1) is not None:
            # GOTO takes one label: a label on the next line (SMO's job scripts' ``GOTO
            # QuitWithRollback`` … ``QuitWithRollback:``) is not part of its text
            self.pos += 2
            self.builder.skip("statement", _NOT_READ, self.statement_text(), self.ref())
        else:
            self.pos += 1
            self.skip_statement(_NOT_READ if self._known(word) else UNKNOWN_STATEMENT)
        if any(w in dynamic.ASSIGNING for w in self.words[self.start : self.pos]):
            dynamic.track_assignments(self, self.start, self.pos)

    def _on_temporary_table(self) -> bool:
        """Whether the statement creates, alters or drops a temporary table (``#t``, ``##t``)
        or an index or statistics on one: ``CREATE TABLE #t``, ``DROP TABLE IF EXISTS #t``,
        ``CREATE INDEX ix ON #t``. sqlglot spells ``#`` as a token of its own."""
        if self.word() not in _DDL_VERBS or self.word(1).split(" ")[-1] not in _ON_TEMPORARY:
            return False
        for k in range(2, _TEMPORARY_REACH):
            if self.at_type(TokenType.HASH, k):
                return self.word(k - 1) in ("TABLE", "EXISTS", "ON")
            if self.at_type(TokenType.L_PAREN, k) or self.at_type(TokenType.SEMICOLON, k):
                return False
        return False

    def _known(self, word: str) -> bool:
        """Whether a statement no handler reads is T-SQL grantbridge knows (its first word,
        and what CREATE, ALTER or DROP is about); the parser is past the first word."""
        if word in _DDL_VERBS:  # CREATE, ALTER, DROP … of something no handler reads
            return self.word().split(" ", 1)[0] in _DDL_OBJECTS  # one token: NONCLUSTERED INDEX
        token = self.tok()
        if token is not None and token.token_type == TokenType.COLON:
            return True  # a label (GOTO's target)
        head = word.split(" ", 1)[0]  # one sqlglot token: UPDATE STATISTICS
        return head in _OTHER_STARTS or head in _HARMLESS_STARTS or head in STOP_WORDS

    def _lookup(self) -> tuple[Handler | None, int]:
        """The handler of the longest key the statement begins with, and how many tokens spell
        that key: sqlglot makes one token of some keyword pairs (``NONCLUSTERED INDEX``)."""
        paired = " " in self.word(1) or " " in self.word(2)
        for words, handler in self._index.get(self.word(), ()):
            if self.at(*words):
                return handler, len(words)
            length = self._spelled(words) if paired else 0
            if length:
                return handler, length
        return None, 0

    def _spelled(self, words: tuple[str, ...]) -> int:
        """How many tokens spell ``words`` when a token holds two of them; 0 when they do not."""
        got: list[str] = []
        k = 0
        while len(got) < len(words):
            word = self.word(k)
            if not word:
                return 0
            got += word.split()
            k += 1
        return k if tuple(got) == words and k < len(words) else 0

    def check_end(self) -> None:
        token = self.tok()
        if token is None or token.token_type == TokenType.SEMICOLON:
            return
        if self.word() not in self._starts and not self.at_type(TokenType.COLON, 1):
            # (a word followed by ':' is a label, GOTO's target: SMO's job scripts end
            # ``IF (@@TRANCOUNT > 0) ROLLBACK TRANSACTION`` / ``EndSave:``)
            # a literal is never quoted: it may be a password (``PASSWORD = 'a' 'b'``)
            what = "value" if token.token_type in LITERALS else repr(token.text)
            raise self.error(f"unexpected {what} after the statement")
