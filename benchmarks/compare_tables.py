"""Are two runs' tables the same? Compares every table of two ``results/tables`` directories byte for byte.

A refactoring that must not change behaviour is checked by running the same config before and after it and
comparing the tables. Tables that record measured seconds (the cost records, the compute accounting built on
them) differ between any two runs and are left out, as listed in :data:`MEASURED`.

    python benchmarks/compare_tables.py BEFORE/results/tables AFTER/results/tables
    python benchmarks/compare_tables.py BEFORE/results/tables AFTER/results/tables --only comparison.csv

Exit status 0 when every compared table is identical, 1 otherwise (the differing tables are listed, with the
first differing line).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

#: Tables that hold wall or CPU seconds measured by the run (so differ between any two runs).
MEASURED = ("cost.csv", "cost.tex", "compute.csv", "compute.tex")


def first_difference(a: Path, b: Path) -> str:
    lines_a, lines_b = a.read_text().splitlines(), b.read_text().splitlines()
    for i, (x, y) in enumerate(zip(lines_a, lines_b, strict=False), 1):
        if x != y:
            return f"line {i}:\n    before: {x[:200]}\n    after:  {y[:200]}"
    return f"{len(lines_a)} vs {len(lines_b)} lines"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--only", nargs="*", help="compare only these table file names")
    args = parser.parse_args(argv)
    names = sorted({p.name for p in args.before.iterdir()} | {p.name for p in args.after.iterdir()})
    names = [n for n in names if n not in MEASURED and (not args.only or n in args.only)]
    same, different = [], []
    for name in names:
        a, b = args.before / name, args.after / name
        if not (a.exists() and b.exists()):
            different.append(f"{name}: only in {'before' if a.exists() else 'after'}")
        elif a.read_bytes() != b.read_bytes():
            different.append(f"{name}: {first_difference(a, b)}")
        else:
            same.append(name)
    print(f"identical ({len(same)}): {' '.join(same)}")
    print(f"left out, measured seconds: {' '.join(n for n in MEASURED if not args.only)}")
    for line in different:
        print(f"DIFFERENT {line}")
    return 1 if different else 0


if __name__ == "__main__":
    sys.exit(main())
