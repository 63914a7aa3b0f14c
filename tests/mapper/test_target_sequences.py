"""``plan --target``: USAGE on the sequences that tables' column defaults call (mapper.target).

PostgreSQL runs ``DEFAULT nextval('s.seq'::regclass)`` as the inserting role, which then needs
USAGE on the sequence; SQL Server asked for no permission on a sequence owned by the default
constraint's owner. The catalog here is hand-built the way ``grantbridge inspect`` reads a
converted target (``tests/emit/test_default_sequences.py`` reads a real one): a serial column
(its own sequence, unknown to the plan), a default on a sequence the plan has (a converted
``NEXT VALUE FOR``) and an identity column (no privilege needed, nothing recorded).
"""

from __future__ import annotations

import pytest

from mapper.plan import (
    Disposition,
    FactDisposition,
    MigrationPlan,
    PgDatabase,
    PgGrant,
    PgMembership,
    PgObject,
    PgRole,
    PgSchema,
    RoleKind,
)
from mapper.policy import Policy
from mapper.target import resolve_against_target

#: What the converted target holds (``tests/emit/test_default_sequences.py`` runs it).
TARGET_DDL = """
CREATE SCHEMA s;
CREATE SEQUENCE s.order_no;
CREATE TABLE s.orders (id serial, note text);
CREATE TABLE s.invoices (id bigint DEFAULT nextval('s.order_no'::regclass), note text);
CREATE TABLE s.ledger (id integer GENERATED ALWAYS AS IDENTITY, note text);
"""

#: table → the sequences its column defaults call, as ``inspect`` records them.
CALLED = {"orders": ("s.orders_id_seq",), "invoices": ("s.order_no",), "ledger": ()}


def sequence_plan(prefix: str = "gb", database: str = "gb_seq") -> MigrationPlan:
    """Owner, writer group (INSERT on the three tables), a login in it, and a reader that holds
    column INSERT on invoices; the plan knows ``s.order_no`` (a SQL Server sequence) but not
    the serial's own sequence."""
    owner, writer, app, clerk = (f"{prefix}_{n}" for n in ("owner", "writer", "app", "clerk"))

    def grant(kind: str, name: str, privilege: str, grantee: str, **more: object) -> PgGrant:
        schema = None if kind in ("DATABASE", "SCHEMA") else "s"
        fact = f"Seq/perm:{name}:{privilege}:{grantee}"
        return PgGrant(database=database, object_type=kind, schema_name=schema, name=name,  # type: ignore[arg-type]
                       privilege=privilege, grantee=grantee, facts=(fact,), **more)  # type: ignore[arg-type]  # fmt: skip

    grants = [grant("DATABASE", database, "CONNECT", r) for r in (writer, clerk)]
    grants += [grant("SCHEMA", "s", "USAGE", r) for r in (writer, clerk)]
    grants += [grant("TABLE", t, p, writer) for t in CALLED for p in ("INSERT", "SELECT")]
    grants += [grant("TABLE", "invoices", "INSERT", clerk, columns=("note",))]
    objects = [PgObject(database=database, schema_name="s", name=t, kind="table",
                        columns=("id", "note"), owner=owner, facts=(f"Seq/obj:{t}",))
               for t in CALLED]  # fmt: skip
    objects.append(PgObject(database=database, schema_name="s", name="order_no", kind="sequence",
                            owner=owner, facts=("Seq/obj:order_no",)))  # fmt: skip
    dispositions = [FactDisposition(fact=f, kind="permission", source_ref="seq.sql:1",
                                    disposition=Disposition.MAPPED, items=(g.key,))
                    for g in grants for f in g.facts]  # fmt: skip
    return MigrationPlan(
        fingerprint="sha256:" + "cd" * 32, target="postgresql",
        databases=(PgDatabase(name=database, owner=owner),),
        roles=(PgRole(name=owner, kind=RoleKind.OWNER), PgRole(name=writer, kind=RoleKind.GROUP),
               PgRole(name=clerk, kind=RoleKind.GROUP),
               PgRole(name=app, kind=RoleKind.LOGIN, login=True)),
        memberships=(PgMembership(role=writer, member=app), PgMembership(role=clerk, member=app)),
        schemas=(PgSchema(database=database, name="s", owner=owner),),
        objects=tuple(objects), grants=tuple(grants), dispositions=tuple(dispositions),
    )  # fmt: skip


def catalog(database: str = "gb_seq") -> MigrationPlan:
    """What ``inspect`` reads from :data:`TARGET_DDL` (owned by the migration user)."""
    tables = [PgObject(database=database, schema_name="s", name=t, kind="table",
                       columns=("id", "note"), owner="postgres", default_sequences=called)
              for t, called in CALLED.items()]  # fmt: skip
    sequences = [PgObject(database=database, schema_name="s", name=n, kind="sequence",
                          owner="postgres") for n in ("order_no", "orders_id_seq", "ledger_id_seq")]  # fmt: skip
    return MigrationPlan(fingerprint="inspect", target="postgresql",
                         databases=(PgDatabase(name=database, owner="postgres"),),
                         objects=(*tables, *sequences))  # fmt: skip


@pytest.fixture(scope="module")
def resolved() -> MigrationPlan:
    return resolve_against_target(sequence_plan(), catalog(), Policy())


def _usage(plan: MigrationPlan) -> set[tuple[str, str]]:
    return {(g.name, g.grantee) for g in plan.grants
            if g.object_type == "SEQUENCE" and g.privilege == "USAGE"}  # fmt: skip


def test_insert_grantees_get_usage_on_the_sequences_their_tables_defaults_call(
    resolved: MigrationPlan,
) -> None:
    assert _usage(resolved) == {
        ("orders_id_seq", "gb_writer"),
        ("order_no", "gb_writer"),
        ("order_no", "gb_clerk"),  # column INSERT: the default still fills id
    }
    assert "ledger_id_seq" not in {g.name for g in resolved.grants}  # identity: nothing
    [usage] = [g for g in resolved.grants if (g.name, g.grantee) == ("orders_id_seq", "gb_writer")]
    assert usage.facts == ("Seq/perm:orders:INSERT:gb_writer",)  # the INSERT grant's facts
    assert not usage.grant_option
    assert not usage.columns


def test_the_serials_own_sequence_joins_the_plan_owned_by_the_tables_owner(
    resolved: MigrationPlan,
) -> None:
    sequences = {o.name: o for o in resolved.objects if o.kind == "sequence"}
    assert set(sequences) == {"order_no", "orders_id_seq"}  # not the identity's
    assert sequences["orders_id_seq"].owner == "gb_owner"
    assert sequences["orders_id_seq"].facts == ("Seq/obj:orders",)
    assert sequences["order_no"].facts == ("Seq/obj:order_no",)  # the plan's own, kept


def test_one_gb040_per_table_and_the_insert_facts_account_for_the_usage(
    resolved: MigrationPlan,
) -> None:
    gb040 = {f.securable: f for f in resolved.findings if f.rule_id == "GB040"}
    assert set(gb040) == {"TABLE s.orders", "TABLE s.invoices"}
    assert gb040["TABLE s.orders"].evidence == (
        "USAGE on sequence s.orders_id_seq: the column default of s.orders calls nextval as the "
        "inserting role; USAGE also lets that role call nextval directly"
    )
    assert "gb_clerk, gb_writer" in gb040["TABLE s.invoices"].action
    facts = {d.fact: d for d in resolved.dispositions}
    insert = facts["Seq/perm:orders:INSERT:gb_writer"]
    [usage] = [g for g in resolved.grants if g.name == "orders_id_seq"]
    assert usage.key in insert.items
    assert gb040["TABLE s.orders"].key in insert.findings
    assert insert.disposition == Disposition.MAPPED
    assert not facts["Seq/perm:ledger:INSERT:gb_writer"].findings


def test_a_grantee_that_may_call_nextval_already_gets_nothing_more() -> None:
    planned = sequence_plan()
    update = PgGrant(database="gb_seq", object_type="SEQUENCE", schema_name="s", name="order_no",
                     privilege="UPDATE", grantee="gb_clerk")  # fmt: skip
    planned = planned.model_copy(update={"grants": (*planned.grants, update)})
    resolved = resolve_against_target(planned, catalog(), Policy())
    assert ("order_no", "gb_clerk") not in _usage(resolved)
    assert ("order_no", "gb_writer") in _usage(resolved)


def test_a_target_without_default_sequences_changes_nothing_and_json_stays_as_it_was() -> None:
    planned = sequence_plan()
    bare = catalog().model_copy(update={
        "objects": tuple(o.model_copy(update={"default_sequences": ()}) for o in catalog().objects)
    })  # fmt: skip
    assert resolve_against_target(planned, bare, Policy()).to_json() == planned.to_json()
    assert "default_sequences" not in planned.to_json()  # an empty tuple is not written
    text = catalog().to_json()
    assert '"default_sequences": [\n' in text
    assert MigrationPlan.from_json(text) == catalog()
    assert "".join(catalog().json_chunks()) == text


def test_a_table_the_target_lacks_grants_nothing_on_its_sequence() -> None:
    whole = catalog()
    without = whole.model_copy(
        update={"objects": tuple(o for o in whole.objects if o.name != "invoices")}
    )
    resolved = resolve_against_target(sequence_plan(), without, Policy())
    assert _usage(resolved) == {("orders_id_seq", "gb_writer")}
    assert [f.securable for f in resolved.findings if f.rule_id == "GB042"] == ["TABLE s.invoices"]


def test_a_linked_sequence_that_sorts_before_its_table_is_granted_on_but_not_re_owned() -> None:
    """``CREATE SEQUENCE s.order_id OWNED BY s.orders.id``: 03 re-owns objects in key order, and
    PostgreSQL refuses ``ALTER SEQUENCE s.order_id OWNER`` before the table's; re-owning the
    table moves it along."""
    whole = catalog()
    renamed = tuple(
        o.model_copy(update={"default_sequences": ("s.order_id",)}) if o.name == "orders"
        else o.model_copy(update={"name": "order_id"}) if o.name == "orders_id_seq"
        else o
        for o in whole.objects
    )  # fmt: skip
    resolved = resolve_against_target(
        sequence_plan(), whole.model_copy(update={"objects": renamed}), Policy()
    )
    assert ("order_id", "gb_writer") in _usage(resolved)
    assert "order_id" not in {o.name for o in resolved.objects}


def test_the_resolved_plan_keeps_every_collection_in_key_order(resolved: MigrationPlan) -> None:
    """What is added after planning keeps the plan's invariant (tuples sorted by key), so the
    written plan.json reads back byte-identical."""
    for items in (resolved.objects, resolved.grants, resolved.findings):
        keys = [item.key for item in items]
        assert keys == sorted(keys)
    assert MigrationPlan.from_json(resolved.to_json()).to_json() == resolved.to_json()
