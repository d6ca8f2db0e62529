"""`machine.PWM` of the simulated ESP32: the LEDC peripheral as MicroPython's esp32 port drives it."""

import chips
import simtrace
from simboard import board
from simpin import check_pin, gpio_of


class PWM:
    def __init__(self, dest, freq=-1, *, duty=-1, duty_u16=-1, duty_ns=-1, invert=False, lightsleep=False):
        gpio = gpio_of(dest)
        check_pin(gpio, True)
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
