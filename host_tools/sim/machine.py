"""`machine` of the simulated ESP32, with the behaviour of MicroPython's esp32 port.

What real hardware refuses, this refuses too: pins the chip lacks or that belong to the flash, output
on input-only pins, more PWM channels or timer frequencies than the LEDC peripheral has. Duty values
land on the grid the chip's timer resolution gives. Every output change is traced (see simtrace).
"""

import io

import chips
import simboard
import simtrace
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


def _gpio(pin):
    if isinstance(pin, Pin):
        return pin._id
    if isinstance(pin, int) and not isinstance(pin, bool):
        return pin
    raise TypeError("expecting a pin, got " + type(pin).__name__)


def _check_pin(gpio, output):
    problem = board.chip.pin_problem(gpio, output)
    if problem:
        raise ValueError(problem)


class _PinIRQ:
    def __init__(self, state):
        self._state = state

    def trigger(self):
        return self._state.irq_trigger

    def flags(self):
        return self._state.irq_trigger


class Pin:
    IN = 1
    OUT = 3
    OPEN_DRAIN = 7
    PULL_DOWN = 1
    PULL_UP = 2
    PULL_HOLD = 4
    IRQ_RISING = 1
    IRQ_FALLING = 2
    WAKE_LOW = 4
    WAKE_HIGH = 5
    DRIVE_0 = 0
    DRIVE_1 = 1
    DRIVE_2 = 2
    DRIVE_3 = 3

    def __init__(self, id, mode=-1, pull=-1, *, value=None, drive=None, hold=None):
        gpio = _gpio(id)
        _check_pin(gpio, False)
        self._id = gpio
        self.init(mode, pull, value=value, drive=drive, hold=hold)

    def __repr__(self):
        return "Pin(" + str(self._id) + ")"

    def init(self, mode=-1, pull=-1, *, value=None, drive=None, hold=None):
        state = board.pin(self._id)
        if mode not in (-1, None, Pin.IN, Pin.OUT, Pin.OPEN_DRAIN):
            raise ValueError("invalid pin mode " + str(mode))
        if mode in (Pin.OUT, Pin.OPEN_DRAIN):
            _check_pin(self._id, True)
        if pull not in (-1, None, Pin.PULL_UP, Pin.PULL_DOWN):
            raise ValueError("invalid pull " + str(pull))
        if pull not in (-1, None) and self._id in board.chip.input_only:
            raise ValueError("GPIO" + str(self._id) + " has no pull resistors; fit an external one")
        if drive is not None and drive not in (0, 1, 2, 3):
            raise ValueError("invalid drive strength " + str(drive))
        before = self._driven(state)
        if value is not None:
            state.out_level = 1 if value else 0
        if pull != -1:
            state.pull = -1 if pull is None else pull
        if mode not in (-1, None):
            if state.pwm is not None:
                state.pwm._route(False)  # the GPIO matrix now connects the pin to the GPIO block
            state.mode = mode
        self._trace(state, before)

    def _driven(self, state):
        # (is the pin driving the wire, level) as seen by the trace
        if state.pwm is not None:
            return -2
        if state.mode == Pin.OUT or (state.mode == Pin.OPEN_DRAIN and state.out_level == 0):
            return state.out_level
        return -1

    def _trace(self, state, before):
        after = self._driven(state)
        if after == before or after == -2:
            return
        if after == -1:
            board.record(self._id, 0, 0, simtrace.OFF, board.level(self._id))
        else:
            board.record(self._id, 0, 0, simtrace.GPIO, after)

    def value(self, x=None):
        state = board.pin(self._id)
        if x is None:
            return board.level(self._id)
        before = self._driven(state)
        state.out_level = 1 if x else 0
        self._trace(state, before)
        return None

    def __call__(self, x=None):
        return self.value(x)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def toggle(self):
        self.value(1 - board.pin(self._id).out_level)

    def irq(self, handler=None, trigger=IRQ_FALLING | IRQ_RISING, *, wake=None):
        # The esp32 port takes no `hard` or `priority`: its handlers always run from the scheduler.
        state = board.pin(self._id)
        if trigger & ~(Pin.IRQ_RISING | Pin.IRQ_FALLING):
            raise ValueError("bad trigger")
        state.irq_handler = handler
        state.irq_trigger = trigger if handler is not None else 0
        state.irq_pin = self
        return _PinIRQ(state)


class PWM:
    def __init__(self, dest, freq=-1, *, duty=-1, duty_u16=-1, duty_ns=-1, invert=False, lightsleep=False):
        gpio = _gpio(dest)
        _check_pin(gpio, True)
        self._gpio = gpio
        self._reset()
        self.init(freq, duty=duty, duty_u16=duty_u16, duty_ns=duty_ns, invert=invert)

    def _reset(self):
        self.channel = -1
        self.timer = -1
        self._freq = -1
        self._scale = 0  # 10: duty(), 16: duty_u16(), 1: duty_ns()
        self._duty_ui = 0
        self.raw = 0  # the channel's duty register, as last written
        self.prev_raw = 0  # what the output runs on until the write latches
        self.latch_us = 0  # a written duty takes effect at the start of the next period
        self._invert = False
        self._routed = False

    def __repr__(self):
        if self.timer < 0:
            return "PWM(Pin(" + str(self._gpio) + "))"
        return ("PWM(Pin(" + str(self._gpio) + "), freq=" + str(self.freq()) + ", duty_u16="
                + str(self.duty_u16()) + ")")

    def init(self, freq=-1, *, duty=-1, duty_u16=-1, duty_ns=-1, invert=None, lightsleep=False):
        if freq != -1 and (freq <= 0 or freq > chips.MAX_PWM_FREQ_HZ):
            raise ValueError("frequency must be from 1Hz to 40MHz")
        if freq == -1:
            freq = self._freq if self._freq > 0 else 5000
        if duty_u16 >= 0:
            self._set_scale(16, _check_u16(duty_u16))
        elif duty_ns >= 0:
            self._set_scale(1, _check_ns(duty_ns, freq))
        elif duty >= 0:
            self._set_scale(10, _check_u10(duty))
        elif self._scale == 0:
            self._set_scale(16, chips.MAX_16_DUTY // 2)  # the port's default: 50 %, a servo lurches
        if invert is not None:
            self._invert = bool(invert)
        self._attach(freq)
        self._apply()

    def _set_scale(self, scale, value):
        self._scale = scale
        self._duty_ui = value

    # -- LEDC resources ----------------------------------------------------------------------------

    def _attach(self, freq):
        chip = board.chip
        timer = board.timers[self.timer] if self.timer >= 0 else None
        if timer is not None and timer.requested_hz == freq:
            return
        own_chan = self.channel if self.channel >= 0 else _channel_of(self._gpio)
        if timer is not None and _timer_running_at(freq, own_chan) < 0 and not _timer_shared(self.timer, own_chan):
            timer.configure(chip, freq)  # our own timer, re-frequencied in place (raises if impossible)
            self._freq = freq
            board.timer_start_us[self.timer] = board.now()
            return
        cfg = chips.LedcTimer(chip, freq)  # raises when the chip cannot make this frequency
        if own_chan < 0 and -1 not in board.chan_pin:
            raise RuntimeError("out of PWM channels:" + str(len(board.chan_pin)))
        idx = _timer_running_at(freq, own_chan)
        if idx < 0:
            idx = _free_timer(own_chan)
        if idx < 0:
            used = [str(t.requested_hz) for t in board.timers if t is not None]
            raise RuntimeError("out of PWM timers: all " + str(len(board.timers)) + " run other frequencies ("
                               + " ".join(used) + " Hz); use one of those")
        mode = idx // chip.ledc_timers
        chan = own_chan if own_chan >= 0 and own_chan // chip.ledc_channels == mode else -1
        if chan < 0:
            chan = _free_channel(mode)  # _timer_running_at/_free_timer chose a mode with one
        old_timer = self.timer
        if own_chan >= 0 and own_chan != chan:
            board.chan_pin[own_chan] = -1
        self.channel = chan
        self.timer = idx
        self._freq = freq
        board.chan_pin[chan] = self._gpio
        board.chan_timer[chan] = idx
        if board.timers[idx] is None or board.timers[idx].requested_hz != freq:
            board.timers[idx] = cfg
            board.timer_start_us[idx] = board.now()
        if old_timer >= 0 and old_timer != idx and not _timer_shared(old_timer, -1):
            board.timers[old_timer] = None

    def _apply(self):
        timer = board.timers[self.timer]
        if self._scale == 16:
            duty16 = self._duty_ui
        elif self._scale == 10:
            duty16 = self._duty_ui << 6
        else:
            duty16 = chips.ns_to_duty16(self._duty_ui, self._freq)
        raw = timer.raw_duty(duty16)
        if not self._routed:  # channel (re)configured: the duty applies at once
            self.raw = self.prev_raw = raw
            self.latch_us = board.now()
            self._route(True)
        elif raw != self.raw:
            now = board.now()
            self.prev_raw = self.effective_raw(now)
            self.raw = raw
            self.latch_us = board.next_period_us(self.timer, now)
            self._record()

    def effective_raw(self, t_us):
        return self.raw if t_us >= self.latch_us else self.prev_raw

    def _route(self, on):
        state = board.pin(self._gpio)
        self._routed = on
        if on:
            state.pwm = self
            self._record()
        elif state.pwm is self:
            state.pwm = None

    def _record(self):
        timer = board.timers[self.timer]
        board.record(self._gpio, timer.actual_hz(), timer.high_ns(self.raw), simtrace.PWM,
                     1 if self.raw else 0)

    def _active(self):
        if self.timer < 0:
            raise RuntimeError("PWM is inactive")

    def deinit(self):
        if self.timer < 0:
            return
        now = board.now()
        if self._routed and board.pwm_high_at(self._gpio, now):
            board.cut_pulses.append((now, self._gpio))  # a servo twitches at a cut pulse
        board.chan_pin[self.channel] = -1
        if not _timer_shared(self.timer, -1):
            board.timers[self.timer] = None
        if self._routed:
            self._route(False)
            # the LEDC idle level is driven until the pin is reconfigured
            board.record(self._gpio, 0, 0, simtrace.OFF, 1 if self._invert else 0)
        self._reset()

    # -- getters and setters -----------------------------------------------------------------------

    def freq(self, value=None):
        self._active()
        if value is None:
            return board.timers[self.timer].actual_hz()
        if value <= 0 or value > chips.MAX_PWM_FREQ_HZ:
            raise ValueError("frequency must be from 1Hz to 40MHz")
        if value != self._freq:
            self._attach(value)
            self._apply()
        return None

    def duty_u16(self, value=None):
        self._active()
        if value is None:
            return board.timers[self.timer].read_duty16(self.raw)
        self._set_scale(16, _check_u16(value))
        self._apply()
        return None

    def duty(self, value=None):
        self._active()
        if value is None:
            return board.timers[self.timer].read_duty16(self.raw) >> 6
        self._set_scale(10, _check_u10(value))
        self._apply()
        return None

    def duty_ns(self, value=None):
        self._active()
        if value is None:
            return chips.duty16_to_ns(board.timers[self.timer].read_duty16(self.raw), self._freq)
        self._set_scale(1, _check_ns(value, self._freq))
        self._apply()
        return None


def _check_u16(duty):
    if duty < 0 or duty > chips.MAX_16_DUTY - 1:
        raise ValueError("duty_u16 must be from 0 to " + str(chips.MAX_16_DUTY - 1))
    return chips.MAX_16_DUTY if duty == chips.MAX_16_DUTY - 1 else duty


def _check_u10(duty):
    if duty < 0 or duty > 1023:
        raise ValueError("duty must be from 0 to 1023")
    return 1024 if duty == 1023 else duty


def _check_ns(ns, freq):
    top = chips.duty16_to_ns(chips.MAX_16_DUTY, freq)
    if ns < 0 or ns > top:
        raise ValueError("duty_ns must be from 0 to " + str(top) + " ns")
    return ns


# The helpers below loop by index: enumerate() and tuple unpacking would allocate on every PWM change.

def _channel_of(gpio):
    pins = board.chan_pin
    for chan in range(len(pins)):
        if pins[chan] == gpio:
            return chan
    return -1


def _timer_shared(timer, except_chan):
    pins = board.chan_pin
    for chan in range(len(pins)):
        if chan != except_chan and pins[chan] >= 0 and board.chan_timer[chan] == timer:
            return True
    return False


def _mode_has_channel(mode, own_chan):
    per = board.chip.ledc_channels
    if own_chan >= 0 and own_chan // per == mode:
        return True
    return _free_channel(mode) >= 0


def _free_channel(mode):
    per = board.chip.ledc_channels
    for chan in range(mode * per, (mode + 1) * per):
        if board.chan_pin[chan] < 0:
            return chan
    return -1


def _timer_running_at(freq, own_chan):
    per = board.chip.ledc_timers
    timers = board.timers
    for idx in range(len(timers)):
        timer = timers[idx]
        if timer is not None and timer.requested_hz == freq and _mode_has_channel(idx // per, own_chan):
            return idx
    return -1


def _free_timer(own_chan):
    per = board.chip.ledc_timers
    timers = board.timers
    for idx in range(len(timers)):
        if timers[idx] is None and _mode_has_channel(idx // per, own_chan):
            return idx
    return -1


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
_UARTS = {"ESP32": 3, "ESP32-S2": 2, "ESP32-S3": 3, "ESP32-C3": 2}
_POLL = 3  # MP_STREAM_POLL, asked by select.poll (and so by asyncio) of a stream
_POLLIN = 1
_POLLOUT = 4


class UART(io.IOBase):
    """A UART of the esp32 port. Bytes arrive from `board.uart_feed()` and what is written is collected
    by `board.uart_sent()`, both at once rather than at the baud rate. A stream, so asyncio can wait on
    it (asyncio.StreamReader(uart))."""

    def __init__(self, id, baudrate=115200, bits=8, parity=None, stop=1, *, tx=-1, rx=-1, rts=-1, cts=-1,
                 txbuf=256, rxbuf=256, timeout=0, timeout_char=0, invert=0, flow=0):
        count = _UARTS.get(board.chip.name, 2)
        if not isinstance(id, int) or not 0 <= id < count:
            raise ValueError("UART(" + str(id) + ") does not exist")
        if id == 0:
            raise ValueError("UART(0) is disabled (dedicated to REPL)")
        self._id = id
        self._state = None
        self.init(baudrate, bits, parity, stop, tx=tx, rx=rx, rxbuf=rxbuf, timeout=timeout)

    def init(self, baudrate=115200, bits=8, parity=None, stop=1, *, tx=-1, rx=-1, rxbuf=256, timeout=0, **_):
        if not 0 < baudrate <= 5_000_000:
            raise ValueError("invalid baudrate " + str(baudrate))
        if bits not in (5, 6, 7, 8):
            raise ValueError("invalid data bits")
        if parity not in (None, 0, 1):
            raise ValueError("invalid parity")
        if stop not in (1, 2):
            raise ValueError("invalid stop bits")
        if tx != -1:
            _check_pin(_gpio(tx), True)
        if rx != -1:
            _check_pin(_gpio(rx), False)
        self._baudrate = baudrate
        self._timeout = timeout
        state = board.uarts.get(self._id)
        if state is None or state.rxbuf != max(rxbuf, 260):
            state = board.uarts[self._id] = simboard.UartState(max(rxbuf, 260))  # the driver's minimum
        self._state = state

    def __repr__(self):
        return "UART(" + str(self._id) + ", baudrate=" + str(self._baudrate) + ")"

    def _open(self):
        if self._state is None or board.uarts.get(self._id) is not self._state:
            raise OSError(9)  # EBADF: deinit, or taken over by another UART object
        return self._state

    def any(self):
        return len(self._open().rx)

    def read(self, nbytes=-1):
        state = self._open()
        if not state.rx:
            return None
        take = len(state.rx) if nbytes is None or nbytes < 0 else min(nbytes, len(state.rx))
        data = bytes(state.rx[:take])
        state.rx = state.rx[take:]  # MicroPython's bytearray cannot delete a slice
        return data

    def readline(self):
        state = self._open()
        if not state.rx:
            return None
        end = state.rx.find(b"\n")
        return self.read(len(state.rx) if end < 0 else end + 1)

    def readinto(self, buf, nbytes=-1):
        data = self.read(len(buf) if nbytes < 0 else min(nbytes, len(buf)))
        if data is None:
            return None
        buf[:len(data)] = data
        return len(data)

    def write(self, buf):
        state = self._open()
        if isinstance(buf, str):
            buf = buf.encode()
        state.tx.extend(buf)
        return len(buf)

    def flush(self):
        self._open()

    def txdone(self):
        self._open()
        return True

    def sendbreak(self):
        self._open()

    def ioctl(self, request, arg):
        if request != _POLL:
            return 0
        ready = 0
        if arg & _POLLIN and self._open().rx:
            ready |= _POLLIN
        if arg & _POLLOUT:
            ready |= _POLLOUT
        return ready

    def deinit(self):
        if self._state is not None and board.uarts.get(self._id) is self._state:
            del board.uarts[self._id]
        self._state = None


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
    gpio = _gpio(pin)
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
