"""What MicroPython has and CPython lacks, added to CPython's own modules so that firmware code runs
unchanged in CPython tests: the `time.ticks_*` family and `time.sleep_ms/us` on the simulated board's
clock (simboard). Only names CPython lacks are added; nothing of CPython's own is replaced, so
pytest's timing is untouched.
"""

import sys
import time

from simboard import board

_TIME = {
    "ticks_ms": board.ticks_ms,
    "ticks_us": board.ticks_us,
    "ticks_cpu": board.ticks_cpu,
    "ticks_diff": board.ticks_diff,
    "ticks_add": board.ticks_add,
    "sleep_ms": board.sleep_ms,
    "sleep_us": board.sleep_us,
}


def install():
    if sys.implementation.name == "micropython":
        return  # it has all of these; the simulator's time.py routes them to the board
    for name, func in _TIME.items():
        if not hasattr(time, name):
            setattr(time, name, func)
