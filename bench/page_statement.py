#!/usr/bin/env python3
"""Turns the list page's statement, as PostgreSQL logged it, into a pgbench script.

Reads a PostgreSQL log (with log_statement = 'all') on standard input, finds the last
executed statement that reads a page of books, puts the values of its parameters in
place (PostgreSQL logs them on the DETAIL line after it) and the offset it was run with
as the pgbench variable :offset, and prints a script that runs it at random offsets.

    python3 bench/page_statement.py --offset 40 --max-offset 4980 <postgres.log
"""

import argparse
import re
import sys

EXECUTE = re.compile(r"LOG:\s+execute [^:]*: (SELECT .*)$")
PARAMETERS = re.compile(r"DETAIL:\s+parameters: (.*)$")
PARAMETER = re.compile(r"\$(\d+) = ('(?:[^']|'')*'|NULL)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offset", required=True, help="the offset the request asked for")
    parser.add_argument("--max-offset", required=True, type=int, help="the largest offset to try")
    args = parser.parse_args()

    found = None
    lines = sys.stdin.read().splitlines()
    for index, line in enumerate(lines):
        statement = EXECUTE.search(line)
        if statement and '"books"' in statement.group(1) and "OFFSET" in statement.group(1):
            detail = PARAMETERS.search(lines[index + 1]) if index + 1 < len(lines) else None
            found = (statement.group(1), dict(PARAMETER.findall(detail.group(1))) if detail else {})
    if found is None:
        print("no page of books in the log", file=sys.stderr)
        return 1

    statement, values = found
    offset = f"'{args.offset}'"

    def value(match: re.Match) -> str:
        literal = values.get(match.group(1))
        if literal is None:
            raise SystemExit(f"no value for ${match.group(1)} in the log")
        return ":offset" if literal == offset else literal

    script = re.sub(r"\$(\d+)", value, statement)
    print("-- The statement the server sends for GET /api/v1/books?limit=20&offset=:offset,")
    print("-- as PostgreSQL logged it, run by pgbench at random offsets.")
    print(f"\\set offset random(0, {args.max_offset})")
    print(script.rstrip(";") + ";")
    return 0


if __name__ == "__main__":
    sys.exit(main())
