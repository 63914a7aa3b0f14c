"""``iam/pg_hba.conf``: the GSSAPI records a postgresql plan's Kerberos logins need.

On Amazon RDS / Aurora a login authenticates with Kerberos by membership in ``rds_ad``. Plain
PostgreSQL decides the method per connection in ``pg_hba.conf`` instead, so a postgresql plan
makes its Kerberos logins members of nothing and this snippet gives each one two records, one
per kind of encrypted connection (TLS, GSSAPI encryption)::

    hostssl       all    "jdoe@CONTOSO.COM"    all    gss include_realm=1 krb_realm=CONTOSO.COM
    hostgssenc    all    "jdoe@CONTOSO.COM"    all    gss include_realm=1 krb_realm=CONTOSO.COM

The syntax, from the PostgreSQL documentation (20.1 "The pg_hba.conf File",
https://www.postgresql.org/docs/current/auth-pg-hba-conf.html, and 20.6 "GSSAPI
Authentication", https://www.postgresql.org/docs/current/gssapi-auth.html):

* ``host DATABASE USER ADDRESS METHOD [OPTIONS]``; ``all`` as the address matches any IP address;
  ``hostssl`` matches only TCP connections made with SSL, ``hostgssenc`` only those made with
  GSSAPI encryption. The plan's hardening refuses unencrypted connections (SQL Server's Force
  Encryption; ``rds.force_ssl`` on RDS), and plain PostgreSQL has no setting for that, only
  these record types (:data:`mapper.audit.PLAIN_HARDENED`). Both are written because libpq
  clients holding a Kerberos ticket try GSSAPI encryption first (``gssencmode=prefer``), and
  such a connection matches no ``hostssl`` record;
* a field may be double-quoted, and a quoted name loses any special meaning (``all``, a ``+``
  group, an ``@`` file); a double quote inside is written twice (``next_token`` in
  src/backend/libpq/hba.c: "Literal double-quote is two double-quotes"); a record holds no line
  break, so a name with one cannot be written (it is listed in a comment instead);
* ``include_realm=1`` keeps the realm in the authenticated principal, so ``user@REALM`` is
  compared with the role's name as it is, with no ``pg_ident.conf`` map; ``krb_realm`` accepts
  only principals of that realm (written when the policy names one: the role's ``realm``);
* the first record matching connection type, address, database and user decides, with no
  fall-through: these records must come before any record that would match the same users
  with another method (``host all all 0.0.0.0/0 scram-sha-256``).
"""

from __future__ import annotations

import re

from mapper.plan import AuthMethod, MigrationPlan, PgRole
from mapper.platforms import on_rds

FILE = "iam/pg_hba.conf"

_PLAIN = re.compile(r"[A-Za-z0-9._-]+")

HEADER = (
    "# grantbridge: pg_hba.conf records for the plan's Kerberos (GSSAPI) logins.",
    "# Put them BEFORE the password (scram-sha-256, md5) and catch-all records of the server's",
    "# pg_hba.conf: PostgreSQL uses the first record that matches a connection, and never",
    "# tries another if its authentication fails. The server needs a keytab",
    "# (krb_server_keyfile), and ssl = on with a certificate (parameters.json). Each login",
    "# has a hostssl record (TLS) and a hostgssenc record (GSSAPI encryption): a connection",
    "# with neither matches no record here, so that unencrypted connections are refused",
    "# (make the server's other TCP records hostssl too). Narrow the address (all) to your",
    "# clients' networks. Reload (SELECT pg_reload_conf()) and check pg_hba_file_rules",
    "# afterwards.",
    "#",
    "# TYPE  DATABASE  USER  ADDRESS  METHOD  OPTIONS",
)


def _quoted(text: str) -> str | None:
    """``text`` as one double-quoted pg_hba.conf field; None when it holds a line break."""
    if "\n" in text or "\r" in text:
        return None
    return '"' + text.replace('"', '""') + '"'


def _option(text: str) -> str | None:
    """An option's value: bare when plainly a realm (``CONTOSO.COM``), else quoted as a field
    (the tokenizer drops the quotes anywhere in a token: ``krb_realm="A B"``)."""
    return text if _PLAIN.fullmatch(text) else _quoted(text)


def _one_line(text: str) -> str:
    return " ".join(text.splitlines())


#: The connection types of a login's records: TLS, GSSAPI encryption; never unencrypted.
TYPES = ("hostssl", "hostgssenc")


def _record(role: PgRole) -> list[str]:
    """One role's comment and records (or, for a name no record can hold, why not)."""
    user = _quoted(role.name)
    realm = _option(role.realm) if role.realm else ""
    note = f"# {_one_line(role.name)}: {_one_line(role.source)}"
    if user is None or realm is None:
        return [f"{note}: not written, pg_hba.conf cannot name a role or realm with a line break"]
    options = "include_realm=1" + (f" krb_realm={realm}" if realm else "")
    return [note, *(f"{kind:<10}    all    {user}    all    gss {options}" for kind in TYPES)]


def kerberos_logins(plan: MigrationPlan) -> list[PgRole]:
    """The plan's Kerberos login roles that pg_hba.conf must let in: a postgresql plan's only
    (RDS / Aurora use rds_ad), and not those SQL Server bars from logging in (NOLOGIN)."""
    if on_rds(plan.target):
        return []
    return [r for r in plan.roles if r.auth == AuthMethod.KERBEROS and r.login]


def render_hba(plan: MigrationPlan) -> str | None:
    """The text of ``iam/pg_hba.conf``; None when the plan has no record to write there."""
    roles = kerberos_logins(plan)
    if not roles:
        return None
    lines = list(HEADER)
    for role in sorted(roles, key=lambda r: r.name):
        lines += _record(role)
    return "\n".join(lines) + "\n"
