"""What the extractor could not read becomes findings, so no gap in the source is silent.

The snapshot's ``skipped`` entries (DESIGN §2.1: "recorded as skipped with the reason, never
silently left out") are not facts the plan can map, so they have no dispositions; each one that
may hide security is a finding instead, shown in the report and in SARIF:

* a database the extractor could not read (``database``): GB044, high;
* a statement that did not parse under ``--lenient`` (``error``), a catalog row of a class
  grantbridge does not model (``row``), a statement that was read but whose security effect
  could not be (dynamic SQL, variable arguments, ownership of an unknown object, a module
  signature, or its removal in an IF branch that may not run, EXECUTE AS in a script), one
  that dropped earlier permissions as a side effect (a new owner, a schema transfer: its text
  lists them), and one SQL Server refuses (a second CREATE, a constraint named as one its
  schema holds, a DENY or REVOKE without CASCADE of a grantable permission, a DROP of a role
  with members or of a principal that owns something or granted a permission, a DROP COLUMN
  of a column a default depends on, a DROP TABLE of a table or a DROP CONSTRAINT of a key a
  foreign key of another table references, a DROP of what a view WITH SCHEMABINDING
  references), and a system database (msdb …) whose users, memberships
  or permissions a script recorded: GB045.

Statements the extractor recognised as having no security effect (``CREATE TABLE`` options,
triggers, ``ALTER DATABASE SET`` options …) stay out of the findings: they are counted in the
extract summary.
"""

from __future__ import annotations

from mapper import findings
from mapper.translate.state import PlanState
from mssql_extract.snapshot import Skipped

#: Phrases of the extractor's skip reasons for statements it read and found harmless
#: (mssql_extract/tsql: "statement without a security effect (not read)", "EXEC … has no
#: security effect grantbridge reads", "trigger (not a securable)").
_HARMLESS = ("without a security effect", "has no security effect", "not a securable")
#: How the extractor's reason begins for a statement it replayed inside an IF branch whose
#: condition it could not evaluate (mssql_extract/tsql/branches.py): in the plan, maybe wrongly.
REPLAYED = "replayed, though"
#: How the extractor's reason ends for a second CREATE SQL Server refuses
#: (mssql_extract/tsql/duplicates.py): read, and left out because the first one stands.
REFUSED = "the first definition stands (not replayed)"
#: How it ends for a DENY or REVOKE without CASCADE of a permission held WITH GRANT OPTION,
#: which SQL Server refuses (Msg 4611, mssql_extract/tsql/grants.py): the permission stays.
REFUSED_WITHOUT_CASCADE = "the permission stands (not replayed)"
#: How it ends for a DROP of a principal SQL Server refuses, as it has members or owns something
#: (Msg 15144, 15138, 15174 …: mssql_extract/tsql/drop_refusals.py): the principal stays.
REFUSED_DROP = "the principal stands (not replayed)"
#: How it ends for a DROP DATABASE SQL Server refuses, of the current database or a system one
#: (Msg 3702 …: mssql_extract/tsql/drop_database.py): the database stays.
REFUSED_DROP_DATABASE = "the database stands (not replayed)"
#: How it ends for a DROP SEQUENCE of a sequence a column default calls, which SQL Server
#: refuses (DROP SEQUENCE, Remarks: mssql_extract/tsql/column_defaults.py): the sequence stays.
REFUSED_DROP_SEQUENCE = "the sequence stands (not replayed)"
#: How it ends for an ALTER TABLE … DROP COLUMN of a column a default, another constraint, an
#: index, statistics, a computed column or another table's foreign key depends on, which SQL
#: Server refuses (Msg 5074, 4922: mssql_extract/tsql/table_drops.py): the column stays.
REFUSED_DROP_COLUMN = "the column stands (not replayed)"
#: How it ends for a DROP TABLE of a table another table's foreign key or a view or function
#: WITH SCHEMABINDING references, which SQL Server refuses (Msg 3726, 3729:
#: mssql_extract/tsql/key_refusals.py): the table stays.
REFUSED_DROP_TABLE = "the table stands (not replayed)"
#: How it ends for a DROP VIEW of a view a view or function WITH SCHEMABINDING references (Msg
#: 3729): the view stays.
REFUSED_DROP_VIEW = "the view stands (not replayed)"
#: How it ends for an ALTER TABLE … DROP CONSTRAINT of the key another table's foreign key
#: references, which SQL Server refuses (Msg 3725: mssql_extract/tsql/key_refusals.py).
REFUSED_DROP_KEY = "the key stands (not replayed)"
#: How it ends for an sp_rename of a table, view or column a view or function WITH
#: SCHEMABINDING references, which SQL Server refuses (Msg 15336:
#: mssql_extract/tsql/rename_refusals.py): the old name stays, with its permissions.
REFUSED_RENAME = "the name stands (not replayed)"
#: How it ends for a CREATE USER with a password in a database the script shows is not
#: contained (Msg 33233: mssql_extract/tsql/containment.py): no such user.
REFUSED_USER = "the user is not created (not replayed)"
#: How it ends for an ALTER USER … WITH PASSWORD there, or of a user for a login in a contained
#: database (mssql_extract/tsql/containment.py).
REFUSED_USER_CHANGE = "the user is unchanged (not replayed)"
#: What such a reason says when the DROP is in a WHILE loop's body, of which the extractor
#: replayed one pass (mssql_extract/tsql/loops.py): a later pass may succeed.
REFUSED_IN_LOOP = "in the one pass grantbridge replays of the WHILE loop"
#: How the extractor's reason begins for a module signature or countersignature the module
#: still has (mssql_extract/tsql/signatures.py): PostgreSQL has no module signing.
SIGNING = "module signing:"
COUNTERSIGNING = "module countersigning:"
#: How it begins for a DROP SIGNATURE in an IF branch the script may not run (signatures.py):
#: the signature it removed is no longer reported.
UNSIGNING = "module signature removed:"
#: How it begins for EXECUTE AS or SETUSER in a script (mssql_extract/tsql/impersonation.py).
IMPERSONATION = "impersonation:"
#: How it begins for a statement that dropped earlier permissions as a side effect (a new owner,
#: a schema transfer: mssql_extract/tsql/dropped.py); its text lists them.
DROPPED = "permissions dropped:"
#: How it begins for a system database (msdb, master …) holding facts, which the extractor leaves
#: out of the snapshot as catalog rows and dacpacs do (mssql_extract/tsql/system_databases.py).
SYSTEM_DATABASE = "system database"
#: What such a reason, or a module signature's, says when the statement is in a WHILE loop's body
#: or an IF branch that grantbridge replayed without knowing whether the script runs it
#: (mssql_extract/tsql/dropped.py, signatures.py).
MAYBE_RUN = "(replayed"


def harmless(skipped: Skipped) -> bool:
    """Whether a skipped entry is a statement the extractor read and found without effect."""
    return skipped.kind == "statement" and any(p in skipped.reason for p in _HARMLESS)


def plan_skipped(state: PlanState) -> None:
    """One finding per skipped entry that may hide security (see the module docstring)."""
    for skipped in state.snapshot.skipped:
        if harmless(skipped):
            continue
        ref = str(skipped.source_ref)
        if skipped.kind == "database":
            state.finding(findings.make(
                "GB044", f"{skipped.text}: {skipped.reason}",
                "Not in the plan: the database could not be read.",
                securable=f"DATABASE {skipped.text}" if skipped.text else None, source_ref=ref,
            ))  # fmt: skip
            continue
        evidence = f"{skipped.reason}: {skipped.text}" if skipped.text else skipped.reason
        state.finding(findings.make("GB045", evidence, _action(skipped), source_ref=ref))


#: The action of a refused DROP TABLE or DROP VIEW.
_REFERENCED = (
    "Not in the plan as a drop: SQL Server refuses to drop the {what}, so it stays with its "
    "permissions (the other objects the statement names are dropped), and the plan holds them "
    "as the server does. If it is meant to go, drop what references it first: the foreign keys "
    "of other tables (ALTER TABLE … DROP CONSTRAINT on those tables, or DROP TABLE of those "
    "tables listed before it in the same statement), the views and functions WITH "
    "SCHEMABINDING (DROP VIEW, DROP FUNCTION, or ALTER them without SCHEMABINDING), and "
    "extract again."
)
#: A refused DROP's reason suffix → its finding's action, and what a later pass of a loop may
#: drop once the statement succeeds (:func:`_in_loop`).
_REFUSED_DROPS: tuple[tuple[str, str, str], ...] = (
    (
        REFUSED_DROP,  # a role with members, an owner: Msg 15144 …
        "Not in the plan as a drop: SQL Server refuses the statement, so the principal keeps "
        "its members, ownerships and permissions, and the plan holds them as the server does. "
        "If it is meant to go, remove its members, give what it owns another owner and "
        "revoke what it granted first (in the script, or on the server) and extract again.",
        "the principal once what is in the way is gone",
    ),
    (
        REFUSED_DROP_DATABASE,
        "Not in the plan as a drop: SQL Server refuses the statement, so the database keeps "
        "what the script recorded in it, and the plan holds it as the server does. If it is "
        "meant to go, drop it from another database (USE master first) and extract again.",
        "the database once it runs in another one",
    ),
    (
        REFUSED_DROP_SEQUENCE,
        "Not in the plan as a drop: SQL Server refuses the statement, so the sequence stays, "
        "and the INSERT grantees of the tables whose defaults call it get USAGE on it as "
        "before. If it is meant to go, drop those defaults first (ALTER TABLE … DROP "
        "CONSTRAINT) and extract again.",
        "the sequence once the defaults are gone",
    ),
    (
        REFUSED_DROP_COLUMN,
        "Not in the plan as a drop: SQL Server refuses the statement, so the column stays "
        "with its permissions (and the table with every constraint the statement names), "
        "and the plan holds them as the server does. If it is meant to go, drop what depends "
        "on it first: a default or other constraint in the same statement (ALTER TABLE … DROP "
        "CONSTRAINT df, COLUMN c), a computed column that uses it in the same statement or "
        "before it (DROP COLUMN b, c), an index or statistics before it (DROP INDEX, DROP "
        "STATISTICS), another table's foreign key that references it before it (ALTER TABLE "
        "… DROP CONSTRAINT on that table), a view or function WITH SCHEMABINDING that names "
        "it before it (DROP VIEW, DROP FUNCTION, or ALTER it without SCHEMABINDING), and "
        "extract again.",
        "the column once what depends on it is gone",
    ),
    (
        REFUSED_DROP_TABLE,
        _REFERENCED.format(what="table"),
        "the table once what references it is gone",
    ),
    (
        REFUSED_DROP_VIEW,
        _REFERENCED.format(what="view"),
        "the view once what references it is gone",
    ),
    (
        REFUSED_DROP_KEY,
        "Not in the plan as a drop: SQL Server refuses the statement, so the key stays, and "
        "so does every column the statement names, with its permissions; the plan holds them "
        "as the server does. If it is meant to go, drop the foreign keys of other tables that "
        "reference it first (ALTER TABLE … DROP CONSTRAINT on those tables), and extract again.",
        "the key once the foreign keys are gone",
    ),
    (
        REFUSED_RENAME,
        "Not in the plan as a rename: SQL Server refuses the statement, so the table, view or "
        "column keeps its name and its permissions, and the plan holds them under that name "
        "as the server does (later statements that use the new name do not find it). If it is "
        "meant to be renamed, drop the views and functions WITH SCHEMABINDING that reference "
        "it first (DROP VIEW, DROP FUNCTION, or ALTER them without SCHEMABINDING), and "
        "extract again.",
        "the name once what references it is gone",
    ),
)


def _action(skipped: Skipped) -> str:
    """What the plan did about a skipped entry (GB045's action)."""
    if skipped.reason.startswith(REPLAYED):  # an IF branch whose condition could not be read
        return "In the plan, though the script may not run it: check the condition on the server."
    if skipped.reason.endswith(REFUSED):  # a duplicate CREATE: SQL Server refuses it
        return "Not in the plan: SQL Server refuses the statement; the first definition is planned."
    if skipped.reason.endswith(REFUSED_WITHOUT_CASCADE):  # SQL Server refuses it: Msg 4611
        return (
            "Not in the plan: SQL Server refuses the statement, so the grantee keeps the "
            "permission, and the plan grants it as the server holds it. If it is meant to go, "
            "take it away with CASCADE on the server (which takes it from those the grantee "
            "granted it to as well) and extract again."
        )
    for suffix, action, later in _REFUSED_DROPS:
        if skipped.reason.endswith(suffix):
            return _in_loop(skipped, action, later)
    if skipped.reason.endswith(REFUSED_USER):
        return (
            "Not in the plan: SQL Server refuses the statement, so the user does not exist. If "
            "it is meant to, make the database contained (CONTAINMENT = PARTIAL), or create the "
            "user for a login, and extract again."
        )
    if skipped.reason.endswith(REFUSED_USER_CHANGE):
        return (
            "Not in the plan: SQL Server refuses the statement, so the user keeps how it "
            "authenticates (and any name or default schema the statement sets). If it is meant "
            "to have a password, it must be a contained user: make the database contained "
            "(CONTAINMENT = PARTIAL) and the user one with a password "
            "(sp_migrate_user_to_contained turns a user for a login into one), and extract again."
        )
    if skipped.reason.startswith(SIGNING):
        action = (
            "Not in the plan: PostgreSQL has no module signing. To give the routine those "
            "permissions, make it SECURITY DEFINER (SET search_path = pg_catalog, <schema>), "
            "owned by a NOLOGIN role that holds the certificate user's grants; REVOKE EXECUTE "
            "FROM PUBLIC and grant EXECUTE to its callers."
        )
        return _maybe_run(skipped, action, "whether the module is signed")
    if skipped.reason.startswith(COUNTERSIGNING):
        action = (
            "Not in the plan: PostgreSQL has no module signing. A routine that is not SECURITY "
            "DEFINER runs with the privileges of the SECURITY DEFINER routine calling it, so "
            "once the signed module is one (see its ADD SIGNATURE), this one needs nothing more."
        )
        return _maybe_run(skipped, action, "whether the module is countersigned")
    if skipped.reason.startswith(UNSIGNING):
        action = (
            "Not in the plan: PostgreSQL has no module signing, and the plan no longer reports "
            "the signature this statement removes."
        )
        return _maybe_run(skipped, action, "whether the module is signed")
    if skipped.reason.startswith(DROPPED):
        action = (
            "Not in the plan, as on the server: SQL Server drops these permissions when the "
            "statement runs. If they are meant to stay, grant them after it (in the script, "
            "or on the server) and extract again."
        )
        return _maybe_run(skipped, action, "whether these permissions are still there")
    if skipped.reason.startswith(IMPERSONATION):
        return (
            "The statements after it are in the plan as if the script's caller ran them: check "
            "on the server who owns what they created, and that none of them failed."
        )
    if skipped.reason.startswith(SYSTEM_DATABASE):
        return (
            "Not in the plan: PostgreSQL has no such database. Grant what these principals "
            "need from it (a SQL Server Agent job's replacement, such as pg_cron) on the target."
        )
    what = {"error": "did not parse", "row": "was not read", "statement": "was not read"}
    return (
        f"Not in the plan: the {'row' if skipped.kind == 'row' else 'statement'} "
        f"{what[skipped.kind]}."
    )


def _in_loop(skipped: Skipped, action: str, later: str) -> str:
    """``action``, and for a refused DROP in a WHILE body (:data:`REFUSED_IN_LOOP`) what a later
    pass may drop (``later``)."""
    if REFUSED_IN_LOOP not in skipped.reason:
        return action
    return (
        f"{action} The statement is in a loop: a later pass may drop {later}; check on the "
        "server whether it is still there."
    )


def _maybe_run(skipped: Skipped, action: str, check: str) -> str:
    """``action``, and what to ``check`` on the server when the statement is in a WHILE loop or
    an IF branch grantbridge replayed without knowing whether the script runs it."""
    if MAYBE_RUN not in skipped.reason:
        return action
    return (
        f"{action} The statement is in a loop or a branch the script may not run: check on the "
        f"server {check}."
    )
