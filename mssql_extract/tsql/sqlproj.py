"""SSDT project files (``.sqlproj``): SQLCMD variable defaults and the deployment scripts.

A SQL project declares its SQLCMD variables as MSBuild items, with an optional default::

    <ItemGroup>
      <SqlCmdVariable Include="Environment">
        <DefaultValue>Dev</DefaultValue>
        <Value>$(SqlCmdVar__1)</Value>
      </SqlCmdVariable>
    </ItemGroup>

("SQLCMD variables are defined in the .sqlproj file under an <ItemGroup> item … The DefaultValue
element is optional. When a default value is provided, it's only used to load in the publish
dialog of graphical tools": https://learn.microsoft.com/sql/tools/sql-database-projects/concepts/
sqlcmd-variables, and microsoft/DacFx src/Microsoft.Build.Sql/docs/Functionality.md, "SqlCmd
variables"). ``<Value>`` names an MSBuild property (the local value Visual Studio keeps in the
``.user`` file), not a value: it is not read. A classic project's root ``<Project>`` is in the
MSBuild namespace ``http://schemas.microsoft.com/developer/msbuild/2003``; an SDK-style one
(Microsoft.Build.Sql, MSBuild.Sdk.SqlProj) has none. Both are read.

The same documents name the deployment scripts: ``<PreDeploy Include="…"/>`` runs before the
project's objects are deployed, ``<PostDeploy Include="…"/>`` after them. Replaying a project
folder in that order (pre-deployment, objects, post-deployment) keeps a post-deployment
``REVOKE`` or ``ALTER AUTHORIZATION`` after the objects it changes, whatever the file names.

Choices (README, "Scripts"): a project applies to the scripts of its own folder tree, the
nearest project above a script winning; two projects in one folder are an error naming both
(MSBuild, run in such a folder, also refuses to guess which one is meant: MSB1011). A variable without a default, or with an empty
one (what SSDT writes when the default is left blank), gets none: it stays unset, as without a
project. A variable given two different defaults, or a default spanning lines (sqlcmd
substitutes within a line), is an error naming it, never its value: a default may be a
password, so values are never quoted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

from grantbridge.errors import ExtractError, Location
from mssql_extract.tsql.sqlcmd import find_file

#: The namespace of a classic (non-SDK) MSBuild project; SDK-style projects have none.
MSBUILD_NS = "http://schemas.microsoft.com/developer/msbuild/2003"

#: The project file's ending (compared case-insensitively, as on Windows).
SUFFIX = ".sqlproj"

#: Where a script runs in a deployment: pre-deployment, the project's objects, post-deployment.
PRE, OBJECTS, POST = 0, 1, 2


@dataclass(frozen=True)
class Project:
    """What a ``.sqlproj`` says about the scripts of its folder."""

    origin: str  # how messages name the project file
    folder: Path  # resolved
    defaults: Mapping[str, str] = field(default_factory=dict)
    variables: frozenset[str] = frozenset()  # every variable declared, with a default or not
    pre_deploy: frozenset[Path] = frozenset()  # resolved paths of the scripts named
    post_deploy: frozenset[Path] = frozenset()

    def stage(self, script: Path) -> int:
        """When the script runs in a deployment (``PRE``, ``OBJECTS`` or ``POST``)."""
        resolved = script.resolve()
        if resolved in self.pre_deploy:
            return PRE
        return POST if resolved in self.post_deploy else OBJECTS


def _items(root: ElementTree.Element, name: str) -> Iterable[ElementTree.Element]:
    """``Project/ItemGroup/<name>`` items, in the MSBuild namespace or in none."""
    for ns in (f"{{{MSBUILD_NS}}}", ""):
        yield from root.iterfind(f"{ns}ItemGroup/{ns}{name}")


def _default(item: ElementTree.Element) -> str | None:
    for ns in (f"{{{MSBUILD_NS}}}", ""):
        found = item.find(f"{ns}DefaultValue")
        if found is not None:
            return found.text or None  # empty: no default (the variable stays unset)
    return None


def _defaults(root: ElementTree.Element, origin: str) -> dict[str, str]:
    defaults: dict[str, str] = {}
    folded: dict[str, str] = {}  # sqlcmd variable names are case-insensitive
    for item in _items(root, "SqlCmdVariable"):
        name, value = item.get("Include", "").strip(), _default(item)
        if not name or value is None:
            continue
        if "\n" in value or "\r" in value:  # a substituted value must keep line numbers
            raise ExtractError(
                f"the default of SQLCMD variable {name} spans lines; pass --var {name}=VALUE",
                Location(origin, key=name),
            )
        first = folded.setdefault(name.casefold(), name)
        if first in defaults and defaults[first] != value:
            raise ExtractError(
                f"SQLCMD variable {name} has two different defaults in the project; pass "
                f"--var {name}=VALUE (conditions on items are not evaluated)",
                Location(origin, key=name),
            )
        defaults[first] = value
    return defaults


def _declared(root: ElementTree.Element) -> frozenset[str]:
    """Every variable the project declares, with a default or not (a publish profile that sets
    another one makes SqlPackage warn: ``publish_profile``)."""
    names = (item.get("Include", "").strip() for item in _items(root, "SqlCmdVariable"))
    return frozenset(name for name in names if name)


def _scripts(root: ElementTree.Element, name: str, folder: Path) -> frozenset[Path]:
    """The files ``<name Include="…"/>`` items name, as they exist (Windows separators)."""
    found = set()
    for item in _items(root, name):
        include = item.get("Include", "").strip().replace("\\", "/")
        path = find_file(folder, Path(include)) if include else None
        if path is not None:
            found.add(path.resolve())
    return frozenset(found)


def read_project(path: Path, origin: str) -> Project:
    """Read one ``.sqlproj``; malformed XML is an error at its line and column (the file's text
    is never quoted: a default may be a password)."""
    try:
        root = ElementTree.fromstring(path.read_bytes())
    except OSError as exc:
        raise ExtractError(f"cannot read SQL project: {exc.strerror}", Location(origin)) from None
    except ElementTree.ParseError as exc:
        line, column = exc.position
        reason = str(exc).split(":", 1)[0]  # expat's reason, without its own position
        raise ExtractError(
            f"SQL project is not well-formed XML ({reason})", Location(origin, line, column + 1)
        ) from None
    if root.tag not in (f"{{{MSBUILD_NS}}}Project", "Project"):
        raise ExtractError(
            "SQL project's root element is not an MSBuild <Project>", Location(origin)
        )
    folder = path.parent.resolve()
    return Project(
        origin=origin,
        folder=folder,
        defaults=_defaults(root, origin),
        variables=_declared(root),
        pre_deploy=_scripts(root, "PreDeploy", folder),
        post_deploy=_scripts(root, "PostDeploy", folder),
    )


def find_projects(folder: Path, origin: Callable[[Path], str]) -> dict[Path, Project]:
    """The projects in a folder tree, by resolved folder; two in one folder are an error."""
    found = sorted(p for p in folder.rglob("*") if p.suffix.lower() == SUFFIX and p.is_file())
    projects: dict[Path, Project] = {}
    for path in found:
        project = read_project(path, origin(path))
        other = projects.get(project.folder)
        if other is not None:
            raise ExtractError(
                f"two SQL projects in one folder: {other.origin} and {project.origin}; extract "
                "each project's scripts on their own, with --var for its variables",
                Location(project.origin),
            )
        projects[project.folder] = project
    return projects


def builtins(database: str) -> dict[str, str]:
    """The SQLCMD variable a deployment of a project defines itself: ``$(DatabaseName)``, the
    database deployed to ("Visual Studio defines three variables for you that you can use in
    your object definitions and scripts. The values of these variables are set when you
    deploy": DatabaseName, DefaultDataPath, DefaultLogPath, learn.microsoft.com/previous-
    versions/visualstudio/visual-studio-2010/bb386162(v=vs.100); SqlPackage's scripts open with
    ``:setvar DatabaseName "…"``). SSDT's permission scripts name it (``GRANT … ON
    DATABASE::[$(DatabaseName)]``). The data and log paths are the server's: not defined."""
    return {"DatabaseName": database}


def project_of(script: Path, projects: Mapping[Path, Project]) -> Project | None:
    """The project whose folder holds the script most closely, if any."""
    if not projects:
        return None
    for folder in script.resolve().parents:
        if folder in projects:
            return projects[folder]
    return None


def deploy_order(scripts: list[Path], projects: Mapping[Path, Project]) -> list[Path]:
    """Scripts in the order a deployment runs them: within each project (kept where its first
    script sorts), its pre-deployment scripts, then its objects, then its post-deployment
    scripts; scripts outside any project stay where they are."""
    if not projects:
        return scripts
    first: dict[Path, int] = {}
    keys: list[tuple[int, int, int]] = []
    for index, script in enumerate(scripts):
        project = project_of(script, projects)
        if project is None:
            keys.append((index, OBJECTS, index))
            continue
        keys.append((first.setdefault(project.folder, index), project.stage(script), index))
    return [scripts[key[2]] for key in sorted(keys)]
