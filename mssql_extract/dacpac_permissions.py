"""DacFx ``SqlPermissionStatement`` elements → snapshot :class:`Permission` rows.

A statement is named ``[State.Permission.Class].[grantee].[grantor].[securable…]``, e.g.
``[Grant.Execute.Type].[app_readers].[dbo].[dbo].[Phone]``; its relationships ``Grantee``,
``Grantor`` and ``SecuredObject`` name the principals and the securable. The class word is the
securable class in PascalCase (``Object``, ``Type``, ``XmlSchemaCollection``,
``ApplicationRole`` …): it is matched against the snapshot's classes with spaces removed, case
ignored, so ``XmlSchemaCollection`` is ``XML SCHEMA COLLECTION``. A word that matches no class
is recorded as skipped (finding GB045), never guessed.
"""

from __future__ import annotations

import re
from typing import get_args
from xml.etree import ElementTree

from mssql_extract.dacpac_model import ModelXml, flag, parts, target, targets
from mssql_extract.snapshot import (
    SERVER_CLASSES,
    Permission,
    PermissionState,
    SecurableClass,
    Skipped,
)

_STATES = {
    "Grant": PermissionState.GRANT,
    "GrantWithGrantOption": PermissionState.GRANT_WITH_GRANT_OPTION,
    "Deny": PermissionState.DENY,
}
#: Class word of a statement name (``XmlSchemaCollection``) → securable class, folded.
_CLASSES: dict[str, str] = {c.replace(" ", "").casefold(): c for c in get_args(SecurableClass)}
#: Classes whose securable is ``[schema].[name]`` (OBJECT also ``[schema].[name].[column]``).
_SCHEMA_SCOPED = frozenset({"OBJECT", "TYPE", "XML SCHEMA COLLECTION"})
#: Classes with no securable name: the database or the server itself.
_UNNAMED = frozenset({"DATABASE", "SERVER"})


def _words(pascal: str) -> str:
    """``ViewDefinition`` → ``VIEW DEFINITION`` (sys.fn_builtin_permissions spelling)."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", pascal).upper()


def _head(m: ModelXml, e: ElementTree.Element) -> tuple[PermissionState, str, str]:
    """(state, permission, class word) from the statement's first name part."""
    head = parts(e.get("Name"))
    state_word, _, rest = (head[0] if head else "").partition(".")
    permission, _, class_word = rest.rpartition(".")
    if state_word not in _STATES:
        raise m.error(e, f"unsupported permission state {state_word!r} "
                         f"(expected one of {', '.join(_STATES)})")  # fmt: skip
    if not permission or not class_word:
        raise m.error(e, f"permission statement name {e.get('Name')!r} is not "
                         "[State.Permission.Class]…")  # fmt: skip
    state = _STATES[state_word]
    if state == PermissionState.GRANT and flag(e, "IsWithGrantOption", "WithGrantOption"):
        state = PermissionState.GRANT_WITH_GRANT_OPTION
    return state, _words(permission), class_word


def _securable(m: ModelXml, e: ElementTree.Element, cls: str) -> dict[str, str | None]:
    """schema_name / object_name / column_name of the statement's ``SecuredObject``."""
    if cls in _UNNAMED:
        return {}
    found = [parts(t) for t in targets(e, "SecuredObject")]
    secured = found[0] if found else []
    needed = 2 if cls in _SCHEMA_SCOPED else 1
    if len(secured) < needed:
        shape = "[schema].[name]" if needed == 2 else "a name"
        raise m.error(e, f"the SecuredObject of a {cls} permission must be {shape}")
    if cls not in _SCHEMA_SCOPED:
        return {"object_name": secured[-1]}
    column = secured[2] if cls == "OBJECT" and len(secured) == 3 else None
    return {"schema_name": secured[0], "object_name": secured[1], "column_name": column}


def read_permission(m: ModelXml, e: ElementTree.Element) -> Permission | Skipped:
    """One permission statement, or a skipped entry when its securable class is unknown."""
    state, permission, class_word = _head(m, e)
    cls = _CLASSES.get(class_word.casefold())
    if cls is None:
        return Skipped(kind="statement", reason=f"a permission on securable class {class_word!r},"
                       " which grantbridge does not know", text=e.get("Name") or "",
                       source_ref=m.ref(e))  # fmt: skip
    grantee = target(e, "Grantee")
    if not grantee:
        raise m.error(e, "the permission statement has no Grantee")
    return Permission.model_validate({
        "securable_class": cls, **_securable(m, e, cls), "permission": permission,
        "state": state, "grantee": grantee, "grantor": target(e, "Grantor"),
        "source_ref": m.ref(e),
    })  # fmt: skip


def is_server_level(permission: Permission) -> bool:
    """Whether the row belongs to ``server_permissions`` rather than a database."""
    return permission.securable_class in SERVER_CLASSES
