"""The engine's sound in `make bench`: heap bytes per block, host microseconds per second of audio, and
instructions per second of audio counted with callgrind (the stable figure), under the MicroPython unix
port, over bench/cases_sound.py's 12 s cycle.

Instructions: valgrind's callgrind counts every instruction the interpreter executes for SECONDS of the
cycle with its blocks rendered, and again with them left out (the engine alone; the interpreter's start,
imports and the Sound's tables are in both); the difference over SECONDS is the synthesizer's. The count
is deterministic for a given build, unlike the microseconds, which follow the host's load.
"""

import os
import re
import shutil
import subprocess
import tempfile

SECONDS = 12  # the whole cycle: starter, idle, limiter, blow-off, spin-down and silence
TARGET_INSTRUCTIONS = 24_000_000  # per second of audio: 10 % of one 240 MHz core at one instruction a cycle
COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def instructions(micropython, env, render):
    """Instructions callgrind counts for the cycle's run (render=False: the engine alone)."""
    script = os.path.join(os.path.dirname(__file__), "cases_sound.py")
    with tempfile.TemporaryDirectory() as out:
        proc = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + os.path.join(out, "cg"),
                               micropython, script, str(SECONDS)] + ([] if render else ["engine"]),
                              capture_output=True, text=True, env=dict(env, PYTHONHASHSEED="0"), timeout=600)
    found = COLLECTED.search(proc.stderr)
    if proc.returncode != 0 or not found:
        raise SystemExit("callgrind run failed:\n" + proc.stdout + proc.stderr)
    return int(found.group(1))


def instructions_per_second(micropython, env):
    """The synthesizer's instructions per second of audio, or None when valgrind is not installed."""
    if not shutil.which("valgrind"):
        return None
    return (instructions(micropython, env, True) - instructions(micropython, env, False)) // SECONDS


def verdicts(per_second):
    if per_second is None:
        return [("instructions per second of audio: not counted, valgrind is not installed (apt-get install "
                 "valgrind)", True)]
    return [(f"the sound: {per_second / 1e6:.1f} M instructions per second of audio "
             f"(<= {TARGET_INSTRUCTIONS // 1_000_000} M)", per_second <= TARGET_INSTRUCTIONS)]
