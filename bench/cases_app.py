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


def _running_app():
    board.reset("ESP32")
    _clear_state()
    problems = []
    pins = {"door_left": 18, "door_right": 19, "motor": 25, "buzzer": 23}
    cfg = config.merge(config.DEFAULTS, {"pins": pins}, "", problems)
    a = app.App(cfg, time.ticks_ms(), STATE_DIR, problems)
    a.handle("events on", time.ticks_ms())

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
    return tick


CASES = [
    ("app: control tick, doors moving, engine running", 0, _running_app),
]
