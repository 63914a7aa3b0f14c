"""Reading DacFx ``model.xml``: the element access :mod:`mssql_extract.dacpac` builds on.

A model is a flat list of top-level ``<Element Type=… Name=…>``; an element carries
``<Property Name=… Value=…>`` and ``<Relationship Name=…>`` whose ``<Entry>`` children point at
other elements. An entry points with ``<References Name=…>`` when DacFx resolved the target (in
the model, or ``ExternalSource="BuiltIns"``), and with ``<Annotation
Type="PersistedResolvableAnnotation" Name=…>`` when it did not: SqlPackage writes a user's
login, which lives in ``master``, that way. An entry may also hold a nested, often unnamed,
element (a column, and inside it its ``SqlTypeSpecifier``), so relationships are read one level
deep, never recursively.
"""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree import ElementTree

from grantbridge.errors import ExtractError, Location
from grantbridge.plural import plural
from mssql_extract.snapshot import SourceRef

NS = "{http://schemas.microsoft.com/sqlserver/dac/Serialization/2012/02}"
_PART = re.compile(r"\[((?:[^\]]|\]\])*)\]")
_UNRESOLVED = "PersistedResolvableAnnotation"
#: A character reference (``&#x1E;``, ``&#30;``), which DacFx writes for control characters in
#: literals although XML 1.0 forbids them; ElementTree refuses the whole file.
_CHAR_REF = re.compile(rb"&#(x[0-9A-Fa-f]+|[0-9]+);")


def parts(name: str | None) -> list[str]:
    """``[a].[b]`` → ``["a", "b"]`` (``]]`` unescaped)."""
    return [p.replace("]]", "]") for p in _PART.findall(name or "")]


def _xml_char(code: int) -> bool:
    """Whether XML 1.0 allows the character (its ``Char`` production)."""
    if code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF:
        return True
    return 0xE000 <= code <= 0xFFFD or 0x10000 <= code <= 0x10FFFF


def _replace_char_ref(match: re.Match[bytes]) -> bytes:
    text = match.group(1)
    code = int(text[1:], 16) if text[:1] == b"x" else int(text)
    return match.group(0) if _xml_char(code) else b"&#xFFFD;"


def tolerate_char_refs(data: bytes) -> bytes:
    """``model.xml`` with references to characters XML 1.0 forbids replaced by U+FFFD.

    They occur only inside literals (defaults, module bodies), which grantbridge does not read.
    """
    return _CHAR_REF.sub(_replace_char_ref, data) if b"&#" in data else data


def prop(el: ElementTree.Element, *names: str) -> str | None:
    """The value of the first of ``names`` the element has as a property (DacFx serialises most
    booleans as ``Is…`` names, e.g. ``IsWithGrantOption``; the API spells them without)."""
    for name in names:
        found = el.find(f"{NS}Property[@Name='{name}']")
        if found is not None:
            return found.get("Value")
    return None


def script(el: ElementTree.Element, name: str) -> str | None:
    """A script property (``DefaultExpressionScript``, ``BodyScript``): DacFx writes its text as
    a nested ``<Value>``, in CDATA, not as a ``Value`` attribute (read too, if written so)."""
    found = el.find(f"{NS}Property[@Name='{name}']")
    if found is None:
        return None
    value = found.find(f"{NS}Value")
    return value.text if value is not None else found.get("Value")


def _true(value: str | None) -> bool:
    """A DacFx boolean (``True`` / ``False``)."""
    return (value or "").lower() == "true"


def flag(el: ElementTree.Element, *names: str, default: bool | None = None) -> bool | None:
    """A boolean property; ``default`` when absent (DacFx leaves out values at their default)."""
    value = prop(el, *names)
    return default if value is None else _true(value)


def targets(el: ElementTree.Element, relationship: str) -> list[str]:
    """Names an element's relationship points at, resolved (References) or not (Annotation)."""
    rel = el.find(f"{NS}Relationship[@Name='{relationship}']")
    if rel is None:
        return []
    found = []
    for entry in rel.findall(f"{NS}Entry"):
        found += [r.get("Name", "") for r in entry.findall(f"{NS}References")]
        found += [a.get("Name", "") for a in entry.findall(f"{NS}Annotation")
                  if a.get("Type") == _UNRESOLVED and a.get("Name")]  # fmt: skip
    return found


def target(el: ElementTree.Element, relationship: str) -> str | None:
    """The last name part of the first target of a relationship (``[dbo]`` → ``dbo``)."""
    found = [p for p in (parts(t) for t in targets(el, relationship)) if p]
    return found[0][-1] if found else None


def nested(el: ElementTree.Element, relationship: str) -> list[ElementTree.Element]:
    """Elements written inside a relationship's entries (one level: not their own children)."""
    rel = el.find(f"{NS}Relationship[@Name='{relationship}']")
    return [] if rel is None else rel.findall(f"{NS}Entry/{NS}Element")


class ModelXml:
    """The top-level elements of one ``model.xml`` by type, with provenance and errors."""

    def __init__(self, root: ElementTree.Element, path: Path) -> None:
        self.path = path
        self.origin = f"{path.name}!model.xml"
        self._by_type: dict[str, list[ElementTree.Element]] = {}
        model = root.find(f"{NS}Model")
        for el in model.findall(f"{NS}Element") if model is not None else ():
            self._by_type.setdefault(el.get("Type", ""), []).append(el)

    def of(self, kind: str) -> list[ElementTree.Element]:
        """Every top-level element of type ``kind``, in file order."""
        return self._by_type.get(kind, [])

    @staticmethod
    def key(el: ElementTree.Element, name: str | None = None) -> str:
        """``SqlUser:[app_user]``: the element's type and name (``name`` for unnamed ones)."""
        return f"{el.get('Type')}:{name or el.get('Name') or ''}"

    def ref(self, el: ElementTree.Element, name: str | None = None) -> SourceRef:
        """Where a fact came from: the file and the element's key."""
        return SourceRef(origin=self.origin, key=self.key(el, name))

    def error(self, el: ElementTree.Element, message: str, name: str | None = None) -> ExtractError:
        """An input error naming the dacpac and the element (``name`` for an unnamed one)."""
        return ExtractError(message, Location(str(self.path), key=self.key(el, name)))

    def name(self, el: ElementTree.Element, count: int, what: str) -> list[str]:
        """The last ``count`` parts of the element's name; an error when it has fewer."""
        found = parts(el.get("Name"))
        if len(found) < count:
            has = plural(len(found), "part")
            raise self.error(el, f"{what} name {el.get('Name')!r} has {has}, {count} expected")
        return found[-count:]
