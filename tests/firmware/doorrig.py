"""The two doors on simulated servos as the door tests drive them: the pair, the app's control loop, and the
servo pulses the trace holds. Imported by test files under CPython and MicroPython (docs/testing.md)."""

import time

from gullwing import doors
from gullwing.doors import Door, DoorPair
from gullwing.servo import Calibration, Servo
from simboard import board

LEFT, RIGHT = 18, 19
FRAME = 20  # ms: one servo frame, one control tick


def door_pair(store=None, together=True, stagger_ms=40, hold_ms=1000, left_cal=None, right_cal=None,
              hold_open=True, opening=doors.OPENING_PROFILE):
    """The left door's servo on LEFT, the right one's on RIGHT, mounted the other way round (reversed)."""
    left = Door("left", Servo(LEFT, left_cal or Calibration()), opening=opening, hold_ms=hold_ms,
                hold_open=hold_open)
    right = Door("right", Servo(RIGHT, right_cal or Calibration(reversed=True)), hold_ms=hold_ms,
                 hold_open=hold_open)
    return DoorPair(left, right, store, together, stagger_ms)


def now_ms():
    return time.ticks_ms()


def control_loop(pair, ms):
    """The app's control loop: a tick every servo frame for `ms`."""
    for _ in range(ms // FRAME):
        pair.tick(now_ms())
        board.advance_ms(FRAME)


def pwm_rows(pin):
    """The trace's pulse changes on `pin`."""
    return [row for row in board.trace.rows(pin) if row.kind == "pwm"]
