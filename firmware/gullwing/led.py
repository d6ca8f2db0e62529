"""The status LED: what the firmware is doing, in blink patterns a builder reads without a PC.

Each pattern is a cycle of times in ms, lit first, then dark, lit, dark...; every time is a multiple of
the 20 ms control tick, so the tick sees each change on time. docs/troubleshooting.md lists them for
builders. When several hold, the most serious shows (`mode_for`): safe mode, then a fault, then the RC
failsafe, then running. A fault stays until the next reset, so it is what to fix first; the failsafe
ends by itself when the transmitter is back.

    led = StatusLed(gpio, active_low)   # dark at once
    led.mode = mode_for(safe, fault, failsafe)   # whenever the app likes; a new mode starts at once
    led.tick(now_ms)                    # every control tick: writes the pin only when the level changes
    led.stop()                          # stopped at the REPL: lit for good
"""

import time

from machine import Pin

RUNNING = 0
FAILSAFE = 1
FAULT = 2
SAFE_MODE = 3
STOPPED = 4
NAMES = ("running", "failsafe", "fault", "safe_mode", "stopped")

PATTERNS = (
    (100, 100, 100, 1200),  # running: heartbeat, a double flash every 1.5 s, dark in between
    (500, 500),  # failsafe: an even slow blink, once a second
    (100, 100),  # fault: a fast blink, 5 a second
    (1600, 400),  # safe mode: lit, with a long dark wink every 2 s
    (1000, 0),  # stopped: lit, never dark
)

RESYNC_MS = 2000  # a tick later than this (a stalled loop) starts the pattern again rather than catch up


def mode_for(safe_mode, fault, failsafe):
    """The mode to show when these hold (each a truth value): the most serious wins."""
    if safe_mode:
        return SAFE_MODE
    if fault:
        return FAULT
    if failsafe:
        return FAILSAFE
    return RUNNING


class StatusLed:
    def __init__(self, gpio, active_low=False):
        self._dark = 1 if active_low else 0  # the pin level that leaves the LED dark
        # the level is set before the pin becomes an output (ports/esp32/machine_pin.c:
        # machine_pin_obj_init_helper): an active-low LED on a strapping pin never flashes at boot
        self._pin = Pin(gpio, Pin.OUT, value=self._dark)
        self._lit = 0
        self.mode = RUNNING
        self._shown = -1  # the mode the pattern below belongs to: none yet, so the first tick starts it
        self._pattern = PATTERNS[RUNNING]
        self._step = 0  # index into the pattern: even steps are lit
        self._ends = time.ticks_ms()  # ticks_ms when the step ends (set by the first tick)

    def tick(self, now_ms):
        """One control tick: the pattern's level at `now_ms`. Allocates nothing."""
        if self.mode != self._shown:
            self._start(now_ms)
        else:
            late = time.ticks_diff(now_ms, self._ends)
            if late > RESYNC_MS:
                self._start(now_ms)
            elif late >= 0:
                self._advance(now_ms)
        self._show(1 - (self._step & 1))

    def _start(self, now_ms):
        pattern = self._pattern = PATTERNS[self.mode]
        self._shown = self.mode
        self._step = 0
        self._ends = time.ticks_add(now_ms, pattern[0])

    def _advance(self, now_ms):
        # steps that ended by now, skipping those of no length; anchored on the pattern's own times,
        # so a late tick delays a change but never stretches the pattern
        pattern = self._pattern
        while time.ticks_diff(now_ms, self._ends) >= 0:
            step = self._step + 1
            if step == len(pattern):
                step = 0
            self._step = step
            self._ends = time.ticks_add(self._ends, pattern[step])

    def _show(self, lit):
        if lit != self._lit:
            self._lit = lit
            self._pin.value(lit ^ self._dark)

    def stop(self):
        """The firmware stopped (Ctrl-C, a deploy, a crash in safe mode): lit for good, nothing ticks."""
        self.mode = STOPPED
        self._show(1)
