"""`make bench`: runs the benchmark cases under the MicroPython unix port and prints a table.

Exits non-zero when a case misses its target, so a regression is visible wherever it runs.
"""

import os
import subprocess
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
MODULE_PATH = [ROOT / "bench", ROOT / "firmware", ROOT / "host_tools" / "sim"]
CASE_MODULES = ["cases_sim", "cases_engine", "cases_doors"]


def micropython():
    found = Path(sys.executable).with_name("micropython")
    return str(found) if found.exists() else "micropython"


def run_cases(modules=CASE_MODULES):
    env = dict(os.environ, MICROPYPATH=os.pathsep.join([*map(str, MODULE_PATH), ".frozen"]))
    proc = subprocess.run([micropython(), str(ROOT / "bench" / "mpy_bench.py"), *modules],
                          capture_output=True, text=True, env=env, timeout=600)
    if proc.returncode != 0:
        raise SystemExit("benchmark run failed under MicroPython:\n" + proc.stdout + proc.stderr)
    rows = []
    for line in proc.stdout.splitlines():
        name, target, alloc, us = line.split("\t")
        rows.append((name, int(target), int(alloc), float(us)))
    return rows


def main():
    rows = run_cases()
    table = Table(title="Allocation per call (MicroPython unix port, gc disabled)")
    for column in ("case", "bytes/call", "target", "us/call", "verdict"):
        table.add_column(column, justify="left" if column == "case" else "right")
    missed = 0
    for name, target, alloc, us in rows:
        ok = target < 0 or alloc <= target
        missed += not ok
        table.add_row(name, str(alloc), "-" if target < 0 else f"<= {target}", f"{us:.2f}",
                      "[green]ok[/]" if ok else "[red]MISSED[/]")
    Console().print(table)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
