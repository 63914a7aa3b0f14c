"""``OUTDIR/iam/``: who logs in through IAM or Kerberos, and one IAM policy per IAM login.

* ``iam/assignments.csv`` — role, login method, what enables the method on the target, and the
  SQL Server principal it came from. On RDS / Aurora that is the RDS role the login is granted
  (column ``rds_role``: ``rds_iam`` or ``rds_ad``); on plain PostgreSQL, which has neither
  role nor IAM authentication (an IAM login became a password login, GB048), the
  ``pg_hba.conf`` method of each Kerberos login (column ``pg_hba``: ``gss``);
* ``iam/policies/<role>.json`` — the plan's IAM policy document for that login, verbatim
  (account, region and resource id come from the policy file; the mapper puts placeholders and
  a finding when they are absent);
* ``iam/pg_hba.conf`` — plain PostgreSQL only: the ``gss`` records of the Kerberos logins
  (:mod:`pg_emit.hba`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re

from mapper.plan import MigrationPlan
from mapper.platforms import auth_role, on_rds
from pg_emit.hba import FILE as HBA_FILE
from pg_emit.hba import kerberos_logins, render_hba

_UNSAFE = re.compile(r"[^A-Za-z0-9_.@-]")


def policy_file_name(role: str) -> str:
    """A portable file name for a role (any name); a short hash keeps altered names unique."""
    safe = _UNSAFE.sub("_", role).strip(".") or "role"
    if safe != role:
        safe += "-" + hashlib.sha256(role.encode()).hexdigest()[:8]
    return f"{safe}.json"


def render_assignments(plan: MigrationPlan) -> str:
    """CSV of the roles that authenticate through ``rds_iam`` or ``rds_ad`` (RDS / Aurora) or
    through a ``gss`` record in ``pg_hba.conf`` (plain PostgreSQL)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if not on_rds(plan.target):
        writer.writerow(["role", "auth", "pg_hba", "source"])
        for role in kerberos_logins(plan):
            writer.writerow([role.name, str(role.auth), "gss", role.source])
        return out.getvalue()
    writer.writerow(["role", "auth", "rds_role", "source"])
    for role in plan.roles:
        rds_role = auth_role(plan.target, role.auth)
        if rds_role is not None:
            writer.writerow([role.name, str(role.auth), rds_role, role.source])
    return out.getvalue()


def render_iam(plan: MigrationPlan) -> dict[str, str]:
    """Relative file name → text for everything under ``iam/``."""
    files = {"iam/assignments.csv": render_assignments(plan)}
    hba = render_hba(plan)
    if hba is not None:
        files[HBA_FILE] = hba
    for policy in plan.iam_policies:
        text = policy.document if policy.document.endswith("\n") else policy.document + "\n"
        files[f"iam/policies/{policy_file_name(policy.role)}"] = text
    return files
