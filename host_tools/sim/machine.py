"""`machine` of the simulated ESP32, with the behaviour of MicroPython's esp32 port.

What real hardware refuses, this refuses too: pins the chip lacks or that belong to the flash, output
on input-only pins, more PWM channels or timer frequencies than the LEDC peripheral has. Duty values
land on the grid the chip's timer resolution gives. Every output change is traced (see simtrace).
"""

from simboard import (  # noqa: F401  (re-exported as machine.* like the real module)
    DEEPSLEEP_RESET,
    HARD_RESET,
    PWRON_RESET,
    SOFT_RESET,
    TIMER_EVENT,
    WDT_RESET,
    HardReset,
    board,
)
from simpin import Pin, gpio_of  # noqa: F401
from simpwm import PWM  # noqa: F401
from simuart import UART  # noqa: F401


class Timer:
    ONE_SHOT = 0
    PERIODIC = 1

    def __init__(self, id, *, mode=PERIODIC, period=-1, freq=-1, tick_hz=1000, callback=None, hard=False):
        if id not in board.chip.hw_timers:
            raise ValueError("invalid Timer number " + str(id) + " on " + board.chip.name)
        self._id = id
        self._gen = 0
        self._period_us = 0
        self._mode = Timer.PERIODIC
        self._callback = None
        self._started_us = 0
        if period != -1 or freq != -1:
            self.init(mode=mode, period=period, freq=freq, tick_hz=tick_hz, callback=callback, hard=hard)

    def init(self, *, mode=PERIODIC, period=-1, freq=-1, tick_hz=1000, callback=None, hard=False):
        if freq > 0:
            period_us = 1_000_000 // freq
        elif period >= 0:
            period_us = period * 1_000_000 // tick_hz
        else:
            raise ValueError("need period or freq")
        if period_us <= 0:
            raise ValueError("period too short")
        previous = board.hw_timers.get(self._id)
        if previous is not None and previous is not self:
            previous.deinit()  # one hardware timer, one owner
        board.hw_timers[self._id] = self
        self._gen += 1
        self._mode = mode
        self._period_us = period_us
        self._callback = callback
        self._started_us = board.now()
        board.at(self._started_us + period_us, TIMER_EVENT, self, self._gen)

    def fire(self, gen):
        if gen != self._gen:
            return  # deinit or re-init since this was queued
        if self._mode == Timer.PERIODIC:
            board.at(board.now_us + self._period_us, TIMER_EVENT, self, gen)
        else:
            self._gen += 1
        if self._callback is not None:
            self._callback(self)

    def value(self):
        return (board.now() - self._started_us) // 1000

    def deinit(self):
        self._gen += 1
        if board.hw_timers.get(self._id) is self:
            del board.hw_timers[self._id]


# UARTs of each chip (UART0 is the REPL's); the app's own channel uses UART1, which every chip has.


class WDT:
    def __init__(self, id=0, timeout=5000):
        if id != 0:
            raise ValueError("WDT id must be 0")
        if timeout < 1:
            raise ValueError("WDT timeout too short")
        board.wdt_timeout_us = timeout * 1000
        board.feed_wdt()

    def feed(self):
        board.feed_wdt()


def time_pulse_us(pin, pulse_level, timeout_us=1_000_000):
    """extmod/machine_pulse.c: machine_time_pulse_us(). Waits for `pulse_level` (at once if the pin is
    already there), then for its end: the width in us; -2 if the pulse does not start within
    `timeout_us`, -1 if it does not end within `timeout_us` of its start. The pin is sampled at the
    exact times its level can change (a PWM's edges, queued events), whatever the clock: on real time the
    width comes from the waveform, and the call returns once the board's clock has passed its end."""
    gpio = gpio_of(pin)
    level = 1 if pulse_level else 0
    changes = 2
    t = board.now()
    start = t
    while True:
        if board.level_at(gpio, t) == level:
            level = 1 - level
            changes -= 1
            if changes == 0:
                return t - start
            start = t
        else:
            nxt = board.next_change_us(gpio, t)
            limit = start + timeout_us
            if nxt < 0 or nxt > limit:
                board.wait_edge(limit)
                return -changes
            board.wait_edge(nxt)
            t = nxt


def reset():
    board.reset_cause = HARD_RESET
    raise HardReset("machine.reset()")


def soft_reset():
    board.reset_cause = SOFT_RESET
    raise SystemExit


def reset_cause():
    return board.reset_cause


def unique_id():
    return board.uid


def freq(hz=None):
    if hz is None:
        return board.cpu_freq
    if hz not in board.chip.cpu_freqs:
        raise ValueError("frequency must be one of " + ", ".join(str(f) for f in board.chip.cpu_freqs))
    board.cpu_freq = hz
    return None


def idle():
    board.now()


def disable_irq():
    state = board.irq_state
    board.irq_state = 0
    return state


def enable_irq(state=1):
    board.irq_state = state
