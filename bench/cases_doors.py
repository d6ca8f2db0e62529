"""Benchmark cases for the doors' share of the control tick: DoorPair.tick with both doors moving
(easing, blend, two servo writes on the simulated LEDC) and with both at rest, in heap bytes (target 0)
and microseconds per 20 ms tick, under the MicroPython unix port. And the flash writes of an 8-hour
showroom loop (`verdicts()`), against at most one a door cycle and one a minute."""

import time

from gullwing.doors import Door, DoorPair
from gullwing.restsave import RestSaver
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


# -- flash writes: an 8-hour showroom loop ---------------------------------------------------------

SHOW_MS = 8 * 3600 * 1000
OPEN_REST_MS = 10_000  # the doors stay open 10 s, then close and rest closed 30 s
CLOSED_REST_MS = 30_000
POLL_MS = 1000  # the saver's task and, between moves, the control tick (a door's motion is timed, not stepped)


class _Count:
    """A store that counts its writes (the bench measures the saver, not the flash)."""

    def __init__(self):
        self.writes = 0

    def load_dict(self):
        return None

    def save_dict(self, data):
        self.writes += 1


def showroom_loop(show_ms=SHOW_MS):
    """(flash writes, door cycles) of the loop run for `show_ms` in simulated time: the doors tick every
    frame while they move; at rest, they tick and the saver looks once a second, as its task does."""
    pair = _pair()
    store = _Count()
    saver = RestSaver(pair, store)
    start = time.ticks_ms()
    cycles = 0
    opening = True
    due = start  # when the next move starts
    while time.ticks_diff(time.ticks_ms(), start) < show_ms:
        now = time.ticks_ms()
        if not pair.moving and time.ticks_diff(now, due) >= 0:
            if opening:
                pair.open(now)
                cycles += 1
            else:
                pair.close(now)
            opening = not opening
        pair.tick(now)
        if pair.moving:
            board.advance_ms(FRAME_MS)
        else:
            if time.ticks_diff(due, now) <= 0:  # just arrived: the rest starts now
                due = time.ticks_add(now, CLOSED_REST_MS if opening else OPEN_REST_MS)
            board.advance_ms(POLL_MS)
            board.trace.clear()
            saver.poll(time.ticks_ms())  # (while a door moves, the saver's look writes nothing)
    return store.writes, cycles


def verdicts():
    """The flash-write target of the showroom loop: (description, met)."""
    writes, cycles = showroom_loop()
    target = min(cycles, SHOW_MS // RestSaver(_pair(), _Count()).interval_ms)
    return [("doors: " + str(writes) + " flash writes in an 8-hour showroom loop of " + str(cycles)
             + " door cycles (<= " + str(target) + ": one a cycle and one a minute at most)", writes <= target)]
