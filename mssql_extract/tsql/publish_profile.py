"""SSDT publish profiles (``*.publish.xml``): the SQLCMD variable values and the database of one
deployment.

SqlPackage publishes a project with a profile (``SqlPackage /Action:Publish /Profile:Prod.publish.xml``),
an MSBuild document that keeps the deployment's settings::

    <Project ToolsVersion="Current" xmlns="http://schemas.microsoft.com/developer/msbuild/2003">
      <PropertyGroup>
        <TargetDatabaseName>Sales</TargetDatabaseName>
        <TargetConnectionString>Data Source=srv;…</TargetConnectionString>
      </PropertyGroup>
      <ItemGroup>
        <SqlCmdVariable Include="DeployType"><Value>PRODUCTION</Value></SqlCmdVariable>
      </ItemGroup>
    </Project>

("Publish profiles overview", https://learn.microsoft.com/sql/tools/sql-database-projects/
concepts/publish-profiles: "the SQLCMD variable values from the profile override any default
values in the project", and "Properties and SQLCMD variable values that you specify on the
command line override values in the publish profile".) A profile's value is its ``<Value>``,
never a ``<DefaultValue>`` (microsoft/azuredatastudio#17526: "This is the same behavior as
SSDT"), and when ``<TargetDatabaseName>`` appears twice the last one counts (azuredatastudio's
``publishProfile.ts``: "SSDT uses the name in the last one"). A value the profile gives a
variable the project does not declare is still used, SqlPackage printing "The following SqlCmd
variables are not defined in the target scripts" (rr-wfm/MSBuild.Sdk.SqlProj#448): the CLI warns
likewise.

Only these two things are read. ``<TargetConnectionString>`` holds a password as often as not:
it is never read into anything, so neither is the ``Initial Catalog`` SqlPackage falls back on
without ``<TargetDatabaseName>``. A value may be a password too: messages name variables, never
values, and quote nothing of the file. ``Condition`` attributes are not evaluated (as in
``sqlproj``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree
from xml.parsers import expat

from grantbridge.errors import ExtractError, Location
from mssql_extract.tsql.sqlproj import MSBUILD_NS, Project

#: A profile's file name ending (compared case-insensitively, as on Windows).
SUFFIX = ".publish.xml"

#: The element names a profile is read through, in the MSBuild namespace or in none.
_NAMESPACES = (f"{{{MSBUILD_NS}}}", "")

#: The elements whose text is read; every other element's text is dropped while parsing.
_READ = frozenset({"Value", "TargetDatabaseName"})


@dataclass(frozen=True)
class PublishProfile:
    """What a publish profile says about a deployment: nothing else of it is kept."""

    origin: str  # how messages name the profile
    values: Mapping[str, str]  # SQLCMD variable values (never printed: one may be a password)
    database: str | None = None  # <TargetDatabaseName>


def _parse(data: bytes, origin: str) -> tuple[ElementTree.Element, dict[ElementTree.Element, int]]:
    """The document's elements, with the text of the two read only, and the line of each
    element (ElementTree keeps none, and an error about a ``<SqlCmdVariable>`` should point at
    it). The connection string's text never leaves the parser."""
    parser = expat.ParserCreate(namespace_separator="}")
    builder = ElementTree.TreeBuilder()
    lines: dict[ElementTree.Element, int] = {}
    keep = False  # inside an element whose text is read

    def qualified(tag: str) -> str:
        return f"{{{tag}" if "}" in tag else tag

    def start(tag: str, attributes: dict[str, str]) -> None:
        nonlocal keep
        keep = tag.rpartition("}")[2] in _READ
        lines[builder.start(qualified(tag), attributes)] = parser.CurrentLineNumber

    def end(tag: str) -> None:
        nonlocal keep
        keep = False
        builder.end(qualified(tag))

    def text(data: str) -> None:
        if keep:
            builder.data(data)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:  # expat's reason only: the file's text is never quoted
        raise ExtractError(
            f"publish profile is not well-formed XML ({expat.ErrorString(exc.code)})",
            Location(origin, exc.lineno, exc.offset + 1),
        ) from None
    return builder.close(), lines


def _children(parent: ElementTree.Element, group: str, name: str) -> Iterable[ElementTree.Element]:
    for ns in _NAMESPACES:
        yield from parent.iterfind(f"{ns}{group}/{ns}{name}")


def _value(item: ElementTree.Element) -> ElementTree.Element | None:
    return next((v for ns in _NAMESPACES if (v := item.find(f"{ns}Value")) is not None), None)


def _values(
    root: ElementTree.Element, lines: Mapping[ElementTree.Element, int], origin: str
) -> dict[str, str]:
    values: dict[str, str] = {}
    folded: dict[str, str] = {}  # sqlcmd variable names are case-insensitive
    for item in _children(root, "ItemGroup", "SqlCmdVariable"):
        name, where = item.get("Include", "").strip(), Location(origin, lines.get(item))
        if not name:
            raise ExtractError("a <SqlCmdVariable> of the publish profile has no Include", where)
        element = _value(item)
        if element is None:
            raise ExtractError(
                f'<SqlCmdVariable Include="{name}"> of the publish profile has no <Value> '
                "(SqlPackage reads <Value>, never <DefaultValue>)",
                Location(origin, lines.get(item), key=name),
            )
        value = element.text or ""  # an empty <Value/> gives the empty value
        if "\n" in value or "\r" in value:  # a substituted value must keep line numbers
            raise ExtractError(
                f"the value of SQLCMD variable {name} spans lines; pass --var {name}=VALUE",
                Location(origin, lines.get(element), key=name),
            )
        first = folded.setdefault(name.casefold(), name)
        if first in values and values[first] != value:
            raise ExtractError(
                f"SQLCMD variable {name} has two different values in the publish profile; "
                f"pass --var {name}=VALUE (conditions on items are not evaluated)",
                Location(origin, lines.get(item), key=name),
            )
        values[first] = value
    return values


def _database(root: ElementTree.Element) -> str | None:
    names = [(e.text or "").strip() for e in _children(root, "PropertyGroup", "TargetDatabaseName")]
    return (names[-1] or None) if names else None  # the last one, as SSDT


def read_profile(path: Path, origin: str) -> PublishProfile:
    """Read a publish profile's SQLCMD variable values and ``<TargetDatabaseName>``.

    Raises:
        ExtractError: the file cannot be read or is not well-formed XML (at its line and
            column), its root is not an MSBuild ``<Project>``, or a ``<SqlCmdVariable>`` has
            no name, no ``<Value>``, a value spanning lines or two different values.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ExtractError(
            f"cannot read publish profile: {exc.strerror}", Location(origin)
        ) from None
    root, lines = _parse(data, origin)
    if root.tag not in (f"{{{MSBUILD_NS}}}Project", "Project"):
        raise ExtractError(
            "publish profile's root element is not an MSBuild <Project>", Location(origin, 1)
        )
    return PublishProfile(origin, _values(root, lines, origin), _database(root))


def find_profiles(folder: Path) -> list[Path]:
    """The publish profiles in a folder tree, sorted (none for a file)."""
    if not folder.is_dir():
        return []
    found = (p for p in folder.rglob("*") if p.name.lower().endswith(SUFFIX) and p.is_file())
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def overlay(defaults: Mapping[str, str] | None, values: Mapping[str, str]) -> dict[str, str]:
    """A project's defaults with a profile's values over them (names compared
    case-insensitively, as sqlcmd does)."""
    given = {name.casefold() for name in values}
    kept = {n: v for n, v in (defaults or {}).items() if n.casefold() not in given}
    return kept | dict(values)


def undeclared(profile: PublishProfile, projects: Iterable[Project]) -> tuple[str, ...]:
    """The variables the profile sets that none of the projects declares, sorted."""
    declared = {name.casefold() for project in projects for name in project.variables}
    return tuple(sorted(n for n in profile.values if n.casefold() not in declared))
