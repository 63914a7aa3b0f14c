"""The before/after table of ``BENCHMARKS.md``: figures of the fixes found by profiling.

Unlike the other tables (:mod:`bench.report_rows`), these are not re-measured: each pair was
measured once, on the machine of the time, when its fix landed.
"""

from __future__ import annotations

#: Before/after figures of the fixes found by profiling (pyinstrument, cProfile), measured once
#: on this machine when each fix landed; the tables above are re-measured on every run.
FIXES: tuple[tuple[str, str, str], ...] = (
    (
        "generate M: stream one database at a time, leaner model construction (91bed7f)",
        "21.3 s, 1,142 MB peak RSS",
        "20.0 s, 226 MB (files byte-identical)",
    ),
    (
        "parse M: cyclic GC paused while replaying, key built once per row, interned names "
        "and keys, slotted rows, cheaper keyword checks (4acb292)",
        "104.2 s (5,001 statements/s), 1,377 MB",
        "40.6 s (12,849 statements/s), 1,125 MB",
    ),
    (
        "parse / tokenize time at M (tokenizer timed with the GC paused: 27.8 s)",
        "3.75×",
        "1.46×",
    ),
    (
        "parse memory, 4 M databases (150k rows): source references share their fields-set "
        "(bf579f3)",
        "383 MB",
        "349 MB",
    ),
    (
        "validated snapshot load at M: GC paused inside SecuritySnapshot.from_json, each key "
        "computed once when sorting (4dc9792)",
        "13.2–16.5 s (5.6–6.4× json.loads)",
        "4.4–8.1 s (the table above: the load as grantbridge does it)",
    ),
    (
        "plan, 2 databases of M (208k grants), CPU seconds of plan() on a loaded machine: schema "
        "contents looked up once per schema, DENY precedence decided without building "
        "explanations, grant signatures cached in DENY restructuring (61951cf)",
        "56.3–56.8 s CPU, 1,130 MB",
        "35.2–40.7 s CPU, 1,106 MB (plans byte-identical)",
    ),
    (
        "validated snapshot load at M, idle machine: parsed and validated in one pass by "
        "pydantic-core (`model_validate_json`), no tree of Python dicts in between (70444cd)",
        "8.4 s, 1,535 MB peak RSS",
        "4.3 s, 1,538 MB",
    ),
    (
        "verify on the embedded server, 24k roles in 2 databases (synthetic plan): roles and "
        "memberships committed once instead of once per database (4e40064)",
        "20–25 s, 01 + 02: 9.1 s (the per-database path, which live targets keep)",
        "16–18 s, 01 + 02: 4.2 s",
    ),
    (
        "apply S: statements sent 50 at a time (psql \\; inside a batch; pipeline mode in "
        "apply and verify), one wait per batch (36a45b3); median of 3, one process",
        "0.825 s (0.36× the naive script's 2.294 s)",
        "0.661 s (0.29×) in batches of 20, 0.625 s (0.27×) of 100; the S section has 50",
    ),
    (
        "plan M: plan.json written and the snapshot hashed in pieces, not as one text "
        "(e3e2d6a); rows100000: writing plan.json 4.0 s, +810 MB → 2.6 s, +6 MB",
        "8,587 MB peak RSS (load + plan + write)",
        "5,045 MB",
    ),
    (
        "render S: 04's grant grouping worked out once, rollback.sql revokes the same clauses "
        "(e5969dd); median of 5 in one process",
        "0.510 s",
        "0.320 s (scripts byte-identical)",
    ),
    (
        "render M: the cyclic collector paused while rendering, each database's grants sorted "
        "out in one pass (they were filtered from all 1.04M grants once per database, twice), "
        "the databases listed once (9efc951); CPU seconds of render_sql on a plan loaded from "
        "plan.json, one process",
        "22.3 s",
        "11.0 s (scripts byte-identical); S: 0.253 → 0.149 s",
    ),
    (
        "load plan.json (render, apply, verify, diff, report): parsed and validated in one pass "
        "by pydantic-core with the collector paused, as snapshots are (d64788c); S, one process",
        "0.46–0.71 s",
        "0.14–0.18 s (the same plan)",
    ),
    (
        "report.md at M: the first 50 findings of a rule, derived roles counted past 100, a "
        "most-granted-roles table where Mermaid cannot draw (7f3edaa); the emit section's "
        "report.md size",
        "73.0 MB (role hierarchy 56.8 MB, findings 8.8 MB, principal mapping 6.1 MB)",
        "0.54 MB",
    ),
    (
        "diff.md at M for a ~10-row source change (an audit's mutation of one database): a "
        "60,000-character budget, derived-role churn counted per base role (daf2187)",
        "941 KB, 7,992 lines (GitHub refuses a comment over 65,536 characters)",
        "39.9 KB; `diff` itself 55 s, 7.4 GB (two plans loaded)",
    ),
    (
        "drift against an empty target, 10 databases and 100k rows (208k grants, 124k "
        "memberships): mismatches sorted by a key, roles and memberships compared once, "
        "fewer grant copies (927ae4a, d164590); the mismatch table capped at 50 rows",
        "28.2 s; the full table ~170 s more (354k rows)",
        "8.4 s (same mismatches, same script); the report 0.13 s",
    ),
    (
        "scripts at M: rollback.sql revokes memberships 1,000 per statement, long arrays 10 "
        "elements to a line (0d6dc3c); a GRANT's grantees, objects or roles past 8 one to a "
        "line; longest line of rollback.sql / 04 / 02",
        "51.2 MB (every membership in one unnest) / 11,744 / 8,233 characters",
        "719 / 593 / 1,952 characters (a comment's or a role name's length); small plans' "
        "scripts unchanged",
    ),
    (
        "report.md at M once views check their caller's privileges across broken ownership "
        "chains (6,282 security_invoker views, none with a body in the snapshot): the "
        "routines, views and row-level security tables show 100 rows and count the rest "
        "(4c2a223)",
        "1.79 MB (the views table 1.0 MB)",
        "0.79 MB",
    ),
    (
        "plan at M and S: the plan handed over without re-sorting what the state keeps sorted, "
        "a permission row keyed once, the DENY CONNECT gate once per principal, refusal() "
        "returning at once when no DENY of the grantee is on the securable or above it, split "
        "roles' grants moved with their facts (h1 merge, dcace9e; byte-identical plans; runs "
        "of main and the branch interleaved, 2 shared cores)",
        "M 56.7 s (median of 2; 30.7–33.6× json.loads), S 0.735 s",
        "M 50.5 s (29.2–29.8×), S 0.649 s; peak RSS at M unchanged (3.2 GB)",
    ),
    (
        "DENY restructuring at M: one signature index for every DENY set (1,242 sets had "
        "built 5.5M entries), per-role contested DENYs while derived roles are made, "
        "split_roles reusing the closures it sorted by (h7 merge, 09bcb64; byte-identical)",
        "53.9 s, 3,611 MB (plan_denies 20.2 s)",
        "52.0 s, 3,448 MB (plan_denies 18.8 s)",
    ),
    (
        "DENY restructuring and bookkeeping (issue 7, h7): signatures cut from keys, hits "
        "filtered once per shared covering list, split roles' grants grouped once per list and "
        "moved in bulk under keys cut from the old ones, derived-role copies keyed the same way, "
        "copies keeping their shared fields set, finalize's key checks in C, prune_implied "
        "without a list per stem; CPU seconds, medians of interleaved runs of main and the "
        "branch (2 shared cores, load 7-9; byte-identical plans: S, rows100000, contoso)",
        "S: plan_denies 0.747 s (split_roles 0.307), plan 2.23 s; rows100000 (2 runs): "
        "plan_denies 12.2–12.4 s (split_roles 4.4–4.8), plan 35.4–38.4 s",
        "S: plan_denies 0.582 s (split_roles 0.185), plan 2.29 s (within the noise); "
        "rows100000: plan_denies 9.0–10.8 s (split_roles 3.0–3.3), plan 31.1–33.5 s",
    ),
    (
        "plan, permission rows: a (securable, mapping)'s expansion made once per database's "
        "rows and copied per grantee with its key (grant_stamps), a row's target, securable and "
        "mapping once, refusal()'s folded securable and ancestors cached, the permission index "
        "folding each securable once, leaner add/dispose/USAGE (h6, eaeb128..3d908b4; plans "
        "byte-identical at S, rows100000, M, contoso); CPU seconds of plan(), main and the "
        "branch interleaved on the shared 2-core machine (load 3-9)",
        "rows100000 median of 5: 30.1 s (plan_permissions 10.0 s, engine 0.82 s); M, 2 runs: "
        "155.4 / 167.7 s (plan_permissions 50.3 / 52.6 s), 3,539 MB; S plan_permissions 0.73 s",
        "26.8 s, -11 to -19% per pair (plan_permissions 6.9 s, engine 0.37 s); M: 147.3 / "
        "137.5 s (plan_permissions 31.2 / 38.9 s), 3,436 MB; S 0.51 s (the whole S plan within "
        "noise)",
    ),
    (
        "what owners keep under DENYs (deny_kept, e66ab9c): h1's fidelity fix had checked each "
        "noted grant with a pydantic copy per held role to spell its key, and asked the DENY "
        "lists before whether the grant was on what the role owns; keys now spelled from the "
        "item's key, owned signatures first (plans byte-identical: S, rows100000). CPU seconds "
        "of plan(), one process each, quiet machine",
        "rows100000: 57.3 s at a28d6a2 (be498d0, before h1: 23.1-23.7 s)",
        "27.1 s; M: 124.7 s against 109.8 s at be498d0 (one run each, in-process): main is "
        "still slower than at be498d0; what h6 and h7 saved, the fidelity changes merged "
        "with them took back and more (not measured apart)",
    ),
    (
        "planner hot spots, session 13, plans byte-identical (S, rows100000, contoso): Kept "
        "indexes the noted grants by signature and works out inherited roles once (ha); "
        "verdict_key unions per-node GRANT and ownership sets made once, derived_role answers a "
        "split role's parts once per set of covering DENYs (he); prune_implied skips grantees "
        "that inherit nothing, a downscoped owner's rights expanded once, hardening scans the "
        "items once (hh). CPU seconds of plan(), in-process, interleaved with the code before",
        "rows100000: 12.58 / 12.92 s; M: 66.9 s (244e262)",
        "rows100000: 10.52 / 11.36 s (df09f24); M: 55.9 s (965ca07); fidelity fixes of the session "
        "included",
    ),
    (
        "cutting a canonical snapshot into its databases (plan --per-database, session 15): "
        "one pass of a regular expression over 16 MB blocks finds the databases list's lines, "
        "then each text is read by offset (295804b), instead of three passes line by line "
        "(server part, count, texts: bench/slices.py at 1e4ad94). CPU seconds to read M's "
        "server part and all 10 databases' texts, two runs each, same text",
        "12.80 / 12.73 s",
        "0.86 / 0.87 s",
    ),
    (
        "writing a part's artifacts (plan --per-database, session 15, branch hb): grants "
        "grouped per securable in one pass (pg_emit/grant_groups.py), quote_ident cached, "
        "prose escaped in one str.translate, SARIF written by pydantic-core, owners' roles "
        "looked up in a set, list items indented by pydantic (every output byte unchanged: an "
        "M part, S, Contoso under four policies). CPU seconds of render_artifacts and "
        "plan.write_json for M's first part, medians of 4 interleaved runs, loaded machine",
        "render_artifacts 3.23 s; write_json 0.98 s",
        "render_artifacts 2.19 s; write_json 0.81 s",
    ),
    (
        "verify's effective-privilege check (session 16, 72d0379): 500,000 checks a query "
        "instead of 50,000, the per-slot arrays sent as array literals made once per database "
        "(psycopg had turned 4 lists into arrays in Python for each of 200 queries), slot "
        "numbers joined per role in C. Wall seconds of verify on the embedded server for M's "
        "first part (Billing: 10M checks), two runs each, interleaved with the old code, no "
        "mismatch either way",
        "44.6 / 45.4 s",
        "35.6 / 33.8 s",
    ),
    (
        "DENY restructuring (session 18, h2 merge 2a7aca3): a role's DENY hits and grant "
        "signatures worked out in one pass each, a split role's untouched part answered without "
        "sorting or intersecting, derived memberships built trusted (plans byte-identical: S, "
        "two M databases, Contoso). CPU seconds of plan() for M's first database, medians of "
        "interleaved pairs in four sessions on a loaded machine",
        "5.71 / 5.61 / 5.90 / 5.67 s",
        "4.98 / 5.31 / 5.26 / 5.24 s (-5 to -13 %)",
    ),
    (
        "verify SET --dsn (session 18, cf23585): each database's transaction runs the part's own "
        "cluster-wide statements and, of the other parts', only those on roles it knows "
        "(pg_emit/verify_set.py SetCluster). The M set (10 parts): statements run before each "
        "database's sections, and the largest transaction's lock need against PostgreSQL's "
        "default 6,400",
        "15,809 statements; 25,830 locks (refused by the preflight)",
        "1,383-2,125 statements; 6,007 locks (one live run on a default PostgreSQL 15: passed, "
        "529 s)",
    ),
    (
        "writing a part's artifacts (session 19, h1 merge ae79f34): each grantee, object and "
        "role name quoted once per rendering, the plan's grants sorted out by database, grant "
        "option and columns and grouped in one pass (was four), memberships and dropped roles "
        "worked out once for 02 and rollback.sql (every output byte unchanged: S whole and "
        "per-database, M and L first parts, Contoso). Wall seconds of write_artifacts after "
        "planning the first part, medians of 3 interleaved runs, loaded machine",
        "M 1.50 s; L 6.77 s",
        "M 1.14 s (-24 %); L 5.38 s (-21 %)",
    ),
)
