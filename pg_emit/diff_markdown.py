"""A plan diff as a pull-request comment (GitHub-flavoured Markdown).

:func:`render_diff_markdown` turns the :class:`~pg_emit.diff.PlanDiff` that
:func:`pg_emit.diff.diff_plans` computes into the comment a CI workflow posts: what the change
does to effective access (one line, then who gained and who lost which privilege), a summary
table, then findings, roles, memberships, privileges and source facts, what needs review first
at the top. Long lists fold into ``<details>``; the first line is a marker a bot finds its
comment by.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from mapper.plan import (
    Disposition,
    Finding,
    PgDefaultPrivilege,
    PgDefaultRevoke,
    PgGrant,
    PgMembership,
    PgRevoke,
    PgRole,
)
from pg_emit import markdown as md
from pg_emit.diff import PlanDiff, RoleChange
from pg_emit.diff_access import PUBLIC, AccessChange

#: The first line of every diff comment: bots find and update their comment by it.
COMMENT_MARKER = "<!-- grantbridge-diff -->"

#: Above this many rows, a list in the comment folds into ``<details>``.
COLLAPSE_ROWS_ABOVE = 15

#: At most this many role names per line of the access sections; the JSON has them all.
NAMES_SHOWN = 10


def render_diff_markdown(diff: PlanDiff) -> str:
    """Render the diff as a pull-request comment (GitHub-flavoured Markdown).

    The first line is :data:`COMMENT_MARKER`, an HTML comment GitHub does not show, so a workflow
    can find its previous comment and update it instead of adding one per push.
    """
    lines = [COMMENT_MARKER, "## grantbridge plan diff", ""]
    lines.append(
        f"Base plan {md.code(_short(diff.old_fingerprint))} → "
        f"this branch {md.code(_short(diff.new_fingerprint))}"
    )
    if diff.is_empty:
        return "\n".join([*lines, "", "No change to roles, privileges or findings."]) + "\n"
    lines += ["", _access_line(diff), "", *_summary_table(diff)]
    for section in _SECTIONS:
        block = section(diff)
        if block:
            lines += ["", *block]
    return "\n".join(lines) + "\n"


def _short(fingerprint: str) -> str:
    algorithm, _, digest = fingerprint.rpartition(":")
    return f"{algorithm}:{digest[:12]}" if algorithm else fingerprint[:12]


def _summary_table(diff: PlanDiff) -> list[str]:
    rows = [
        ("Roles", len(diff.roles_added), len(diff.roles_removed), len(diff.roles_changed)),
        ("Memberships", len(diff.memberships_added), len(diff.memberships_removed), 0),
        ("Grants", len(diff.grants_added), len(diff.grants_removed), 0),
        ("Revokes", len(diff.revokes_added), len(diff.revokes_removed), 0),
        (
            "Default privileges",
            len(diff.default_privileges_added),
            len(diff.default_privileges_removed),
            0,
        ),
        (
            "Default revokes",
            len(diff.default_revokes_added),
            len(diff.default_revokes_removed),
            0,
        ),
    ]
    shown = [(name, *(_count(n) for n in counts)) for name, *counts in rows if any(counts)]
    opened = diff.new_open_findings()
    findings = (
        f"**Findings:** {len(opened)} newly open, {len(diff.findings_resolved)} resolved, "
        f"{len(diff.findings_newly_accepted)} newly accepted."
    )
    table = md.table(("", "Added", "Removed", "Changed"), shown) if shown else []
    return [*table, *([""] if table else []), findings]


def _count(n: int) -> str:
    return str(n) if n else "·"


def _fold(title: str, rows: list[str], header: Sequence[str] = ()) -> list[str]:
    """A titled list; long ones fold into ``<details>`` so the comment stays readable."""
    if not rows:
        return []
    body = [*header, *rows]
    if len(rows) > COLLAPSE_ROWS_ABOVE:
        return [f"### {title} ({len(rows)})", "", *md.details(f"Show {len(rows)}", body)]
    return [f"### {title} ({len(rows)})", "", *body]


def _access_line(diff: PlanDiff) -> str:
    """One line above everything else: a widening must not hide among moved grants."""
    if not diff.access_gained and not diff.access_lost:
        return "**Effective access:** unchanged: no role gains or loses a privilege."
    gained = _privileges(len(diff.access_gained))
    lost = _privileges(len(diff.access_lost))
    if not diff.access_gained:
        return f"**Effective access:** {lost} lost by {_whom(diff.access_lost)}; none gained."
    return (
        f"**⚠️ Effective access widened:** {gained} gained by {_whom(diff.access_gained)}; "
        f"{lost if diff.access_lost else 'none'} lost."
    )


def _privileges(n: int) -> str:
    return f"{n} privilege{'' if n == 1 else 's'}"


def _whom(changes: Sequence[AccessChange]) -> str:
    logins = {name for c in changes for name in c.logins}
    roles = {name for c in changes for name in c.roles}
    parts = [f"{len(logins)} login{'' if len(logins) == 1 else 's'}"] if logins else []
    if PUBLIC in roles:
        parts.append("PUBLIC (every role)")
        roles.discard(PUBLIC)
    if roles:
        parts.append(f"{len(roles)} other role{'' if len(roles) == 1 else 's'}")
    return " and ".join(parts)


def _access_sections(diff: PlanDiff) -> list[str]:
    gained = [_access_row(c, "gained") for c in diff.access_gained]
    lost = [_access_row(c, "lost") for c in diff.access_lost]
    block = _fold("⚠️ Access gained", gained)
    return [*block, *([""] if block and lost else []), *_fold("Access lost", lost)]


def _access_row(change: AccessChange, verb: str) -> str:
    """``- SELECT on `TABLE db:s.t` — gained by logins `a`, `b`; roles `c``` ."""
    if change.roles == (PUBLIC,):
        who = f"{PUBLIC} (every role)"
    else:
        groups = (("login", change.logins), ("role", change.roles))
        who = "; ".join(
            f"{label}{'' if len(names) == 1 else 's'} {_names(names)}"
            for label, names in groups
            if names
        )
    return f"- {md.text(change.privilege)} on {md.code(change.securable)} — {verb} by {who}"


def _names(names: Sequence[str]) -> str:
    shown = ", ".join(md.code(n) for n in names[:NAMES_SHOWN])
    more = len(names) - NAMES_SHOWN
    return f"{shown} and {more} more" if more > 0 else shown


def _findings_section(diff: PlanDiff) -> list[str]:
    header = list(md.table(("", "Severity", "Rule", "Finding", "Principal", "Securable"), []))
    rows = [_finding_row("🆕 new", f) for f in _worst_first(diff.findings_new)]
    rows += [_finding_row("↩️ reopened", c.new) for c in diff.findings_reopened]
    rows += [_finding_row("✅ accepted", c.new) for c in diff.findings_newly_accepted]
    rows += [_finding_row("✔️ resolved", f) for f in _worst_first(diff.findings_resolved)]
    return _fold("Findings", rows, header)


def _finding_row(change: str, finding: Finding) -> str:
    title = md.text(finding.title)
    if finding.accepted and finding.accepted_reason:
        title += f" (accepted: {md.text(finding.accepted_reason)})"
    cells = (
        change,
        finding.severity.value,
        finding.rule_id,
        title,
        md.code(finding.principal) if finding.principal else "",
        md.code(finding.securable) if finding.securable else "",
    )
    return "| " + " | ".join(md.cell(c) for c in cells) + " |"


def _worst_first(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (-f.severity.rank, f.key))


def _roles_section(diff: PlanDiff) -> list[str]:
    rows = [f"- ➕ {md.code(r.name)} ({r.kind.value}){_from(r)}" for r in diff.roles_added]
    rows += [f"- ➖ {md.code(r.name)} ({r.kind.value}){_from(r)}" for r in diff.roles_removed]
    rows += [f"- ✏️ {md.code(c.name)}: {_role_fields(c)}" for c in diff.roles_changed]
    return _fold("Roles", rows)


def _from(role: PgRole) -> str:
    return f" from {md.text(role.source)}" if role.source else ""


def _role_fields(change: RoleChange) -> str:
    parts = []
    for field in change.fields:
        before, after = getattr(change.old, field), getattr(change.new, field)
        parts.append(f"{field} {md.code(_plain(before))} → {md.code(_plain(after))}")
    return "; ".join(parts)


def _plain(value: object) -> str:
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value) or "(none)"
    return str(getattr(value, "value", value)) or "(empty)"


def _memberships_section(diff: PlanDiff) -> list[str]:
    rows = [f"- ➕ {_membership(m)}" for m in diff.memberships_added]
    rows += [f"- ➖ {_membership(m)}" for m in diff.memberships_removed]
    return _fold("Memberships", rows)


def _membership(m: PgMembership) -> str:
    return f"{md.code(m.member)} in {md.code(m.role)}"


def _privileges_section(diff: PlanDiff) -> list[str]:
    rows = [f"- ➕ GRANT {_grant(g)}" for g in diff.grants_added]
    rows += [f"- ➖ GRANT {_grant(g)}" for g in diff.grants_removed]
    rows += [f"- ➕ REVOKE {_revoke(r)}" for r in diff.revokes_added]
    rows += [f"- ➖ REVOKE {_revoke(r)}" for r in diff.revokes_removed]
    rows += [f"- ➕ DEFAULT {_default(d)}" for d in diff.default_privileges_added]
    rows += [f"- ➖ DEFAULT {_default(d)}" for d in diff.default_privileges_removed]
    rows += [f"- ➕ DEFAULT REVOKE {_default_revoke(d)}" for d in diff.default_revokes_added]
    rows += [f"- ➖ DEFAULT REVOKE {_default_revoke(d)}" for d in diff.default_revokes_removed]
    return _fold("Privileges", rows)


def _on(item: PgGrant | PgRevoke) -> str:
    """``TABLE `sales.orders` (id) in `sales``` — the object, then its database."""
    path = ".".join(p for p in (item.schema_name, item.name) if p) + (item.signature or "")
    columns = f" ({', '.join(item.columns)})" if isinstance(item, PgGrant) and item.columns else ""
    where = "" if item.object_type == "DATABASE" else f" in {md.code(item.database)}"
    return f"{item.object_type} {md.code(path)}{md.text(columns)}{where}"


def _grant(g: PgGrant) -> str:
    option = " WITH GRANT OPTION" if g.grant_option else ""
    return f"{g.privilege} on {_on(g)} to {md.code(g.grantee)}{option}"


def _revoke(r: PgRevoke) -> str:
    return f"{r.privilege} on {_on(r)} from {md.code(r.grantee)}"


def _default(d: PgDefaultPrivilege) -> str:
    schema = f"schema {md.code(d.schema_name)}" if d.schema_name else "any schema"
    return (
        f"{d.privilege} on new {d.object_type} in {schema} of {md.code(d.database)} "
        f"created by {md.code(d.owner)} to {md.code(d.grantee)}"
    )


def _default_revoke(d: PgDefaultRevoke) -> str:
    return (
        f"{d.privilege} on new {d.object_type} in any schema of {md.code(d.database)} "
        f"created by {md.code(d.owner)} from {md.code(d.grantee)}"
    )


def _dispositions_section(diff: PlanDiff) -> list[str]:
    rows = [
        f"- {md.text(c.kind)} {md.code(c.fact)}: {_disp(c.old)} → {_disp(c.new)}"
        for c in diff.dispositions_changed
    ]
    return _fold("Source facts", rows)


def _disp(value: Disposition | None) -> str:
    return value.value if value else "(absent)"


#: The comment, top to bottom after the summary: what needs review first.
_SECTIONS: tuple[Callable[[PlanDiff], list[str]], ...] = (
    _access_sections,
    _findings_section,
    _roles_section,
    _memberships_section,
    _privileges_section,
    _dispositions_section,
)
