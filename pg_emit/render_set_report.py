"""The ``report.md`` of a per-database plan set (``grantbridge plan --per-database``).

Each part of a set is a plan directory with a report of its own, and the parts share the server's
logins and server roles: a finding about a login (a sysadmin member, say) is in every part's
report. A reviewer of a 40-database estate needs one page to start from: which parts there are,
how large each is, and what needs a decision, with each shared finding said once. This is that
page, beside ``parts.json``: rendered from what each worker kept of its part
(:class:`SetPart`), never from the plans themselves, which are not all in memory at once. As
every report, it has no clock and no environment: the same parts give the same bytes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from grantbridge.plural import plural
from mapper.plan import Disposition, MigrationPlan, Severity
from pg_emit import markdown as md
from pg_emit.report import DECISION_DISPOSITIONS, DECISION_SEVERITIES, capped, finding_bullet

SET_REPORT = "report.md"

#: The severities from the most severe, as a part's row lists its open findings.
_SEVERITIES = sorted(Severity, key=lambda s: s.rank, reverse=True)


@dataclass(frozen=True)
class Decision:
    """An open critical or high finding of a part: how the set's report lists it."""

    severity: Severity
    bullet: str  # the part's report.md line for it (``finding_bullet``)


@dataclass(frozen=True, kw_only=True)
class SetPart:
    """What the set's report needs of one part."""

    database: str
    directory: str = ""
    part_of: int = 0  # the snapshot's databases: more than the parts when some were left out
    roles: int
    memberships: int
    grants: int
    default_privileges: int
    revokes: int
    #: open findings, key → severity (a finding of a server fact has the same key in every part)
    findings: dict[str, Severity] = field(default_factory=dict)
    #: open critical and high findings, key → how they are listed
    decisions: dict[str, Decision] = field(default_factory=dict)
    #: the dispositions of the part's database facts, and of its server facts by key
    dispositions: Counter[str] = field(default_factory=Counter)
    server_dispositions: dict[str, str] = field(default_factory=dict)


def decisions(plan: MigrationPlan) -> dict[str, Decision]:
    """The open critical and high findings of a part, as the set's report lists them."""
    return {
        f.key: Decision(f.severity, finding_bullet(f))
        for f in plan.findings
        if not f.accepted and f.severity in DECISION_SEVERITIES
    }


def render_set_report(parts: Sequence[SetPart], target: str) -> str:
    """``report.md`` of a set: its parts, the source facts' dispositions (a server fact once)
    and what needs a decision (a finding met in several parts once, naming them)."""
    of = max((p.part_of for p in parts), default=0)
    chosen = f" of the snapshot's {of} databases (`--database`)" if of > len(parts) else ""
    lines = [
        "# grantbridge migration report: plan set",
        "",
        f"Target **{target}** · {plural(len(parts), 'part')}{chosen}, one PostgreSQL database "
        "each, planned one database at a time (`grantbridge plan --per-database`).",
        "",
        "Each part is a plan directory with its own `report.md`, scripts and `plan.json`: review "
        "and apply the estate database by database, or give `apply`, `verify`, `drift` and "
        "`diff` this directory for the whole set. The roles made of logins and server roles, "
        "their memberships, and the findings and facts about server-level principals are in "
        "every part; this page counts them once.",
        "",
        *_parts(parts),
        "",
        *_facts(parts),
        "",
        *_needs_decision(parts),
        "",
        "## Apply, verify and roll back the set",
        "",
        "From this directory:",
        "",
        "```console",
        'grantbridge apply . --dsn "$DSN"   # every part, in parts.json\'s order',
        "grantbridge verify .                # every part together on a throwaway PostgreSQL",
        'psql "$DSN" -f rollback.sql         # undoes every part, then the shared roles',
        "```",
    ]
    return "\n".join(lines) + "\n"


def _parts(parts: Sequence[SetPart]) -> list[str]:
    rows = [
        (
            md.text(p.database),
            f"[{md.text(p.directory)}/report.md]({p.directory}/report.md)",
            *(f"{n:,}" for n in (p.roles, p.memberships, p.grants, p.default_privileges)),
            f"{p.revokes:,}",
            _open(Counter(p.findings.values())) or "none",
        )
        for p in parts
    ]
    headers = ("Database", "Report", "Roles", "Memberships", "Grants", "Default privileges",
               "Revokes", "Open findings")  # fmt: skip
    findings: dict[str, Severity] = {}
    for part in parts:
        findings |= part.findings
    return [
        "## Parts",
        "",
        *md.table(headers, rows),
        "",
        f"Open findings in the set, each counted once: "
        f"{_open(Counter(findings.values())) or 'none'}. A part's roles include the shared ones (logins, "
        "server roles), counted in every part.",
    ]


def _open(counts: Counter[Severity]) -> str:
    return ", ".join(f"{counts[s]:,} {s.value}" for s in _SEVERITIES if counts[s])


def _facts(parts: Sequence[SetPart]) -> list[str]:
    database: Counter[str] = Counter()
    server: dict[str, str] = {}
    for part in parts:
        database += part.dispositions
        server |= part.server_dispositions
    counts = database + Counter(server.values())
    line = ", ".join(f"{counts[d.value]:,} {d.value}" for d in Disposition if counts[d.value])
    return [
        "## Source facts",
        "",
        f"Dispositions of {counts.total():,} source fact{'' if counts.total() == 1 else 's'}, "
        "a server fact once: "
        f"{line or 'none'}. Each part's report lists its facts and the plan items they became.",
    ]


def _needs_decision(parts: Sequence[SetPart]) -> list[str]:
    lines = ["## Needs a decision"]
    met: dict[str, list[str]] = {}
    listed: dict[str, Decision] = {}
    for part in parts:
        for key, decision in part.decisions.items():
            met.setdefault(key, []).append(part.database)
            listed.setdefault(key, decision)
    order = sorted(listed, key=lambda k: (-listed[k].severity.rank, listed[k].bullet))
    bullets = [f"{listed[k].bullet} — {_where(met[k], len(parts))}" for k in order]
    if bullets:
        lines += ["", f"**Open critical and high findings** ({len(bullets):,})", ""]
        lines += capped(bullets, "each part's plan.json lists its own")
    for disposition in DECISION_DISPOSITIONS:
        rows = [(md.text(p.database), f"{_facts_of(p, disposition):,}") for p in parts]
        if any(count != "0" for _, count in rows):
            lines += ["", f"**{disposition.value.capitalize()} facts**, by part:", ""]
            lines += md.table(("Database", "Facts"), [r for r in rows if r[1] != "0"])
    if len(lines) == 1:
        lines += ["", "Nothing: no open critical or high finding, no unresolved or approximated fact."]  # fmt: skip
    else:
        lines += ["", "Each part's report lists its own, with what the plan did about each."]
    return lines


def _where(databases: list[str], total: int) -> str:
    if total > 1 and len(databases) == total:
        return "every part"
    return ", ".join(md.text(d) for d in databases)


def _facts_of(part: SetPart, disposition: Disposition) -> int:
    """A part's facts with that disposition, its server facts included."""
    server = sum(1 for d in part.server_dispositions.values() if d == disposition.value)
    return part.dispositions[disposition.value] + server
