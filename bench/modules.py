"""``uv run python -m bench.modules [--procedures 300] [--through-roles] [--out DIR]``: a call-heavy estate.

Module analysis costs what the bench estates never show: they carry no module bodies. This
estate is the shape that made ownership chains slow to plan: ``--procedures`` procedures of
dbo's, each reading a table or two and calling two others (so every procedure reaches most of
the others through chains), 60 tables of which every fifth belongs to another user: the first
half of the procedures never reaches those (SECURITY DEFINER), the second half does (broken
links, SECURITY INVOKER routines), with a few ``EXECUTE AS OWNER`` procedures and dynamic SQL;
200 users in 20 roles, and EXECUTE grants spread over users and roles (``--through-roles``:
to roles only, the common shape, where role-mates share a walk). The bodies are kept, as
``--include-definitions`` keeps them.

The estate is T-SQL, read by the extractor with definitions (the same seed gives the same
snapshot); the command prints the planning time of each run and their median. ``--out DIR``
writes ``snapshot.json`` and ``plan.json`` there, for ``cmp`` across changes and for
``python -m bench.child plan DIR/snapshot.json DIR/plan.json`` (interleaved timings of two
checkouts from the same snapshot).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

from bench.estate import OUT
from mapper.planner import plan
from mapper.policy import Policy
from mssql_extract.snapshot import SecuritySnapshot
from mssql_extract.tsql import extract_scripts

DATABASE = "Calls"
#: The owner of every fifth table: links to them are broken, checked against the caller.
OTHER_OWNER = "u_other"


def estate_script(
    procedures: int = 300,
    users: int = 200,
    tables: int = 60,
    roles: int = 20,
    seed: int = 0,
    *,
    through_roles: bool = False,
) -> str:
    """The estate as one T-SQL script (deterministic for a seed). Each procedure's EXECUTE
    goes to two users or roles, or with ``through_roles`` to one role only (users then hold
    nothing themselves, and role-mates are given the same verdicts)."""
    rng = random.Random(seed)
    out: list[str] = [f"CREATE DATABASE [{DATABASE}]"]
    names = [f"u{i:03}" for i in range(users)] + [OTHER_OWNER]
    out += [f"CREATE LOGIN [{n}] WITH PASSWORD = N'x'" for n in names]
    out.append(f"USE [{DATABASE}]")
    out += [f"CREATE USER [{n}] FOR LOGIN [{n}]" for n in names]
    out.append("CREATE SCHEMA [s] AUTHORIZATION [dbo]")
    role_names = [f"r{i:02}" for i in range(roles)]
    out += [f"CREATE ROLE [{r}]" for r in role_names]
    for i, user in enumerate(names[:users]):
        out.append(f"ALTER ROLE [{role_names[i % roles]}] ADD MEMBER [{user}]")
        if i % 7 == 0:  # some users in two roles
            out.append(f"ALTER ROLE [{role_names[(i * 3 + 1) % roles]}] ADD MEMBER [{user}]")
    for t in range(tables):
        out.append(f"CREATE TABLE [s].[t{t:02}] ([id] int, [v] int)")
        if t % 5 == 0:
            out.append(f"ALTER AUTHORIZATION ON OBJECT::[s].[t{t:02}] TO [{OTHER_OWNER}]")
    # created last first, so a procedure's callees exist when it is created (T-SQL order)
    for p in reversed(range(procedures)):
        out.append(_procedure(rng, p, procedures, tables))
    grantees = names[:users] + role_names
    for p in range(procedures):
        for grantee in [rng.choice(role_names)] if through_roles else rng.sample(grantees, 2):
            out.append(f"GRANT EXECUTE ON OBJECT::[s].[p{p:03}] TO [{grantee}]")
    for t in range(0, tables, 3):  # some callers may read some tables themselves
        readers = role_names if through_roles else grantees
        out.append(f"GRANT SELECT ON OBJECT::[s].[t{t:02}] TO [{rng.choice(readers)}]")
    for t in range(1, tables, 11):
        out.append(f"DENY SELECT ON OBJECT::[s].[t{t:02}] TO [{rng.choice(role_names)}]")
    return "".join(f"{statement}\nGO\n" for statement in out)


def _procedure(rng: random.Random, p: int, procedures: int, tables: int) -> str:
    """``s.pNNN``: reads one or two tables and calls two procedures (recursion included).

    The first half reads only dbo's tables and calls only each other: their chains are
    intact, so they become SECURITY DEFINER; the second half reaches broken links, dynamic SQL
    and ``EXECUTE AS OWNER`` and stays SECURITY INVOKER (GB310).
    """
    half = procedures // 2
    if p < half:
        read = [t for t in range(tables) if t % 5]
        body = [f"SELECT id FROM s.t{t:02}" for t in sorted(rng.sample(read, rng.randint(1, 2)))]
        body += [f"EXEC s.p{c:03} @n - 1" for c in rng.sample(range(half), 2)]
        return _create(p, body, "")
    body = [
        f"SELECT id FROM s.t{t:02}" for t in sorted(rng.sample(range(tables), rng.randint(1, 2)))
    ]
    body += [f"EXEC s.p{c:03} @n - 1" for c in rng.sample(range(procedures), 2)]
    if p % 50 == 7:
        body.append("EXEC (N'SELECT 1')")  # dynamic SQL: the routine stays SECURITY INVOKER
    return _create(p, body, " WITH EXECUTE AS OWNER" if p % 40 == 3 else "")


def _create(p: int, body: list[str], execute_as: str) -> str:
    return (
        f"CREATE PROCEDURE [s].[p{p:03}] @n int{execute_as} AS BEGIN IF @n > 0 BEGIN "
        + "; ".join(body)
        + "; END END"
    )


def build_snapshot(
    procedures: int = 300, seed: int = 0, *, through_roles: bool = False
) -> SecuritySnapshot:
    """The estate read as ``extract --include-definitions`` reads a script."""
    shape = "-roles" if through_roles else ""
    script = OUT / f"modules-p{procedures}-seed{seed}{shape}" / "calls.sql"
    script.parent.mkdir(parents=True, exist_ok=True)  # a fixed path: the same source refs
    text = estate_script(procedures, seed=seed, through_roles=through_roles)
    script.write_text(text, encoding="utf-8")
    return extract_scripts([script], include_definitions=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.modules", description=__doc__)
    parser.add_argument("--procedures", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--through-roles", action="store_true", help="EXECUTE granted to roles only, not users"
    )
    parser.add_argument("--out", type=Path, help="write snapshot.json and plan.json here")
    args = parser.parse_args(argv)
    snapshot = build_snapshot(args.procedures, args.seed, through_roles=args.through_roles)
    times, result = [], None
    for _ in range(args.runs):
        started = time.perf_counter()
        result = plan(snapshot, Policy())
        times.append(time.perf_counter() - started)
        print(f"plan: {times[-1]:.3f} s")
    print(f"median of {args.runs}: {statistics.median(times):.3f} s")
    if args.out is not None and result is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        snapshot.write_json(args.out / "snapshot.json")
        result.write_json(args.out / "plan.json")
        print(f"wrote {args.out / 'snapshot.json'} and {args.out / 'plan.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
