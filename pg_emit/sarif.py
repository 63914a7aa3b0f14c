"""``findings.sarif``: the plan's findings as SARIF 2.1.0 for code-scanning UIs.

One run, tool ``grantbridge``, one rule per ``GB###`` rule id that occurs in the plan. A finding
whose ``source_ref`` is ``file:line[:column]`` (a T-SQL script) gets a physical location, so
GitHub annotates the script line that caused it; a finding from a catalog view or a live server
gets a logical location. Accepted over-grants stay in the log as *suppressed* results, with the
policy's reason as the justification, so the code-scanning UI shows them as dismissed rather than
losing them. ``partialFingerprints`` hash the finding's stable key, so an alert keeps its identity
across runs even when the script line moves.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pydantic_core

from mapper.plan import Finding, MigrationPlan, Severity

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA_URI = (
    "https://raw.githubusercontent.com/oasis-tcs/sarif-spec/master/Schemata/sarif-schema-2.1.0.json"
)

#: SARIF ``level`` per severity (SARIF §3.27.10: error, warning, note).
LEVELS: dict[Severity, str] = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}

#: GitHub code scanning reads ``security-severity`` (a CVSS-like score as a string) to show
#: critical/high/medium/low; "info" has no score, so GitHub shows it by ``level`` alone.
SECURITY_SEVERITY: dict[Severity, str] = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "2.0",
}

#: GitHub code scanning rejects a run with more results than this ("SARIF results exceed hard
#: limit": 25,000 results per run; it displays the top 5,000 by severity). A larger plan's log
#: keeps the worst open findings and says, in a tool notification, how many it left out.
MAX_RESULTS = 25_000

_FILE_LINE = re.compile(r"^(?P<file>.+?):(?P<line>[1-9]\d*)(?::(?P<column>[1-9]\d*))?$")
_FINGERPRINT_NAME = "grantbridgeFindingKey/v1"


@dataclass(frozen=True)
class ScriptLocation:
    """A ``file:line[:column]`` source reference, split up."""

    uri: str
    line: int
    column: int | None


def parse_source_ref(source_ref: str | None) -> ScriptLocation | None:
    """Read ``file:line[:column]``; any other reference (a catalog view and key) gives None.

    The file becomes a relative URI with forward slashes (SARIF §3.4.3), percent-encoded where
    a path character is not allowed in a URI.
    """
    match = _FILE_LINE.match(source_ref or "")
    if match is None or "[" in match["file"]:
        return None
    path = match["file"].replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    column = int(match["column"]) if match["column"] else None
    return ScriptLocation(quote(path, safe="/"), int(match["line"]), column)


def render_sarif(plan: MigrationPlan, max_results: int = MAX_RESULTS) -> str:
    """Render the plan's findings as a SARIF 2.1.0 log (canonical JSON, trailing newline).

    Args:
        plan: The migration plan; its findings become results, their rule ids the rules.
        max_results: At most this many results: past it, open findings before accepted ones,
            worst first, and a ``toolExecutionNotifications`` entry counts the rest.

    Returns:
        The SARIF document; the same plan always gives the same bytes.
    """
    findings = sorted(plan.findings, key=lambda f: (f.rule_id, f.key))
    rules = _rules(findings)
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    kept = findings
    if len(findings) > max_results:
        worst = sorted(findings, key=lambda f: (f.accepted, -f.severity.rank, f.rule_id, f.key))
        kept = sorted(worst[:max_results], key=lambda f: (f.rule_id, f.key))
    run: dict[str, Any] = {
        "tool": {"driver": {"name": "grantbridge", "rules": rules}},
        "results": [_result(f, index[f.rule_id]) for f in kept],
        "columnKind": "unicodeCodePoints",
        "properties": {"planFingerprint": plan.fingerprint},
    }
    if len(kept) < len(findings):
        run["invocations"] = [_left_out(findings, kept)]
    log = {"$schema": SARIF_SCHEMA_URI, "version": SARIF_VERSION, "runs": [run]}
    return canonical_json(log) + "\n"


def canonical_json(value: Any) -> str:
    """``json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)``'s text, faster.

    The standard library writes an indented document in Python (its C encoder does compact
    JSON only): 0.23 s for a bench scale M part's log. pydantic-core writes the same layout
    (two-space indent, ``": "``, ``[]`` and ``{}`` when empty, the same string escapes) in
    Rust, from a copy with every object's keys in order, in a tenth of that. It spells floats
    differently (``1e16`` for ``1e+16``) and refuses a lone surrogate that ``json.dumps`` lets
    through: a value holding either takes ``json.dumps`` itself.
    """
    try:
        return pydantic_core.to_json(_keys_sorted(value), indent=2).decode("utf-8")
    except (TypeError, pydantic_core.PydanticSerializationError):
        return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


def _keys_sorted(value: Any) -> Any:
    """``value`` with each dict's (string) keys in order; TypeError for a float or any value
    that is not JSON's string, integer, boolean, null, list or object."""
    if isinstance(value, str):  # most values: asked first
        return value
    if isinstance(value, dict):
        return {key: _keys_sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_keys_sorted(item) for item in value]
    if value is None or isinstance(value, int):  # bool is an int
        return value
    raise TypeError(f"not written by canonical_json: {type(value).__name__}")


def _left_out(findings: list[Finding], kept: list[Finding]) -> dict[str, Any]:
    """An invocation whose notification counts the findings the log leaves out (SARIF §3.20.21)."""
    left = Counter(f.severity.value for f in findings) - Counter(f.severity.value for f in kept)
    counts = ", ".join(f"{left[s.value]} {s.value}" for s in Severity if left[s.value])
    omitted = len(findings) - len(kept)
    text = (
        f"{omitted} of {len(findings)} findings {'is' if omitted == 1 else 'are'} left out "
        f"({counts}): code scanning rejects more than {len(kept)} results in a run. plan.json "
        "and report.md's counts hold every finding."
    )
    notification = {"level": "warning", "message": {"text": text}}
    return {"executionSuccessful": True, "toolExecutionNotifications": [notification]}


def _rules(findings: list[Finding]) -> list[dict[str, Any]]:
    """One reporting descriptor per rule id, described by its first finding, at its worst level."""
    by_rule: dict[str, list[Finding]] = {}
    for finding in findings:
        by_rule.setdefault(finding.rule_id, []).append(finding)
    return [_rule(rule_id, group) for rule_id, group in sorted(by_rule.items())]


def _rule(rule_id: str, group: list[Finding]) -> dict[str, Any]:
    first = group[0]
    worst = max((f.severity for f in group), key=lambda s: s.rank)
    properties: dict[str, Any] = {"tags": ["security", "sql-server-migration"]}
    if worst in SECURITY_SEVERITY:
        properties["security-severity"] = SECURITY_SEVERITY[worst]
    return {
        "id": rule_id,
        "shortDescription": {"text": first.title},
        "help": {"text": first.remediation},
        "defaultConfiguration": {"level": LEVELS[worst]},
        "properties": properties,
    }


def _result(finding: Finding, rule_index: int) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index,
        "level": LEVELS[finding.severity],
        "message": {"text": _message(finding)},
        "locations": [_location(finding)],
        "partialFingerprints": {
            _FINGERPRINT_NAME: hashlib.sha256(finding.key.encode("utf-8")).hexdigest()
        },
        "properties": _properties(finding),
    }
    if finding.accepted:
        justification = finding.accepted_reason or "accepted in the grantbridge policy"
        result["suppressions"] = [{"kind": "external", "justification": justification}]
    return result


def _message(finding: Finding) -> str:
    return f"{finding.title} — evidence: {finding.evidence} — the plan: {finding.action}"


def _properties(finding: Finding) -> dict[str, Any]:
    fields = {
        "severity": finding.severity.value,
        "principal": finding.principal,
        "securable": finding.securable,
        "sourceRef": finding.source_ref,
        "remediation": finding.remediation,
    }
    return {name: value for name, value in fields.items() if value is not None}


def _location(finding: Finding) -> dict[str, Any]:
    script = parse_source_ref(finding.source_ref)
    if script is not None:
        region: dict[str, int] = {"startLine": script.line}
        if script.column is not None:
            region["startColumn"] = script.column
        return {"physicalLocation": {"artifactLocation": {"uri": script.uri}, "region": region}}
    name = finding.source_ref or finding.securable or finding.principal or finding.rule_id
    return {"logicalLocations": [{"fullyQualifiedName": name, "kind": "resource"}]}
