"""Benchmark cases for the doors' share of the control tick: DoorPair.tick with both doors moving
(easing, blend, two servo writes on the simulated LEDC) and with both at rest, in heap bytes (target 0)
and microseconds per 20 ms tick, under the MicroPython unix port."""

import time

from gullwing.doors import Door, DoorPair
from gullwing.servo import Calibration, Servo
from simboard import board

FRAME_MS = 20


NEAR_WRAP = (1 << 30) - 3  # counters three steps short of the chip's small-int limit


def _pair(start_us=0):
    board.reset("ESP32", start_us=start_us)
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
    return tick, pair


def _arriving_near_the_limits():
    # ticks_ms wraps during the run and the arrival counts pass 2**30: short moves back and forth
    pair = _pair(start_us=((1 << 30) - 30_000) * 1000)
    pair.left.arrived = pair.right.arrived = NEAR_WRAP
    state = [0]

    def tick():
        if not pair.left.moving and not pair.right.moving:
            state[0] ^= 1
            pair.to(time.ticks_ms(), 10 * state[0], ms=100)
        pair.tick(time.ticks_ms())
        board.advance_ms(FRAME_MS)

    return tick, pair


def _both_at_rest():
    pair = _pair()
    pair.to(time.ticks_ms(), 45)
    tick = _ticker(pair)
    for _ in range(150):
        tick()
    return tick, pair


CASES = [
    ("doors: DoorPair.tick, both moving", 0, _both_moving),
    ("doors: DoorPair.tick, both held", 0, _both_at_rest),
    ("doors: moves and arrivals, ticks and counts past 2**30", -1, _arriving_near_the_limits),
]
