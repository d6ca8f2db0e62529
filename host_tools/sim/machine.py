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
from simi2s import I2S  # noqa: F401
from simpin import Pin, gpio_of  # noqa: F401
from simpwm import PWM  # noqa: F401
from simuart import UART  # noqa: F401

# ports/esp32/machine_timer.c: a hardware Timer (id >= 0) is a general-purpose timer counting at its source
# clock (80 MHz APB or PLL) / TIMER_DIVIDER 8; a virtual Timer (id < 0) is an esp_timer, counting microseconds.
TIMER_GROUP_HZ = 10_000_000
VIRTUAL_TIMER_HZ = 1_000_000


class Timer:
    """machine.Timer of the ESP32 port (ports/esp32/machine_timer.c). Every callback goes through the
    scheduler (machine_timer_handler: mp_sched_schedule), so it runs from the main flow, is lost when the
    8-deep queue is full, and a Timer without a callback schedules None (a TypeError printed each time)."""

    ONE_SHOT = 0
    PERIODIC = 1

    def __new__(cls, id=-1, **kwargs):
        # machine_timer_create(): a hardware timer already made is handed back, running or not
        made = board.hw_timers.get(id) if id >= 0 else None
        if made is not None:
            return made
        if id >= len(board.chip.hw_timers):
            raise ValueError("Timer(" + str(id) + ") doesn't exist, there are only "
                             + str(len(board.chip.hw_timers)) + " hardware timers")
        self = object.__new__(cls)
        self._id = id
        self._hz = TIMER_GROUP_HZ if id >= 0 else VIRTUAL_TIMER_HZ
        self._gen = 0  # bumped to cancel a queued TIMER_EVENT
        self._period = 0  # in counts of _hz; 0: not initialised
        self._repeat = False
        self._callback = None
        self._start_us = 0  # when the count started from 0
        self._fired = 0  # alarms since then
        self._stop_count = 0  # the count a stopped timer holds
        self._running = False
        if id >= 0:
            board.hw_timers[id] = self  # kept for reuse, as the port's linked list does
        return self

    def __init__(self, id=-1, **kwargs):
        # machine_timer_make_new(): any argument after the id (re)starts the timer
        if kwargs:
            self.init(**kwargs)

    def init(self, *, mode=PERIODIC, callback=None, period=-1, tick_hz=1000, freq=None, hard=False):
        # machine_timer_init_helper()
        if self._period:
            self.deinit()
        if hard:
            raise ValueError("hard Timers are not implemented")
        if not isinstance(period, int) or not isinstance(tick_hz, int):
            raise TypeError("can't convert float to int")  # MP_ARG_INT
        if freq is not None:
            if freq <= 0:  # the chip converts an infinite or negative period to a uint64: undefined
                raise ValueError("Timer freq must be positive")
            period_counts = int(self._hz / freq)
        elif period == -1:
            # Upstream computes (uint64)-1 * clock / tick_hz: a period of centuries, a callback that never
            # comes. The simulator refuses it instead of silently never calling back.
            raise ValueError("Timer needs period or freq (without, the chip never calls back)")
        else:
            period_counts = period * self._hz // tick_hz
        if period_counts <= 0:
            raise ValueError("Timer period is too short for this timer")
        self._period = period_counts
        self._repeat = bool(mode)
        self._callback = callback
        self._start_us = board.now()
        self._fired = 0
        self._running = True
        self._queue_alarm()

    def _queue_alarm(self):
        # the next alarm at a whole microsecond: start + (alarms so far + 1) periods, rounded up
        counts = (self._fired + 1) * self._period
        board.at(self._start_us - (-counts * 1_000_000 // self._hz), TIMER_EVENT, self, self._gen)

    def fire(self, gen):
        if gen != self._gen:
            return  # deinit or re-init since this was queued
        self._fired += 1
        if self._repeat:
            self._queue_alarm()
        else:
            self._running = self._id >= 0  # a one-shot hardware count runs on; an esp_timer stops
            self._stop_count = self._period
        board.sched(self._callback, self)  # a full queue loses the call, as mp_sched_schedule() does

    def _count(self):
        """The timer's count now: since the last reload of a periodic timer, since the start of a one-shot."""
        if not self._running:
            return self._stop_count
        count = (board.now() - self._start_us) * self._hz // 1_000_000
        return count % self._period if self._repeat else count

    def value(self):
        # machine_timer_value(): the count in milliseconds
        return self._count() // (self._hz // 1000)

    def deinit(self):
        # machine_timer_deinit(): a hardware timer's count stops where it is; a virtual one's reads 0
        self._stop_count = self._count() if self._id >= 0 else 0
        self._running = False
        self._gen += 1
        self._period = 0
        self._repeat = False
        self._callback = None

    def __repr__(self):
        # machine_timer_print() names the mode the other way round; the period in ms
        mode = "ONE_SHOT" if self._repeat else "PERIODIC"
        return "Timer(" + str(self._id) + ", mode=" + mode + ", period=" + str(self._period // (self._hz // 1000)) + ")"


class WDT:
    """The task watchdog (ports/esp32/machine_wdt.c): one for the whole board. Another WDT() gives the same
    object with the new timeout (esp_task_wdt_reconfigure restarts the count); nothing stops it."""

    _the = None

    def __new__(cls, id=0, timeout=5000):
        if id != 0 or isinstance(id, bool) or not isinstance(id, int):
            raise ValueError("WDT id must be 0")
        if timeout <= 0:
            raise ValueError("WDT timeout too short")
        if WDT._the is None:
            WDT._the = object.__new__(cls)
        board.wdt_timeout_us = timeout * 1000
        board.feed_wdt()
        return WDT._the

    def feed(self):
        board.feed_wdt()


class Signal:
    """extmod/machine_signal.c: a pin seen as active or not, `invert` for active-low wiring. The first
    argument is a Pin (or Signal), or else every argument but `invert` makes a Pin; a `value=` given then
    is the signal's, inverted for the pin."""

    def __init__(self, *args, invert=False, **kwargs):
        if args and isinstance(args[0], (Pin, Signal)):
            if len(args) != 1 or kwargs:
                raise TypeError()
            self._pin = args[0]
        else:
            if invert and "value" in kwargs:
                kwargs["value"] = 0 if kwargs["value"] else 1
            self._pin = Pin(*args, **kwargs)
        self._invert = 1 if invert else 0

    def value(self, *x):
        if not x:
            return self._pin.value() ^ self._invert
        self._pin.value((1 if x[0] else 0) ^ self._invert)
        return None

    def __call__(self, *x):
        return self.value(*x)

    def on(self):
        self._pin.value(1 ^ self._invert)

    def off(self):
        self._pin.value(0 ^ self._invert)


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


# machine.lightsleep()/deepsleep() wake-up causes (esp_sleep_source_t, ports/esp32/modmachine.c) and sleep kinds
PIN_WAKE = EXT0_WAKE = 2
EXT1_WAKE = 3
TIMER_WAKE = 4
TOUCHPAD_WAKE = 5
ULP_WAKE = 6
SLEEP = 2
DEEPSLEEP = 4


def reset():
    # mp_machine_reset(): esp_restart(), read back as ESP_RST_SW -> HARD_RESET
    board.reset_cause = HARD_RESET
    raise HardReset("machine.reset()")


def soft_reset(*code):
    # extmod/modmachine.c: soft_reset is sys.exit; the REPL soft-resets on SystemExit (machine_deinit()
    # then makes reset_cause() SOFT_RESET)
    board.reset_cause = SOFT_RESET
    raise SystemExit(*code)


def reset_cause():
    return board.reset_cause


def unique_id():
    # mp_machine_unique_id(): the 6-byte base MAC address
    return board.uid


# mp_machine_set_freq(): the MHz each chip takes, and its refusal word for word
_CPU_MHZ_240 = ((20, 40, 80, 160, 240), "frequency must be 20MHz, 40MHz, 80Mhz, 160MHz or 240MHz")
_CPU_MHZ_160 = ((20, 40, 80, 160), "frequency must be 20MHz, 40MHz, 80Mhz or 160MHz")  # ESP32-C3


def freq(*hz):
    """mp_machine_get_freq()/mp_machine_set_freq(): in Hz, whole MHz (the value is divided by 10^6 first)."""
    if len(hz) > 1:
        raise TypeError("function expected at most 1 arguments, got " + str(len(hz)))
    if not hz:
        return board.cpu_freq
    if not isinstance(hz[0], int):
        raise TypeError("can't convert " + type(hz[0]).__name__ + " to int")
    mhz = int(hz[0] / 1_000_000)  # C division: towards zero
    allowed, refusal = _CPU_MHZ_240 if max(board.chip.cpu_freqs) >= 240_000_000 else _CPU_MHZ_160
    if mhz not in allowed:
        raise ValueError(refusal)
    board.cpu_freq = mhz * 1_000_000
    return None


def idle():
    # mp_machine_idle(): yields to other tasks; here, lets due events fire
    board.now()


def disable_irq():
    # MICROPY_BEGIN_ATOMIC_SECTION(): returns a state for enable_irq()
    state = board.irq_state
    board.irq_state = 0
    return state


def enable_irq(state):
    board.irq_state = state


def _sleep_ms(args, kind):
    if len(args) > 1:
        raise TypeError("function expected at most 1 arguments, got " + str(len(args)))
    if not args:
        return -1
    ms = args[0]
    if not isinstance(ms, int):
        raise TypeError("can't convert " + type(ms).__name__ + " to int")
    if ms < 0:  # the chip takes it as a uint64 of microseconds: a sleep of ages
        raise ValueError(kind + " time must not be negative")
    return ms


def lightsleep(*ms):
    """machine_sleep_helper(MACHINE_WAKE_SLEEP): the timer is the only wake source the simulator has; the
    clock moves on by the time asleep. Without one the chip sleeps until a reset: refused here."""
    ms = _sleep_ms(ms, "lightsleep")
    if ms < 0:
        raise ValueError("lightsleep() without a time: nothing would wake the board")
    board.sleep_ms(ms)
    board.wake_cause = TIMER_WAKE


sleep = lightsleep  # MICROPY_PY_MACHINE_EXTRA_GLOBALS: machine.sleep is lightsleep


def deepsleep(*ms):
    """mp_machine_deepsleep(): the board powers down and boots again: with a time, after it, as a
    DEEPSLEEP_RESET woken by the timer; without, when its reset button is pressed (a power-on reset)."""
    ms = _sleep_ms(ms, "deepsleep")
    board.reset_cause = DEEPSLEEP_RESET if ms >= 0 else PWRON_RESET
    board.wake_cause = TIMER_WAKE if ms >= 0 else 0
    raise HardReset("machine.deepsleep()")


def wake_reason():
    # esp_sleep_get_wakeup_cause(): 0 (undefined) after power-on or a reset other than a wake-up
    return board.wake_cause
