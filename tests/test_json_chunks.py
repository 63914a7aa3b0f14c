"""Plans and snapshots written in pieces are byte-identical to their ``to_json()``.

The plan command, the demo and the benchmark write plans with ``write_json`` (a plan's text is
several times its snapshot's size), ``extract`` writes snapshots in pieces and the plan
fingerprint hashes them in pieces; ``verify``, ``apply``, ``diff`` and the fingerprint's
stability rest on what ``to_json`` defines, so the two must never differ.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from grantbridge.errors import InputError
from grantbridge.json_chunks import CHUNK
from grantbridge.validated import validated_in_one_pass
from mapper.plan import MigrationPlan, PgGrant, PgObject
from mapper.planner import fingerprint
from mapper.policy import Policy
from mssql_extract.snapshot import SecuritySnapshot
from mssql_extract.tsql import extract_scripts
from tests.conftest import ROOT
from tests.emit.builders import realistic_plan
from tests.mapper.estate import database, perm, snapshot


def _many_grants(count: int) -> MigrationPlan:
    """``count`` grants (across chunk boundaries), with names that need escaping."""
    objects = tuple(
        PgObject(database="d", schema_name="s", name=f"t\u00e9{i:05d}", kind="table", owner="o")
        for i in range(count)
    )
    grants = tuple(
        PgGrant(database="d", object_type="TABLE", schema_name="s", name=f"t\u00e9{i:05d}",
                privilege="SELECT", grantee='r "x"\n\\y', facts=(f"D/perm:OBJECT:s:t{i}",))
        for i in range(count)
    )  # fmt: skip
    return MigrationPlan(fingerprint="sha256:" + "ef" * 32, objects=objects, grants=grants)


@pytest.mark.parametrize(
    "plan",
    [
        realistic_plan(),
        MigrationPlan(fingerprint="sha256:" + "00" * 32),  # every list empty
        _many_grants(1),
        _many_grants(CHUNK),
        _many_grants(2 * CHUNK + 1),
    ],
    ids=["realistic", "empty", "one", "one-chunk", "three-chunks"],
)
def test_written_in_pieces_is_byte_identical(plan: MigrationPlan, tmp_path: Path) -> None:
    plan.write_json(tmp_path / "plan.json")
    written = (tmp_path / "plan.json").read_bytes()
    assert written == plan.to_json().encode("utf-8")
    assert MigrationPlan.from_json(written.decode("utf-8")) == plan


def _contoso() -> SecuritySnapshot:
    estate = ROOT / "fixtures" / "estates" / "contoso"
    return extract_scripts([estate], relative_to=estate.parent, include_definitions=True)


def _many_rows() -> SecuritySnapshot:
    """A database whose permissions cross chunk boundaries, with names that need escaping."""
    rows = tuple(
        perm("SELECT", f'r\u00e9 "{i}"\n', schema_name="dbo", object_name="Orders")
        for i in range(CHUNK + 3)
    )
    return snapshot(database("S\u00e4les", permissions=rows), database("HR"))


@pytest.mark.parametrize("estate", [_contoso(), _many_rows()], ids=["contoso", "many-rows"])
def test_snapshot_in_pieces_is_byte_identical(estate: SecuritySnapshot, tmp_path: Path) -> None:
    estate.write_json(tmp_path / "snapshot.json")
    assert (tmp_path / "snapshot.json").read_bytes() == estate.to_json().encode("utf-8")
    # the fingerprint hashes the pieces: the digest of the whole text, as before
    digest = hashlib.sha256(estate.to_json().encode("utf-8"))
    digest.update(json.dumps(Policy().model_dump(mode="json"), sort_keys=True).encode("utf-8"))
    assert fingerprint(estate, Policy()) == f"sha256:{digest.hexdigest()}"


def test_a_plan_loads_the_same_in_one_pass_as_through_python_objects() -> None:
    """from_json validates the text in one pass (pydantic-core); the slow path, which only
    locates problems, must give the very same plan."""
    text = realistic_plan().to_json()
    fast = validated_in_one_pass(MigrationPlan, text)
    assert fast is not None
    assert fast == MigrationPlan._from_text(text, "plan.json") == realistic_plan()


def test_a_plan_without_schema_version_is_refused_not_defaulted() -> None:
    """One-pass validation would give schema_version its default: the slow path refuses it."""
    data = json.loads(realistic_plan().to_json())
    del data["schema_version"]
    text = json.dumps(data)
    assert validated_in_one_pass(MigrationPlan, text) is None
    with pytest.raises(InputError, match="schema_version None"):
        MigrationPlan.from_json(text)


def test_fields_left_out_of_the_json_are_left_out_of_the_pieces() -> None:
    # a database's owner_ref and trustworthy_ref are left out when None (exclude_if): the
    # pieces once wrote the name with nothing after it (invalid JSON)
    base = snapshot(database("A"), database("B"))
    with_ref = base.model_copy(update={"databases": (
        base.databases[0],
        base.databases[1].model_copy(update={"trustworthy_ref": base.databases[1].source_ref}),
    )})  # fmt: skip
    for model in (base, with_ref):
        text = "".join(model.json_chunks())
        assert text == model.to_json()
        json.loads(text)
    assert '"trustworthy_ref"' in with_ref.to_json()
    assert '"trustworthy_ref"' not in base.to_json()


def test_owner_refs_in_lists_are_written_by_the_pieces_as_by_pydantic() -> None:
    # a schema's and an object's owner_ref (exclude_if) in lists the pieces serialise in chunks,
    # one item with it beside items without
    db = database("A")
    objects = (db.objects[0].model_copy(update={"owner": "o", "owner_ref": db.source_ref}),
               *db.objects[1:])  # fmt: skip
    schemas = (db.schemas[0].model_copy(update={"owner_ref": db.source_ref}),)
    model = snapshot(db.model_copy(update={"objects": objects, "schemas": schemas}))
    text = "".join(model.json_chunks())
    assert text == model.to_json()
    assert text.count('"owner_ref"') == 2
    assert SecuritySnapshot.from_json(text) == model


def test_documents_load_from_bytes_and_bad_bytes_are_named(tmp_path: Path) -> None:
    # plans and snapshots are validated from the file's bytes (no decoded copy: a plan at bench
    # scale M peaked 5.8 GB to load, 4.0 GB now); bytes that are not UTF-8 are still bad input
    plan = _many_grants(3)
    assert MigrationPlan.from_json(plan.to_json().encode("utf-8")) == plan
    broken = plan.to_json().encode("utf-8").replace(b'"d"', b'"d\xff"', 1)
    with pytest.raises(InputError, match=r"the plan is not UTF-8: byte 0xff at offset \d+"):
        MigrationPlan.from_json(broken, origin="p/plan.json")
    snap = snapshot(database("A"))
    assert SecuritySnapshot.from_json(snap.to_json().encode("utf-8")) == snap
    with pytest.raises(InputError, match="the snapshot is not UTF-8"):
        SecuritySnapshot.from_json(b'{"schema_version": 1, "server": {"name": "\xff"}}')
