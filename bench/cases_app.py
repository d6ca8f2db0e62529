"""Benchmark case for the whole control tick (App.tick): both doors moving and the engine running at
part throttle, with its voice on the motor and buzzer pins, in heap bytes (target 0) and microseconds
per 20 ms tick, under the MicroPython unix port."""

import os
import time

from gullwing import app, config
from simboard import board

FRAME_MS = 20
STATE_DIR = "/tmp/gw-bench-app"  # rest positions: cleared first, so the doors start closed


def _clear_state():
    try:
        for name in os.listdir(STATE_DIR):
            os.remove(STATE_DIR + "/" + name)
    except OSError:
        pass  # not there yet: App makes it


NEAR_WRAP = (1 << 30) - 3  # counters three steps short of the chip's small-int limit


def _running_app(start_us=0, counts=0):
    board.reset("ESP32", start_us=start_us)
    _clear_state()
    problems = []
    pins = {"door_left": 18, "door_right": 19, "motor": 25, "buzzer": 23, "led": 4}
    cfg = config.merge(config.DEFAULTS, {"pins": pins}, "", problems)
    a = app.App(cfg, time.ticks_ms(), STATE_DIR, problems)
    a.handle("events on", time.ticks_ms())
    a.engine.limiter_hits = a.engine.blowoffs = counts
    a.doors.left.arrived = a.doors.right.arrived = counts
    a.events.watch(a.doors)

    def tick():
        a.tick(time.ticks_ms())
        board.advance_ms(FRAME_MS)
        a.outbox.clear()
        board.trace.clear()  # the simulator's in-memory trace would otherwise grow

    a.handle("engine start", time.ticks_ms())
    for _ in range(125):  # cranked, caught, idling
        tick()
    a.handle("throttle 30", time.ticks_ms())
    a.handle("door both open 60000", time.ticks_ms())  # longer than the ~2200 ticks the bench runs
    for _ in range(5):  # past the right door's stagger: both move
        tick()
    return tick, a


def _near_the_limits():
    # ticks_ms wraps at 2**30 a few seconds into the run, the engine's counts pass 2**30 on the limiter
    tick, a = _running_app(start_us=((1 << 30) - 5_000) * 1000, counts=NEAR_WRAP - 60)
    a.handle("events off", time.ticks_ms())  # on the limiter: nothing said, nothing allocated
    a.handle("throttle 100", time.ticks_ms())
    for _ in range(150):
        tick()
    return tick, a


CASES = [
    ("app: control tick, doors moving, engine running", 0, _running_app),
    ("app: control tick, ticks and counts past 2**30", 0, _near_the_limits),
]
