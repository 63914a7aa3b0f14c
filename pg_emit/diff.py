"""Two plans compared: what a pull request changes in the target's security.

:func:`diff_plans` compares item by item on meaning, not on bookkeeping: two grants are the same
when they grant the same privilege on the same securable to the same grantee with the same grant
option, whatever their ``facts`` or ``comment`` say. Roles are matched by name and reported as
*changed* when their kind, login, attributes, authentication or source differ. Findings are
matched by their stable key, so a finding that moves from open to accepted is reported as such,
not as one resolved and one new. The result is a frozen model: its JSON is the machine output,
and :func:`render_diff_markdown` is the pull-request comment.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

from mapper.plan import (
    Disposition,
    FactDisposition,
    Finding,
    MigrationPlan,
    PgDefaultPrivilege,
    PgDefaultRevoke,
    PgGrant,
    PgMembership,
    PgRevoke,
    PgRole,
    Severity,
)
from pg_emit import markdown as md

#: The first line of every diff comment: bots find and update their comment by it.
COMMENT_MARKER = "<!-- grantbridge-diff -->"

#: Above this many rows, a list in the comment folds into ``<details>``.
COLLAPSE_ROWS_ABOVE = 15

#: Fields that record provenance, not meaning: two items differing only here are the same.
_BOOKKEEPING = frozenset({"facts", "comment"})

#: Role fields whose change is worth a reviewer's attention.
ROLE_FIELDS = ("kind", "login", "attributes", "auth", "source")

T = TypeVar("T", bound=BaseModel)


class DiffModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RoleChange(DiffModel):
    """A role present in both plans whose definition changed."""

    name: str
    fields: tuple[str, ...]
    old: PgRole
    new: PgRole


class FindingChange(DiffModel):
    """A finding present in both plans whose acceptance changed."""

    old: Finding
    new: Finding


class DispositionChange(DiffModel):
    """A source fact that appeared, disappeared, or changed disposition."""

    fact: str
    kind: str
    old: Disposition | None
    new: Disposition | None


class PlanDiff(DiffModel):
    """Everything that differs between two plans, each list sorted by item key."""

    old_fingerprint: str
    new_fingerprint: str
    roles_added: tuple[PgRole, ...] = ()
    roles_removed: tuple[PgRole, ...] = ()
    roles_changed: tuple[RoleChange, ...] = ()
    memberships_added: tuple[PgMembership, ...] = ()
    memberships_removed: tuple[PgMembership, ...] = ()
    grants_added: tuple[PgGrant, ...] = ()
    grants_removed: tuple[PgGrant, ...] = ()
    revokes_added: tuple[PgRevoke, ...] = ()
    revokes_removed: tuple[PgRevoke, ...] = ()
    default_privileges_added: tuple[PgDefaultPrivilege, ...] = ()
    default_privileges_removed: tuple[PgDefaultPrivilege, ...] = ()
    default_revokes_added: tuple[PgDefaultRevoke, ...] = ()
    default_revokes_removed: tuple[PgDefaultRevoke, ...] = ()
    findings_new: tuple[Finding, ...] = ()
    findings_resolved: tuple[Finding, ...] = ()
    findings_newly_accepted: tuple[FindingChange, ...] = ()
    findings_reopened: tuple[FindingChange, ...] = ()
    dispositions_changed: tuple[DispositionChange, ...] = ()

    @property
    def is_empty(self) -> bool:
        """True when the two plans mean the same (fingerprints aside)."""
        return not any(
            getattr(self, name) for name in type(self).model_fields if name.endswith(_LIST_SUFFIXES)
        )

    def new_open_findings(self) -> list[Finding]:
        """Findings that are open in the new plan and were not open before (new or reopened)."""
        fresh = [f for f in self.findings_new if not f.accepted]
        return fresh + [change.new for change in self.findings_reopened]


_LIST_SUFFIXES = ("_added", "_removed", "_changed", "_new", "_resolved", "_accepted", "_reopened")


def diff_plans(old: MigrationPlan, new: MigrationPlan) -> PlanDiff:
    """Compare two plans.

    Args:
        old: The plan before the change (e.g. of the pull request's base branch).
        new: The plan after it.

    Returns:
        A :class:`PlanDiff`; empty lists where nothing changed.
    """
    roles_added, roles_removed = _added_removed(old.roles, new.roles, key=lambda r: r.name)
    lists: dict[str, Any] = {"roles_added": roles_added, "roles_removed": roles_removed}
    for field in ("memberships", "grants", "revokes", "default_privileges", "default_revokes"):
        added, removed = _added_removed(getattr(old, field), getattr(new, field), key=_meaning)
        lists |= {f"{field}_added": added, f"{field}_removed": removed}
    return PlanDiff(
        old_fingerprint=old.fingerprint,
        new_fingerprint=new.fingerprint,
        roles_changed=_role_changes(old.roles, new.roles),
        **lists,
        **_finding_changes(old.findings, new.findings),
        dispositions_changed=_disposition_changes(old.dispositions, new.dispositions),
    )


def _meaning(item: BaseModel) -> str:
    """An item's identity for comparison: every field except provenance, canonically."""
    return item.model_dump_json(exclude=set(_BOOKKEEPING & set(type(item).model_fields)))


def _added_removed(
    old: Sequence[T], new: Sequence[T], *, key: Callable[[T], str]
) -> tuple[tuple[T, ...], tuple[T, ...]]:
    old_keys, new_keys = {key(i) for i in old}, {key(i) for i in new}
    added = tuple(i for i in new if key(i) not in old_keys)
    removed = tuple(i for i in old if key(i) not in new_keys)
    return added, removed


def _role_changes(old: Iterable[PgRole], new: Iterable[PgRole]) -> tuple[RoleChange, ...]:
    before = {role.name: role for role in old}
    changes = []
    for role in new:
        previous = before.get(role.name)
        if previous is None:
            continue
        fields = tuple(f for f in ROLE_FIELDS if getattr(previous, f) != getattr(role, f))
        if fields:
            changes.append(RoleChange(name=role.name, fields=fields, old=previous, new=role))
    return tuple(changes)


def _finding_identity(findings: Iterable[Finding]) -> dict[str, Finding]:
    """Index findings by key without the script line, so editing a script above a finding does
    not turn it into one resolved and one new finding; if two findings then collide, both keep
    their full key."""
    items = list(findings)
    loose = [re.sub(r":\d+(?::\d+)?$", "", f.key) for f in items]
    counts = Counter(loose)
    return {(k if counts[k] == 1 else f.key): f for k, f in zip(loose, items, strict=True)}


def _finding_changes(old: Iterable[Finding], new: Iterable[Finding]) -> dict[str, Any]:
    before = _finding_identity(old)
    after = _finding_identity(new)
    both = sorted(before.keys() & after.keys())
    return {
        "findings_new": tuple(after[k] for k in sorted(after.keys() - before.keys())),
        "findings_resolved": tuple(before[k] for k in sorted(before.keys() - after.keys())),
        "findings_newly_accepted": tuple(
            FindingChange(old=before[k], new=after[k])
            for k in both
            if after[k].accepted and not before[k].accepted
        ),
        "findings_reopened": tuple(
            FindingChange(old=before[k], new=after[k])
            for k in both
            if before[k].accepted and not after[k].accepted
        ),
    }


def _disposition_changes(
    old: Iterable[FactDisposition], new: Iterable[FactDisposition]
) -> tuple[DispositionChange, ...]:
    before = {d.fact: d for d in old}
    after = {d.fact: d for d in new}
    changes = []
    for fact in sorted(before.keys() | after.keys()):
        was, now = before.get(fact), after.get(fact)
        if was is None or now is None or was.disposition != now.disposition:
            kind = (now or was).kind  # type: ignore[union-attr]  # one of them exists
            changes.append(
                DispositionChange(
                    fact=fact,
                    kind=kind,
                    old=was.disposition if was else None,
                    new=now.disposition if now else None,
                )
            )
    return tuple(changes)


def exceeds(diff: PlanDiff, threshold: Severity) -> list[Finding]:
    """The new open findings at or above ``threshold`` (what ``--fail-on-new`` fails on)."""
    return [f for f in diff.new_open_findings() if f.severity.rank >= threshold.rank]


# --- Markdown -------------------------------------------------------------------------------


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
    lines += ["", *_summary_table(diff)]
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
    _findings_section,
    _roles_section,
    _memberships_section,
    _privileges_section,
    _dispositions_section,
)
