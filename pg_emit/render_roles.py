"""``01_roles.sql`` and ``02_memberships.sql``: cluster-wide roles and role memberships.

Roles are created only when absent (``to_regrole`` is NULL), and each role the script creates
is marked with a comment (``COMMENT ON ROLE … IS 'grantbridge: created …'``) so that
``rollback.sql`` drops exactly the roles this plan created and never one that existed before.
Passwords never appear: a password login gets a commented rotation step instead.

Both scripts are shaped by what PostgreSQL spends applying them (issue 7). The existence check
is ``to_regrole`` (one catalog cache lookup), not a query on the ``pg_roles`` view, which the
server plans afresh in every DO block: that check alone was half of ``01_roles.sql``'s time.
Roles are created :data:`ROLE_BATCH` to a DO block, each role's comments just above its own
lines inside the block. Memberships are granted deepest role first (see :func:`membership_sections`).
"""

from __future__ import annotations

from collections import defaultdict

from mapper.plan import AuthMethod, MigrationPlan, PgMembership, PgRole, RoleKind
from mapper.platforms import non_superuser, on_rds
from mapper.quoting import comment, quote_ident, quote_literal
from pg_emit import intent
from pg_emit.script import Section, Statement, after, do_block, facts_note, listed

#: The comment that marks a role, schema or stand-in as created by grantbridge.
CREATED_MARK = "grantbridge: created"
STANDIN_MARK = "grantbridge: stand-in for the Amazon RDS role"

#: Attributes a plan may ask for; anything else (SUPERUSER, REPLICATION, BYPASSRLS) is refused
#: on RDS, where even the master user cannot grant them.
SAFE_ATTRIBUTES = frozenset({"CREATEDB", "CREATEROLE", "INHERIT", "NOINHERIT", "CONNECTION LIMIT"})


def _role_options(role: PgRole) -> str:
    options = ["LOGIN" if role.login else "NOLOGIN", *role.attributes]
    return " ".join(options)


#: Roles created per DO block. Each block costs the server a PL/pgSQL compile and run: one
#: block per role was 0.09 s of the 0.51 s bench scale S spends applying (757 roles), and
#: batches of this size take 10 % off the whole apply (issue 7). Each role's lines inside the
#: block are preceded by its own comments, so the script reads as before.
ROLE_BATCH = 50


def _create_lines(role: PgRole, fingerprint: str) -> list[str]:
    """One role's notes (as comments) and its guarded CREATE ROLE, for a DO block's body."""
    name = quote_ident(role.name)
    mark = quote_literal(f"{CREATED_MARK} by plan {fingerprint[:16]} ({role.kind})")
    notes = [facts_note(role.facts), f"role {role.name}: {role.kind}, {role.auth} ({role.source})"]
    if role.comment:
        notes.append(role.comment)
    return [
        *(comment(note) for note in notes),
        f"IF to_regrole({quote_literal(name)}) IS NULL THEN",
        f"  CREATE ROLE {name} {_role_options(role)};",
        f"  COMMENT ON ROLE {name} IS {mark};",
        "END IF;",
    ]


def _create_roles(roles: list[PgRole], fingerprint: str) -> Statement:
    """One DO block creating ``roles`` where absent; the password logins' rotation steps are
    its notes (they are for the person applying, outside the block)."""
    body = [line for role in roles for line in _create_lines(role, fingerprint)]
    notes = [note for role in roles for note in _rotation_note(role)]
    return Statement(do_block(body), tuple(notes))


def _rotation_note(role: PgRole) -> tuple[str, ...]:
    if role.auth != AuthMethod.PASSWORD:
        return ()
    return (
        f"password login {role.name}: grantbridge never carries passwords. Rotation step, run by",
        f"hand after apply: \\password {quote_ident(role.name).replace(chr(10), ' ')}",
    )


def standins_statement() -> Statement:
    """Create NOLOGIN stand-ins for the RDS roles when ``rds_superuser`` does not exist."""
    body = ["IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'rds_superuser') THEN"]
    for name in intent.RDS_ROLES:
        body += [
            f"  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '{name}') THEN",
            f"    CREATE ROLE {name} NOLOGIN;",
            f"    COMMENT ON ROLE {name} IS {quote_literal(STANDIN_MARK)};",
            "  END IF;",
        ]
    body.append("END IF;")
    notes = (
        "Amazon RDS / Aurora provide rds_iam, rds_ad, rds_superuser and rds_password. On plain",
        "PostgreSQL (no rds_superuser role) grantbridge creates NOLOGIN stand-ins for them so",
        "the same scripts run everywhere; on RDS / Aurora this block does nothing.",
    )
    return Statement(do_block(body), notes)


def roles_sections(plan: MigrationPlan) -> tuple[Section, ...]:
    """The sections of ``01_roles.sql``: stand-ins (an aurora or rds plan's only: a postgresql
    plan names no RDS role), then every non-predefined role by name."""
    statements = [standins_statement()] if on_rds(plan.target) else []
    roles = [role for role in plan.roles if role.kind != RoleKind.PREDEFINED]
    for start in range(0, len(roles), ROLE_BATCH):
        statements.append(_create_roles(roles[start : start + ROLE_BATCH], plan.fingerprint))
    return (Section(None, tuple(statements)),)


def _owner_access_statement(plan: MigrationPlan) -> Statement | None:
    owners = intent.applier_roles(plan)
    if not owners:
        return None
    targets = ", ".join(quote_ident(o) for o in owners)
    sql = do_block(
        [
            "IF NOT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN",
            f"  GRANT {targets} TO CURRENT_USER;",
            "END IF;",
        ]
    )
    notes = (
        f"A non-superuser ({non_superuser(plan.target)}) may only give objects to, and set default",
        "privileges for, roles it is a member of: it joins the owner roles and the roles whose",
        "default privileges 06 changes. Superusers skip this.",
    )
    return Statement(sql, notes)


def _depths(memberships: tuple[PgMembership, ...]) -> dict[str, int]:
    """How deep each role sits: 0 when it is a member of no role, else 1 + its deepest role's."""
    parents: dict[str, set[str]] = defaultdict(set)
    children: dict[str, set[str]] = defaultdict(set)
    for membership in memberships:
        parents[membership.member].add(membership.role)
        children[membership.role].add(membership.member)
    waiting = {name: len(parents[name]) for name in parents.keys() | children.keys()}
    depth = dict.fromkeys(waiting, 0)
    ready = sorted(name for name, count in waiting.items() if not count)
    while ready:  # parents before children; roles on a loop (the planner refuses loops) wait
        role = ready.pop()
        for child in sorted(children[role]):
            depth[child] = max(depth[child], depth[role] + 1)
            waiting[child] -= 1
            if not waiting[child]:
                ready.append(child)
    return depth


def membership_sections(
    plan: MigrationPlan, memberships: tuple[PgMembership, ...] | None = None
) -> tuple[Section, ...]:
    """``02_memberships.sql``: ``GRANT roles TO members``, one per member set and inherit flag.

    Roles granted to exactly the same members share a statement. Statements run deepest role
    first, so that a role is granted to its members before it becomes a member itself:
    PostgreSQL checks each new membership for a loop by walking the memberships of the role
    granted, re-read after every insert, and in this order there is nothing to walk yet
    (about a quarter less server time at 146,681 memberships). A membership the plan marks
    ``inherit=False`` is rendered ``WITH INHERIT FALSE``, which needs PostgreSQL 16 or later
    (Aurora / RDS 16+); with inherit (the usual case) any version. ``memberships``: those of
    :func:`intent.memberships`, when already worked out (``rollback.sql`` revokes them too).
    """
    if memberships is None:
        memberships = intent.memberships(plan)
    members: dict[tuple[str, bool], set[str]] = defaultdict(set)
    facts: dict[tuple[str, bool], list[str]] = defaultdict(list)
    for membership in memberships:
        members[membership.role, membership.inherit].add(membership.member)
        facts[membership.role, membership.inherit].extend(membership.facts)
    grouped: dict[tuple[tuple[str, ...], bool], list[str]] = defaultdict(list)
    for (role, inherit), member_set in members.items():
        grouped[tuple(sorted(member_set)), inherit].append(role)
    depth = _depths(memberships)
    statements = []
    for (names, inherit), roles in sorted(
        grouped.items(), key=lambda kv: (-max(depth[r] for r in kv[1]), sorted(kv[1]), kv[0])
    ):
        option = "" if inherit else " WITH INHERIT FALSE"
        granted = listed([quote_ident(r) for r in sorted(roles)])
        sql = f"{after('GRANT', granted)} {after('TO', listed([quote_ident(m) for m in names]))}"
        sql += option
        notes = (facts_note([f for r in roles for f in facts[r, inherit]]),)
        statements.append(Statement(sql, notes))
    owner_access = _owner_access_statement(plan)
    if owner_access is not None:
        statements.append(owner_access)
    return (Section(None, tuple(statements)),)
