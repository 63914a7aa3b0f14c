"""The shape of a rendered psql script: sections of commented statements, and its text.

A script is a list of sections; a section runs in one transaction (``BEGIN`` … ``COMMIT``) and,
when it belongs to a database, starts with ``\\connect`` to it. Cluster-wide sections (roles,
memberships) have no database and run wherever psql is connected. Keeping this structure
separate from the text lets ``apply`` and the tests reason about sections, not lines.

Within a section, statements go to the server in batches of :data:`BATCH`: every statement of a
batch but the last ends with psql's ``\\;`` (which adds the semicolon without sending), so
psql sends the batch as one message and waits once, not once per statement. On a local server
that saves about a fifth of the apply time of a script of small GRANTs (issue 7); across a
network to Aurora, where each wait is a round trip of a millisecond or more, it saves more.
A failing statement still stops the script (``ON_ERROR_STOP``) and rolls its transaction
back; psql reports it at the line that ends its batch, and its message names the object.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mapper.quoting import comment, quote_psql_arg

#: Statements psql sends in one message (see the module docstring).
BATCH = 50

#: How a statement that is not the last of its batch ends (psql's "semicolon, keep going").
BATCH_CONTINUES = " \\;"

#: The dollar-quote tag of DO blocks; a longer one is chosen if a name ever contains it.
DOLLAR_TAG = "grantbridge"


@dataclass(frozen=True)
class Statement:
    """One SQL statement (without its final semicolon) and the comment lines before it."""

    sql: str
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Section:
    """Statements that run in one transaction, in ``database`` (None: the current one)."""

    database: str | None
    statements: tuple[Statement, ...]


@dataclass(frozen=True)
class Script:
    """A whole psql script: a title, an explanation, and its sections."""

    name: str
    title: str
    fingerprint: str
    explanation: tuple[str, ...] = ()
    sections: tuple[Section, ...] = field(default_factory=tuple)

    def render(self) -> str:
        """The script's text: header, ``\\set ON_ERROR_STOP on``, then each section."""
        lines = [comment(f"grantbridge {self.name}: {self.title}")]
        lines.append(comment(f"plan fingerprint: {self.fingerprint}"))
        lines.extend(comment(text) for text in self.explanation)
        lines.append("\\set ON_ERROR_STOP on")
        for section in self.sections:
            lines.append("")
            lines.extend(_render_section(section))
        return "\n".join(lines) + "\n"


def _render_section(section: Section) -> list[str]:
    lines = []
    if section.database is not None:
        lines.append(f"\\connect {quote_psql_arg(section.database)}")
    lines.append("BEGIN;")
    for number, statement in enumerate(section.statements, start=1):
        lines.append("")
        lines.extend(comment(note) for note in statement.notes)
        last = number % BATCH == 0 or number == len(section.statements)
        lines.append(statement.sql + (";" if last else BATCH_CONTINUES))
    if not section.statements:
        lines.append(comment("nothing to do"))
    lines.append("")
    lines.append("COMMIT;")
    return lines


def dollar_quote(body: str) -> str:
    """Wrap a PL/pgSQL body in a dollar quote whose tag does not occur in it."""
    tag = DOLLAR_TAG
    while f"${tag}$" in body:
        tag += "_"
    return f"${tag}$\n{body}\n${tag}$"


def do_block(body_lines: list[str]) -> str:
    """``DO $grantbridge$ BEGIN … END $grantbridge$`` around the given PL/pgSQL lines."""
    body = "\n".join(["BEGIN", *(f"  {line}" for line in body_lines), "END"])
    return "DO " + dollar_quote(body)


def facts_note(facts: tuple[str, ...] | list[str], limit: int = 6) -> str:
    """``from: a; b; c (+N more)`` naming the source facts of a statement."""
    unique = sorted(set(facts))
    if not unique:
        return "from: (no source fact: required by PostgreSQL)"
    shown = "; ".join(unique[:limit])
    more = f" (+{len(unique) - limit} more)" if len(unique) > limit else ""
    return f"from: {shown}{more}"


#: A list of more grantees or objects than this is written one to a line: at bench scale M a
#: clause on one line ran to 11,744 characters, and one grantee more changed all of it in a diff.
LIST_ON_ONE_LINE = 8


def listed(items: list[str]) -> str:
    """``a, b, c``; past :data:`LIST_ON_ONE_LINE` items, one to a line, indented (the text then
    starts with its line break: :func:`after` puts it after a keyword)."""
    if len(items) <= LIST_ON_ONE_LINE:
        return ", ".join(items)
    return "\n    " + ",\n    ".join(items)


def after(keyword: str, text: str) -> str:
    """``keyword text``, without a space before a list that starts on the next line."""
    return f"{keyword}{'' if text.startswith(chr(10)) else ' '}{text}"
