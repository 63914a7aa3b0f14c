"""``report.md``: the migration plan as a reviewer reads it in a pull request.

Rendered from the :class:`~mapper.plan.MigrationPlan` alone (DESIGN §4), in the order a reviewer
works: what needs a decision, the findings by severity, what was accepted and why, who became
whom, the role hierarchy, and the proof that no source fact was lost (dispositions). No clock and
no environment: the same plan always gives the same bytes, so the report diffs cleanly in review.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable

from grantbridge.plural import plural
from mapper.plan import (
    AuthMethod,
    Disposition,
    FactDisposition,
    Finding,
    MigrationPlan,
    PgRole,
    RoleKind,
    Severity,
)
from mapper.platforms import on_rds
from pg_emit import markdown as md
from pg_emit import mermaid
from pg_emit.render_security import report_section

#: Above this many open findings, each finding folds into a ``<details>`` block.
COLLAPSE_FINDINGS_ABOVE = 10

#: Above this many entries, the rest of a "needs a decision" group folds away.
DECISION_LIST_SHOWN = 20

#: The folded rest of a "needs a decision" group lists at most this many; more are counted.
DECISION_LIST_MAX = 200

#: Open findings shown per rule; more are counted. A large estate has thousands of one rule
#: (bench scale M: 6,195 medium findings made report.md 73 MB); findings.sarif and plan.json
#: hold every one.
FINDINGS_SHOWN_PER_RULE = 50

#: Above this many derived roles (DENY restructuring), the principal mapping counts them
#: instead of listing them; 01_roles.sql and plan.json name each with its source.
DERIVED_LISTED_MAX = 100

#: Roles listed when the hierarchy is too large for a diagram: those with the most members.
HIERARCHY_TOP_ROLES = 20

#: Severities that a human must look at before the plan is applied.
DECISION_SEVERITIES = frozenset({Severity.CRITICAL, Severity.HIGH})

#: Dispositions that are not a clean translation and so need a reviewer's eye.
DECISION_DISPOSITIONS = (Disposition.UNRESOLVED, Disposition.APPROXIMATED)

_DATABASE_MODES = {
    "database": "one PostgreSQL database per source database",
    "schema": "every source database as a schema of one PostgreSQL database",
}

#: How each authentication method reads in the principal mapping (DESIGN §3.3, Authentication).
_AUTH_LABELS: dict[AuthMethod, str] = {
    AuthMethod.NONE: "none (NOLOGIN)",
    AuthMethod.IAM: "IAM token (rds_iam)",
    AuthMethod.PASSWORD: "password (SCRAM, rotation step)",
    AuthMethod.KERBEROS: "Kerberos (rds_ad)",
    AuthMethod.AD_GROUP: "AD group (pg_ad_mapping)",
}
#: The same on plain PostgreSQL, which has no rds_* roles nor AD group mapping
#: (mapper.platforms): Kerberos through a gss record in iam/pg_hba.conf; IAM logins became
#: password logins (GB048), so IAM reads as on RDS in a plan only a hand could have made.
_PLAIN_AUTH_LABELS: dict[AuthMethod, str] = {
    **_AUTH_LABELS,
    AuthMethod.KERBEROS: "Kerberos (GSSAPI, pg_hba.conf)",
    AuthMethod.AD_GROUP: "AD group (grant the role to its members)",
}

#: What the principal column says for a role that no SQL Server principal became.
_MADE_HERE = "(none: made by grantbridge)"
_NO_SOURCE: dict[RoleKind, str] = {RoleKind.PREDEFINED: "(none: exists on the target)"}

Section = Callable[[MigrationPlan], list[str]]


def render_report(plan: MigrationPlan) -> str:
    """Render ``report.md`` for a plan: GitHub-flavoured Markdown, deterministic, no timestamps.

    Args:
        plan: The migration plan; nothing else is read, so the report shows only what it holds.

    Returns:
        The Markdown text, ending with a newline.
    """
    blocks = [section(plan) for section in SECTIONS]
    return "\n\n".join("\n".join(block) for block in blocks if block) + "\n"


def _title(plan: MigrationPlan) -> list[str]:
    lines = [
        "# grantbridge migration report",
        "",
        f"Plan fingerprint {md.code(plan.fingerprint)} · target **{plan.target}** · "
        f"{_DATABASE_MODES[plan.database_mode]}.",
    ]
    if plan.part_of is not None:
        databases = ", ".join(md.code(d.name) for d in plan.databases)
        lines += [
            "",
            f"One part of a plan made one database at a time (`plan --per-database`): the "
            f"server's logins and server roles with {databases}, one of "
            f"{plural(plan.part_of, 'database')}. The roles made of logins and server roles, "
            "and their server-level findings, are in every part; their access in the other "
            "databases is in those parts. The set's `../report.md` lists every part.",
        ]
    return lines


def _summary(plan: MigrationPlan) -> list[str]:
    kinds = Counter(role.kind for role in plan.roles)
    by_kind = ", ".join(f"{kinds[k]} {k.value}" for k in RoleKind if kinds[k])
    items = [
        ("Databases", str(len(plan.databases))),
        ("Roles", f"{len(plan.roles)} ({by_kind})" if by_kind else "0"),
        ("Role memberships", str(len(plan.memberships))),
        ("Grants (one per privilege and object)", str(len(plan.grants))),
        ("Revokes", str(len(plan.revokes))),
        ("Default privileges", str(len(plan.default_privileges))),
        ("Default privileges revoked from PUBLIC", str(len(plan.default_revokes))),
        ("IAM policies", str(len(plan.iam_policies))),
    ]
    return [
        "## Summary",
        "",
        *md.table(("Plan item", "Count"), items),
        "",
        *md.table(("Finding severity", "Open", "Accepted"), _severity_rows(plan.findings)),
        "",
        f"Dispositions of {plural(len(plan.dispositions), 'source fact')}: "
        f"{_disposition_line(plan)}.",
    ]


def _severity_rows(findings: Iterable[Finding]) -> list[tuple[str, str, str]]:
    counts = Counter((f.severity, f.accepted) for f in findings)
    rows = [(s.value, str(counts[s, False]), str(counts[s, True])) for s in Severity]
    opened = sum(n for (_, accepted), n in counts.items() if not accepted)
    rows.append(("**total**", f"**{opened}**", f"**{counts.total() - opened}**"))
    return rows


def _disposition_line(plan: MigrationPlan) -> str:
    counts = Counter(d.disposition for d in plan.dispositions)
    return ", ".join(f"{counts[d]} {d.value}" for d in Disposition if counts[d]) or "none"


def _needs_decision(plan: MigrationPlan) -> list[str]:
    findings = [
        f
        for f in _by_severity(plan.findings)
        if not f.accepted and f.severity in DECISION_SEVERITIES
    ]
    groups = [("Open critical and high findings", [finding_bullet(f) for f in findings])]
    decided = [d for d in plan.dispositions if d.disposition in DECISION_DISPOSITIONS]  # one pass
    for disposition in DECISION_DISPOSITIONS:
        facts = [d for d in decided if d.disposition is disposition]
        groups.append((f"{disposition.value.capitalize()} facts", [_fact_bullet(d) for d in facts]))
    lines = ["## Needs a decision"]
    for heading, bullets in groups:
        if bullets:
            lines += ["", f"**{heading}** ({len(bullets)})", "", *capped(bullets)]
    if len(lines) == 1:
        lines += [
            "",
            "Nothing: no open critical or high finding, no unresolved or approximated fact.",
        ]
    return lines


def capped(bullets: list[str], every_one: str = "plan.json lists every one") -> list[str]:
    """The first bullets of a "needs a decision" group; the rest folded, and counted past the
    most a page lists."""
    shown, rest = bullets[:DECISION_LIST_SHOWN], bullets[DECISION_LIST_SHOWN:]
    if not rest:
        return shown
    folded, counted = rest[:DECISION_LIST_MAX], len(rest) - DECISION_LIST_MAX
    if counted > 0:
        folded = [*folded, f"- … and {counted} more: {every_one}"]
    return [*shown, "", *md.details(f"{len(rest)} more", folded)]


def finding_bullet(finding: Finding) -> str:
    """A finding as "needs a decision" lists it: rule, severity, title, where."""
    where = _where(finding)
    return f"- **{finding.rule_id}** ({finding.severity.value}) {md.text(finding.title)}{where}"


def _fact_bullet(fact: FactDisposition) -> str:
    reason = f": {md.text(fact.reason)}" if fact.reason else ""
    return f"- {md.text(fact.kind)} {md.code(fact.fact)} at {md.code(fact.source_ref)}{reason}"


def _where(finding: Finding) -> str:
    parts = []
    if finding.principal:
        parts.append(f"principal {md.code(finding.principal)}")
    if finding.securable:
        parts.append(f"on {md.code(finding.securable)}")
    if finding.source_ref:
        parts.append(_source(finding.source_ref))
    return " — " + ", ".join(parts) if parts else ""


def _source(ref: str) -> str:
    """``at `file:line:col``` (plus the line inside a module), or ``in `Sales``` for a scope."""
    place, _, inner = ref.partition("#line ")
    if ":" not in place:
        return f"in {md.code(place)}"  # a database or the server, not a file position
    return f"at {md.code(place)}" + (f" (line {md.text(inner)} of the module)" if inner else "")


def _findings(plan: MigrationPlan) -> list[str]:
    open_findings = [f for f in _by_severity(plan.findings) if not f.accepted]
    lines = ["## Findings", ""]
    if not open_findings:
        return [*lines, "No open findings."]
    collapse = len(open_findings) > COLLAPSE_FINDINGS_ABOVE
    for severity in Severity:
        group = [f for f in open_findings if f.severity is severity]
        if not group:
            continue
        lines += [f"### {severity.value.capitalize()} ({len(group)})", ""]
        shown: Counter[str] = Counter()
        for finding in group:
            shown[finding.rule_id] += 1
            if shown[finding.rule_id] <= FINDINGS_SHOWN_PER_RULE:
                lines += [*_finding_block(finding, collapse), ""]
        if counted := _not_shown(shown):
            lines += [counted, ""]
    return lines[:-1]


def _not_shown(shown: Counter[str]) -> str:
    """The line counting what one severity's list left out, or ``""``."""
    rest = [(rule, n - FINDINGS_SHOWN_PER_RULE) for rule, n in sorted(shown.items())
            if n > FINDINGS_SHOWN_PER_RULE]  # fmt: skip
    if not rest:
        return ""
    counts = ", ".join(f"{n} more {rule}" for rule, n in rest)
    return (
        f"Not shown: {counts} (the first {FINDINGS_SHOWN_PER_RULE} of a rule are; "
        "findings.sarif and plan.json hold every finding)."
    )


def _finding_block(finding: Finding, collapse: bool) -> list[str]:
    body = [
        f"- **Severity:** {finding.severity.value}",
        *([f"- **Principal:** {md.code(finding.principal)}"] if finding.principal else []),
        *([f"- **Securable:** {md.code(finding.securable)}"] if finding.securable else []),
        *([f"- **Source:** {md.code(finding.source_ref)}"] if finding.source_ref else []),
        f"- **Evidence:** {md.text(finding.evidence)}",
        f"- **What the plan did:** {md.text(finding.action)}",
        f"- **Remediation:** {md.text(finding.remediation)}",
    ]
    if collapse:
        summary = md.html_text(f"{finding.rule_id} · {finding.title}{_plain_who(finding)}")
        return md.details(summary, body)
    return [f"#### {finding.rule_id} · {md.text(finding.title)}", "", *body]


def _plain_who(finding: Finding) -> str:
    return f" — {finding.principal}" if finding.principal else ""


def _accepted(plan: MigrationPlan) -> list[str]:
    accepted = [f for f in _by_severity(plan.findings) if f.accepted]
    if not accepted:
        return []
    rows = [
        (
            f.rule_id,
            f.severity.value,
            md.text(f.title),
            md.code(f.principal) if f.principal else "",
            md.code(f.securable) if f.securable else "",
            md.text(f.accepted_reason or "(no reason given)"),
        )
        for f in accepted
    ]
    headers = ("Rule", "Severity", "Finding", "Principal", "Securable", "Reason")
    return ["## Accepted over-grants", "", *md.table(headers, rows)]


def _principals(plan: MigrationPlan) -> list[str]:
    if not plan.roles:
        return []
    ordered = sorted(plan.roles, key=lambda r: (r.source == "", r.source.casefold(), r.name))
    derived = sum(1 for role in ordered if role.kind is RoleKind.DERIVED)
    listed = derived <= DERIVED_LISTED_MAX
    if not listed:
        ordered = [role for role in ordered if role.kind is not RoleKind.DERIVED]
    headers = ("SQL Server principal", "PostgreSQL role", "Kind", "Login", "Login method")
    labels = _AUTH_LABELS if on_rds(plan.target) else _PLAIN_AUTH_LABELS
    rows = [_principal_row(role, labels) for role in ordered]
    lines = ["## Principal mapping", "", *md.table(headers, rows)]
    if not listed:
        lines += [
            "",
            f"Not listed: {derived} derived roles, made by DENY restructuring (docs/deny.md); "
            "sql/01_roles.sql and plan.json name each with what it was derived from.",
        ]
    return lines


def _principal_row(role: PgRole, labels: dict[AuthMethod, str]) -> tuple[str, str, str, str, str]:
    source = md.text(role.source) if role.source else _NO_SOURCE.get(role.kind, _MADE_HERE)
    attributes = f" ({', '.join(role.attributes)})" if role.attributes else ""
    return (
        source,
        md.code(role.name),
        role.kind.value + md.text(attributes),
        "yes" if role.login else "no",
        labels[role.auth],
    )


def _hierarchy(plan: MigrationPlan) -> list[str]:
    if not plan.memberships:
        return []
    drawn = mermaid.drawn_edges(plan) <= mermaid.MERMAID_MAX_EDGES
    graph = mermaid.render_role_graph(plan) if drawn else ""
    if not graph or not mermaid.drawable(graph):
        return ["## Role hierarchy", "", *_hierarchy_summary(plan)]
    note = "Arrows point from a member to the role it is granted (`GRANT role TO member`)."
    return ["## Role hierarchy", "", note, "", graph]


def _hierarchy_summary(plan: MigrationPlan) -> list[str]:
    """In place of a diagram Mermaid would refuse: the counts, and the most-granted roles."""
    kinds = {role.name: role.kind for role in plan.roles}
    members: Counter[str] = Counter(m.role for m in plan.memberships)
    leaves: Counter[str] = Counter(
        m.role for m in plan.memberships if kinds.get(m.member) in (RoleKind.LOGIN, RoleKind.USER)
    )
    top = sorted(members.items(), key=lambda item: (-item[1], item[0]))[:HIERARCHY_TOP_ROLES]
    rows = [
        (md.code(role), kinds[role].value if role in kinds else "predefined", str(n),
         str(leaves[role]))
        for role, n in top
    ]  # fmt: skip
    text = (
        f"{len(plan.memberships)} memberships among {len(plan.roles)} roles: too many to draw, "
        f"even with login and user roles folded away (Mermaid draws at most "
        f"{mermaid.MERMAID_MAX_EDGES} edges and {mermaid.MERMAID_MAX_TEXT} characters). "
        "sql/02_memberships.sql and plan.json hold every membership. The roles with the most "
        "members:"
    )
    headers = ("Role", "Kind", "Members", "Login and user members")
    return [text, "", *md.table(headers, rows)]


def _dispositions(plan: MigrationPlan) -> list[str]:
    if not plan.dispositions:
        return []
    counts = Counter((f.kind, f.disposition) for f in plan.dispositions)  # one pass over them
    totals: Counter[Disposition] = Counter()
    for (_, disposition), n in counts.items():
        totals[disposition] += n
    present = [d for d in Disposition if totals[d]]
    rows = [
        (md.text(kind), *(str(counts[kind, d]) for d in present), str(_row_total(counts, kind)))
        for kind in sorted({kind for kind, _ in counts})
    ]
    rows.append(("**total**", *(f"**{totals[d]}**" for d in present), f"**{totals.total()}**"))
    headers = ("Fact kind", *(d.value for d in present), "total")
    return ["## Dispositions", "", *md.table(headers, rows)]


def _row_total(counts: Counter[tuple[str, Disposition]], kind: str) -> int:
    return sum(n for (k, _), n in counts.items() if k == kind)


def _by_severity(findings: Iterable[Finding]) -> list[Finding]:
    """Worst first, then by key: the order every list of findings is shown in."""
    return sorted(findings, key=lambda f: (-f.severity.rank, f.key))


#: The report, top to bottom. Each section returns its lines, or ``[]`` to be left out.
SECTIONS: tuple[Section, ...] = (
    _title,
    _summary,
    _needs_decision,
    _findings,
    _accepted,
    report_section,
    _principals,
    _hierarchy,
    _dispositions,
)
