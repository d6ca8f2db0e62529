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
    """Width of the next pulse at `pulse_level`: -2 if it does not start, -1 if it does not end, in time."""
    gpio = gpio_of(pin)
    if not _wait_for_level(gpio, pulse_level, timeout_us):
        return -2
    start = board.now_us
    if not _wait_for_level(gpio, 1 - pulse_level, timeout_us):
        return -1
    return board.now_us - start


def _wait_for_level(gpio, level, timeout_us):
    deadline = board.now() + timeout_us
    while board.level(gpio) != level:
        edge = board.next_edge_us(gpio)
        if edge < 0 or edge > deadline:
            board.wait_until(deadline)
            return False
        board.wait_until(edge)
    return True


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
