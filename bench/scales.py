"""Estate sizes for the benchmark (issue 7) and how a size is split into principals and rows."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    """The size of a synthetic estate.

    ``principals`` counts every principal record: logins, user-defined server roles, and per
    database users, roles and application roles. ``permission_rows`` counts rows as
    ``sys.server_permissions`` and ``sys.database_permissions`` would hold them (one per column
    for a column permission).
    """

    name: str
    databases: int
    principals: int
    permission_rows: int

    @property
    def logins(self) -> int:
        """Logins: 40 % of the principals (a login maps to users in several databases)."""
        return max(8, round(self.principals * 0.4))

    @property
    def principals_per_database(self) -> int:
        """Users, roles and application roles in each database."""
        return max(16, round((self.principals - self.logins) / self.databases))

    @property
    def rows_per_database(self) -> int:
        """Database permission rows per database (the server holds a few more)."""
        return self.permission_rows // self.databases


#: The sizes issue 7 asks for, plus XS for tests. Registry: one entry per name.
SCALES: dict[str, Scale] = {
    scale.name: scale
    for scale in (
        Scale("XS", databases=2, principals=60, permission_rows=600),
        Scale("S", databases=1, principals=100, permission_rows=10_000),
        Scale("M", databases=10, principals=2_000, permission_rows=500_000),
        Scale("L", databases=40, principals=20_000, permission_rows=5_000_000),
    )
}


def rows_scale(rows: int) -> Scale:
    """A one-database estate with ``rows`` permission rows (for the plan-scaling figures).

    Principals grow with the square root of the rows, as they do in real estates where a few
    hundred roles and users hold most object grants.
    """
    principals = max(100, round((rows / 10_000) ** 0.5 * 100))
    return Scale(f"rows{rows}", databases=1, principals=principals, permission_rows=rows)


def get_scale(name: str) -> Scale:
    """The scale called ``name`` (XS, S, M, L) or ``rows<N>``; ``KeyError`` when unknown."""
    if name.startswith("rows") and name[4:].isdigit():
        return rows_scale(int(name[4:]))
    return SCALES[name]
