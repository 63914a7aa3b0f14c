"""Parse throughput of the T-SQL extractor next to sqlglot's tokenizer alone (issue 2, issue 7).

Run: ``uv run python -m tests.extract.bench_tsql [statements]`` (default 100,000).
"""

from __future__ import annotations

import sys
import time

from sqlglot.dialects.tsql import TSQL

from mssql_extract.tsql import parse_text
from mssql_extract.tsql.sqlcmd import split_batches

_FORMS = (
    "GRANT SELECT, INSERT ON OBJECT::[s{i}].[t{i}] TO [r{i}], [u{i}]",
    "DENY UPDATE ON [s{i}].[t{i}] ([c1], [c2]) TO [r{i}]",
    "CREATE ROLE [r{i}] AUTHORIZATION [dbo]",
    "ALTER ROLE [r{i}] ADD MEMBER [u{i}]",
    "CREATE USER [u{i}] WITHOUT LOGIN WITH DEFAULT_SCHEMA = [s{i}]",
    "EXEC sp_addrolemember N'db_datareader', N'u{i}'",
    "GRANT EXECUTE ON SCHEMA::[s{i}] TO [r{i}] WITH GRANT OPTION",
    "REVOKE SELECT ON OBJECT::[s{i}].[t{i}] FROM [u{i}]",
)


def generate(statements: int) -> str:
    """A script of ``statements`` security statements, a GO every 100."""
    lines = ["USE [bench]", "GO"]
    for i in range(statements):
        lines.append(_FORMS[i % len(_FORMS)].format(i=i // len(_FORMS)))
        if i % 100 == 99:
            lines.append("GO")
    return "\n".join(lines) + "\n"


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    text = generate(count)
    tokenizer = TSQL.Tokenizer()
    started = time.perf_counter()
    for batch in split_batches(text, "bench.sql"):
        tokenizer.tokenize(batch.text)
    tokens_only = time.perf_counter() - started
    started = time.perf_counter()
    parse_text(text, "bench.sql")
    parse = time.perf_counter() - started
    print(f"{count} statements")
    print(f"tokenizer only: {tokens_only:.2f} s ({count / tokens_only:,.0f} statements/s)")
    print(f"parse + replay + freeze: {parse:.2f} s ({count / parse:,.0f} statements/s)")
    print(f"ratio parse / tokenizer: {parse / tokens_only:.2f}")


if __name__ == "__main__":
    main()
