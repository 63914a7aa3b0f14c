"""The estate and the server it is applied to, for the checks of ``scale_apply`` (issue 8)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bench.generate import generate_snapshot
from bench.scales import Scale
from mapper.plan import MigrationPlan
from mapper.planner import plan as make_plan
from mapper.policy import Policy
from mapper.quoting import quote_ident
from pg_emit import intent
from pg_emit.render import render_sql
from pg_emit.server import connect
from pg_emit.stubs import create_stubs


def estate_plan(scale: Scale, seed: int, prefix: str) -> MigrationPlan:
    """Generate the estate of ``scale`` and plan it; database names start with ``prefix``."""
    snapshot = generate_snapshot(scale, seed=seed)
    renamed = tuple(
        db.model_copy(update={"name": f"{prefix}{db.name}"}) for db in snapshot.databases
    )
    return make_plan(snapshot.model_copy(update={"databases": renamed}), Policy())


def unique_prefix() -> str:
    """A database-name prefix no other run uses (servers are shared)."""
    return f"gbscale{uuid.uuid4().hex[:8]}_"


def write_plan_dir(
    directory: Path, plan: MigrationPlan, scripts: Mapping[str, str] | None = None
) -> Path:
    """``plan.json`` and ``sql/`` as ``grantbridge plan`` writes them (what apply reads);
    ``scripts``: the plan's ``render_sql`` when already rendered."""
    (directory / "plan.json").write_text(plan.to_json(), encoding="utf-8")
    for name, text in (scripts or render_sql(plan)).items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(text, encoding="utf-8")
    return directory


@dataclass
class Target:
    """The plan's databases with stub objects on ``dsn``, restorable to that pristine state.

    Stubs are owned by the connected user, as the data migration would leave them. After
    :meth:`create`, each database is copied to a template; :meth:`reset` drops the databases and
    the roles the plan created, and copies the templates back.
    """

    dsn: str
    plan: MigrationPlan
    roles_before: frozenset[str] = frozenset()
    created: bool = field(default=False)

    @property
    def databases(self) -> list[str]:
        return [db.name for db in self.plan.databases]

    def _template(self, index: int) -> str:
        return f"{self.databases[index][:40]}_pristine{index}"

    def create(self) -> None:
        """Create the databases, the stubs and the pristine templates."""
        with connect(self.dsn) as conn:
            user = str(conn.execute("SELECT current_user").fetchone()[0])  # type: ignore[index]
            self.roles_before = frozenset(
                str(r[0]) for r in conn.execute("SELECT rolname FROM pg_roles").fetchall()
            )
            for name in self.databases:
                conn.execute(f"CREATE DATABASE {quote_ident(name)}".encode())
        self.created = True
        stub_plan = self.plan.model_copy(update={
            "schemas": tuple(s.model_copy(update={"owner": user}) for s in self.plan.schemas),
            "objects": tuple(o.model_copy(update={"owner": user}) for o in self.plan.objects),
        })  # fmt: skip
        for name in self.databases:
            with connect(self.dsn, name) as conn:
                create_stubs(conn, stub_plan, name)
        with connect(self.dsn) as conn:
            for index, name in enumerate(self.databases):
                conn.execute(
                    f"CREATE DATABASE {quote_ident(self._template(index))} "
                    f"TEMPLATE {quote_ident(name)}".encode()
                )

    def _drop_databases_and_roles(self, templates: bool) -> None:
        with connect(self.dsn) as conn:
            names = list(self.databases)
            if templates:
                names += [self._template(i) for i in range(len(self.databases))]
            for name in names:
                conn.execute(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)".encode())
            ours = set(intent.created_roles(self.plan)) | set(intent.RDS_ROLES)
            existing = {str(r[0]) for r in conn.execute("SELECT rolname FROM pg_roles").fetchall()}
            created = sorted((existing & ours) - self.roles_before)
            if created:
                conn.execute(f"DROP ROLE {', '.join(quote_ident(r) for r in created)}".encode())

    def reset(self) -> None:
        """Back to the state :meth:`create` left: a fresh copy of each database, no plan roles."""
        self._drop_databases_and_roles(templates=False)
        with connect(self.dsn) as conn:
            for index, name in enumerate(self.databases):
                conn.execute(
                    f"CREATE DATABASE {quote_ident(name)} "
                    f"TEMPLATE {quote_ident(self._template(index))}".encode()
                )

    def drop(self) -> None:
        """Remove everything :meth:`create` and the checks made."""
        if self.created:
            self._drop_databases_and_roles(templates=True)


def slim(plan: MigrationPlan) -> MigrationPlan:
    """The plan with only what the checks read (databases, roles): saves memory at scale."""
    bulky = ("memberships", "schemas", "objects", "grants", "revokes", "default_privileges",
             "findings", "dispositions", "iam_policies")  # fmt: skip
    return plan.model_copy(update=dict.fromkeys(bulky, ()))
