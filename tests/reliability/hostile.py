"""Hostile SQL Server names and the T-SQL estate script that uses them (issue 8, item 2)."""

from __future__ import annotations

from dataclasses import dataclass

#: Names from every hostile category: quotes, brackets, separators, psql and format
#: metacharacters, Unicode (RTL marks, combining marks, emoji), reserved words, lengths.
HOSTILE = (
    "x", "O'Brien", 'say "hi"', "a]]b", "[br]", "semi;colon; DROP ROLE postgres;--",
    "new\nline", "tab\there", "dollar$$body$$", "$1", "back\\slash\\", "100%_off",
    "%s%d%n", ":var", "\\connect", "right\u200fto\u202eleft", "e\u0301\u0301", "\U0001f600 emoji",
    "select", "user", "public_x", "ALL", "Mixed Case", " leading space", "trailing ", "--comment",
    "/*c*/", "{name}", "a" * 63, "b" * 64, "\u00e9" * 40, "c" * 128,
)  # fmt: skip


def bracket(name: str) -> str:
    """T-SQL bracket quoting: ``]`` doubled."""
    return "[" + name.replace("]", "]]") + "]"


def nstring(text: str) -> str:
    """A T-SQL Unicode string literal."""
    return "N'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class Names:
    """One estate's principal and securable names (all in one database)."""

    login: str
    user: str
    role: str
    schema: str
    table: str
    column: str
    other_column: str


def estate_script(names: Names, database: str, password: str = "Pw-Only-4-Tests!") -> str:
    """A server + database script granting the role SELECT on the table and the user UPDATE
    on one column; nothing else is granted."""
    n = names
    table = f"{bracket(n.schema)}.{bracket(n.table)}"
    return "\n".join([
        f"CREATE LOGIN {bracket(n.login)} WITH PASSWORD = {nstring(password)}, CHECK_POLICY = ON",
        "GO",
        f"CREATE DATABASE {bracket(database)}",
        "GO",
        f"USE {bracket(database)}",
        "GO",
        f"CREATE USER {bracket(n.user)} FOR LOGIN {bracket(n.login)}",
        f"CREATE ROLE {bracket(n.role)} AUTHORIZATION [dbo]",
        "GO",
        f"CREATE SCHEMA {bracket(n.schema)} AUTHORIZATION [dbo]",
        "GO",
        f"CREATE TABLE {table} ({bracket(n.column)} int NOT NULL, {bracket(n.other_column)} int)",
        "GO",
        f"ALTER ROLE {bracket(n.role)} ADD MEMBER {bracket(n.user)}",
        f"GRANT SELECT ON OBJECT::{table} TO {bracket(n.role)}",
        f"GRANT UPDATE ON OBJECT::{table} ({bracket(n.other_column)}) TO {bracket(n.user)}",
        "GO",
        "",
    ])  # fmt: skip
