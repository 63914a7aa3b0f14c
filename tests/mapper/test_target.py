"""``plan --target``: the plan resolved against the converted target's catalog (mapper.target).

The catalog is what ``grantbridge inspect`` writes; here it is built from the plan's own objects,
then changed the way a real conversion leaves a target: routines with argument lists, one
procedure turned into a function, one table missing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grantbridge.cli import main
from mapper.plan import Disposition, MigrationPlan, PgObject
from mapper.planner import plan
from mapper.policy import Policy
from mssql_extract.snapshot import SecuritySnapshot
from mssql_extract.tsql import extract_scripts
from tests.conftest import CONTOSO

#: Routine → (kind, signature) in the converted target.
CONVERTED = {
    "usp_placeorder": ("function", "(integer, integer, numeric, character)"),  # was a procedure
    "usp_cardlast4": ("procedure", "(integer)"),
    "fn_tenantpredicate": ("function", "(integer)"),
}
MISSING = ("sales", "sales", "orders")


@pytest.fixture(scope="module")
def snapshot() -> SecuritySnapshot:
    return extract_scripts([CONTOSO])


def _converted(obj: PgObject) -> PgObject | None:
    if (obj.database, obj.schema_name, obj.name) == MISSING:
        return None
    kind, signature = CONVERTED.get(obj.name, (obj.kind, "()"))
    if obj.kind not in ("function", "procedure"):
        return obj
    return obj.model_copy(update={"kind": kind, "signature": signature})


@pytest.fixture(scope="module")
def catalog(snapshot: SecuritySnapshot) -> MigrationPlan:
    planned = plan(snapshot, Policy())
    objects = [o for o in map(_converted, planned.objects) if o is not None]
    return MigrationPlan(fingerprint="inspect", target="postgresql",
                         databases=planned.databases, objects=tuple(objects))  # fmt: skip


@pytest.fixture(scope="module")
def resolved(snapshot: SecuritySnapshot, catalog: MigrationPlan) -> MigrationPlan:
    return plan(snapshot, Policy(), catalog)


def test_routines_take_the_targets_argument_lists_and_kinds(resolved: MigrationPlan) -> None:
    routines = {g.name: (g.object_type, g.signature) for g in resolved.grants
                if g.object_type in ("FUNCTION", "PROCEDURE")}  # fmt: skip
    assert routines["usp_placeorder"] == ("FUNCTION", CONVERTED["usp_placeorder"][1])
    assert routines["usp_cardlast4"] == ("PROCEDURE", "(integer)")
    assert routines["fn_tenantpredicate"] == ("FUNCTION", "(integer)")
    definers = {r.name: (r.kind, r.signature) for r in resolved.routine_security}
    assert definers["usp_placeorder"] == CONVERTED["usp_placeorder"]


def test_an_object_the_target_lacks_leaves_the_plan_with_gb042(
    snapshot: SecuritySnapshot, resolved: MigrationPlan
) -> None:
    _, schema, name = MISSING
    on_it = [g for g in resolved.grants if (g.database, g.schema_name, g.name) == MISSING]
    assert on_it == []
    assert not [o for o in resolved.objects if (o.database, o.schema_name, o.name) == MISSING]
    [finding] = [f for f in resolved.findings if f.rule_id == "GB042"]
    assert finding.securable == f"TABLE {schema}.{name}"
    assert "not in database sales of the target catalog" in finding.evidence
    # the facts that became only grants on it are unresolved, naming the finding
    without = plan(snapshot, Policy())
    on_orders = {
        item.key
        for item in (*without.grants, *without.revokes, *without.objects)
        if (item.database, item.schema_name, item.name) == MISSING
    }
    only_orders = {d.fact for d in without.dispositions if d.items and set(d.items) <= on_orders}
    after = {d.fact: d for d in resolved.dispositions}
    assert only_orders
    for fact in only_orders:
        assert after[fact].disposition == Disposition.UNRESOLVED
        assert finding.key in after[fact].findings
    assert set(after) == {d.fact for d in without.dispositions}  # every fact still accounted


def test_without_a_target_nothing_changes_and_with_one_the_fingerprint_does(
    snapshot: SecuritySnapshot, catalog: MigrationPlan, resolved: MigrationPlan
) -> None:
    plain = plan(snapshot, Policy())
    assert {g.signature for g in plain.grants if g.object_type == "PROCEDURE"} == {None}
    assert plain.fingerprint != resolved.fingerprint
    assert plan(snapshot, Policy(), catalog).to_json() == resolved.to_json()  # deterministic


def test_cli_plan_with_target(
    snapshot: SecuritySnapshot, catalog: MigrationPlan, tmp_path: Path
) -> None:
    (tmp_path / "snapshot.json").write_text(snapshot.to_json(), encoding="utf-8")
    (tmp_path / "target.json").write_text(catalog.to_json(), encoding="utf-8")
    out = tmp_path / "plan"
    args = ["plan", str(tmp_path / "snapshot.json"), "--target", str(tmp_path / "target.json")]
    assert main([*args, "-o", str(out)]) == 0
    sql = (out / "sql" / "04_privileges.sql").read_text(encoding="utf-8")
    assert "ON PROCEDURE sales.usp_cardlast4(integer) TO" in sql
    security = (out / "sql" / "07_security.sql").read_text(encoding="utf-8")
    assert (
        "ALTER FUNCTION sales.usp_placeorder(integer, integer, numeric, character) "
        "SECURITY DEFINER" in security
    )
    assert "sales.orders" not in sql


def test_cli_bad_target_is_exit_2_naming_the_file(
    snapshot: SecuritySnapshot, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "snapshot.json").write_text(snapshot.to_json(), encoding="utf-8")
    (tmp_path / "target.json").write_text("{not json", encoding="utf-8")
    args = ["plan", str(tmp_path / "snapshot.json"), "--target", str(tmp_path / "target.json")]
    assert main([*args, "-o", str(tmp_path / "plan")]) == 2
    err = capsys.readouterr().err
    assert "target.json" in err
    assert "Traceback" not in err
    assert not (tmp_path / "plan").exists()


def test_a_target_that_kept_the_source_case_is_named_in_gb042(
    snapshot: SecuritySnapshot, catalog: MigrationPlan
) -> None:
    """Names are compared exactly after the naming policy; when the target has the object in
    another case, the finding says so and names the setting that fixes it."""
    database, schema, name = ("sales", "sales", "customers")
    renamed = tuple(
        o.model_copy(update={"schema_name": "Sales", "name": "Customers"})
        if (o.database, o.schema_name, o.name) == (database, schema, name)
        else o
        for o in catalog.objects
    )
    resolved = plan(snapshot, Policy(), catalog.model_copy(update={"objects": renamed}))
    gb042 = {f.securable: f for f in resolved.findings if f.rule_id == "GB042"}
    hinted = gb042[f"TABLE {schema}.{name}"]
    assert hinted.evidence.endswith("; the target has Sales.Customers")
    assert 'fold_case = "preserve" in the policy\'s [naming] table' in hinted.action
    plain = gb042["TABLE sales.orders"]  # missing outright: no hint
    assert "the target has" not in plain.evidence
    assert "fold_case" not in plain.action
