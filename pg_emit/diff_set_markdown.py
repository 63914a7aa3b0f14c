"""The diff of two plan sets (``plan --per-database``) as one pull-request comment.

``grantbridge diff OLD NEW`` given two sets compares their parts pair by pair
(:mod:`grantbridge.commands.diff_set`), one pair of plans in memory at a time, so a part's
:class:`~pg_emit.diff.PlanDiff` cannot wait for the others to be rendered: :func:`render_part`
renders it at once, at every level of shortening the single comment knows
(:data:`LEVELS`), and keeps only the texts, which the budget bounds. :func:`render_set_markdown`
then picks the first level at which the whole comment fits :data:`COMMENT_BUDGET`, the same
level for every part (so "each section lists its first N items" holds for all of them).

A part reads as a single diff's comment does (the same access line, summary table and sections,
from :mod:`pg_emit.diff_markdown`), under a heading naming its database; above the parts, the
set's own access line (first, as in a single comment: whether access widened anywhere) and a
table of the parts that changed. When even the parts' headings and counts do not fit (hundreds
of changed parts), the first parts are kept and the rest are counted; a table longer than half
the budget keeps its first rows. The JSON (``--format json``) is never cut.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from grantbridge.plural import plural
from pg_emit import diff_churn, diff_security
from pg_emit import markdown as md
from pg_emit.diff import PlanDiff
from pg_emit.diff_markdown import (  # the single comment's pieces: a part reads as one
    COMMENT_BUDGET,
    COMMENT_MARKER,
    FULL_LIST,
    ITEMS_SHOWN,
    NAMES_SHOWN,
    access_line,
    comment_sections,
    count_cell,
    folded,
    short_fingerprint,
    shortened_note,
    summary_table,
)

__all__ = ["COMMENT_BUDGET", "LEVELS", "PartRow", "RenderedPart", "render_part"]

#: The levels of shortening, tried in turn: the single comment's (whole; DENY churn counted;
#: then the first N items of each section, N along :data:`ITEMS_SHOWN`), as (eager, limit).
LEVELS: tuple[tuple[bool, int | None], ...] = (
    (False, None),
    (True, None),
    *((True, n) for n in ITEMS_SHOWN),
)

#: Characters kept free below the budget for the lines that say what was left out.
_RESERVE = 400

_STATUS = {
    "changed": "changed",
    "added": "added: new in this branch, so every privilege of its plan is gained (compared with "
    "an empty plan)",
    "removed": "removed: not in this branch, so every privilege of its plan is lost (compared "
    "with an empty plan)",
}


@dataclass(frozen=True, slots=True)
class PartRow:
    """A part that differs, as the table lists it."""

    database: str
    status: str  # changed, added, removed
    gained: int
    lost: int
    newly_open: int
    widened: int
    narrowed: int

    @staticmethod
    def of(database: str, status: str, diff: PlanDiff) -> PartRow:
        return PartRow(
            database, status, len(diff.access_gained), len(diff.access_lost),
            len(diff.new_open_findings()), len(diff.security_widened),
            len(diff.security_narrowed),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class RenderedPart:
    """A part's section at each of :data:`LEVELS` (None: longer than the whole budget), and
    whether that level cut any of its lists."""

    row: PartRow
    texts: tuple[str | None, ...]
    shortened: tuple[bool, ...]


def render_part(
    diff: PlanDiff, database: str, status: str, budget: int = COMMENT_BUDGET
) -> RenderedPart:
    """A part's section of the comment at every level of shortening: a heading naming its
    database, then what a single diff's comment says of it, one heading level down."""
    intro = (
        f"Base plan {md.code(short_fingerprint(diff.old_fingerprint))} → "
        f"this branch {md.code(short_fingerprint(diff.new_fingerprint))}"
        if status == "changed"
        else f"**{md.text(_STATUS[status].capitalize())}.**"
    )
    settings = diff_security.headline(diff)
    head = [f"### {md.code(database)} ({status})", "", intro, "", access_line(diff)]
    head += [*(["", settings] if settings else []), "", *summary_table(diff)]
    counts = diff_churn.count(diff)
    sections = {eager: comment_sections(diff, counts, eager=eager) for eager in (False, True)}
    texts: list[str | None] = []
    shortened = []
    for eager, limit in LEVELS:
        lines = list(head)
        for section in sections[eager]:
            block = folded(section, limit)
            if block:
                lines += ["", "#" + block[0], *block[1:]]  # under the part's heading
        text: str | None = "\n".join(lines) + "\n"
        if text in texts:  # the same text once in memory
            text = texts[texts.index(text)]
        elif len(text or "") > budget:
            text = None
        texts.append(text)
        shortened.append(limit is not None and any(len(s.rows) > limit for s in sections[eager]))
    return RenderedPart(PartRow.of(database, status, diff), tuple(texts), tuple(shortened))


def render_set_markdown(
    parts: Sequence[RenderedPart],
    unchanged: Sequence[str],
    sizes: tuple[int, int],
    budget: int = COMMENT_BUDGET,
) -> str:
    """The comment for two sets: ``parts`` those that differ, in the order they are listed,
    ``unchanged`` the databases of the others, ``sizes`` how many parts each set has."""
    rows = [p.row for p in parts]
    head = [COMMENT_MARKER, "## grantbridge plan set diff", "", _set_access_line(rows)]
    settings = _set_settings_line(rows)
    head += [*(["", settings] if settings else []), "", _counts_line(rows, unchanged, sizes)]
    unchanged_line = ["", _unchanged_line(unchanged)] if unchanged else []
    if not parts:
        return (
            "\n".join([*head, *unchanged_line, "", "No change to roles, privileges or findings."])
            + "\n"
        )
    table = _table(rows)
    shown = len(rows)
    while shown and _length([*head, "", *table[: shown + 2]]) > budget // 2:
        shown = shown * 3 // 4
    head += ["", *table[: shown + 2]]
    if shown < len(rows):
        head += ["", f"… and {len(rows) - shown:,} more parts: {FULL_LIST} lists every one."]
    head += unchanged_line
    for level, (_eager, limit) in enumerate(LEVELS):
        texts = [p.texts[level] for p in parts]
        if any(t is None for t in texts):
            continue
        note = [shortened_note(limit, budget)] if limit is not None and any(
            p.shortened[level] for p in parts
        ) else []  # fmt: skip
        text = _join(head, note, texts)  # type: ignore[arg-type]  # none is None
        if len(text) <= budget:
            return text
    return _first_parts(head, parts, budget)


def _first_parts(head: list[str], parts: Sequence[RenderedPart], budget: int) -> str:
    """Headings and counts of the first parts that fit, then how many are left out."""
    note = [shortened_note(0, budget)]
    kept: list[str] = []
    for part in parts:
        text = part.texts[-1]
        if text is None or _length([*head, *note, *kept, text]) > budget - _RESERVE:
            break
        kept.append(text)
    more = len(parts) - len(kept)
    parts_word = "part" if more == 1 else "parts"
    tail = (f"… and {more:,} more changed {parts_word}: the table above counts them; "
            f"{FULL_LIST} lists every change.")  # fmt: skip
    return _join(head, note, [*kept, tail + "\n"])


def _join(head: list[str], note: list[str], texts: Sequence[str]) -> str:
    lines = [*head, *(["", *note] if note else [])]
    return "\n".join(lines) + "\n" + "".join("\n" + t for t in texts)


def _length(lines: Sequence[str]) -> int:
    return sum(len(line) + 1 for line in lines)


def _names(names: Sequence[str]) -> str:
    shown = ", ".join(md.code(n) for n in names[:NAMES_SHOWN])
    more = len(names) - NAMES_SHOWN
    return f"{shown} and {more:,} more" if more > 0 else shown


def _where(rows: Sequence[PartRow]) -> str:
    """``in 2 databases (`HR`, `Sales`)``."""
    return f"in {plural(len(rows), 'database')} ({_names([r.database for r in rows])})"


def _set_access_line(rows: Sequence[PartRow]) -> str:
    """The first line: whether any part's access widened, as a single comment says it."""
    gained, lost = sum(r.gained for r in rows), sum(r.lost for r in rows)
    if not gained and not lost:
        return "**Effective access:** unchanged: no role gains or loses a privilege in any part."
    lost_text = f"{plural(lost, 'privilege')} lost {_where([r for r in rows if r.lost])}"
    if not gained:
        return f"**Effective access:** {lost_text}; none gained."
    return (
        f"**⚠️ Effective access widened:** {plural(gained, 'privilege')} gained "
        f"{_where([r for r in rows if r.gained])}; {lost_text if lost else 'none lost'}."
    )


def _set_settings_line(rows: Sequence[PartRow]) -> str:
    """07's settings across the parts, as :func:`pg_emit.diff_security.headline` says them."""
    widened, narrowed = sum(r.widened for r in rows), sum(r.narrowed for r in rows)
    what = md.text(
        "(07_security.sql: SECURITY DEFINER routines, security_invoker views, row-level security)"
    )
    verb = diff_security._verb
    if widened:
        rest = f"{verb(narrowed, 'narrow')} it" if narrowed else "none narrows it"
        where = _where([r for r in rows if r.widened])
        return (f"**⚠️ Security settings widened:** {verb(widened, 'widen', 'change')} access "
                f"{where} {what}; {rest}.")  # fmt: skip
    if narrowed:
        where = _where([r for r in rows if r.narrowed])
        return (f"**Security settings:** {verb(narrowed, 'narrow', 'change')} access {where} "
                f"{what}; none widens it.")  # fmt: skip
    return ""


def _counts_line(rows: Sequence[PartRow], unchanged: Sequence[str], sizes: tuple[int, int]) -> str:
    by = {s: sum(r.status == s for r in rows) for s in ("changed", "added", "removed")}
    return (
        f"Base set of {plural(sizes[0], 'part')} → this branch's {plural(sizes[1], 'part')}: "
        f"{by['changed']} changed, {by['added']} added, {by['removed']} removed, "
        f"{len(unchanged)} unchanged."
    )


def _unchanged_line(unchanged: Sequence[str]) -> str:
    return (
        f"Unchanged (not listed below; a part whose plan.json is the same in both sets is not "
        f"parsed): {_names(unchanged)}."
    )


def _table(rows: Sequence[PartRow]) -> list[str]:
    header = ("Database", "Change", "Access gained", "Access lost", "Findings newly open",
              "Settings widened", "Settings narrowed")  # fmt: skip
    cells = [
        (md.code(r.database), r.status, *(count_cell(n) for n in
         (r.gained, r.lost, r.newly_open, r.widened, r.narrowed)))
        for r in rows
    ]  # fmt: skip
    return list(md.table(header, cells))
