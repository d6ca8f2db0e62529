"""`time` of the simulated ESP32 under MicroPython: the built-in module, with the ticks and sleeps
running on the simulated board's clock (hand-advanced in tests, real time on the virtual board). The ticks
wrap at 2^30 as on the chip; on real time asyncio keeps the interpreter's own (see simboard._asyncio_on).

Under CPython the built-in `time` cannot be shadowed; mpcompat.install() adds the same functions.
"""

import sys

_path = sys.path
sys.path = []  # import the interpreter's built-in time, not this file
try:
    from time import *  # noqa: F403
finally:
    sys.path = _path
    del _path

from simboard import board  # noqa: E402

ticks_diff = board.ticks_diff
ticks_add = board.ticks_add
ticks_ms = board.ticks_ms
ticks_us = board.ticks_us
ticks_cpu = board.ticks_cpu
sleep_ms = board.sleep_ms
sleep_us = board.sleep_us
sleep = board.sleep
