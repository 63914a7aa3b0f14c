"""``EXEC``: system procedures with a security effect, dynamic SQL, and every other procedure.

Known system procedures (``Parser.PROCEDURES``, filled from the statement modules) are replayed
with their arguments bound by parameter name or position. ``sp_executesql`` and ``EXEC (…)`` run
dynamic SQL (``dynamic.py``). What is left is kept as skipped, and its reason says whether the
plan must report it (mapper/translate/skipped.py): a procedure of the script's own, or a system
procedure known to change no security, is "without a security effect"; any other system procedure
(``sp_…``, ``xp_…``) may change security in a way grantbridge does not read, and is reported.
"""

from __future__ import annotations

from sqlglot.tokenizer_core import TokenType

from mssql_extract.tsql import impersonation
from mssql_extract.tsql.cursor import STOP_WORDS, Args, Parser
from mssql_extract.tsql.dynamic import BUILT_AT_RUN_TIME, static_text
from mssql_extract.tsql.tokens import LITERALS, STRINGS

#: System procedures that generated scripts call and that change no security (SSMS database
#: scripts, SSDT publish scripts), and what each does instead.
WITHOUT_EFFECT: dict[str, str] = {
    "sp_fulltext_database": "full-text indexing",
    "sp_db_vardecimal_storage_format": "a storage format",
    "sp_addextendedproperty": "an extended property",
    "sp_updateextendedproperty": "an extended property",
    "sp_dropextendedproperty": "an extended property",
    "sp_settriggerorder": "the order of triggers",
    "sp_bindrule": "a rule binding",
    "sp_bindefault": "a default binding",
    "sp_refreshview": "a view's metadata",
    "sp_recompile": "a recompilation",
    "sp_password": "a password (never migrated)",
    "sp_setapprole": "a session's application role (until it ends)",
    "sp_unsetapprole": "a session's application role",
    # dbatools' Export-DbaLogin writes it for each job a login owns: SQL Server Agent jobs do
    # not migrate to PostgreSQL (a scheduler such as pg_cron runs as its own role)
    "sp_update_job": "a SQL Server Agent job's owner",
    # … and SSMS's "Script Job as" and dbatools' Export-DbaInstance (SMO) write a job so
    "sp_add_category": "a SQL Server Agent job category",
    "sp_add_job": "a SQL Server Agent job",
    "sp_delete_job": "a SQL Server Agent job",
    "sp_add_jobstep": "a SQL Server Agent job step",
    "sp_update_jobstep": "a SQL Server Agent job step",
    "sp_add_jobserver": "a SQL Server Agent job's server",
    "sp_add_jobschedule": "a SQL Server Agent job schedule",
    "sp_add_schedule": "a SQL Server Agent schedule",
    "sp_attach_schedule": "a SQL Server Agent job schedule",
}


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


#: Parameters whose value grantbridge never reads, only whether one is given (a password): a
#: variable there does not keep the call from being replayed. sp_help_revlogin for SQL Server
#: 2000 (KB 246133) writes every SQL login as ``SET @pwd = CONVERT (varbinary(256), 0x…)`` /
#: ``EXEC master..sp_addlogin 'name', @pwd, @sid = 0x…, @encryptopt = 'skip_encryption'``.
_SECRET_PARAMETERS = frozenset({"passwd", "password"})
#: What such a parameter is bound to when given as a variable (never a value read).
GIVEN_AS_VARIABLE = "@variable"


def _arguments(p: Parser, params: tuple[str, ...]) -> Args | None:
    """Bind positional and ``@name = value`` arguments; None when one is a variable (but for
    a password: ``_SECRET_PARAMETERS``)."""
    bound: Args = {}
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
        if value is False and key in _SECRET_PARAMETERS:
            value = GIVEN_AS_VARIABLE
        variable = variable or value is False
        bound[key] = value if isinstance(value, str) or value is None else None
        if not p.accept_type(TokenType.COMMA):
            return None if variable else bound


def _skip_dynamic(p: Parser, reason: str = BUILT_AT_RUN_TIME) -> None:
    """Skip dynamic SQL that cannot be read. It may drop a constraint SQL Server named, the way
    scripts drop one (its name read from ``sys.default_constraints`` into the text): the
    database's unnamed constraints are no longer known to keep a column (``dependents``)."""
    p.pos = p.start + 1  # from inside a parenthesis: skip the whole statement from its start
    p.skip_statement(reason)
    if reason == BUILT_AT_RUN_TIME:  # (EXEC … AT runs on another server)
        p.builder.db().objects.forget_unnamed()


def _execute_text(p: Parser) -> None:
    """``EXEC ( text ) [AS {LOGIN | USER} = 'name'] [AT linked_server]``."""
    p.pos += 1
    text = static_text(p)
    if text is None or not p.accept_type(TokenType.R_PAREN):
        _skip_dynamic(p)
        return
    if p.accept("AS"):  # run as another principal: the same statements, the same effect
        p.name("LOGIN or USER")
        p.expect_type(TokenType.EQ, "=")
        p.string("a principal name")
    if p.at("AT") or p.at("AT", "DATA_SOURCE"):
        _skip_dynamic(p, "EXEC … AT a linked server: runs on another server (not read)")
        return
    p.replay_text(text)


def _execute_sql(p: Parser) -> None:
    """``sp_executesql [@stmt =] text [, @params = N'…', values …]``: the text as a batch."""
    if p.at_type(TokenType.PARAMETER) and p.at_type(TokenType.EQ, 2):
        p.pos += 3  # @stmt = (SSMS writes @statement = …)
    text = static_text(p)
    if text is None:
        _skip_dynamic(p)
        return
    if p.at_type(TokenType.COMMA):  # parameter definitions and values: not needed
        p.skip_to_boundary()
    p.replay_text(text)


def _unknown(name: str) -> str:
    """Why a procedure grantbridge does not replay is skipped (see the module docstring)."""
    if name in WITHOUT_EFFECT:
        return f"EXEC {name} sets {WITHOUT_EFFECT[name]}, without a security effect"
    if name.startswith(("sp_", "xp_")):
        return (
            f"EXEC {name}: a system procedure grantbridge does not replay "
            "(what it changes is not in the plan)"
        )
    return f"EXEC {name} has no security effect grantbridge reads"


def execute(p: Parser) -> None:
    """``EXEC [@rc =] [db.][schema.]procedure args``, ``EXEC ( text )`` or the statement
    ``EXECUTE AS`` (``impersonation``)."""
    ref = p.ref()
    if p.accept("AS"):  # EXECUTE AS USER = 'u': the statement, not a procedure called AS
        impersonation.execute_as(p)
        return
    if p.at_type(TokenType.PARAMETER) and p.at_type(TokenType.EQ, 2):
        p.pos += 3  # EXEC @rc = procedure …
    if p.at_type(TokenType.L_PAREN):
        _execute_text(p)
        return
    token = p.tok()
    if token is None or not (token.token_type == TokenType.IDENTIFIER or p.word()):
        p.skip_statement("EXEC of a procedure named by a variable (not read)")
        return
    parts = p.qualified("a procedure name")
    name = parts[-1].lower()
    if name == "sp_executesql":
        _execute_sql(p)
        return
    procedure = p.PROCEDURES.get(name)
    if procedure is None:
        p.skip_statement(_unknown(name))
        return
    params, handler = procedure
    args = _arguments(p, params)
    if args is None:
        p.skip_statement(f"{parts[-1]} with variable arguments cannot be read statically")
        return
    handler(p, args, ref)


def at_procedure_name(p: Parser) -> bool:
    """``[db.][schema.]name`` of a system procedure (``sp_…``, ``xp_…`` or a known one) next."""
    k, last = 0, ""
    while (token := p.tok(k)) is not None and (
        token.token_type == TokenType.IDENTIFIER or p.word(k)
    ):
        last = token.text.lower()
        if not p.at_type(TokenType.DOT, k + 1):
            break
        k += 2
        while p.at_type(TokenType.DOT, k):  # master..sp_x
            k += 1
    return last in p.PROCEDURES or last.startswith(("sp_", "xp_"))
