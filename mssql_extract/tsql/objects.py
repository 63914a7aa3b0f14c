"""Databases, schemas and ownership: USE, CREATE DATABASE, ALTER DATABASE … SET, CREATE SCHEMA,
ALTER AUTHORIZATION and sp_changedbowner; and the statements that only begin like CREATE or
ALTER DATABASE (scoped credentials, encryption keys, …), recorded as skipped. A CREATE DATABASE
or SCHEMA of a name taken is refused, as SQL Server refuses it (``duplicates``)."""

from __future__ import annotations

from sqlglot.tokenizer_core import TokenType

from mssql_extract.snapshot import ObjectKind, SourceRef, fold
from mssql_extract.tsql import dropped, duplicates, grants, login_users, modules
from mssql_extract.tsql.cursor import STOP_WORDS, Handler, Parser, skipped
from mssql_extract.tsql.grants import class_prefix
from mssql_extract.tsql.state import NamedState


def use(p: Parser) -> None:
    """``USE [db]``: later database-level statements go to ``db``."""
    ref = p.ref()
    p.builder.use(p.name("a database name"), ref)


def _containment(p: Parser) -> str:
    """``= {NONE | PARTIAL}`` after the word CONTAINMENT."""
    p.expect_type(TokenType.EQ, "=")
    if p.accept("PARTIAL"):
        return "PARTIAL"
    p.expect("NONE")
    return "NONE"


def create_database(p: Parser) -> None:
    """``CREATE DATABASE name [CONTAINMENT = PARTIAL] …`` (files and options are not read)."""
    ref, name = p.ref(), p.name("a database name")
    containment = _containment(p) if p.accept("CONTAINMENT") else None
    begin = p.pos
    p.skip_to_boundary()
    collation = _collation(p, begin)
    found = p.builder.databases.get(fold(name))
    taken = (f"database {found.name!r}", found.ref) if found and found.created else None
    if duplicates.refused(p, name, taken, duplicates.DATABASE):
        return
    db = p.builder.db(name, ref)  # only once read whole: a malformed statement adds nothing
    db.ref, db.created = ref, True
    if containment is not None or not _azure_sql_database(p, begin):
        db.containment, db.containment_ref = containment or "NONE", ref
        db.containment_default = containment is None
    if collation is not None:
        db.collation = collation


#: Words only the Azure SQL Database form of CREATE DATABASE has (its ``<edition_options>`` and
#: ``AS COPY OF``; CREATE DATABASE (Transact-SQL), SQL Database tab), whose syntax has no
#: CONTAINMENT clause: there every user may have a password (CREATE USER (Transact-SQL)).
_AZURE_SQL_DATABASE = frozenset({"EDITION", "SERVICE_OBJECTIVE", "ELASTIC_POOL", "COPY"})


def _azure_sql_database(p: Parser, begin: int) -> bool:
    """Whether the CREATE DATABASE read from ``begin`` is one of Azure SQL Database. Without
    CONTAINMENT, SQL Server's creates a database that is not contained ("By default, all SQL
    Server 2012 and later databases have a containment set to NONE": Contained Databases,
    Partially Contained Database Concepts, Non-contained database,
    https://learn.microsoft.com/sql/relational-databases/databases/contained-databases);
    Azure SQL Database's has no such setting, so its containment stays unknown."""
    return not _AZURE_SQL_DATABASE.isdisjoint(p.words[begin : p.pos])


def _collation(p: Parser, begin: int) -> str | None:
    """The ``COLLATE name`` of a CREATE DATABASE read from ``begin`` to the current token (after
    the files: ``[ON …] [LOG ON …] [COLLATE name] [WITH …]``), if any."""
    for i in range(begin, p.pos - 1):
        if p.words[i] == "COLLATE":
            return p.tokens[i + 1].text
    return None


def _database_name(p: Parser) -> str:
    return p.builder.current if p.accept("CURRENT") else p.name("a database name")


#: Where ALTER DATABASE … SET ends: ``WITH ROLLBACK IMMEDIATE`` is part of it, not a ROLLBACK.
_OPTION_ENDS = STOP_WORDS - {"ROLLBACK"}

#: ALTER DATABASE … SET options with a security effect, and the DbState attribute each sets.
_DATABASE_FLAGS = {"TRUSTWORTHY": "trustworthy", "DB_CHAINING": "db_chaining"}


def _database_option(p: Parser) -> tuple[str, object]:
    """One ``TRUSTWORTHY | DB_CHAINING {ON | OFF}`` or ``CONTAINMENT = …``: (attribute, value)."""
    if p.accept("CONTAINMENT"):
        return "containment", _containment(p)
    flag = _DATABASE_FLAGS.get(p.word())
    if flag is None:
        raise p.error("expected TRUSTWORTHY, DB_CHAINING or CONTAINMENT")
    p.pos += 1
    return flag, p.on_off()


def alter_database(p: Parser) -> None:
    """``ALTER DATABASE db SET TRUSTWORTHY | DB_CHAINING {ON | OFF}``; other forms are skipped."""
    name = _database_name(p)
    if not (p.at("SET") and (p.word(1) in _DATABASE_FLAGS or p.word(1) == "CONTAINMENT")):
        p.skip_to_boundary(_OPTION_ENDS)
        reason = "ALTER DATABASE option without a security effect"
        p.builder.skip("statement", reason, p.statement_text(), p.ref())
        return
    p.expect("SET")
    ref = p.ref()
    options = p.comma_list(lambda: _database_option(p))
    if p.accept("WITH"):  # WITH ROLLBACK IMMEDIATE / NO_WAIT: termination, no security effect
        p.skip_to_boundary(_OPTION_ENDS)
    db = p.builder.db(name, ref)  # only once read whole: a malformed statement changes nothing
    for attribute, value in options:
        setattr(db, attribute, value)
        if attribute == "trustworthy":
            db.trustworthy_ref = ref if value else None
        if attribute == "containment":
            db.containment_ref, db.containment_default = ref, False


#: Statements that begin like CREATE / ALTER DATABASE but are about something else. The longest
#: key wins (statements.py), so each needs a key of its own: under the shorter one, ``SCOPED``
#: or ``ENCRYPTION`` would be read as a database name and invent that database. None states a
#: fact the snapshot holds, so each is kept as skipped, the reason naming what it is. Reasons
#: saying "without a security effect" mark the harmless ones (mapper/translate/skipped.py); the
#: others become findings: a credential the plan does not carry over. (CREATE, ALTER and DROP
#: DATABASE AUDIT SPECIFICATION are in policies.py.)
_CREDENTIAL = "a credential for external access (not modelled: not in the plan)"
_TDE = "encryption at rest (TDE), without a security effect on access"
_NOT_DATABASES = {
    "CREATE DATABASE SCOPED CREDENTIAL": _CREDENTIAL,
    "ALTER DATABASE SCOPED CREDENTIAL": _CREDENTIAL,
    "CREATE DATABASE ENCRYPTION KEY": _TDE,
    "ALTER DATABASE ENCRYPTION KEY": _TDE,
    "ALTER DATABASE SCOPED CONFIGURATION": "a database setting without a security effect",
}


#: What a CREATE SCHEMA statement may hold after its name and owner (its "schema elements").
_SCHEMA_ELEMENTS: dict[tuple[str, ...], Handler] = {
    ("CREATE", "TABLE"): modules.create_table,
    ("CREATE", "VIEW"): modules.create_view,
    ("GRANT",): grants.parse_grant,
    ("DENY",): grants.parse_deny,
    ("REVOKE",): grants.parse_revoke,
}


def create_schema(p: Parser) -> None:
    """``CREATE SCHEMA name [AUTHORIZATION owner] [element …]``.

    The elements (CREATE TABLE, CREATE VIEW, GRANT, DENY, REVOKE) belong to the statement up to
    its ``;`` or the end of the batch, and a one-part name in them is in the new schema
    (CREATE SCHEMA (Transact-SQL), example A). A schema whose name is taken is refused with its
    elements: they are read onto a builder nobody keeps.
    """
    ref = p.ref()
    name = None if p.at("AUTHORIZATION") else p.name("a schema name")
    owner = p.name("an owner") if p.accept("AUTHORIZATION") else None
    name = name or owner  # CREATE SCHEMA AUTHORIZATION o names the schema after its owner
    if not name:  # CREATE SCHEMA [] (an empty identifier, found by fuzzing)
        raise p.error("expected a schema name")
    schemas = p.builder.db().schemas
    found = schemas.get(fold(name))
    taken = (f"schema {found.name!r}", found.ref) if found else None
    kept = None  # when refused: the builder the statement's elements must not reach
    if duplicates.refused(p, name, taken, duplicates.OBJECT):
        kept, p.builder = p.builder, p.builder.scratch()
    else:
        schemas[fold(name)] = NamedState(name, ref, owner or "dbo")
    p.schema, outer = name, p.schema
    try:
        while (element := _schema_element(p)) is not None:
            element(p)
    finally:
        p.schema = outer
        if kept is not None:
            p.builder = kept


def _schema_element(p: Parser) -> Handler | None:
    """The handler of the schema element at the current token (consumed), if one is there."""
    for words, handler in _SCHEMA_ELEMENTS.items():
        if p.at(*words):
            p.start = p.pos  # the element's facts and errors point at the element
            p.pos += len(words)
            return handler
    return None


def alter_schema(p: Parser) -> None:
    """``ALTER SCHEMA s TRANSFER [class ::] [schema.]name``: the object moves into ``s`` and loses
    its permissions ("all permissions associated with the securable will be dropped"), which
    the statement is kept to list (``dropped``)."""
    ref, target = p.ref(), p.name("a schema name")
    p.expect("TRANSFER")
    cls = class_prefix(p) or "OBJECT"
    if cls not in ("OBJECT", "TYPE", "XML SCHEMA COLLECTION"):
        raise p.error(f"ALTER SCHEMA cannot transfer a {cls}")
    parts = p.qualified("an object name")
    schema = parts[-2] if len(parts) > 1 and parts[-2] else "dbo"
    _, gone = p.builder.transfer_object(schema, parts[-1], target, cls)
    why = f"ALTER SCHEMA [{target}] TRANSFER moves {cls} [{schema}].[{parts[-1]}]"
    dropped.note(p, gone, f"{why}, and SQL Server drops the permissions on it", ref)


def drop_schema(p: Parser) -> None:
    """``DROP SCHEMA [IF EXISTS] name``: the schema and the permissions on it (a schema must be
    empty to be dropped: permissions on its objects went with them)."""
    p.accept("IF", "EXISTS")
    name = p.name("a schema name")
    p.builder.db().schemas.pop(fold(name), None)
    p.builder.drop_object_permissions(None, name, "SCHEMA")


def _object_owner(p: Parser, parts: list[str], owner: str | None, ref: SourceRef) -> None:
    db = p.builder.db()
    schema = parts[-2] if len(parts) > 1 and parts[-2] else "dbo"
    key = (fold(schema), fold(parts[-1]))
    found = db.objects.get(key)
    if found is None:
        reason = "ownership of an object that no script creates (its kind is unknown)"
        p.builder.skip("statement", reason, p.statement_text(), ref)
        return
    if _transferred(found.owner, owner):  # None: the schema's owner, before and after
        cls = _CLASS_OF.get(found.kind, "OBJECT")
        gone = p.builder.drop_object_permissions(schema, parts[-1], cls)
        dropped.note(p, gone, _new_owner(f"{cls} [{schema}].[{parts[-1]}]"), ref)
    # TO SCHEMA OWNER: no individual owner, so no line of its own (the schema's owner counts)
    update = {"owner": owner, "owner_ref": ref if owner else None}
    db.objects[key] = found.model_copy(update=update)


def alter_authorization(p: Parser) -> None:
    """``ALTER AUTHORIZATION ON [class ::] x TO {principal | SCHEMA OWNER}``."""
    ref = p.ref()
    p.expect("ON")
    cls = class_prefix(p) or "OBJECT"
    parts = p.qualified("a securable name")
    p.expect("TO")
    owner = None if p.accept("SCHEMA", "OWNER") else p.name("a principal name")
    _OWNERSHIP.get(cls, _unmodelled)(p, parts, owner, ref)


def _database_owner(p: Parser, parts: list[str], owner: str | None, ref: SourceRef) -> None:
    db = p.builder.db(parts[-1], ref)
    if not login_users.owner_refused(p, db, owner):
        db.owner, db.owner_ref = owner, ref


def _schema_owner(p: Parser, parts: list[str], owner: str | None, ref: SourceRef) -> None:
    """A schema's new owner: the permissions on it, and on what it holds without an owner of its
    own, are dropped (``Builder.drop_schema_permissions``)."""
    schemas = p.builder.db().schemas
    found = schemas.setdefault(fold(parts[-1]), NamedState(parts[-1], ref))
    if _transferred(found.owner or "dbo", owner or "dbo"):
        gone = p.builder.drop_schema_permissions(parts[-1])
        what = f"SCHEMA [{parts[-1]}]"
        dropped.note(
            p, gone, _new_owner(what, " and on what it holds without an owner of its own"), ref
        )
    found.owner, found.owner_ref = owner or "dbo", ref


def _role_owner(p: Parser, parts: list[str], owner: str | None, ref: SourceRef) -> None:
    found = p.builder.db().roles.get(fold(parts[-1]))
    if found is not None:
        if _transferred(found.owner, owner):
            gone = p.builder.drop_object_permissions(None, parts[-1], "ROLE")
            dropped.note(p, gone, _new_owner(f"ROLE [{parts[-1]}]"), ref)
        found.owner, found.owner_ref = owner, ref if owner else None


#: The permission class of an object kind that is not OBJECT (GRANT … ON TYPE::, XML SCHEMA
#: COLLECTION::).
_CLASS_OF = {ObjectKind.TYPE: "TYPE", ObjectKind.XML_SCHEMA_COLLECTION: "XML SCHEMA COLLECTION"}


def _new_owner(what: str, also: str = "") -> str:
    """Why a new owner's ALTER AUTHORIZATION dropped permissions (``dropped.note``)."""
    return f"ALTER AUTHORIZATION gives {what} a new owner, and SQL Server drops the permissions on it{also}"


def _transferred(before: str | None, after: str | None) -> bool:
    """Whether ownership goes to a new owner: then "all permissions on the target will be
    dropped" ("ALTER AUTHORIZATION", Remarks: any entity but a database)."""
    return fold(before or "") != fold(after or "")


def _server_role_owner(p: Parser, parts: list[str], owner: str | None, ref: SourceRef) -> None:
    found = p.builder.server_roles.get(fold(parts[-1]))
    if found is not None:
        found.owner = owner


def _unmodelled(p: Parser, parts: list[str], owner: str | None, ref: SourceRef) -> None:
    p.builder.skip("statement", "ownership of this class is not modelled", p.statement_text(), ref)


_OWNERSHIP = {
    "DATABASE": _database_owner,
    "SCHEMA": _schema_owner,
    "ROLE": _role_owner,
    "SERVER ROLE": _server_role_owner,
    "OBJECT": _object_owner,
    "TYPE": _object_owner,
    "XML SCHEMA COLLECTION": _object_owner,
}


def sp_changedbowner(p: Parser, args: dict[str, str | None], ref: SourceRef) -> None:
    """``sp_changedbowner @loginame [, @map]``: the current database's owner."""
    login = args.get("loginame")
    if not login:
        raise p.error("@loginame is required")
    db = p.builder.db(None, ref)
    if not login_users.owner_refused(p, db, login):
        db.owner, db.owner_ref = login, ref


STATEMENTS = {
    **{key: skipped(f"{key}: {what}") for key, what in _NOT_DATABASES.items()},
    "USE": use,
    "CREATE DATABASE": create_database,
    "ALTER DATABASE": alter_database,
    "CREATE SCHEMA": create_schema,
    "ALTER SCHEMA": alter_schema,
    "DROP SCHEMA": drop_schema,
    "ALTER AUTHORIZATION": alter_authorization,
}

PROCEDURES = {"sp_changedbowner": (("loginame", "map"), sp_changedbowner)}
