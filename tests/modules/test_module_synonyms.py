"""Modules that reach objects through synonyms: the synonym is one more link of the chain.

SQL Server binds a synonym to its base object at run time and checks the base object then
("Synonyms (Database Engine)"); each link is compared with the previous one's owner
("Ownership Chains"): the module to the synonym, the synonym to its base object. PostgreSQL has
no synonyms: the converted module names the base object. A base object in another database or
on another server is never guessed: the module's references stay unknown (GB310) and GB307 says
which. Each case is planned from T-SQL; the ones where PostgreSQL's answer is the point are
applied to real PostgreSQL and queried as the caller after the GRANTs GB306 names.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from mapper.effective import EffectivePermissions
from mapper.module_findings import module_chain
from mapper.module_reach import chain_reliance
from mapper.modules import analyze_object
from mssql_extract.snapshot import SecuritySnapshot
from mssql_extract.tsql import extract_scripts
from tests.modules.test_chain_depth import applied, grant_as_advised
from tests.modules.test_ownership_chains import estate, findings, planned, run_as

#: dbo's view reading dbo's table through dbo's synonym: one owner on every link.
INTACT = """
CREATE TABLE [s].[t] ([id] int)
GO
CREATE SYNONYM [s].[syn] FOR [s].[t]
GO
CREATE VIEW [s].[v] AS SELECT id FROM s.syn
GO
GRANT SELECT ON OBJECT::[s].[v] TO [{p}caller]
GO
"""
#: The synonym carol's (the view and the table dbo's): SQL Server checks the caller on s.syn,
#: then on s.t (carol's synonym, dbo's table).
SYNONYM_CAROL = INTACT.replace(
    "GRANT SELECT", "ALTER AUTHORIZATION ON OBJECT::[s].[syn] TO [{p}carol]\nGO\nGRANT SELECT", 1
)
#: The synonym and the table carol's, caller may use the synonym: SQL Server checks the caller
#: on s.syn (held) and not on s.t (the synonym's link to it is intact).
BOTH_CAROL = (
    SYNONYM_CAROL
    + "ALTER AUTHORIZATION ON OBJECT::[s].[t] TO [{p}carol]\nGO\n"
    + "GRANT SELECT ON OBJECT::[s].[syn] TO [{p}caller]\nGO\n"
)
#: dbo's procedure writing dbo's table through a three-part name of its own database.
PROCEDURE = """
CREATE TABLE [s].[t] ([id] int)
GO
CREATE SYNONYM [s].[syn] FOR [{db}].[s].[t]
GO
CREATE PROCEDURE [s].[p] AS INSERT INTO s.syn (id) VALUES (1)
GO
GRANT EXECUTE ON OBJECT::[s].[p] TO [{p}caller]
GO
"""
#: Base objects the database does not hold: another database, another server, no schema.
ELSEWHERE = """
CREATE SYNONYM [s].[db2] FOR [Other].[s].[t]
GO
CREATE SYNONYM [s].[srv] FOR [Remote].[D1].[s].[t]
GO
CREATE SYNONYM [s].[bare] FOR [t]
GO
CREATE VIEW [s].[v] AS SELECT a.id FROM s.db2 a JOIN s.srv b ON 1 = 1 JOIN s.bare c ON 1 = 1
GO
GRANT SELECT ON OBJECT::[s].[v] TO [{p}caller]
GO
"""


def snapshot_of(tmp_path: Path, body: str) -> SecuritySnapshot:
    script = tmp_path / "estate.sql"
    script.write_text(estate(body), encoding="utf-8")
    return extract_scripts([script], include_definitions=True)


# --------------------------------------------------------------------------- chains


def test_chain_through_an_intact_synonym_reaches_the_base_object(tmp_path: Path) -> None:
    snapshot = snapshot_of(tmp_path, INTACT)
    (db,) = snapshot.databases
    view = next(o for o in db.objects if o.name == "v")
    chain = module_chain(db, view, analyze_object(view))
    assert [(link.qualified, link.owner) for link in chain.intact] == [("s.t", "dbo")]
    assert chain.owner_safe
    reliance = chain_reliance(db, [analyze_object(view)], EffectivePermissions(snapshot))
    assert [(r.principal, r.target, r.access) for r in reliance] == [("caller", "s.t", "SELECT")]


@pytest.mark.parametrize(
    ("body", "broken"),
    [
        (SYNONYM_CAROL, [("s.syn", "carol")]),
        (BOTH_CAROL, [("s.syn", "carol"), ("s.t", "carol")]),
    ],
)
def test_a_link_of_another_owner_breaks_the_chain(
    tmp_path: Path, body: str, broken: list[tuple[str, str]]
) -> None:
    snapshot = snapshot_of(tmp_path, body)
    (db,) = snapshot.databases
    view = next(o for o in db.objects if o.name == "v")
    chain = module_chain(db, view, analyze_object(view))
    assert [(link.qualified, link.owner) for link in chain.broken] == broken
    assert not chain.intact
    reliance = chain_reliance(db, [analyze_object(view)], EffectivePermissions(snapshot))
    # SYNONYM_CAROL: refused at s.syn; BOTH_CAROL: s.syn held, s.t reached through carol's link
    expected = [("caller", "s.t", "SELECT", "carol")] if body == BOTH_CAROL else []
    assert [(r.principal, r.target, r.access, r.owner) for r in reliance] == expected


# --------------------------------------------------------------------------- plans


def test_view_through_an_intact_synonym_keeps_its_owner(tmp_path: Path) -> None:
    migration = planned(tmp_path, INTACT)
    assert not migration.view_security
    assert not findings(migration, "GB310")
    (kept,) = findings(migration, "GB306")
    assert (kept.severity.value, kept.evidence.split(": ")[-1]) == ("info", "SELECT on s.t")


def test_view_through_another_owners_synonym_checks_its_caller(tmp_path: Path) -> None:
    migration = planned(tmp_path, SYNONYM_CAROL)
    assert [v.name for v in migration.view_security] == ["v"]
    (broken,) = findings(migration, "GB310")
    assert broken.evidence == "s.v (owned by dbo): s.syn is owned by carol, not dbo"
    assert not findings(migration, "GB306")


def test_caller_reaching_the_base_through_the_synonyms_chain_is_told_the_grant(
    tmp_path: Path,
) -> None:
    migration = planned(tmp_path, BOTH_CAROL)
    assert [v.name for v in migration.view_security] == ["v"]
    (lost,) = findings(migration, "GB306")
    assert lost.evidence.endswith("(no permission of its own; owned by carol, as the modules "
                                  "that use it): SELECT on s.t")  # fmt: skip
    assert "To restore it, in database d1: GRANT SELECT ON TABLE s.t TO caller" in lost.action


def test_procedure_through_a_synonym_runs_as_its_owner(tmp_path: Path) -> None:
    migration = planned(tmp_path, PROCEDURE.replace("{db}", "D1"))
    assert [r.name for r in migration.routine_security] == ["p"]
    (kept,) = findings(migration, "GB306")
    assert kept.evidence.endswith(": INSERT on s.t")
    assert kept.action == "Preserved: s.p is SECURITY DEFINER."


def test_base_objects_elsewhere_are_reported_not_guessed(tmp_path: Path) -> None:
    migration = planned(tmp_path, ELSEWHERE)
    assert [v.name for v in migration.view_security] == ["v"]
    (unknown,) = findings(migration, "GB310")
    assert unknown.evidence == (
        "s.v (owned by dbo): it references synonym s.bare, whose base object [t] names no "
        "schema; synonym s.db2, whose base object [Other].[s].[t] is in another database; "
        "synonym s.srv, whose base object [Remote].[D1].[s].[t] is on another server"
    )
    assert sorted(f.evidence for f in findings(migration, "GB307")) == [
        "s.v references Other.s.t through synonym s.db2",
        "s.v references Remote.D1.s.t through synonym s.srv",
    ]


def test_snapshot_without_base_objects_keeps_them_unknown(tmp_path: Path) -> None:
    snapshot = snapshot_of(tmp_path, INTACT)
    (db,) = snapshot.databases
    objects = tuple(o.model_copy(update={"base_object": None}) for o in db.objects)
    db = db.model_copy(update={"objects": objects})
    view = next(o for o in db.objects if o.name == "v")
    chain = module_chain(db, view, analyze_object(view))
    assert chain.unknown == "it references synonym s.syn, whose base object is not in the snapshot"


# --------------------------------------------------------------------------- real PostgreSQL

#: The converted objects: no synonym in PostgreSQL, the view names the base object.
VIEW_PG = """
    CREATE SCHEMA s;
    CREATE TABLE s.t (id int); INSERT INTO s.t VALUES (5);
    CREATE VIEW s.v AS SELECT id FROM s.t;
"""


def test_pg_view_through_an_intact_synonym_answers_the_caller(
    pg_dsn: str, prefix: str, tmp_path: Path
) -> None:
    """SQL Server checks caller on s.v only (view, synonym and table dbo's): answered."""
    with applied(pg_dsn, prefix, tmp_path, INTACT, VIEW_PG) as (conn, migration):
        caller = f"{prefix}_caller"
        assert grant_as_advised(conn, migration) == []
        assert run_as(conn, caller, "SELECT id FROM s.v") == 5
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="table t"):
            run_as(conn, caller, "SELECT id FROM s.t")


def test_pg_view_through_the_synonyms_chain_answers_after_the_advised_grant(
    pg_dsn: str, prefix: str, tmp_path: Path
) -> None:
    """SQL Server checks caller on s.v and on carol's s.syn (held), not on carol's s.t."""
    with applied(pg_dsn, prefix, tmp_path, BOTH_CAROL, VIEW_PG) as (conn, migration):
        caller = f"{prefix}_caller"
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="table t"):
            run_as(conn, caller, "SELECT id FROM s.v")  # security_invoker: caller's own
        assert grant_as_advised(conn, migration) == [f"GRANT SELECT ON TABLE s.t TO {caller}"]
        assert run_as(conn, caller, "SELECT id FROM s.v") == 5
