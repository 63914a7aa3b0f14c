"""Statements that begin with a handler's key words but are of another kind.

The handler table matches leading words, the longest key first, so ``CREATE DATABASE SCOPED
CREDENTIAL`` once reached the ``CREATE DATABASE`` handler and made a database named ``SCOPED``.
Each row here is such a statement: it must invent no database, login or role, and be kept as
skipped with a reason that names what it is (DESIGN §2.3).
"""

from __future__ import annotations

import pytest

from grantbridge.errors import ExtractError
from mapper.translate.skipped import harmless as is_harmless
from mssql_extract.snapshot import SecuritySnapshot
from tests.extract.tsql_helpers import db, snap

U = "USE d\nGO\n"

#: (statement, words its skipped reason must hold, whether the plan treats it as harmless —
#: mapper/translate/skipped.py — or raises a finding for it)
SHARED_PREFIXES: list[tuple[str, str, bool]] = [
    (
        "CREATE DATABASE SCOPED CREDENTIAL cred WITH IDENTITY = 'x', SECRET = 'p@ss'",
        "CREATE DATABASE SCOPED CREDENTIAL",
        False,
    ),
    (
        "ALTER DATABASE SCOPED CREDENTIAL cred WITH IDENTITY = 'x', SECRET = 'p@ss'",
        "ALTER DATABASE SCOPED CREDENTIAL",
        False,
    ),
    (
        "CREATE DATABASE ENCRYPTION KEY WITH ALGORITHM = AES_256 "
        "ENCRYPTION BY SERVER CERTIFICATE c",
        "CREATE DATABASE ENCRYPTION KEY",
        True,
    ),
    (
        "ALTER DATABASE ENCRYPTION KEY REGENERATE WITH ALGORITHM = AES_256",
        "ALTER DATABASE ENCRYPTION KEY",
        True,
    ),
    (
        "ALTER DATABASE SCOPED CONFIGURATION SET MAXDOP = 1",
        "ALTER DATABASE SCOPED CONFIGURATION",
        True,
    ),
    (
        "ALTER DATABASE SCOPED CONFIGURATION FOR SECONDARY SET MAXDOP = PRIMARY",
        "ALTER DATABASE SCOPED CONFIGURATION",
        True,
    ),
    (
        "ALTER DATABASE AUDIT SPECIFICATION da FOR SERVER AUDIT a "
        "ADD (SELECT ON OBJECT::dbo.t BY public) WITH (STATE = ON)",
        "ALTER DATABASE AUDIT SPECIFICATION",
        False,
    ),
    (
        "ALTER SERVER AUDIT SPECIFICATION s WITH (STATE = ON)",
        "ALTER SERVER AUDIT SPECIFICATION",
        False,
    ),
    ("DROP DATABASE AUDIT SPECIFICATION da", "DROP DATABASE AUDIT SPECIFICATION", False),
    ("DROP SERVER AUDIT SPECIFICATION s", "DROP SERVER AUDIT SPECIFICATION", False),
    # no handler key is a prefix of these: they reach the generic skip (unchanged here)
    ("CREATE SERVER AUDIT a TO FILE (FILEPATH = 'c:\\audit')", "not read", True),
    ("ALTER SERVER AUDIT a WITH (STATE = ON)", "not read", True),
    ("DROP DATABASE SCOPED CREDENTIAL cred", "not read", True),
    ("DROP DATABASE ENCRYPTION KEY", "not read", True),
]
IDS = [row[0] for row in SHARED_PREFIXES]


def _invents_nothing(s: SecuritySnapshot) -> None:
    assert [d.name for d in s.databases] == ["d"]
    assert (s.logins, s.server_roles, s.audit_specifications) == ((), (), ())
    d = db(s)
    assert (d.users, d.roles, d.schemas, d.audit_specifications) == ((), (), (), ())


@pytest.mark.parametrize("lenient", [False, True], ids=["strict", "lenient"])
@pytest.mark.parametrize(("sql", "reason", "harmless"), SHARED_PREFIXES, ids=IDS)
def test_statement_of_another_kind_is_skipped_not_misread(
    sql: str, reason: str, harmless: bool, lenient: bool
) -> None:
    s = snap(U + sql + ";", lenient=lenient)
    _invents_nothing(s)
    [skipped] = s.skipped
    assert (skipped.kind, skipped.source_ref.line) == ("statement", 3)
    assert reason in skipped.reason
    assert skipped.text.startswith(sql.split(" WITH ")[0].split(" (")[0])
    assert is_harmless(skipped) is harmless


@pytest.mark.parametrize(("sql", "reason", "harmless"), SHARED_PREFIXES, ids=IDS)
def test_statement_of_another_kind_ends_where_the_next_begins(
    sql: str, reason: str, harmless: bool
) -> None:
    s = snap(U + sql + "\nCREATE ROLE r\nDECLARE @x int")
    assert [r.name for r in db(s).roles] == ["r"]
    assert [x.text for x in s.skipped][1:] == ["DECLARE @x int"]


def test_the_reported_scripts_make_no_database() -> None:
    s = snap(
        "CREATE DATABASE SCOPED CREDENTIAL cred WITH IDENTITY = 'x', SECRET = 'p@ss';\n"
        "CREATE DATABASE ENCRYPTION KEY WITH ALGORITHM = AES_256 "
        "ENCRYPTION BY SERVER CERTIFICATE c;\n"
    )
    assert s.databases == ()
    assert [x.reason.split(":")[0] for x in s.skipped] == [
        "CREATE DATABASE SCOPED CREDENTIAL",
        "CREATE DATABASE ENCRYPTION KEY",
    ]


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE DATABASE SCOPED",
        "CREATE DATABASE [SCOPED] CONTAINMENT = PARTIAL",
        "CREATE DATABASE ENCRYPTION",
        "ALTER DATABASE SCOPED SET TRUSTWORTHY ON",
        "ALTER DATABASE [ENCRYPTION] SET DB_CHAINING ON",
    ],
)
def test_a_database_named_like_the_keywords_is_still_a_database(sql: str) -> None:
    s = snap(sql)
    assert [d.name for d in s.databases] == [sql.split()[2].strip("[]")]
    assert s.skipped == ()


def test_create_database_audit_specification_is_still_read() -> None:
    s = snap(
        U
        + "CREATE DATABASE AUDIT SPECIFICATION da FOR SERVER AUDIT a ADD (DATABASE_ROLE_MEMBER_CHANGE_GROUP)"
    )
    assert [d.name for d in s.databases] == ["d"]
    assert [a.name for a in db(s).audit_specifications] == ["da"]


def test_create_server_role_and_server_audit_stay_apart() -> None:
    s = snap(
        "CREATE SERVER AUDIT a TO FILE (FILEPATH = 'c:\\audit')\n"
        "CREATE SERVER ROLE ops AUTHORIZATION sa\n"
        "CREATE SERVER AUDIT SPECIFICATION spec FOR SERVER AUDIT a ADD (FAILED_LOGIN_GROUP)\n"
    )
    assert [r.name for r in s.server_roles] == ["ops"]
    assert [a.name for a in s.audit_specifications] == ["spec"]
    assert [x.text.split(" TO ")[0] for x in s.skipped] == ["CREATE SERVER AUDIT a"]


# --------------------------------------------------------------- malformed: nothing half-applied


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("ALTER LOGIN x BOGUS", "expected WITH"),
        ("ALTER LOGIN x WITH NOPE = 1", "unexpected option NOPE"),
        ("ALTER LOGIN x ADD CREDENTIAL", "expected a credential name"),
        ("CREATE DATABASE e CONTAINMENT PARTIAL", "expected ="),
        ("CREATE DATABASE e CONTAINMENT = MAYBE", "expected NONE"),
        ("ALTER DATABASE e SET TRUSTWORTHY ON, BOGUS ON", "expected TRUSTWORTHY"),
        ("ALTER DATABASE e SET CONTAINMENT = SOME", "expected NONE"),
    ],
)
def test_malformed_statement_leaves_nothing_behind(sql: str, message: str) -> None:
    with pytest.raises(ExtractError, match=message):
        snap(sql)
    s = snap(sql, lenient=True)
    assert (s.logins, s.databases) == ((), ())
    [error] = s.skipped
    assert error.kind == "error"
    assert message in error.reason


@pytest.mark.parametrize(
    ("sql", "disabled", "credential"),
    [
        ("ALTER LOGIN x DISABLE", True, None),
        ("ALTER LOGIN x DISABLE\nALTER LOGIN x ENABLE", False, None),
        ("ALTER LOGIN x ADD CREDENTIAL c", False, "c"),
        ("ALTER LOGIN x ADD CREDENTIAL c\nALTER LOGIN x DROP CREDENTIAL c", False, None),
        ("ALTER LOGIN x WITH CREDENTIAL = c, CHECK_POLICY = OFF", False, "c"),
        ("ALTER LOGIN x WITH CREDENTIAL = c\nALTER LOGIN x WITH NO CREDENTIAL", False, None),
    ],
)
def test_alter_login_forms(sql: str, disabled: bool, credential: str | None) -> None:
    [login] = snap(sql).logins
    assert (login.name, login.disabled, login.credential) == ("x", disabled, credential)


def test_alter_database_options_apply_together() -> None:
    d = db(snap("ALTER DATABASE d SET TRUSTWORTHY ON, DB_CHAINING ON, CONTAINMENT = PARTIAL"))
    assert (d.trustworthy, d.db_chaining, d.containment) == (True, True, "PARTIAL")
