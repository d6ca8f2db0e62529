"""`make bench`: allocation and speed of the firmware's hot paths under the MicroPython unix port, and
deploying to a virtual board against mpremote.

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
CASE_MODULES = ["cases_sim", "cases_engine", "cases_doors", "cases_rcin", "cases_app"]


def micropython():
    found = Path(sys.executable).with_name("micropython")
    return str(found) if found.exists() else "micropython"


def _run_micropython(*args):
    env = dict(os.environ, MICROPYPATH=os.pathsep.join([*map(str, MODULE_PATH), ".frozen"]))
    return subprocess.run([micropython(), *args], capture_output=True, text=True, env=env, timeout=600)


def run_cases(modules=CASE_MODULES):
    proc = _run_micropython(str(ROOT / "bench" / "mpy_bench.py"), *modules)
    if proc.returncode != 0:
        raise SystemExit("benchmark run failed under MicroPython:\n" + proc.stdout + proc.stderr)
    rows = []
    for line in proc.stdout.splitlines():
        name, target, kept, total, sim, bigs, firmware, us, first = line.split("\t")
        rows.append((name, int(target), int(kept), int(total), int(sim), int(bigs), int(firmware), float(us), first))
    return rows


def main(args=()):
    console = Console()
    if list(args) == ["sound"]:  # `python -m bench sound`: the sound's section alone
        return 1 if sound_table(console) else 0
    missed = alloc_table(console)
    missed += sound_table(console)
    missed += audio_table(console)
    missed += doors_flash(console)
    missed += deploy_table(console)
    missed += roundtrip_table(console)
    missed += failsafe_table(console)
    missed += halt_table(console)
    missed += flood_table(console)
    missed += web_table(console)
    missed += provision_table(console)
    return 1 if missed else 0


def alloc_table(console, modules=CASE_MODULES):
    rows = run_cases(modules)
    table = Table(title="Heap bytes per call (MicroPython unix port, 64-bit: about twice the chip's bytes)")
    for column in ("case", "kept", "all", "simulator", "big ints", "firmware", "target", "us/call", "verdict"):
        table.add_column(column, justify="left" if column == "case" else "right")
    missed = 0
    for name, target, kept, total, sim, bigs, firmware, us, first in rows:
        ok = bigs == 0 and (target < 0 or firmware <= target)
        missed += not ok
        table.add_row(name, str(kept), str(total), str(sim), str(bigs) + (" " + first if first else ""), str(firmware),
                      "-" if target < 0 else f"<= {target}", f"{us:.2f}", "[green]ok[/]" if ok else "[red]MISSED[/]")
    console.print(table)
    console.print("all: every byte allocated per call, freed or kept (a frame over 11 words comes from the heap); "
                  "simulator: its own calls' share; firmware: all - simulator + 32 bytes per int past 2**30")
    return missed


def doors_flash(console):
    """The doors' flash writes in an 8-hour showroom loop against their target (bench/cases_doors.py)."""
    proc = _run_micropython("-c", "import cases_doors\nfor text, ok in cases_doors.verdicts(): print(int(ok), text)")
    if proc.returncode != 0:
        raise SystemExit("flash-write count failed under MicroPython:\n" + proc.stdout + proc.stderr)
    return _verdicts(console, [(line[2:], line[0] == "1") for line in proc.stdout.splitlines()])


def sound_table(console):
    """The synthesizer: heap bytes per block (the allocation table's row), host microseconds and callgrind's
    instructions per second of audio (bench/cases_sound.py, bench/sound_bench.py)."""
    from bench import sound_bench

    missed = alloc_table(console, ["cases_sound"])
    seconds = sound_bench.SECONDS
    proc = _run_micropython("-c", f"import cases_sound\nprint(cases_sound.us_per_audio_second({seconds}))")
    if proc.returncode != 0:
        raise SystemExit("sound timing failed under MicroPython:\n" + proc.stdout + proc.stderr)
    env = dict(os.environ, MICROPYPATH=os.pathsep.join([*map(str, MODULE_PATH), ".frozen"]))
    per_second = sound_bench.instructions_per_second(micropython(), env)
    table = Table(title=f"The engine's sound, per second of audio ({seconds} s cycle, engine's share taken off)")
    for column in ("measure", "per second of audio", "target"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    table.add_row("host microseconds (MicroPython unix port)", f"{float(proc.stdout):,.0f}", "-")
    table.add_row("instructions (callgrind, unix port)", "-" if per_second is None else f"{per_second:,}",
                  f"<= {sound_bench.TARGET_INSTRUCTIONS:,}")
    console.print(table)
    return missed + _verdicts(console, sound_bench.verdicts(per_second))


def audio_table(console):
    """Reading and measuring a 30 s recording (bench/audio_bench.py): the speed the sound's tests rely on."""
    from bench import audio_bench

    return _verdicts(console, audio_bench.verdicts(audio_bench.run()))


def provision_table(console):
    from bench import provision_bench

    one, many = provision_bench.run()
    console.print(f"Provisioning (deploy and self-test): 1 board {one:.1f} s, "
                  f"{provision_bench.MANY} boards {many:.1f} s")
    return _verdicts(console, provision_bench.verdicts(one, many))


def roundtrip_table(console):
    from bench import roundtrip_bench

    rows, verdicts = roundtrip_bench.summary(*roundtrip_bench.run())
    table = Table(title=f"A request's round trip at {roundtrip_bench.BAUD} baud, one virtual board")
    for column in ("way", "p50 ms", "p99 ms"):
        table.add_column(column, justify="left" if column == "way" else "right")
    for name, p50, p99 in rows:
        table.add_row(name, f"{p50:.1f}", f"{p99:.1f}")
    console.print(table)
    return _verdicts(console, verdicts)


def failsafe_table(console):
    from bench import failsafe_bench

    rows, verdicts = failsafe_bench.summary(*failsafe_bench.run())
    table = Table(title=f"RC failsafe: the signal cut {failsafe_bench.TRIALS} times, from the end of the last "
                        "pulse, one virtual board")
    for column in ("to", "p50 ms", "p99 ms", "max ms"):
        table.add_column(column, justify="left" if column == "to" else "right")
    for name, p50, p99, most in rows:
        table.add_row(name, f"{p50:.1f}", f"{p99:.1f}", f"{most:.1f}")
    console.print(table)
    return _verdicts(console, verdicts)


def halt_table(console):
    from bench import halt_bench

    failed = halt_bench.run()
    for run, gap_ms, said in failed:
        console.print(f"run {run}, Ctrl-Cs {gap_ms} ms apart: {said!r}")
    return _verdicts(console, halt_bench.summary(failed))


def flood_table(console):
    from bench import flood_bench

    return _verdicts(console, flood_bench.verdicts(flood_bench.run()))


def web_table(console):
    from bench import web_bench

    return _verdicts(console, web_bench.summary(web_bench.run()))


def deploy_table(console):
    from bench import deploy_bench

    rows = deploy_bench.run()
    table = Table(title=f"Deploy at {deploy_bench.BAUD} baud, one virtual board, side by side")
    for column in ("run", "seconds", "bytes on the wire"):
        table.add_column(column, justify="left" if column == "run" else "right")
    for name, (seconds, wire) in rows.items():
        table.add_row(name, f"{seconds:.2f}", f"{wire:,}")
    console.print(table)
    return _verdicts(console, deploy_bench.verdicts(rows))


def _verdicts(console, verdicts):
    missed = 0
    for text, ok in verdicts:
        console.print(("[green]ok[/]     " if ok else "[red]MISSED[/] ") + text)
        missed += not ok
    return missed


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
