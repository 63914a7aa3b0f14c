"""JSON given to grantbridge, read so that every way it can be malformed is an InputError.

``json.loads`` raises more than :class:`json.JSONDecodeError`: a number of more than 4300
digits is a bare ValueError (CPython's limit on converting digits to an int) and arrays nested
some thousand levels deep a RecursionError, both of which reached the user as a traceback. And
it accepts an escaped lone UTF-16 surrogate (``"\\ud800"``), a string no file can hold: the
load succeeded and writing the plan or snapshot failed later with a traceback.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from typing import Any

from grantbridge.errors import InputError, Location

#: Any escaped UTF-16 surrogate; then each, a high one followed at once by a low one being a
#: valid pair.
_ANY_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")
_ANY_SURROGATE_TEXT = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile(
    rb"(\\+)u[dD]([89abAB]|[c-fC-F])[0-9a-fA-F]{2}(\\u[dD][c-fC-F][0-9a-fA-F]{2})?"
)


def _position(text: str | bytes, offset: int) -> tuple[int, int]:
    """The line and column (both from 1) of ``offset`` in ``text``."""
    newline = "\n" if isinstance(text, str) else b"\n"
    line = text.count(newline, 0, offset) + 1  # type: ignore[arg-type]
    return line, offset - (text.rfind(newline, 0, offset) + 1) + 1  # type: ignore[arg-type]


def _not_json(reason: str) -> str:
    return f"not valid JSON: {reason}"


def loads(
    text: str | bytes,
    origin: str,
    error: type[InputError] = InputError,
    describe: Callable[[str], str] = _not_json,
) -> Any:
    """``json.loads(text)``; any way it fails is an ``error`` naming ``origin`` (and the line
    and column when known), its reason worded by ``describe``."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(describe(exc.msg), Location(origin, exc.lineno, exc.colno)) from None
    except UnicodeDecodeError as exc:  # bytes: callers decode first to say where
        raise error(f"not UTF-8: {exc.reason}", Location(origin)) from None
    except RecursionError:
        raise error(describe("arrays or objects nested too deeply"), Location(origin)) from None
    except ValueError:  # an int of more digits than CPython converts (4300 by default)
        limit = sys.get_int_max_str_digits()
        digits = text if isinstance(text, str) else text.decode("utf-8", "replace")
        found = re.search(rf"\d{{{limit + 1},}}", digits)
        line, column = _position(digits, found.start()) if found else (None, None)
        reason = f"a number has more than {limit} digits"
        raise error(describe(reason), Location(origin, line, column)) from None


def refuse_lone_surrogates(
    text: str | bytes, origin: str, error: type[InputError] = InputError
) -> None:
    """Raise ``error`` at the first escaped lone surrogate of the JSON ``text``. Checked before
    loading: pydantic-core and ``json.loads`` both accept one. SQL Server's names may hold one
    (NVARCHAR is UCS-2), which FOR JSON writes so; the usual cost is one regex search."""
    if isinstance(text, str):  # searched as it is: no copy of a snapshot's text to encode
        if _ANY_SURROGATE_TEXT.search(text) is None:
            return
        raw = text.encode("utf-8", "surrogatepass")
    elif _ANY_SURROGATE.search(text) is None:  # faster than b"\\u" in raw on backslashed names
        return
    else:
        raw = text
    for found in _SURROGATE.finditer(raw):
        escaped = len(found.group(1)) % 2 == 1  # an even run of backslashes is literal text
        high = found.group(2) in b"89abAB"
        if escaped and (not high or found.group(3) is None):
            start = found.end(1) - 1
            line, column = _position(raw, start)
            escape = raw[start : start + 6].decode("ascii")
            raise error(
                f"the string escape {escape} is half of a UTF-16 surrogate pair, which no "
                "text can hold: remove it or complete the pair",
                Location(origin, line, column),
            )
