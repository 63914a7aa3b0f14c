"""Encodings SSMS writes, standard input, and folders read recursively in a stable order."""

from __future__ import annotations

import codecs
import io
import sys
from pathlib import Path

import pytest

from grantbridge.errors import ExtractError
from mssql_extract.tsql import extract_scripts

SCRIPT = "USE [Ventes]\nGO\nCREATE ROLE [lecteurs_é]\n"


@pytest.mark.parametrize(
    "data",
    [
        SCRIPT.encode("utf-8"),
        codecs.BOM_UTF8 + SCRIPT.encode("utf-8"),
        codecs.BOM_UTF16_LE + SCRIPT.replace("\n", "\r\n").encode("utf-16-le"),
    ],
    ids=["utf-8", "utf-8-bom", "utf-16-le-bom"],
)
def test_encodings(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "x.sql"
    path.write_bytes(data)
    s = extract_scripts([path])
    [role] = s.databases[0].roles
    assert (role.name, role.source_ref.line, role.source_ref.column) == ("lecteurs_é", 3, 1)


def test_not_utf8_without_bom(tmp_path: Path) -> None:
    path = tmp_path / "x.sql"
    path.write_bytes(SCRIPT.encode("latin-1"))
    with pytest.raises(ExtractError, match="not UTF-8"):
        extract_scripts([path])


def test_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    stdin = io.TextIOWrapper(io.BytesIO(SCRIPT.encode("utf-8")))
    monkeypatch.setattr(sys, "stdin", stdin)
    s = extract_scripts([Path("-")])
    assert s.databases[0].roles[0].source_ref.origin == "<stdin>"


def test_folder_recursive_sorted(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "2.sql").write_text("USE d\nGO\nALTER ROLE r ADD MEMBER u\n")
    (tmp_path / "a.sql").write_text("USE d\nGO\nCREATE ROLE r\n")
    (tmp_path / "c.sql").write_text("USE d\nGO\nALTER ROLE r DROP MEMBER u\n")
    (tmp_path / "notes.txt").write_text("GRANT nonsense")
    s = extract_scripts([tmp_path])
    assert s.databases[0].memberships == ()  # a, then b/2, then c
    origins = {r.source_ref.origin for r in s.databases[0].roles}
    assert origins == {(tmp_path / "a.sql").as_posix()}


def test_missing_path() -> None:
    with pytest.raises(ExtractError, match="no such script"):
        extract_scripts([Path("does/not/exist.sql")])


#: An ANSI (Windows-1252) script, as older SSMS versions and editors save them (audit repro
#: handwritten/ansi_cp1252.sql): "ü" is the single byte 0xFC.
ANSI = "USE [Sales]\r\nGO\r\nCREATE USER [CONTOSO\\Jürgen] FOR LOGIN [CONTOSO\\Jürgen]\r\n"


def test_an_ansi_script_is_read_with_its_encoding(tmp_path: Path) -> None:
    path = tmp_path / "ansi.sql"
    path.write_bytes(ANSI.encode("cp1252"))
    with pytest.raises(ExtractError, match="--encoding cp1252"):
        extract_scripts([path])
    s = extract_scripts([path], encoding="cp1252")
    assert [u.name for u in s.databases[0].users] == ["CONTOSO\\Jürgen"]
    # a byte-order mark still wins: a Unicode script in the same folder reads as before
    (tmp_path / "unicode.sql").write_bytes(codecs.BOM_UTF16_LE + SCRIPT.encode("utf-16-le"))
    both = extract_scripts([tmp_path], encoding="cp1252")
    assert {r.name for d in both.databases for r in d.roles} == {"lecteurs_é"}


def test_encoding_on_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from grantbridge.cli import main

    path, out = tmp_path / "ansi.sql", tmp_path / "s.json"
    path.write_bytes(ANSI.encode("cp1252"))
    assert main(["extract", "--script", str(path), "--encoding", "cp1252", "-o", str(out)]) == 0
    assert "Jürgen" in out.read_text(encoding="utf-8")
    assert main(["extract", "--script", str(path), "--encoding", "nope", "-o", str(out)]) == 2
    assert "unknown encoding 'nope'" in capsys.readouterr().err


@pytest.mark.parametrize("encoding", ["nope", "rot13", "base64"])
def test_encoding_that_is_no_text_encoding_is_bad_input(
    encoding: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A codec that is not a text encoding (rot13, base64) passed codecs.lookup and failed
    decoding the script with a LookupError traceback."""
    from grantbridge.cli import main

    path, out = tmp_path / "ansi.sql", tmp_path / "s.json"
    path.write_bytes(ANSI.encode("cp1252"))
    assert main(["extract", "--script", str(path), "--encoding", encoding, "-o", str(out)]) == 2
    assert capsys.readouterr().err == (
        f"error: --encoding: unknown encoding {encoding!r}: name a text encoding (cp1252, "
        "utf-16-le, …)\n"
    )
    assert not out.exists()
