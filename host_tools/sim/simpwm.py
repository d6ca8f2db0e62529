"""`machine.PWM` of the simulated ESP32: the LEDC peripheral as MicroPython's esp32 port drives it.

Follows ports/esp32/machine_pwm.c of MicroPython 1.29 step by step, its quirks included:
- a duty_ns given to the constructor, or to init() of a deinit'ed PWM, raises RuntimeError("PWM is
  inactive"): check_duty_ns() converts it through duty_to_ns(), which needs the timer the object
  has not got yet. duty_u16 or duty then duty_ns() works;
- a frequency change onto a frequency another timer already runs moves the channel onto that timer and
  leaves its own timer configured: only deinit() (or a soft reset) frees a timer;
- the duty reads back from the channel's duty register, which takes a written duty at the start of the
  timer's next period (ESP-IDF ledc_get_duty()).
The port's bookkeeping (its `chans` and `timers` tables) lives on the board as `chan_pin`, `chan_timer`
and `timers`, indexed mode * per-mode count + index; the channels' outputs are the board's `ledc_*`.
"""

import simledc
import simtrace
from simboard import board
from simpin import gpio_of

_DUTY_10 = 10  # duty_scale of the port: which setter the duty came from
_DUTY_16 = 16
_DUTY_NS = 1
_PWM_FREQ = 5000  # the port's default frequency ...
_PWM_DUTY = simledc.MAX_16_DUTY // 2  # ... and duty


class PWM:
    def __init__(self, dest, freq=-1, *, duty=-1, duty_u16=-1, duty_ns=-1, invert=False, lightsleep=False):
        # machine_pwm.c: mp_machine_pwm_make_new(); the pin as machine_pin_find() accepts it
        gpio = gpio_of(dest)
        problem = board.chip.pin_problem(gpio, False)
        if problem:
            raise ValueError(problem)
        self._pin = gpio
        self._self_reset()
        self.init(freq, duty=duty, duty_u16=duty_u16, duty_ns=duty_ns, invert=invert, lightsleep=lightsleep)

    def _self_reset(self):
        self.mode = -1
        self.channel = -1  # flat index into the board's channel tables
        self.timer = -1  # flat index into board.timers
        self._freq = -1
        self._duty_scale = 0
        self._duty_ui = 0
        self._channel_duty = -1
        self._invert = False
        self._invert_prev = False
        self._lightsleep = False

    def __repr__(self):
        # machine_pwm.c: mp_machine_pwm_print()
        text = "PWM(Pin(" + str(self._pin) + ")"
        if self.timer >= 0:
            text += ", freq=" + str(self._ledc_freq())
            if self._duty_scale == _DUTY_10:
                text += ", duty=" + str(self.duty())
            elif self._duty_scale == _DUTY_NS:
                text += ", duty_ns=" + str(self.duty_ns())
            else:
                text += ", duty_u16=" + str(self.duty_u16())
            if self._invert:
                text += ", invert=True"
            if self._lightsleep:
                text += ", lightsleep=True"
        return text + ")"

    def init(self, freq=-1, *, duty=-1, duty_u16=-1, duty_ns=-1, invert=None, lightsleep=None):
        # machine_pwm.c: mp_machine_pwm_init_helper()
        if lightsleep is not None:
            self._lightsleep = bool(lightsleep)
        if freq != -1:
            _check_freq_range(freq, simledc.MAX_PWM_FREQ_HZ)
        if duty_u16 >= 0:
            self._check_duty_u16(duty_u16)
        elif duty_ns >= 0:
            self._check_duty_ns(duty_ns)  # RuntimeError("PWM is inactive") on a new or deinit'ed PWM
        elif duty >= 0:
            self._check_duty_u10(duty)
        elif self._duty_scale == 0:
            self._duty_scale = _DUTY_16
            self._duty_ui = _PWM_DUTY  # 50 %: a servo lurches
        if invert is not None:
            self._invert = bool(invert)
        channel = self._find_channel(freq)
        if channel < 0:
            raise RuntimeError("out of " + self._sleep_text() + "PWM channels:" + str(
                board.chip.ledc_channels if self._lightsleep else len(board.chan_pin)))
        self.mode = channel // board.chip.ledc_channels
        self.channel = channel
        if freq == -1:  # keep what the channel's timer runs, else the default
            if board.chan_timer[channel] >= 0:
                freq = _timer_freq(board.chan_timer[channel])
            if freq <= 0:
                freq = _PWM_FREQ
        self._set_freq_duty(freq)

    def _sleep_text(self):
        return "light sleep capable " if self._lightsleep else ""

    # -- LEDC resources (machine_pwm.c: find_channel, find_timer, select_timer, set_freq) -----------

    def _first_mode(self):
        # with lightsleep, the ESP32's high-speed mode (0) is skipped
        return 1 if self._lightsleep and board.chip.ledc_modes > 1 else 0

    def _find_channel(self, freq):
        """This pin's channel, else the first free channel in a mode with a timer free or at `freq`."""
        per = board.chip.ledc_channels
        pins = board.chan_pin
        for mode in range(self._first_mode(), board.chip.ledc_modes):
            for chan in range(mode * per, (mode + 1) * per):
                if pins[chan] == self._pin:
                    return chan
        for mode in range(self._first_mode(), board.chip.ledc_modes):
            for chan in range(mode * per, (mode + 1) * per):
                if pins[chan] < 0 and _is_free_timers(mode, freq):
                    return chan
        return -1

    def _find_timer(self, freq):
        """A timer at `freq` (-1: a free timer) in a mode with a channel free or this pin's."""
        per = board.chip.ledc_timers
        for mode in range(self._first_mode(), board.chip.ledc_modes):
            if _is_free_channels(mode, self._pin):
                for timer in range(mode * per, (mode + 1) * per):
                    if _timer_freq(timer) == freq:
                        return timer
        return -1

    def _select_timer(self, freq):
        timer = self._find_timer(freq)
        if timer < 0:
            if self.mode >= 0 and self.channel >= 0 and not _is_timer_in_use(self.channel, self.timer):
                timer = self.timer  # our own timer, re-frequencied below
            if timer < 0:
                timer = self._find_timer(-1)
        if timer < 0:
            raise RuntimeError("out of " + self._sleep_text() + "PWM timers:" + str(
                board.chip.ledc_timers if self._lightsleep else len(board.timers)))
        if self.timer != timer:
            # The channel moves to the timer; its old timer stays configured (only deinit frees one).
            # The channel keeps its index within the mode, even when the timer's mode is another.
            _register_channel(self.channel, -1, -1)
            mode = timer // board.chip.ledc_timers
            self.channel += (mode - self.mode) * board.chip.ledc_channels
            self.mode = mode
            self.timer = timer
            _register_channel(self.channel, -1, timer)

    def _set_freq(self, freq):
        self._freq = freq
        record = board.timers[self.timer]
        if record is not None and record.requested_hz == freq and not self._lightsleep:
            return
        chip = board.chip
        src = simledc.ledc_source_hz(chip, freq)
        _check_freq_range(freq, src // 2)
        bits = simledc.duty_resolution(chip, src, freq)
        if record is None:
            record = simledc.LedcTimer()
        # ledc_set_freq() when resolution and clock stay, else ledc_timer_config(): both divide the clock
        # (and raise through check_esp_err() when the divider does not fit)
        record.configure(src, bits, freq)
        # ledc_timer_config() and, in low-speed mode, ledc_timer_rst() restart the counter. On the
        # ESP32's high-speed timers ledc_set_freq() keeps it counting; the simulator restarts it there too.
        board.timers[self.timer] = record
        board.timer_start_us[self.timer] = board.now()

    def _set_freq_duty(self, freq):
        self._select_timer(freq)
        self._set_freq(freq)
        self._apply_duty(True)

    def _ledc_freq(self):
        record = board.timers[self.timer]
        return record.actual_hz() if record is not None and record.divider else 0  # ledc_get_freq()

    # -- duty ---------------------------------------------------------------------------------------

    def _active(self):
        if self.timer < 0:
            raise RuntimeError("PWM is inactive")  # machine_pwm.c: pwm_is_active()

    def _bits(self):
        record = board.timers[self.timer]
        return record.bits if record is not None else 0

    def _apply_duty(self, retimed=False):
        # machine_pwm.c: apply_duty(); traced when the output changes (`retimed`: its timer did)
        self._active()
        if self._duty_scale == _DUTY_16:
            duty = self._duty_ui
        elif self._duty_scale == _DUTY_10:
            duty = self._duty_ui << 6
        else:
            duty = simledc.ns_to_duty16(self._duty_ui, self._freq)
        self._channel_duty = duty >> (16 - self._bits())
        board.now()
        if board.chan_pin[self.channel] == -1 or self._invert_prev != self._invert:
            self._invert_prev = self._invert
            if self._pin in board.chip.input_only:
                # ESP-IDF ledc_channel_config(): GPIO_IS_VALID_OUTPUT_GPIO fails, after the timer is set up
                raise simledc.esp_error(simledc.ESP_ERR_INVALID_ARG)
            board.ledc_channel_config(self.channel, self.timer, self._channel_duty, self._pin, self._invert)
            changed = True
        else:
            changed = board.ledc_set_duty(self.channel, self._channel_duty) or retimed
        _register_channel(self.channel, self._pin, self.timer)
        if changed or board.chan_traced[self.channel] != self._channel_duty:
            record = board.timers[self.timer]
            board.record(self._pin, self._ledc_freq(), record.high_ns(self._channel_duty) if record else 0,
                         simtrace.PWM, 1 if self._channel_duty else 0)
            board.chan_traced[self.channel] = self._channel_duty
            board.wire_changed(self._pin)

    def _check_duty_u16(self, duty):
        if duty < 0 or duty > simledc.MAX_16_DUTY - 1:
            raise ValueError("duty_u16 must be from 0 to " + str(simledc.MAX_16_DUTY))
        self._duty_scale = _DUTY_16
        self._duty_ui = simledc.MAX_16_DUTY if duty == simledc.MAX_16_DUTY - 1 else duty

    def _check_duty_u10(self, duty):
        if duty < 0 or duty > 1023:
            raise ValueError("duty must be from 0 to 1023")
        self._duty_scale = _DUTY_10
        self._duty_ui = 1024 if duty == 1023 else duty

    def _check_duty_ns(self, ns):
        top = self._duty_to_ns(simledc.MAX_16_DUTY)  # needs a timer: RuntimeError on an inactive PWM
        if ns < 0 or ns > top:
            raise ValueError("duty_ns must be from 0 to " + str(top) + " ns")
        self._duty_scale = _DUTY_NS
        self._duty_ui = ns

    def _duty_to_ns(self, duty):
        self._active()
        return simledc.duty16_to_ns(duty, self._freq)

    def _get_duty_u16(self):
        # machine_pwm.c: get_duty_u16() over ledc_get_duty(), which reads the duty the output runs on
        self._active()
        raw = board.ledc_raw_at(self.channel, board.now())
        duty = raw << (16 - self._bits())
        return simledc.MAX_16_DUTY - 1 if duty == simledc.MAX_16_DUTY else duty

    # -- the methods ---------------------------------------------------------------------------------

    def deinit(self):
        # machine_pwm.c: pwm_deinit(): frees the channel, and its timer when no other channel uses it
        chan = self.channel
        if chan >= 0:
            gpio = board.chan_pin[chan]
            now = board.now()
            if gpio >= 0 and board.pwm_high_at(gpio, now):
                board.cut_pulses.append((now, gpio))  # a servo twitches at a cut pulse
            timer = board.chan_timer[chan]
            if timer >= 0 and not _is_timer_in_use(chan, timer):
                board.timers[timer] = None  # ledc_timer_pause() and deconfigure
            if gpio >= 0:
                # ledc_stop(mode, channel, invert): the channel idles at that level, the pin shows it
                # through the GPIO matrix (inverted again when invert is set)
                board.ledc_stop(chan, 1 if self._invert else 0)
                board.record(gpio, 0, 0, simtrace.OFF, board.driven(gpio, now))
                board.wire_changed(gpio)
            board.chan_traced[chan] = -1
            _register_channel(chan, -1, -1)
        self._self_reset()

    def freq(self, value=None):
        self._active()
        if value is None:
            return self._ledc_freq()
        _check_freq_range(value, simledc.MAX_PWM_FREQ_HZ)
        if value != _timer_freq(self.timer):
            self._set_freq_duty(value)
        return None

    def duty_u16(self, value=None):
        if value is None:
            return self._get_duty_u16()
        self._check_duty_u16(value)
        self._apply_duty()
        return None

    def duty(self, value=None):
        if value is None:
            return self._get_duty_u16() >> 6
        self._check_duty_u10(value)
        self._apply_duty()
        return None

    def duty_ns(self, value=None):
        if value is None:
            return self._duty_to_ns(self._get_duty_u16())
        self._check_duty_ns(value)
        self._apply_duty()
        return None


def _check_freq_range(freq, upper):
    # machine_pwm.c: check_freq_ranges()
    if freq <= 0 or freq > upper:
        raise ValueError("frequency must be from 1Hz to " + str(upper // 1_000_000) + "MHz")


# The helpers below loop by index: enumerate() and tuple unpacking would allocate on every PWM change.

def _timer_freq(timer):
    """machine_pwm.c timers[].freq: what the timer was set up for, -1 when free."""
    record = board.timers[timer] if timer >= 0 else None
    return record.requested_hz if record is not None else -1


def _register_channel(chan, gpio, timer):
    board.chan_pin[chan] = gpio
    board.chan_timer[chan] = timer


def _is_timer_in_use(chan, timer):
    """Whether a channel of the mode other than `chan` runs on `timer`."""
    per = board.chip.ledc_channels
    mode = chan // per
    for other in range(mode * per, (mode + 1) * per):
        if other != chan and board.chan_timer[other] == timer and board.chan_pin[other] >= 0:
            return True
    return False


def _is_free_channels(mode, gpio):
    per = board.chip.ledc_channels
    for chan in range(mode * per, (mode + 1) * per):
        if board.chan_pin[chan] < 0 or board.chan_pin[chan] == gpio:
            return True
    return False


def _is_free_timers(mode, freq):
    per = board.chip.ledc_timers
    for timer in range(mode * per, (mode + 1) * per):
        used = _timer_freq(timer)
        if used < 0 or used == freq:
            return True
    return False
