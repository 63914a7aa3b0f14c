"""The README tells the truth: its sample session is real output, every command is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from grantbridge.cli import COMMAND_MODULES, app, main
from tests.conftest import ROOT

README = ROOT / "README.md"
BEGIN, END = "<!-- session:begin -->", "<!-- session:end -->"

SESSION = (
    ("extract", "--script", "fixtures/estates/contoso", "-o", "{tmp}/snapshot.json"),
    ("plan", "{tmp}/snapshot.json", "-o", "{tmp}/plan"),
    ("verify", "{tmp}/plan"),
)


def _run_session(tmp: Path, capsys: pytest.CaptureFixture[str]) -> str:
    lines: list[str] = []
    for command in SESSION:
        argv = [part.format(tmp=tmp) for part in command]
        code = main(argv)
        out, err = capsys.readouterr()
        shown = " ".join(part.replace("{tmp}/", "") for part in command)
        lines.append(f"$ grantbridge {shown}")
        text = (out + err).replace(f"{tmp}/", "")
        lines.extend(line.rstrip() for line in text.splitlines() if "Warning" not in line)
        assert code == 0, text
    return "```console\n" + "\n".join(lines) + "\n```"


@pytest.mark.postgres
def test_readme_session_is_real_output(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    update_golden: bool,
) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("GRANTBRIDGE_DSN", raising=False)
    session = _run_session(tmp_path, capsys)
    text = README.read_text(encoding="utf-8")
    before, rest = text.split(BEGIN, 1)
    current, after = rest.split(END, 1)
    if update_golden:
        README.write_text(f"{before}{BEGIN}\n{session}\n{END}{after}", encoding="utf-8")
        return
    assert current.strip() == session, "README session is stale: pytest --update-golden"


def _command_names() -> list[str]:
    names = []
    for info in app.registered_commands:
        names.append(info.name or "")
    for group in app.registered_groups:
        names.append(group.name or "")
    return sorted(n for n in names if n)


def test_every_command_module_registers_a_command() -> None:
    assert len(_command_names()) >= len(COMMAND_MODULES)


@pytest.mark.parametrize("name", _command_names())
def test_every_command_has_help_and_appears_in_the_readme(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([name, "--help"]) == 0
    assert "Usage" in capsys.readouterr().out
    assert re.search(rf"`grantbridge {name}\b", README.read_text(encoding="utf-8"))
