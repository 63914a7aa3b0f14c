"""Replaying security statements in script order, then freezing the result into a snapshot.

Order rules (what ``sys.server_permissions`` / ``sys.database_permissions`` would hold after
running the scripts):

* GRANT replaces a DENY of the same permission, securable and grantee, and vice versa; a GRANT
  without WITH GRANT OPTION of what its grantor gave WITH GRANT OPTION keeps the W
  (``perm_store``);
* REVOKE removes a GRANT or a DENY; ``REVOKE GRANT OPTION FOR … CASCADE`` turns W back into
  G (without CASCADE it is refused, below), and ``REVOKE GRANT OPTION FOR`` removes a plain
  G (the permission itself is revoked then);
* a table-level DENY or REVOKE removes that grantee's column-level GRANTs of the permission
  (a later column GRANT survives a table DENY: the column GRANT then wins, DESIGN §3.2);
* ``CASCADE`` also removes what the grantee granted to others on that securable;
* a DENY, REVOKE or REVOKE GRANT OPTION FOR without ``CASCADE`` of a permission the grantee
  holds WITH GRANT OPTION is refused, as SQL Server refuses it (Msg 4611): nothing changes
  (``grants``);
* DROP removes the principal or object together with its permissions and memberships (those
  granted on a principal, ``ON USER::x``, are listed at the DROP: ``dropped``), unless SQL
  Server refuses it (a role with members, a principal that owns something): ``drop_refusals``;
* ``ALTER TABLE … DROP COLUMN`` removes the column's permissions, unless a default depends on
  the column, which SQL Server refuses (Msg 5074, 4922): ``table_drops``;
* ALTER AUTHORIZATION to a new owner removes the permissions on the securable, and on a
  schema those on what it holds without an individual owner (``drop_schema_permissions``);
  ALTER SCHEMA … TRANSFER removes those on the object it moves; both say which they removed
  (a skipped entry at the statement, ``dropped``), the plan's finding GB045;
* CREATE of a name the state holds already is refused, as SQL Server refuses it: the first
  definition stands (``duplicates``); so is a constraint named as a sequence default of its
  schema (Msg 2714, ``constraint_names``).

A user created ``FOR LOGIN x`` where no script defines login ``x`` is recorded with ``login=None``
and ``orphaned=True`` (``missing_login`` keeps the name ``x`` for the plan's messages).
"""

from __future__ import annotations

from collections.abc import Callable
from sys import intern

from mssql_extract.snapshot import (
    AuditSpecification,
    PermissionState,
    SecuritySnapshot,
    Server,
    Skipped,
    SourceRef,
    fold,
)
from mssql_extract.tsql import renames
from mssql_extract.tsql.securables import SCHEMA_SCOPED
from mssql_extract.tsql.state import (
    DbState,
    LoginState,
    Module,
    NamedState,
    PermRow,
    PermStore,
    Securable,
    Signer,
    Taken,
    UserState,
    folded,
    guess_login_type,
    interned,
    perm_key,
    sec_key,
)


class Builder:
    """The replay state of every script read so far; ``freeze()`` makes the snapshot."""

    def __init__(self) -> None:
        self.logins: dict[str, LoginState] = {}
        self.server_roles: dict[str, NamedState] = {}
        self.server_memberships: dict[tuple[str, str], tuple[str, str, SourceRef]] = {}
        self.server_perms = PermStore()
        self.databases: dict[str, DbState] = {}
        self.skipped: dict[str, Skipped] = {}
        self.current = "master"  # sqlcmd connects to the login's default database, usually master
        self.server_audits: dict[str, AuditSpecification] = {}
        self.common_criteria: bool | None = None  # sp_configure (server_options)

    def scratch(self) -> Builder:
        """A builder nobody keeps, in the same current database: what a script does not run
        (an IF branch not taken, a statement SQL Server refuses) is read onto it."""
        scratch = Builder()
        scratch.current = self.current
        return scratch

    # ----------------------------------------------------------------- databases

    def db(self, name: str | None = None, ref: SourceRef | None = None) -> DbState:
        """The state of ``name`` (default: the current database), created on first use."""
        key = fold(name or self.current)
        found = self.databases.get(key)
        if found is None:
            found = DbState(name or self.current, ref or SourceRef(origin="<scripts>"))
            self.databases[key] = found
        return found

    def use(self, name: str, ref: SourceRef) -> None:
        self.current = name
        self.db(name, ref)  # master too: what is then recorded there was put there by a USE

    @property
    def in_master(self) -> bool:
        return fold(self.current) == "master"

    # ----------------------------------------------------------------- server principals

    def add_login(self, login: LoginState) -> None:
        self.logins[fold(login.name)] = login

    def login(self, name: str, ref: SourceRef) -> LoginState:
        """An existing login, or one the script alters without creating it (``sa``)."""
        key = fold(name)
        if key not in self.logins:
            self.logins[key] = LoginState(name, guess_login_type(name), ref)
        return self.logins[key]

    def drop_login(self, name: str) -> list[PermRow]:
        self.logins.pop(fold(name), None)
        return self._drop_server_principal(name)

    def server_principal(self, name: str) -> Taken | None:
        """The login or server role called ``name``: they share one namespace
        (``sys.server_principals``)."""
        key = fold(name)
        found: LoginState | NamedState | None = self.logins.get(key)
        what = "login"
        if found is None:
            found, what = self.server_roles.get(key), "server role"
        return None if found is None else (f"{what} {found.name!r}", found.ref)

    def add_server_role(self, name: str, owner: str | None, ref: SourceRef) -> None:
        self.server_roles[fold(name)] = NamedState(name, ref, owner)

    def drop_server_role(self, name: str) -> list[PermRow]:
        self.server_roles.pop(fold(name), None)
        return self._drop_server_principal(name)

    def server_member(self, role: str, member: str, add: bool, ref: SourceRef) -> None:
        key = (fold(role), fold(member))
        if add:
            self.server_memberships.setdefault(key, (role, member, ref))
        else:
            self.server_memberships.pop(key, None)

    def _drop_server_principal(self, name: str) -> list[PermRow]:
        """A login's or server role's memberships and permissions (``PermStore.drop_principal``)."""
        key = fold(name)
        self.server_memberships = {k: v for k, v in self.server_memberships.items() if key not in k}
        return self.server_perms.drop_principal(key, server=True)

    # ----------------------------------------------------------------- database principals

    def add_user(self, user: UserState) -> None:
        self.db().users[fold(user.name)] = user

    def user(self, name: str, ref: SourceRef) -> UserState:
        """An existing user of the current database, or one the script alters without creating."""
        users = self.db().users
        return users.setdefault(fold(name), UserState(name, ref, login=name, assumed=True))

    def add_role(self, name: str, owner: str | None, ref: SourceRef) -> None:
        self.db().roles[fold(name)] = NamedState(name, ref, owner)

    def add_app_role(self, name: str, default_schema: str | None, ref: SourceRef) -> None:
        # NamedState.owner holds the default schema: application roles have no owner field
        self.db().app_roles[fold(name)] = NamedState(name, ref, default_schema)

    def rename_principal(self, old: str, new: str) -> None:
        """ALTER USER | ROLE | APPLICATION ROLE … WITH NAME: see ``renames``."""
        renames.rename_in_database(self.db(), old, new)

    def rename_server_principal(self, old: str, new: str) -> None:
        """ALTER LOGIN | SERVER ROLE … WITH NAME: see ``renames``."""
        renames.rename_on_server(self, old, new)

    def drop_principal(self, name: str) -> list[PermRow]:
        """DROP USER / ROLE / APPLICATION ROLE: the principal, its memberships and permissions
        (``PermStore.drop_principal``: the rows granted on it to others, for ``dropped``)."""
        db, key = self.db(), fold(name)
        for table in (db.users, db.roles, db.app_roles):
            table.pop(key, None)
        db.memberships = {k: v for k, v in db.memberships.items() if key not in k}
        return db.perms.drop_principal(key, server=False)

    def member(self, role: str, member: str, add: bool, ref: SourceRef) -> None:
        memberships = self.db().memberships
        key = (fold(role), fold(member))
        if add:
            memberships.setdefault(key, (role, member, ref))
        else:
            memberships.pop(key, None)

    def default_schema(self, principal: str | None) -> str | None:
        found = self.db().users.get(fold(principal)) if principal else None
        return found.default_schema if found else None

    # ----------------------------------------------------------------- objects

    def drop_object_permissions(
        self, schema: str | None, name: str, cls: str = "OBJECT"
    ) -> list[PermRow]:
        """Every permission on a securable of the database: a schema-scoped object (its column
        permissions too; ``schema`` given) or a schema, role … (``schema`` None). The rows
        dropped, for the statements that must say so (``dropped``)."""
        gone = sec_key((cls, schema, name, None))[:3]
        return _drop(self.db().perms, lambda row: sec_key(row.securable)[:3] != gone)

    def drop_column_permissions(self, schema: str, name: str, column: str) -> list[PermRow]:
        """``ALTER TABLE … DROP COLUMN``: the permissions on the column, every grantee's (rows
        of ``sys.database_permissions`` whose ``minor_id`` is the column's). The rows dropped."""
        gone = sec_key(("OBJECT", schema, name, column))
        return _drop(self.db().perms, lambda row: sec_key(row.securable) != gone)

    def drop_schema_permissions(self, schema: str) -> list[PermRow]:
        """``ALTER AUTHORIZATION ON SCHEMA::schema`` to a new owner: the permissions on the
        schema go, and those on every object, type and XML schema collection in it without an
        individual owner ("When ownership is transferred, permissions on schema-contained
        objects that do not have explicit owners will be dropped", ALTER AUTHORIZATION,
        Remarks, SCHEMA; only those three classes are schema-contained, the same page says).
        A securable no script creates has no individual owner either. The rows dropped."""
        db, key = self.db(), folded(schema)
        owned = {name for (where, name), obj in db.objects.items() if where == key and obj.owner}

        def keep(row: PermRow) -> bool:
            cls, where, name, _ = sec_key(row.securable)
            if cls == "SCHEMA":
                return name != key
            return not (cls in SCHEMA_SCOPED and where == key and name not in owned)

        return _drop(db.perms, keep)

    def transfer_object(
        self, schema: str, name: str, to_schema: str, cls: str = "OBJECT"
    ) -> tuple[bool, list[PermRow]]:
        """``ALTER SCHEMA to TRANSFER schema.name``: the object moves and loses its permissions
        ("all permissions associated with the securable will be dropped", ALTER SCHEMA); an
        owner set explicitly stays. Whether a script created the object (if none did, only its
        permissions go), and the permission rows dropped."""
        db = self.db()
        gone = self.drop_object_permissions(schema, name, cls)
        if (fold(schema), fold(name)) in db.objects:  # foreign keys that reference it follow
            db.objects.retarget((fold(schema), fold(name)), (fold(to_schema), fold(name)))
        depending = db.objects.dependents.get((fold(schema), fold(name)), ())
        found = db.objects.pop((fold(schema), fold(name)), None)
        if found is None:
            return False, gone
        db.objects[(fold(to_schema), fold(name))] = found.model_copy(
            update={"schema_name": to_schema}
        )
        db.objects.depend((fold(to_schema), fold(name)), list(depending))  # its constraints
        for key, mask in list(db.masked.items()):
            if key[:2] == (fold(schema), fold(name)):
                del db.masked[key]
                moved = mask.model_copy(update={"schema_name": to_schema})
                db.masked[(fold(to_schema), key[1], key[2])] = moved
        return True, gone

    # ----------------------------------------------------------------- permissions

    def grantable(
        self, securable: Securable, permission: str, grantee: str, *, server: bool
    ) -> bool:
        """Whether ``grantee`` holds ``permission`` on ``securable`` WITH GRANT OPTION: then SQL
        Server refuses a DENY or REVOKE of it without CASCADE (``grants``)."""
        store = self.server_perms if server else self.db().perms
        row = store.rows.get(perm_key(securable, permission, grantee))
        return row is not None and row.state == PermissionState.GRANT_WITH_GRANT_OPTION

    def permission(
        self,
        verb: str,
        securable: Securable,
        permission: str,
        grantee: str,
        *,
        server: bool,
        grantor: str | None,
        ref: SourceRef,
        with_grant: bool = False,
        option_only: bool = False,
        cascade: bool = False,
    ) -> None:
        """Replay one GRANT, DENY or REVOKE of one permission to one grantee."""
        store = self.server_perms if server else self.db().perms
        securable, permission, grantee = interned(securable), intern(permission), intern(grantee)
        key = perm_key(securable, permission, grantee)
        if verb != "DENY" and not option_only:
            self._connect(securable, permission, grantee, revoked=verb == "REVOKE")
        if verb == "GRANT":
            state = PermissionState.GRANT_WITH_GRANT_OPTION if with_grant else PermissionState.GRANT
            store.record(PermRow(securable, permission, state, grantee, grantor, ref), key)
            return
        if verb == "REVOKE" and option_only:
            # "If the principal has the specified permission without the GRANT option, the
            # permission itself will be revoked" (REVOKE (Transact-SQL), GRANT OPTION FOR)
            # (CREATE LOGIN's and CREATE USER's CONNECT grant, which has no row, included)
            if store.revoke(key, grantor, option_only=True):
                self._connect(securable, permission, grantee, revoked=True)
        elif verb == "DENY":
            store.clear_columns(key, None, deny=True)
            deny = PermRow(securable, permission, PermissionState.DENY, grantee, grantor, ref)
            store.record(deny, key)
        else:
            store.revoke(key, grantor, option_only=False)
            store.clear_columns(key, grantor, deny=False)
        if cascade:
            store.cascade(key, grantee)

    def _connect(self, securable: Securable, permission: str, grantee: str, revoked: bool) -> None:
        """CREATE LOGIN and CREATE USER grant CONNECT SQL and CONNECT: that grant is the row a
        REVOKE removes, after which the principal cannot connect (``connect_revoked``) until a
        GRANT gives it back. A DENY is a permission row of its own."""
        found: LoginState | UserState | None = None
        if permission == "CONNECT SQL" and securable[0] == "SERVER":
            found = self.logins.get(fold(grantee))
        elif permission == "CONNECT" and securable[0] == "DATABASE":
            found = self.db().users.get(fold(grantee))
        if found is not None:
            found.connect_revoked = revoked

    # ----------------------------------------------------------------- module signatures

    def sign(
        self, module: Module, signers: list[Signer], reason: str, text: str, ref: SourceRef
    ) -> None:
        """ADD [COUNTER] SIGNATURE: kept as skipped, and reported, while the module has it."""
        key = self.skip("statement", reason, text, ref)
        held = self.db().signatures.setdefault(module, {})
        replaced = {held[signer] for signer in signers if signer in held}
        held.update(dict.fromkeys(signers, key))
        self._release(replaced)

    def unsign(self, module: Module, signers: list[Signer] | None = None) -> None:
        """The module loses ``signers``' signatures (DROP SIGNATURE), or all of them (None:
        ALTER or DROP of the module); a statement whose signatures are all gone is no longer
        reported."""
        signatures = self.db().signatures
        held = signatures.get(module)
        if not held:
            return
        gone = list(held) if signers is None else [s for s in signers if s in held]
        released = {held.pop(signer) for signer in gone}
        if not held:
            del signatures[module]
        self._release(released)

    def _release(self, keys: set[str]) -> None:
        standing = {key for held in self.db().signatures.values() for key in held.values()}
        for key in keys - standing:
            self.skipped.pop(key, None)

    # ----------------------------------------------------------------- notes

    def skip(self, kind: str, reason: str, text: str, ref: SourceRef) -> str:
        """Keep something not read (the first one at its place stays); its key."""
        item = Skipped(kind=kind, reason=reason, text=text, source_ref=ref)
        self.skipped.setdefault(item.key, item)
        return item.key

    # ----------------------------------------------------------------- freezing

    def freeze(self) -> SecuritySnapshot:
        """The snapshot of everything replayed so far (sorted and validated by the model)."""
        from mssql_extract.tsql.freeze import freeze_databases, freeze_server

        return SecuritySnapshot(
            source="script",
            server=Server(name="(scripts)", common_criteria=self.common_criteria),
            **freeze_server(self),
            databases=freeze_databases(self),
            skipped=tuple(self.skipped.values()),
        )


def _drop(store: PermStore, keep: Callable[[PermRow], bool]) -> list[PermRow]:
    """Remove the rows of ``store`` for which ``keep(row)`` is false; those rows (the store is
    rebuilt only when there are some)."""
    gone = [row for row in store.rows.values() if not keep(row)]
    if gone:
        store.drop_where(keep)
    return gone
