"""Stopped part-way, a command leaves nothing half-written behind.

``kill``, ``timeout`` and a cancelled or timed-out CI job send SIGTERM, whose default action
ends Python without running ``finally``: an audit found ``plan``'s 524 MB scratch directory
left for good. The CLI turns SIGTERM into an exception for the length of a command, so the
output written aside is removed, and says so (exit 128 + 15).
"""

from __future__ import annotations

import os
import signal
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from grantbridge import output
from grantbridge.cli import main
from grantbridge.output import write_file_atomic
from tests.conftest import CONTOSO


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("snap") / "snapshot.json"
    assert main(["extract", "--script", str(CONTOSO), "-o", str(path)]) == 0
    return path


def test_sigterm_while_plan_writes_leaves_no_scratch_directory(
    snapshot: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def killed(scratch: Path, *_: object) -> None:
        assert (scratch / "plan.json").is_file()  # written aside, complete, not yet in place
        os.kill(os.getpid(), signal.SIGTERM)  # a real signal, to this process

    monkeypatch.setattr(output, "_replace", killed)
    before = signal.getsignal(signal.SIGTERM)
    code = main(["plan", str(snapshot), "-o", str(tmp_path / "plan")])
    assert code == 128 + signal.SIGTERM
    assert "stopped by SIGTERM; nothing half-written is left" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no plan, no .plan.* scratch
    assert signal.getsignal(signal.SIGTERM) == before  # the handler is the command's only


def test_a_file_written_aside_is_removed_whatever_stops_it(tmp_path: Path) -> None:
    def pieces() -> Iterator[str]:
        yield "{"
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_file_atomic(tmp_path / "snapshot.json", pieces())
    assert list(tmp_path.iterdir()) == []


def test_an_output_directory_gets_the_usual_mode(snapshot: Path, tmp_path: Path) -> None:
    # mkdtemp makes 0700; the plan directory replaced a 0755 one and came back 0700
    assert main(["plan", str(snapshot), "-o", str(tmp_path / "plan")]) == 0
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE((tmp_path / "plan").stat().st_mode) == 0o777 & ~mask


def test_a_scratch_directory_left_by_a_killed_run_is_named(
    snapshot: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    left = tmp_path / ".plan.abc12345"
    left.mkdir()
    (left / "plan.json").write_text("{}", encoding="utf-8")
    assert main(["plan", str(snapshot), "-o", str(tmp_path / "plan")]) == 0
    assert f"note: {left} is left from an interrupted run; delete it" in capsys.readouterr().err
    assert left.is_dir()  # named, not removed: another run may be writing it
