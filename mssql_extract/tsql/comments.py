"""Where a script's comments are, followed line by line across the lines of a batch.

The client's part of a script (:mod:`mssql_extract.tsql.sqlcmd`) works on lines, before the
server tokenizes anything, yet must know what is commented out: ``$(name)`` inside a comment is
left alone, and ``:r`` or ``:setvar`` at the start of a line inside a block comment is not a
command. :class:`LineLexer` carries what a line starts inside of — a string, a quoted name or a
block comment (``/* */``, which nest in T-SQL) — from one line to the next, and notes the comment
spans of the line it read last; a comment mark inside a string or a quoted name is text. Split
out of ``sqlcmd`` for length only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: What changes the lexical state on a line: quotes, brackets, comment marks.
_MARKS = re.compile(r"'|\"|\[|--|/\*|\*/")
#: What a line must hold for the state to change (a fast test before reading it).
QUOTES_OR_COMMENTS = re.compile(r"['\"]|--|/\*")
#: The end of each quoted state: a doubled quote (or ``]]``) stays inside.
_CLOSERS = {
    "'": re.compile(r"'(?!')|''"),
    '"': re.compile(r'"(?!")|""'),
    "[": re.compile(r"\](?!\])|\]\]"),
}


@dataclass
class LineLexer:
    """Where a line starts: inside a string or quoted name (``quote``), or a block comment
    (``depth`` > 0); ``comments`` of the line read last, as (start, end) spans."""

    quote: str = ""
    depth: int = 0
    comments: list[tuple[int, int]] = field(default_factory=list)

    def read(self, line: str) -> None:
        """Follow one line, noting its comment spans (a line comment runs to its end)."""
        self.comments = []
        if not self.depth and not self.quote and QUOTES_OR_COMMENTS.search(line) is None:
            return  # most lines: nothing can open or close here ([names] close on their line)
        pos, opened = 0, 0 if self.depth else -1
        while pos < len(line):
            if self.quote:
                pos = self._close_quote(line, pos)
                continue
            found = _MARKS.search(line, pos)
            if found is None:
                break
            mark, pos = found.group(), found.end()
            if self.depth:
                self.depth += {"/*": 1, "*/": -1}.get(mark, 0)
                if not self.depth:
                    self.comments.append((opened, pos))
            elif mark == "--":
                self.comments.append((found.start(), len(line)))
                return
            elif mark == "/*":
                self.depth, opened = 1, found.start()
            elif mark in _CLOSERS:
                self.quote = mark
        if self.depth:
            self.comments.append((max(opened, 0), len(line)))

    def _close_quote(self, line: str, pos: int) -> int:
        closer = _CLOSERS[self.quote]
        while (found := closer.search(line, pos)) is not None:
            pos = found.end()
            if len(found.group()) == 1:
                self.quote = ""
                return pos
        return len(line)

    def in_comment(self, column: int) -> bool:
        """Whether ``column`` (0-based) of the line read last is inside a comment."""
        return any(start <= column < end for start, end in self.comments)
