"""Benchmark cases for the doors' share of the control tick: DoorPair.tick with both doors moving
(easing, blend, two servo writes on the simulated LEDC) and with both at rest, in heap bytes (target 0)
and microseconds per 20 ms tick, under the MicroPython unix port."""

import time

from gullwing.doors import Door, DoorPair
from gullwing.servo import Calibration, Servo
from simboard import board

FRAME_MS = 20


def _pair():
    board.reset("ESP32")
    left = Door("left", Servo(18, Calibration()))
    right = Door("right", Servo(19, Calibration(reversed=True)))
    return DoorPair(left, right)


def _ticker(pair):
    def tick():
        pair.tick(time.ticks_ms())
        board.advance_ms(FRAME_MS)

    return tick


def _both_moving():
    pair = _pair()
    pair.open(time.ticks_ms(), ms=60_000)  # longer than the ~2200 ticks the bench runs
    tick = _ticker(pair)
    for _ in range(5):  # past the right door's stagger: both move
        tick()
    return tick


def _both_at_rest():
    pair = _pair()
    pair.to(time.ticks_ms(), 45)
    tick = _ticker(pair)
    for _ in range(150):
        tick()
    return tick


CASES = [
    ("doors: DoorPair.tick, both moving", 0, _both_moving),
    ("doors: DoorPair.tick, both held", 0, _both_at_rest),
]
