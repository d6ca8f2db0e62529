"""Benchmark cases for the RC receiver: Receiver.poll in the control tick with three channels
receiving, and one pin edge through its interrupt handler, in heap bytes (target 0) and
microseconds per call, under the MicroPython unix port.

Edges are driven by hand (board.drive) rather than scheduled as pulse trains: the simulator's event
queue allocates, which would hide the firmware's own figure."""

import time

from gullwing.rcin import Receiver
from simboard import board

THROTTLE, DOOR, ENGINE = 34, 35, 36
FRAME_US = 20_000


def _pulse(gpio, width_us):
    board.drive(gpio, 1)
    board.advance_us(width_us)
    board.drive(gpio, 0)


def _receiving():
    board.reset("ESP32")
    rx = Receiver(THROTTLE, DOOR, ENGINE)
    sweep = tuple(range(1500, 2001, 50)) + tuple(range(2000, 1499, -50))  # the trigger in and out
    state = [0]

    def frame():
        i = state[0]
        state[0] = (i + 1) % len(sweep)
        width = sweep[i]
        _pulse(THROTTLE, width)
        _pulse(DOOR, 1000)
        _pulse(ENGINE, 2000)
        board.advance_us(FRAME_US - width - 3000)
        rx.poll(time.ticks_us())
        rx.take_events()

    for _ in range(10):
        frame()  # in control from here on
    rx.throttle_channel.frames = rx.door_toggles = rx.failsafes = (1 << 30) - 3  # counts about to wrap
    return frame, rx


def _edge():
    board.reset("ESP32")
    Receiver(THROTTLE)  # lives on through its pin's handler
    level = [0]

    def edge():
        level[0] ^= 1
        board.advance_us(1500 if level[0] else FRAME_US - 1500)
        board.drive(THROTTLE, level[0])

    return edge


CASES = [
    ("rc: 20 ms frame on 3 channels + Receiver.poll", 0, _receiving),
    ("rc: one pin edge (interrupt handler)", 0, _edge),
]
