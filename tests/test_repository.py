"""The repository itself: no file carries a merge's conflict markers.

Python reads a conflict inside a docstring without complaint (one sat in
``mapper/translate/ownership.py``'s docstring for a whole session), and no linter looks there.
"""

from __future__ import annotations

import re
import subprocess

from tests.conftest import ROOT

MARKER = re.compile(r"^(<{7}|>{7})( |$)", re.MULTILINE)


def tracked_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    return [name for name in listed.decode("utf-8").split("\0") if name]


def test_no_tracked_file_holds_conflict_markers() -> None:
    files = tracked_files()
    assert "mapper/translate/ownership.py" in files  # the listing works
    marked = []
    for name in files:
        path = ROOT / name
        if not path.is_file():
            continue
        text = path.read_bytes().decode("utf-8", errors="replace")
        marked += [f"{name}:{text.count(chr(10), 0, m.start()) + 1}" for m in MARKER.finditer(text)]
    assert marked == []
