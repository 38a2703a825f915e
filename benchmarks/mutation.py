"""Mutation testing: how many deliberate mistakes in the result-critical modules the tests notice, per module.

    python benchmarks/mutation.py            # mutmut run, then the table (about 10 min on 2 cores)
    python benchmarks/mutation.py --table    # the table of the last run only
    python benchmarks/mutation.py "runners.module.*"   # the mutants of one module (mutmut's name globs)
    mutmut show <name>                       # one mutant's diff; `mutmut results` lists the survivors

The setup is ``[tool.mutmut]`` in pyproject.toml: the files mutated (``only_mutate``) and the tests that may judge
them; mutmut runs each mutant against those of the tests that call the function it changes. The score is killed over
all mutants: a survivor, a mutant no selected test reaches and a timeout all count against it. Run it from the
repository root; it writes mutants/ (ignored by git).
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MUTANT = re.compile(r"^\s*(?P<module>[\w.]+?)\.x[_ǁ]\S*: (?P<status>.+)$")  # search.space.x_sample__mutmut_3: killed


def counts() -> dict[str, collections.Counter[str]]:
    """Per mutated file, how many of its mutants ended in each status (``mutmut results --all true``)."""
    out = subprocess.run(["mutmut", "results", "--all", "true"], cwd=ROOT, capture_output=True, text=True, check=True)
    by_file: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for line in out.stdout.splitlines():
        if match := MUTANT.match(line):
            by_file[match["module"].replace(".", "/") + ".py"][match["status"]] += 1
    return by_file


def table(by_file: dict[str, collections.Counter[str]]) -> str:
    """The markdown table: mutants, killed, survived, not reached by a test, other (timeouts...), score."""
    lines = ["| module | mutants | killed | survived | no tests | timeout/other | score |", "|---|" + "---:|" * 6]
    for path, c in sorted(by_file.items()):
        total, killed, survived, untested = c.total(), c["killed"], c["survived"], c["no tests"]
        score = f"{100 * killed / total:.1f} %" if total else "—"
        other = total - killed - survived - untested
        lines.append(f"| `{path}` | {total} | {killed} | {survived} | {untested} | {other} | {score} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", action="store_true", help="only print the table of the last run")
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 1, help="parallel mutant runs")
    parser.add_argument("names", nargs="*", help="only these mutants (globs such as 'runners.module.*')")
    args = parser.parse_args()
    if not args.table:
        start = time.perf_counter()
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # each mutant on one core
        command = ["mutmut", "run", "--max-children", str(args.max_children), *args.names]
        run = subprocess.run(command, cwd=ROOT, env=env)
        print(f"\nmutmut run: exit code {run.returncode}, {time.perf_counter() - start:.0f} s", file=sys.stderr)
    print(table(counts()))


if __name__ == "__main__":
    main()
