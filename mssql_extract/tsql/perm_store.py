"""Permission rows of a script replay: one per (securable, permission, grantee), and behind it
one per grantor, as SQL Server keeps them.

``sys.database_permissions`` and ``sys.server_permissions`` name a grantor on each row
(``grantor_principal_id``, shared/reference/mssql/catalog_views.json), and SQL Server keeps a
row per grantor: the same GRANT made ``AS`` two principals is two rows, each of which keeps its
grantor from being dropped ("Server principal '%s' has granted one or more permission(s).
Revoke the permission(s) before dropping the server principal.", Msg 15173; "The database
principal has granted or denied permissions to objects in the database and cannot be
dropped.", Msg 15284: ``drop_refusals``), and ``REVOKE … AS p`` takes back the one p granted
("AS: Specifies a principal from which the principal executing this query derives its right to
revoke the permission", REVOKE (Transact-SQL)). The snapshot holds one row for the access the
grantee has, as ``snapshot.one_per_grantor_merged`` makes one of the catalog's rows: where one
grantor stands, its row as it was; where several do, one row WITH GRANT OPTION when any of
them has it, naming the latest statement's grantor and source (the catalog readers name the
first row's: a catalog has no order of statements). So ``PermStore.rows`` holds that row, and
``PermStore.grantors`` every grantor's own row of a key that has more than one.

A statement without AS is granted by whoever runs the script: in a database that is ``dbo``
(scripts are run by a sysadmin, and "any member of the sysadmin fixed server role who uses a
database is mapped to a special user inside each database called dbo", Principals (Database
Engine)), so ``GRANT … AS dbo`` is the same grantor; on the server the login is not known. A
GRANT and a DENY of one permission to one grantee do not stand together (the replay's rule,
unchanged: the later replaces the earlier, of every grantor), and a REVOKE without AS takes
back the permission of every grantor, as the replay did before grantors were kept.

A GRANT without WITH GRANT OPTION of what its grantor granted WITH GRANT OPTION already changes
nothing: the row stays ``W``. The only way SQL Server documents to take the option away and
keep the permission is ``REVOKE GRANT OPTION FOR`` (with CASCADE: without, SQL Server refuses
it, Msg 4611, ``grants``) ("Use REVOKE GRANT OPTION FOR to revoke the
right to regrant the specified permission. If the principal has the specified permission with
the right to grant that permission, the right to grant that permission will be revoked, and
the permission itself will not be revoked", REVOKE Server Permissions (Transact-SQL), Remarks;
REVOKE (Transact-SQL), GRANT OPTION FOR), and a GRANT that sets ``Grant`` over
``GrantWithGrant`` is seen to leave ``GrantWithGrant`` in place (SqlServerDsc, "setting table
permission from GrantWithGrant to Grant still results in GrantWithGrant permissions
configured", https://github.com/dsccommunity/SqlServerDsc/issues/1602, fixed by revoking the
grant option). Another grantor's GRANT is its own row, as before; a DENY still replaces the
GRANT of every grantor.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from mssql_extract.snapshot import PermissionState, SourceRef, fold

#: A securable as (class, schema, object, column); parts fold-compared through ``sec_key``.
Securable = tuple[str, str | None, str | None, str | None]


def folded(name: str) -> str:
    """``fold(name)``, interned: the keys of millions of rows share one string per name."""
    return sys.intern(fold(name))


def sec_key(securable: Securable) -> tuple[str, ...]:
    cls, schema, name, column = securable
    return (
        cls,
        "" if schema is None else folded(schema),
        "" if name is None else folded(name),
        "" if column is None else folded(column),
    )


#: Securable classes named by a database principal (``ON USER::x``), and by a server principal
#: (``ON LOGIN::x``). Each group shares one namespace (``sys.database_principals``,
#: ``sys.server_principals``): a name is one principal of them.
DATABASE_PRINCIPALS = frozenset({"USER", "ROLE", "APPLICATION ROLE"})
SERVER_PRINCIPALS = frozenset({"LOGIN", "SERVER ROLE"})

PermKey = tuple[tuple[str, ...], str, str]


def perm_key(securable: Securable, permission: str, grantee: str) -> PermKey:
    """The key of a permission row: GRANT and DENY of one permission share it."""
    return (sec_key(securable), permission, folded(grantee))


@dataclass(slots=True)  # one per permission row: millions at scale (no per-row __dict__)
class PermRow:
    securable: Securable
    permission: str
    state: PermissionState
    grantee: str
    grantor: str | None
    ref: SourceRef


_DENY, _OPTION = PermissionState.DENY, PermissionState.GRANT_WITH_GRANT_OPTION


@dataclass
class PermStore:
    """Permissions of one scope, keyed (securable, permission, grantee): GRANT and DENY of the
    same permission cannot coexist, as in ``sys.database_permissions``. ``runner`` is who
    grants without AS ("dbo" in a database, "" on the server: not known)."""

    runner: str = ""
    rows: dict[PermKey, PermRow] = field(default_factory=dict)
    # (table securable, permission, grantee) -> keys of its column-level rows
    columns: dict[PermKey, set[PermKey]] = field(default_factory=dict)
    # key -> each grantor's own row (by folded grantor), only for keys with more than one
    grantors: dict[PermKey, dict[str, PermRow]] = field(default_factory=dict)

    def put(self, row: PermRow, key: PermKey | None = None) -> None:
        """Record ``row`` (``key``: its :func:`perm_key`, when the caller has it already)."""
        if key is None:
            key = perm_key(row.securable, row.permission, row.grantee)
        self.rows[key] = row
        if row.securable[3] is not None:
            base = ((*key[0][:3], ""), key[1], key[2])
            self.columns.setdefault(base, set()).add(key)

    def who(self, grantor: str | None) -> str:
        """The grantor, folded: the one that grants without AS is the ``runner``."""
        return folded(grantor) if grantor else self.runner

    def granted(self, key: PermKey) -> list[PermRow]:
        """Each grantor's row of ``key``, the latest last."""
        if key in self.grantors:
            return list(self.grantors[key].values())
        row = self.rows.get(key)
        return [] if row is None else [row]

    def every_grantors_row(self) -> Iterator[PermRow]:
        """Every grantor's row of every key (what a DROP of a grantor must see)."""
        for key, row in self.rows.items():
            yield from self.grantors[key].values() if key in self.grantors else (row,)

    def record(self, row: PermRow, key: PermKey) -> None:
        """A GRANT or DENY of ``row``'s grantor: it replaces that grantor's row, and every row
        of the other kind (a DENY the GRANTs, a GRANT the DENY). A GRANT without the option
        of what the grantor holds WITH GRANT OPTION changes nothing (module docstring)."""
        if row.state == PermissionState.GRANT and self._holds_option(key, row.grantor):
            return
        old = self.rows.get(key)
        same_kind = old is not None and (old.state == _DENY) == (row.state == _DENY)
        if old is None or (
            key not in self.grantors and self.who(old.grantor) == self.who(row.grantor)
        ):
            self.grantors.pop(key, None)  # the common case: one grantor, as before
            self.put(row, key)
            return
        rows = {self.who(r.grantor): r for r in self.granted(key)} if same_kind else {}
        rows.pop(self.who(row.grantor), None)  # re-inserted last: the latest
        rows[self.who(row.grantor)] = row
        self._settle(key, rows)

    def _holds_option(self, key: PermKey, grantor: str | None) -> bool:
        """Whether ``grantor``'s own row of ``key`` is WITH GRANT OPTION."""
        who = self.who(grantor)
        mine = [row for row in self.granted(key) if self.who(row.grantor) == who]
        return bool(mine) and mine[0].state == _OPTION

    def revoke(self, key: PermKey, grantor: str | None, *, option_only: bool) -> bool:
        """``REVOKE [GRANT OPTION FOR] … [AS grantor]`` of ``key``: the rows of ``grantor`` (of
        every grantor when None) go, or lose their GRANT OPTION (``option_only``: a row without
        it goes, a DENY stays). Whether no row of ``key`` is left."""
        rows = {self.who(r.grantor): r for r in self.granted(key)}
        for who in [w for w in rows if grantor is None or w == self.who(grantor)]:
            row = rows[who]
            if option_only and row.state == _OPTION:
                rows[who] = _with_state(row, PermissionState.GRANT)
            elif not (option_only and row.state == _DENY):
                del rows[who]
        self._settle(key, rows)
        return key not in self.rows

    def clear_columns(self, key: PermKey, grantor: str | None, *, deny: bool) -> None:
        """A DENY or REVOKE (``AS grantor``) on a table: the column rows of its permission and
        grantee go with it (those of ``grantor`` only, when given; a DENY keeps column DENYs)."""
        if key[0][3]:
            return
        for column_key in self.columns.get(key, set()).copy():
            if grantor is not None and not deny:
                self.revoke(column_key, grantor, option_only=False)
                continue
            row = self.rows.get(column_key)
            if row is not None and not (deny and row.state == _DENY):
                self._settle(column_key, {})
        left = {k for k in self.columns.pop(key, set()) if k in self.rows}
        if left:
            self.columns[key] = left

    def cascade(self, key: PermKey, grantee: str) -> None:
        """``… CASCADE``: what ``grantee`` granted of the permission, on the securable or its
        columns, goes too."""
        for other in [k for k in self.rows if k[0][:3] == key[0][:3] and k[1] == key[1]]:
            self.revoke(other, grantee, option_only=False)

    def _settle(self, key: PermKey, rows: dict[str, PermRow]) -> None:
        """Make ``rows`` (each grantor's, the latest last) the rows of ``key``."""
        self.grantors.pop(key, None)
        if not rows:
            self.rows.pop(key, None)
            return
        latest = list(rows.values())[-1]
        if len(rows) > 1:
            self.grantors[key] = rows
            options = any(row.state == _OPTION for row in rows.values())
            latest = _with_state(latest, _OPTION if options else latest.state)
        self.put(latest, key)

    def rebuild(self, renamed: Callable[[PermRow], PermRow]) -> None:
        """Put every grantor's row again, through ``renamed`` (a key names the securable and
        grantee, a grantor's place its name: a renamed one needs a new key)."""
        groups = [self.granted(key) for key in self.rows]
        self.rows, self.columns, self.grantors = {}, {}, {}
        for group in groups:
            rows = [renamed(row) for row in group]
            first = rows[0]
            key = perm_key(first.securable, first.permission, first.grantee)
            self._settle(key, {self.who(row.grantor): row for row in rows})

    def rename(self, key: str, new: str, classes: frozenset[str]) -> None:
        """The principal folded ``key`` is now called ``new``: as grantee, as grantor, and as a
        securable of one of ``classes``."""

        def renamed(row: PermRow) -> PermRow:
            if folded(row.grantee) == key:
                row.grantee = new
            if row.grantor is not None and folded(row.grantor) == key:
                row.grantor = new
            cls, schema, name, column = row.securable
            if cls in classes and name is not None and folded(name) == key:
                row.securable = (cls, schema, new, column)
            return row

        self.rebuild(renamed)

    def drop_principal(self, key: str, *, server: bool) -> list[PermRow]:
        """A dropped principal (folded ``key``; a login or server role when ``server``): the rows
        granted to it, and those granted on it (``GRANT IMPERSONATE ON USER::x TO y``: the
        securable is gone). Returns those granted on it to others."""
        classes = SERVER_PRINCIPALS if server else DATABASE_PRINCIPALS
        self.drop_where(lambda row: folded(row.grantee) != key)

        def on_it(row: PermRow) -> bool:
            cls, _, name, _ = row.securable
            return cls in classes and name is not None and folded(name) == key

        gone = [row for row in self.rows.values() if on_it(row)]
        if gone:
            self.drop_where(lambda row: not on_it(row))
        return gone

    def drop_where(self, keep: Callable[[PermRow], bool]) -> None:
        """Remove the rows for which ``keep(row)`` is false (DROP of a principal or object)."""
        self.rows = {k: r for k, r in self.rows.items() if keep(r)}
        self.columns = {
            b: {k for k in ks if k in self.rows} for b, ks in self.columns.items() if ks
        }
        self.grantors = {k: rows for k, rows in self.grantors.items() if k in self.rows}


def _with_state(row: PermRow, state: PermissionState) -> PermRow:
    """``row`` with ``state``: a new row (the one given may be a grantor's own)."""
    return PermRow(row.securable, row.permission, state, row.grantee, row.grantor, row.ref)
