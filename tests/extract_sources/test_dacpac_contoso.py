"""The committed contoso dacpac: reproducible, and the same facts as the Sales part of contoso.

The dacpac holds one SSDT project for ``[Sales]`` plus the logins its users map to (see
fixtures/tools/make_contoso_dacpac.py). Compared fact by fact, ignoring provenance, with the
T-SQL extraction of the whole estate restricted to that subset. One difference is allowed:
the scripts name no grantor (``None``) where SSDT records ``[dbo]``. Database-level settings
(owner, TRUSTWORTHY, …), RLS and masking are not in the subset and are not compared.

Also here: the README of the estate maps features to ``file:line``; every reference must
point at a line that names the feature.
"""

from __future__ import annotations

import importlib.util
import re
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

from mssql_extract.dacpac import extract_dacpac
from mssql_extract.tsql import extract_scripts
from tests.conftest import CONTOSO, ROOT
from tests.extract_sources.support import facts

DACPAC = CONTOSO / "contoso-subset.dacpac"
LOGINS = {
    "sales_app",
    "svc_reporting",
    "etl_loader",
    "legacy_crm",
    "contoso\\analysts",
    "contoso\\mgarcia",
}
KINDS = ("users", "roles", "memberships", "permissions", "schemas", "objects")


def _builder() -> ModuleType:
    path = ROOT / "fixtures" / "tools" / "make_contoso_dacpac.py"
    spec = importlib.util.spec_from_file_location("make_contoso_dacpac", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fixture_is_what_the_builder_writes() -> None:
    builder = _builder()
    with zipfile.ZipFile(DACPAC) as archive:
        committed = {name: archive.read(name) for name in archive.namelist()}
        assert archive.namelist() == sorted(committed)
        assert {i.date_time for i in archive.infolist()} == {builder.STAMP}
    assert committed == builder.entries()
    assert builder.build() == builder.build()


def _subset(found: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    logins = {
        k: v
        for k, v in found.items()
        if k.startswith("server/logins/") and k.rsplit("/", 1)[1] in LOGINS
    }
    sales = {
        k: v
        for k, v in found.items()
        if k.split("/")[:3] in (["db", "sales", kind] for kind in KINDS)
    }
    return {**logins, **sales, "db/sales": {"name": found["db/sales"]["name"]}}


def differences(dacpac: dict[str, dict[str, Any]], scripts: dict[str, dict[str, Any]]) -> list[str]:
    """Every difference between the two fact sets, after the one allowance (grantor)."""
    found = []
    for key in sorted(set(dacpac) | set(scripts)):
        if key not in scripts:
            found.append(f"only in dacpac: {key} {dacpac[key]}")
        elif key not in dacpac:
            found.append(f"only in scripts: {key} {scripts[key]}")
        else:
            for name in sorted(set(dacpac[key]) | set(scripts[key])):
                ours, theirs = dacpac[key].get(name), scripts[key].get(name)
                if ours != theirs and not (name == "grantor" and theirs is None and ours == "dbo"):
                    found.append(f"{key}.{name}: dacpac={ours!r} scripts={theirs!r}")
    return found


def test_dacpac_has_the_facts_of_contoso_sales() -> None:
    dacpac = facts(extract_dacpac(DACPAC))
    scripts = _subset(facts(extract_scripts(sorted(CONTOSO.glob("*.sql")))))
    found = differences(_subset(dacpac), scripts)
    print("\n".join(found))
    assert found == []
    assert (
        set(dacpac) - set(_subset(dacpac)) == set()
    )  # the dacpac holds nothing outside the subset
    assert len(scripts) == 72  # 6 logins, the database, 65 Sales facts: not an empty comparison


def test_differences_are_reported() -> None:
    scripts = {"db/sales/users/a": {"name": "a", "login": "a"}, "db/sales/roles/r": {"name": "r"}}
    dacpac = {"db/sales/users/a": {"name": "a", "login": None}, "db/sales/x": {"grantor": "dbo"}}
    assert differences(dacpac, scripts) == [
        "only in scripts: db/sales/roles/r {'name': 'r'}",
        "db/sales/users/a.login: dacpac=None scripts='a'",
        "only in dacpac: db/sales/x {'grantor': 'dbo'}",
    ]


# --- README line references -------------------------------------------------------------------

_REF = re.compile(r"`(?P<file>[\w.]+\.sql)?:(?P<start>\d+)(?:-(?P<end>\d+))?`")
_TICKED = re.compile(r"`([^`]+)`")


def readme_references() -> list[tuple[str, str, int, int, list[str]]]:
    """(feature, file, first line, last line, terms) for each reference in the README table."""
    found = []
    for row in (CONTOSO / "README.md").read_text().splitlines():
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        if len(cells) != 2 or not _REF.search(cells[1]):
            continue
        feature, where = cells
        terms = [t for t in _TICKED.findall(row) if not _REF.fullmatch(f"`{t}`")]
        terms = terms or re.findall(r"[A-Za-z_]{4,}", feature)
        current = ""
        for ref in _REF.finditer(where):
            current = ref["file"] or current
            start = int(ref["start"])
            found.append((feature, current, start, int(ref["end"] or start), terms))
    return found


def test_readme_line_references_name_the_feature() -> None:
    refs = readme_references()
    assert len(refs) > 50
    wrong = []
    for feature, name, start, end, terms in refs:
        lines = (CONTOSO / name).read_text().splitlines()[start - 1 : end]
        text = "\n".join(lines).replace("[", "").replace("]", "").casefold()
        if not any(_fold(term) in text for term in terms):
            wrong.append(f"{name}:{start}-{end} ({feature}): none of {terms} in {lines}")
    print("\n".join(wrong))
    assert wrong == []


def _fold(term: str) -> str:
    """A README term as it appears in T-SQL: ``CONTOSO\\mgarcia`` → ``contoso\\mgarcia``; ``0x0200…`` → ``0x0200``."""
    return term.rstrip("…").split(" ")[0].casefold() if term.startswith("0x") else term.casefold()


def test_readme_parser_reads_the_table() -> None:
    refs = {(f, s, e) for _, f, s, e, _ in readme_references()}
    assert ("00_server.sql", 15, 19) in refs
    assert ("00_server.sql", 77, 77) in refs  # a bare `:77` keeps the previous file
    assert ("30_reporting.sql", 108, 108) in refs
    assert Path(CONTOSO / "00_server.sql").exists()
