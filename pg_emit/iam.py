"""``OUTDIR/iam/``: who logs in through IAM or Kerberos, and one IAM policy per IAM login.

* ``iam/assignments.csv`` — role, login method, the RDS role it is granted (``rds_iam`` or
  ``rds_ad``), and the SQL Server principal it came from;
* ``iam/policies/<role>.json`` — the plan's IAM policy document for that login, verbatim
  (account, region and resource id come from the policy file; the mapper puts placeholders and
  a finding when they are absent).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re

from mapper.plan import MigrationPlan
from pg_emit.intent import AUTH_ROLES

_UNSAFE = re.compile(r"[^A-Za-z0-9_.@-]")


def policy_file_name(role: str) -> str:
    """A portable file name for a role (any name); a short hash keeps altered names unique."""
    safe = _UNSAFE.sub("_", role).strip(".") or "role"
    if safe != role:
        safe += "-" + hashlib.sha256(role.encode()).hexdigest()[:8]
    return f"{safe}.json"


def render_assignments(plan: MigrationPlan) -> str:
    """CSV of the roles that authenticate through ``rds_iam`` or ``rds_ad``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["role", "auth", "rds_role", "source"])
    for role in plan.roles:
        rds_role = AUTH_ROLES.get(role.auth)
        if rds_role is not None:
            writer.writerow([role.name, str(role.auth), rds_role, role.source])
    return out.getvalue()


def render_iam(plan: MigrationPlan) -> dict[str, str]:
    """Relative file name → text for everything under ``iam/``."""
    files = {"iam/assignments.csv": render_assignments(plan)}
    for policy in plan.iam_policies:
        text = policy.document if policy.document.endswith("\n") else policy.document + "\n"
        files[f"iam/policies/{policy_file_name(policy.role)}"] = text
    return files
