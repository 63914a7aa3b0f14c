"""Rendering: golden scripts, every statement parses with pglast, determinism, psql subset."""

from __future__ import annotations

import pglast
import pytest

from pg_emit.iam import policy_file_name, render_iam
from pg_emit.psql import parse_script
from pg_emit.render import render_sql
from pg_emit.render_rollback import _revoke_sql
from tests.conftest import check_golden
from tests.emit.builders import realistic_plan


def test_golden_sql(update_golden: bool) -> None:
    for name, text in render_sql(realistic_plan()).items():
        check_golden(f"emit/{name}", text, update_golden)


def test_rendering_is_deterministic() -> None:
    assert render_sql(realistic_plan()) == render_sql(realistic_plan())


@pytest.mark.parametrize("name", sorted(render_sql(realistic_plan())))
def test_every_statement_parses_with_pglast(name: str) -> None:
    text = render_sql(realistic_plan())[name]
    assert text.splitlines()[2:4] != []
    assert "\\set ON_ERROR_STOP on" in text.splitlines()[:6]
    statements = [s for section in parse_script(text, name) for s in section.statements]
    assert statements
    for statement in statements:
        pglast.parse_sql(statement)  # raises on any syntax error
    sql_only = "\n".join(
        line.removesuffix(" \\;") + ";" if line.endswith(" \\;") else line
        for line in text.splitlines()
        if not line.startswith("\\")
    )
    assert len(pglast.split(sql_only)) == len(statements) + 2 * text.count("\nBEGIN;")


def test_rollback_revokes_parse_too() -> None:
    plan = realistic_plan()
    for statement in _revoke_sql(plan, "gb_sales"):
        pglast.parse_sql(statement.sql)


def test_scripts_are_transactions_with_comments() -> None:
    for name, text in render_sql(realistic_plan()).items():
        lines = text.splitlines()
        assert text.count("\nBEGIN;") == text.count("\nCOMMIT;"), name
        for index, line in enumerate(lines):
            starts = ("GRANT", "REVOKE", "ALTER", "DO ")
            if line.startswith(starts) and lines[index - 1] not in ("BEGIN",):
                assert lines[index - 1].startswith("-- "), (name, line)


def test_no_password_and_rotation_step() -> None:
    roles = render_sql(realistic_plan())["sql/01_roles.sql"]
    statements = [s for sec in parse_script(roles, "01") for s in sec.statements]
    # comments inside DO blocks name each role's authentication ("password"): code lines only
    code = [
        line for s in statements for line in s.splitlines() if not line.strip().startswith("--")
    ]
    assert not [line for line in code if "PASSWORD" in line.upper().replace("RDS_PASSWORD", "")]
    assert "role gb_alice: login, password" in roles  # the comments are there
    assert "-- hand after apply: \\password gb_alice" in roles


def test_newline_in_a_fact_stays_inside_its_comment() -> None:
    roles = render_sql(realistic_plan())["sql/01_roles.sql"]
    assert "-- from: Sales/role:odd name\n" in roles


def test_iam_files() -> None:
    files = render_iam(realistic_plan())
    assert files["iam/assignments.csv"].splitlines() == [
        "role,auth,rds_role,source",
        "gb_app,iam,rds_iam,login [app]",
    ]
    assert policy_file_name('a "b"/c') != policy_file_name('a "b"\\c')


def test_a_default_privilege_statement_names_only_its_own_grantees_facts() -> None:
    # two grantees with different privileges on the same (owner, schema, kind) become two
    # statements; each names the facts of its own grantee (the audit found the union)
    from mapper.plan import MigrationPlan, PgDefaultPrivilege
    from pg_emit.render import default_privilege_statements

    def default(privilege: str, grantee: str, fact: str) -> PgDefaultPrivilege:
        return PgDefaultPrivilege(database="d", owner="o", schema_name="s", object_type="TABLES",
                                  privilege=privilege, grantee=grantee, facts=(fact,))  # fmt: skip

    plan = MigrationPlan(
        fingerprint="sha256:" + "00" * 32,
        default_privileges=(
            default("SELECT", "reader", "D/perm:reader"),
            default("INSERT", "writer", "D/perm:writer"),
            default("SELECT", "writer", "D/perm:writer-select"),
        ),
    )
    notes = {s.sql.rsplit(" TO ", 1)[1]: s.notes for s in default_privilege_statements(plan, "d")}
    assert notes == {
        "reader": ("from: D/perm:reader",),
        "writer": ("from: D/perm:writer; D/perm:writer-select",),
    }


def test_rollback_of_a_large_plan_has_no_giant_lines() -> None:
    # bench scale M: one 51 MB line (every membership in one unnest(ARRAY[…])) made rollback.sql
    # unreadable; memberships are now revoked 1,000 at a time, arrays 10 elements to a line
    from mapper.plan import PgMembership, PgRole, RoleKind
    from pg_emit.rollback_roles import ARRAY_LINE, REVOKE_CHUNK

    base = realistic_plan()
    extra = [PgRole(name=f"bulk_{i:04d}", kind=RoleKind.GROUP) for i in range(60)]
    members = [
        PgMembership(role=f"bulk_{i % 60:04d}", member=f"bulk_{(i // 60) % 60:04d}_x{i}")
        for i in range(2 * REVOKE_CHUNK + 5)
    ]
    extra += [PgRole(name=m.member, kind=RoleKind.LOGIN, login=True) for m in members]
    plan = base.model_copy(update={
        "roles": tuple(sorted((*base.roles, *extra), key=lambda r: r.key)),
        "memberships": tuple(sorted((*base.memberships, *members), key=lambda m: m.key)),
    })  # fmt: skip
    text = render_sql(plan)["sql/rollback.sql"]
    assert text.count("revoke the memberships 02_memberships.sql granted") == 3
    assert max(len(line) for line in text.splitlines()) < 40 * ARRAY_LINE
    statements = [s for section in parse_script(text, "rollback") for s in section.statements]
    for statement in statements:
        pglast.parse_sql(statement)
    revoked = sum(s.count("'bulk_") for s in statements if "REVOKE %I FROM %I" in s)
    assert revoked == 2 * len(members)  # every pair once (its role and member arrays)


def test_long_lists_are_one_item_to_a_line() -> None:
    # bench scale M: a clause's grantees and objects on one line ran to 11,744 characters, and
    # one grantee more changed the whole line in a diff
    from mapper.plan import PgGrant, PgMembership, PgRole, RoleKind
    from pg_emit.script import LIST_ON_ONE_LINE

    base = realistic_plan()
    table = next(o for o in base.objects if o.kind == "table")
    names = [f"reader_{i:02d}" for i in range(LIST_ON_ONE_LINE + 3)]
    roles = [PgRole(name=n, kind=RoleKind.GROUP) for n in names]
    grants = [PgGrant(database=table.database, object_type="TABLE", schema_name=table.schema_name,
                      name=table.name, privilege="SELECT", grantee=n) for n in names]  # fmt: skip
    members = [PgMembership(role=names[0], member=n) for n in names[1:]]
    plan = base.model_copy(update={
        "roles": tuple(sorted((*base.roles, *roles), key=lambda r: r.key)),
        "grants": tuple(sorted((*base.grants, *grants), key=lambda g: g.key)),
        "memberships": tuple(sorted((*base.memberships, *members), key=lambda m: m.key)),
    })  # fmt: skip
    files = render_sql(plan)
    for name in ("sql/04_privileges.sql", "sql/02_memberships.sql", "sql/rollback.sql"):
        lines = files[name].splitlines()
        assert not [line for line in lines if line.endswith(" ")], name
        assert sum(line.strip() in (f"{n}," for n in names) for line in lines) >= 2, name
        for section in parse_script(files[name], name):
            for statement in section.statements:
                pglast.parse_sql(statement)
    privileges = files["sql/04_privileges.sql"]
    assert "\n    reader_00,\n    reader_01,\n" in privileges  # one grantee to a line
    assert " TO\n    " in privileges  # the list starts on the line after TO
    assert f"    reader_{LIST_ON_ONE_LINE + 2:02d}" in privileges
