"""A plan diff as a pull-request comment (GitHub-flavoured Markdown).

:func:`render_diff_markdown` turns the :class:`~pg_emit.diff.PlanDiff` that
:func:`pg_emit.diff.diff_plans` computes into the comment a CI workflow posts: what the change
does to effective access (one line, then who gained and who lost which privilege) and to
``07_security.sql``'s settings (:mod:`pg_emit.diff_security`), a summary table, then findings,
roles, memberships, privileges, those settings and source facts, what needs review first at the
top. Long lists fold into ``<details>``; the first line is a marker a bot finds its
comment by.

A comment has a budget, :data:`COMMENT_BUDGET` characters: GitHub refuses a body over 65,536,
and a reviewer would not read one that long. A diff that fits is rendered whole, but for a DENY
re-split (more than three derived roles of one base come and go), which is counted per base role
at any size (:mod:`pg_emit.diff_churn`). One that does not fit first counts all of DENY
restructuring's churn per base role, then lists the
first N items of each section and counts the rest, N shrinking along :data:`ITEMS_SHOWN` until
the comment fits. The summary table and the access line always stay, and the order keeps what
needs review first. The JSON diff (``--format json``) is never cut.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from grantbridge.plural import plural
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
from pg_emit import diff_churn, diff_security
from pg_emit import markdown as md
from pg_emit.diff import PlanDiff, RoleChange
from pg_emit.diff_access import PUBLIC, AccessChange

#: The first line of every diff comment: bots find and update their comment by it.
COMMENT_MARKER = "<!-- grantbridge-diff -->"

#: Above this many rows, a list in the comment folds into ``<details>``.
COLLAPSE_ROWS_ABOVE = 15

#: At most this many role names per line of the access sections; the JSON has them all.
NAMES_SHOWN = 10


#: The most characters a comment may have. GitHub's API refuses an issue or pull-request comment
#: over 65,536 characters ("body is too long (maximum is 65536 characters)"); 60,000 leaves room
#: for a workflow to add a line, and at 4 bytes a character at most it also stays under the
#: 262,144 bytes some have measured the limit in.
COMMENT_BUDGET = 60_000

#: Items listed per section, tried in turn until a comment over budget fits; at 0 it holds the
#: headings and counts only (a few thousand characters).
ITEMS_SHOWN = (1000, 500, 200, 100, 50, 20, 10, 5, 0)

#: Where the items a shortened comment leaves out are.
FULL_LIST = "diff.json"


@dataclass(frozen=True, slots=True)
class _Section:
    """A titled list of the comment: rows (Markdown lines), a table header, a note above."""

    title: str
    rows: list[str]
    header: Sequence[str] = ()
    note: Sequence[str] = ()


def render_diff_markdown(diff: PlanDiff, budget: int = COMMENT_BUDGET) -> str:
    """Render the diff as a pull-request comment (GitHub-flavoured Markdown) of at most
    ``budget`` characters (see the module docstring for what is cut first).

    The first line is :data:`COMMENT_MARKER`, an HTML comment GitHub does not show, so a workflow
    can find its previous comment and update it instead of adding one per push.
    """
    lines = [COMMENT_MARKER, "## grantbridge plan diff", ""]
    lines.append(
        f"Base plan {md.code(short_fingerprint(diff.old_fingerprint))} → "
        f"this branch {md.code(short_fingerprint(diff.new_fingerprint))}"
    )
    if diff.is_empty:
        return "\n".join([*lines, "", "No change to roles, privileges or findings."]) + "\n"
    settings = diff_security.headline(diff)  # a widening must not hide either
    lines += ["", access_line(diff), *(["", settings] if settings else [])]
    lines += ["", *summary_table(diff)]
    counts = diff_churn.count(diff)
    text = _assemble(lines, comment_sections(diff, counts, eager=False), None, budget)
    if len(text) <= budget:
        return text
    sections = comment_sections(diff, counts, eager=True)
    for limit in (None, *ITEMS_SHOWN):
        text = _assemble(lines, sections, limit, budget)
        if len(text) <= budget:
            break
    return text


def _assemble(head: list[str], sections: list[_Section], limit: int | None, budget: int) -> str:
    lines = list(head)
    if limit is not None and any(len(s.rows) > limit for s in sections):
        lines += ["", shortened_note(limit, budget)]
    for section in sections:
        block = folded(section, limit)
        if block:
            lines += ["", *block]
    return "\n".join(lines) + "\n"


def shortened_note(limit: int, budget: int) -> str:
    listed = f"lists its first {limit:,} items" if limit else "counts its items"
    return (
        f"**Shortened** to fit a GitHub comment ({budget:,} characters): each section below "
        f"{listed}; {FULL_LIST} (`grantbridge diff --format json`) lists every one."
    )


def comment_sections(
    diff: PlanDiff, counts: dict[str, Counter[str]], *, eager: bool
) -> list[_Section]:
    """The comment's sections, top to bottom after the summary: what needs review first."""
    chosen = diff_churn.grouped(counts, eager=eager)
    of = {name: base for name, base in diff_churn.bases(diff).items() if base in chosen}
    churn = _Section(
        "DENY restructuring: derived roles re-split",
        diff_churn.rows(counts, chosen),
        note=(diff_churn.NOTE,),
    )
    return [
        _Section("⚠️ Access gained", [_access_row(c, "gained") for c in diff.access_gained]),
        _Section("⚠️ Security settings widened", diff_security.effect_rows(diff.security_widened)),
        _Section("Access lost", [_access_row(c, "lost") for c in diff.access_lost]),
        _Section("Security settings narrowed", diff_security.effect_rows(diff.security_narrowed)),
        _findings_section(diff),
        churn,
        _Section("Roles", _role_rows(diff, of)),
        _Section("Memberships", _membership_rows(diff, of)),
        _Section("Privileges", _privilege_rows(diff, of)),
        _Section("Routine, view and row-level security", diff_security.item_rows(diff)),
        _Section("Source facts", _disposition_rows(diff)),
    ]


def short_fingerprint(fingerprint: str) -> str:
    algorithm, _, digest = fingerprint.rpartition(":")
    return f"{algorithm}:{digest[:12]}" if algorithm else fingerprint[:12]


def summary_table(diff: PlanDiff) -> list[str]:
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
        *diff_security.summary_rows(diff),
    ]
    shown = [(name, *(count_cell(n) for n in counts)) for name, *counts in rows if any(counts)]
    opened = diff.new_open_findings()
    findings = (
        f"**Findings:** {len(opened)} newly open, {len(diff.findings_resolved)} resolved, "
        f"{len(diff.findings_newly_accepted)} newly accepted."
    )
    table = md.table(("", "Added", "Removed", "Changed"), shown) if shown else []
    return [*table, *([""] if table else []), findings]


def count_cell(n: int) -> str:
    return str(n) if n else "·"


def folded(section: _Section, limit: int | None) -> list[str]:
    """A titled list; long ones fold into ``<details>`` so the comment stays readable, and past
    ``limit`` rows the rest are counted, not listed."""
    rows = section.rows
    if not rows:
        return []
    shown = rows if limit is None else rows[:limit]
    more = len(rows) - len(shown)
    lines = [f"### {section.title} ({len(rows):,})", ""]
    if section.note:
        lines += [*section.note, ""]
    body = [*section.header, *shown] if shown else []
    if len(shown) > COLLAPSE_ROWS_ABOVE:
        of = f" of {len(rows):,}" if more else ""
        lines += md.details(f"Show {len(shown):,}{of}", body)
    else:
        lines += body
    if more:
        lines += [*([""] if body else []), f"… and {more:,} more: {FULL_LIST} lists every one."]
    return lines


def access_line(diff: PlanDiff) -> str:
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
    return plural(n, "privilege")


def _whom(changes: Sequence[AccessChange]) -> str:
    logins = {name for c in changes for name in c.logins}
    roles = {name for c in changes for name in c.roles}
    parts = [plural(len(logins), "login")] if logins else []
    if PUBLIC in roles:
        parts.append("PUBLIC (every role)")
        roles.discard(PUBLIC)
    if roles:
        parts.append(plural(len(roles), "other role"))
    return " and ".join(parts)


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


def _findings_section(diff: PlanDiff) -> _Section:
    header = list(md.table(("", "Severity", "Rule", "Finding", "Principal", "Securable"), []))
    rows = [_finding_row("🆕 new", f) for f in _worst_first(diff.findings_new)]
    rows += [_finding_row("↩️ reopened", c.new) for c in diff.findings_reopened]
    rows += [_finding_row("✅ accepted", c.new) for c in diff.findings_newly_accepted]
    rows += [_finding_row("✔️ resolved", f) for f in _worst_first(diff.findings_resolved)]
    return _Section("Findings", rows, header)


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


def _role_rows(diff: PlanDiff, counted: dict[str, str]) -> list[str]:
    """The roles added, removed and changed, but those of ``counted`` (derived role → base)."""
    rows = [
        f"- {sign} {md.code(r.name)} ({r.kind.value}){_from(r)}"
        for sign, roles in (("➕", diff.roles_added), ("➖", diff.roles_removed))
        for r in roles
        if r.name not in counted
    ]
    rows += [
        f"- ✏️ {md.code(c.name)}: {_role_fields(c)}"
        for c in diff.roles_changed
        if c.name not in counted
    ]
    return rows


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


def _membership_rows(diff: PlanDiff, counted: dict[str, str]) -> list[str]:
    return [
        f"- {sign} {_membership(m)}"
        for sign, memberships in (("➕", diff.memberships_added), ("➖", diff.memberships_removed))
        for m in memberships
        if diff_churn.membership_base(m.role, m.member, counted) is None
    ]


def _membership(m: PgMembership) -> str:
    return f"{md.code(m.member)} in {md.code(m.role)}"


def _privilege_rows(diff: PlanDiff, counted: dict[str, str]) -> list[str]:
    lists: tuple[tuple[str, Sequence[diff_churn.Granted], Callable[[Any], str]], ...] = (
        ("➕ GRANT", diff.grants_added, _grant),
        ("➖ GRANT", diff.grants_removed, _grant),
        ("➕ REVOKE", diff.revokes_added, _revoke),
        ("➖ REVOKE", diff.revokes_removed, _revoke),
        ("➕ DEFAULT", diff.default_privileges_added, _default),
        ("➖ DEFAULT", diff.default_privileges_removed, _default),
        ("➕ DEFAULT REVOKE", diff.default_revokes_added, _default_revoke),
        ("➖ DEFAULT REVOKE", diff.default_revokes_removed, _default_revoke),
    )
    return [
        f"- {label} {render(item)}"
        for label, items, render in lists
        for item in items
        if item.grantee not in counted
    ]


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


def _disposition_rows(diff: PlanDiff) -> list[str]:
    return [
        f"- {md.text(c.kind)} {md.code(c.fact)}: {_disp(c.old)} → {_disp(c.new)}"
        for c in diff.dispositions_changed
    ]


def _disp(value: Disposition | None) -> str:
    return value.value if value else "(absent)"
