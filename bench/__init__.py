"""Benchmarks for grantbridge: a seeded generator of synthetic estates and a measuring harness.

``uv run python -m bench --scale S`` generates an estate (a ``SecuritySnapshot`` and the
equivalent T-SQL scripts under ``bench/out/``), measures every pipeline stage that exists, each
run in its own child process, and writes ``BENCHMARKS.md`` at the repository root.
"""
