"""Hand-built MigrationPlans for the emitter tests (independent of the mapper)."""

from __future__ import annotations

from mapper.plan import (
    AuthMethod,
    MigrationPlan,
    PgColumnType,
    PgDatabase,
    PgDefaultPrivilege,
    PgDefaultRevoke,
    PgGrant,
    PgMembership,
    PgObject,
    PgPolicy,
    PgRevoke,
    PgRole,
    PgRoutineSecurity,
    PgRowSecurity,
    PgSchema,
    PgViewSecurity,
    RoleKind,
)


def realistic_plan(prefix: str = "gb", database: str = "gb_sales") -> MigrationPlan:
    """A small but realistic plan: owners, groups, logins (IAM, password), odd names, columns."""
    p = prefix
    owner, reader, writer = f"{p}_sales_owner", f"{p}_sales_reader", f"{p}_sales_writer"
    app, alice, odd = f"{p}_app", f"{p}_alice", f'{p} Odd "Name"\nx'
    roles = (
        PgRole(name=owner, kind=RoleKind.OWNER, source="user [dbo]", facts=("Sales/user:dbo",)),
        PgRole(name=reader, kind=RoleKind.GROUP, source="role [reader]", facts=("Sales/role:reader",)),
        PgRole(name=writer, kind=RoleKind.GROUP, source="role [writer]", facts=("Sales/role:writer",)),
        PgRole(name=app, kind=RoleKind.LOGIN, login=True, auth=AuthMethod.IAM, source="login [app]",
               facts=("login:app",)),
        PgRole(name=alice, kind=RoleKind.LOGIN, login=True, auth=AuthMethod.PASSWORD,
               source="login [alice]", facts=("login:alice",)),
        PgRole(name=odd, kind=RoleKind.GROUP, source="role [Odd \"Name\"]", facts=("Sales/role:odd\nname",)),
        PgRole(name="rds_iam", kind=RoleKind.PREDEFINED),
    )  # fmt: skip
    memberships = (
        PgMembership(role=reader, member=app, facts=("Sales/member:reader<-app",)),
        PgMembership(role=writer, member=app, facts=("Sales/member:writer<-app",)),
        PgMembership(role=reader, member=alice, facts=("Sales/member:reader<-alice",)),
    )
    objects = (
        PgObject(database=database, schema_name="sales", name="orders", kind="table",
                 columns=("id", "amount", "note"), owner=owner, facts=("Sales/obj:orders",)),
        PgObject(database=database, schema_name="sales", name="customers", kind="table",
                 columns=("id", "name", "Secret Col"), owner=owner, facts=("Sales/obj:customers",)),
        PgObject(database=database, schema_name="sales", name="v_totals", kind="view",
                 columns=("id", "total"), owner=owner),
        PgObject(database=database, schema_name="sales", name="order_seq", kind="sequence", owner=owner),
        PgObject(database=database, schema_name="sales", name="add_order", kind="procedure",
                 signature="(integer, text)", owner=owner),
        PgObject(database=database, schema_name="sales", name="total_of", kind="function",
                 signature="(integer)", owner=owner),
        PgObject(database=database, schema_name="Odd Schema", name="select", kind="table",
                 columns=("from",), owner=owner),
    )  # fmt: skip

    def g(
        obj_type: str,
        name: str,
        priv: str,
        grantee: str,
        schema: str | None = "sales",
        sig: str | None = None,
        cols: tuple[str, ...] = (),
    ) -> PgGrant:
        return PgGrant(
            database=database,
            object_type=obj_type,
            schema_name=schema,
            name=name,  # type: ignore[arg-type]
            signature=sig,
            columns=cols,
            privilege=priv,
            grantee=grantee,
            facts=(f"Sales/perm:{name}:{priv}:{grantee}",),
        )

    grants = [g("DATABASE", database, "CONNECT", r, schema=None) for r in (reader, writer, odd)]
    grants += [g("SCHEMA", "sales", "USAGE", r, schema=None) for r in (reader, writer)]
    grants += [g("SCHEMA", "Odd Schema", "USAGE", odd, schema=None)]
    grants += [g("TABLE", t, "SELECT", reader) for t in ("orders", "customers", "v_totals")]
    grants += [
        g("TABLE", t, priv, writer)
        for t in ("orders", "customers")
        for priv in ("INSERT", "UPDATE", "DELETE")
    ]
    grants += [g("TABLE", "orders", "SELECT", writer)]
    grants += [g("TABLE", "customers", "SELECT", alice, cols=("id", "name"))]
    grants += [g("TABLE", "select", "SELECT", odd, schema="Odd Schema")]
    grants += [g("SEQUENCE", "order_seq", "USAGE", writer)]
    grants += [g("PROCEDURE", "add_order", "EXECUTE", writer, sig="(integer, text)")]
    grants += [g("FUNCTION", "total_of", "EXECUTE", reader, sig="(integer)")]
    grants += [g("PARAMETER", "work_mem", "SET", writer, schema=None)]
    revokes = tuple(
        PgRevoke(database=database, object_type=t, schema_name=s, name=n, signature=sig,
                 privilege=priv, grantee="PUBLIC", reason="hardening: SQL Server gives PUBLIC nothing here",
                 facts=("policy:hardening",))
        for t, s, n, sig, priv in (
            ("DATABASE", None, database, None, "CONNECT"),
            ("DATABASE", None, database, None, "TEMPORARY"),
            ("PROCEDURE", "sales", "add_order", "(integer, text)", "EXECUTE"),
            ("FUNCTION", "sales", "total_of", "(integer)", "EXECUTE"),
        )
    )  # fmt: skip
    defaults = (
        PgDefaultPrivilege(database=database, owner=owner, schema_name="sales", object_type="TABLES",
                           privilege="SELECT", grantee=reader, facts=("Sales/perm:SCHEMA:sales:SELECT",)),
    )  # fmt: skip
    future = PgDefaultRevoke(database=database, owner=owner, facts=("Sales/schema:sales",),
                             reason="hardening: PUBLIC may not run routines created later")  # fmt: skip
    return MigrationPlan(
        fingerprint="sha256:" + "ab" * 32,
        target="aurora",  # an IAM login and rds_iam: an RDS-shaped plan
        databases=(PgDatabase(name=database, owner=owner, source_database="Sales"),),
        roles=roles,
        memberships=memberships,
        schemas=(
            PgSchema(database=database, name="sales", owner=owner, facts=("Sales/schema:sales",)),
            PgSchema(database=database, name="Odd Schema", owner=owner),
        ),
        objects=objects,
        grants=tuple(grants),
        revokes=revokes,
        default_privileges=defaults,
        default_revokes=(future,),
        routine_security=(
            PgRoutineSecurity(database=database, schema_name="sales", name="add_order",
                              kind="procedure", signature="(integer, text)", owner=owner,
                              search_path=("pg_catalog", "sales"), callers=(writer,)),
        ),
        view_security=(
            PgViewSecurity(database=database, schema_name="sales", name="v_totals",
                           facts=("Sales/obj:v_totals",),
                           comment="ownership chain: sales.rates is owned by bob, not dbo"),
        ),
        row_security=(
            PgRowSecurity(database=database, schema_name="sales", table_name="orders",
                          policies=(PgPolicy(name="tenant_filter", using="amount >= 0",
                                             with_check="true"),
                                    PgPolicy(name="no_big", command="INSERT", permissive=False,
                                             with_check="amount < 1000000")),
                          column_types=(PgColumnType(name="amount", data_type="numeric"),),
                          facts=("Sales/security_policy:sales.tenant",)),
        ),
    )  # fmt: skip
