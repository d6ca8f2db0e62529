"""Servo adapter: door angle (cdeg) -> pulse width -> machine.PWM, within the door's calibration.

Thin on purpose: the door decides where and when; this maps and writes. Three rules from the ESP32:
- the first pulse is the position held, in the constructor call: a channel made without a duty starts
  at 50 % (a 10 ms pulse) and the servo lurches to its end stop. The esp32 port refuses `duty_ns` for
  a PWM not yet running ("PWM is inactive"), so the constructor gets the same pulse as `duty_u16`,
  rounded as the port rounds `duty_ns`; every later write is `duty_ns`;
- a written duty takes effect at the next 20 ms period, so releasing sets the duty to 0 first and
  de-initialises only a frame later (`quiet()`, then `detach()`): no pulse is ever cut short, which
  a servo would answer with a twitch;
- pulses never leave [min_us, max_us], whatever angle is asked.
"""

from machine import PWM, Pin

from gullwing import schema

FREQ_HZ = 50
FRAME_MS = 20
_DUTY_UNITS = 65536  # duty_ns() goes through a 16-bit duty on every ESP32 chip
MIN_TRAVEL_US = 50  # calibrated ends closer than this are a mistake, not a door
MIN_SPAN_US = 100  # max_us at least this far above min_us
_COARSEST = 8  # 13-bit timers (S2, S3, C3) keep every 8th of those 16-bit steps
_PER_S = _DUTY_UNITS * FREQ_HZ  # duty units per second of pulse
_NS_PER_512 = 156_250  # 512 duty units at 50 Hz, in ns: ns x 512 / 156_250 is ns x 65536 x 50 / 1e9


def duty_u16_of(ns):
    """The 16-bit duty the esp32 port makes of `duty_ns(ns)` at 50 Hz (machine_pwm.c: ns_to_duty rounds
    to nearest, and at least 1 for a pulse), as `duty_u16` takes it (65535 stands for 65536).
    Integer-only and small: whole and remainder apart, no product reaches 2**30."""
    whole = ns // _NS_PER_512
    units = whole * 512 + ((ns - whole * _NS_PER_512) * 512 + _NS_PER_512 // 2) // _NS_PER_512
    if ns > 0 and units == 0:
        return 1
    return units if units < _DUTY_UNITS else _DUTY_UNITS - 1


def open_pwm(pin, freq, duty_u16, what):
    """`PWM(pin, freq=freq, duty_u16=duty_u16)`, the output's first period at that duty. ESP-IDF's
    refusal (an OSError from check_esp_err, e.g. ledc_channel_config on an input-only pin) names no
    pin: it is raised again with `what` named."""
    try:
        return PWM(pin, freq=freq, duty_u16=duty_u16)
    except OSError as exc:
        raise OSError(what + ": " + str(exc.args[-1] if exc.args else exc)) from None


def _ceil_div(a, b):
    return -(-a // b)


def _units_from(ns):
    """The first duty on the coarsest grid whose pulse is at least `ns`."""
    return _ceil_div(_ceil_div(ns * _PER_S, 1_000_000_000), _COARSEST) * _COARSEST


def check(s, where=""):
    """One door's settings (a dict of schema.DOOR's keys) checked as a whole; ValueError naming the key
    (`where` + key), its range as the other keys narrow it, and them."""
    schema.section(schema.DOOR, s, where, ("max_us", "closed_us", "open_us", "closed_deg", "open_deg"))
    lo, hi = s["min_us"], s["max_us"]
    schema.check(schema.DOOR, "max_us", hi, where, lo + MIN_SPAN_US,
                 why=" (" + str(MIN_SPAN_US) + " us above " + where + "min_us " + str(lo) + ")")
    for name in ("closed_us", "open_us"):
        if s[name] != 0:  # 0: not calibrated
            schema.check(schema.DOOR, name, s[name], where, lo, hi, " (from " + where + "min_us to max_us, or 0)")
    closed_us, open_us = s["closed_us"], s["open_us"]
    if closed_us and open_us:  # the ends set: open_deg is the travel between them
        if abs(open_us - closed_us) < MIN_TRAVEL_US:
            raise ValueError(where + "open_us " + str(open_us) + " must be at least " + str(MIN_TRAVEL_US)
                             + " us from " + where + "closed_us " + str(closed_us))
        schema.check(schema.DOOR, "open_deg", s["open_deg"], where, schema.DOOR["travel_deg"][1],
                     why=" (the travel between " + where + "closed_us and open_us)")
        return
    travel, closed = s["travel_deg"], s["closed_deg"]
    schema.check(schema.DOOR, "closed_deg", closed, where, high=travel - 1,
                 why=" (below " + where + "travel_deg " + str(travel) + ")")
    schema.check(schema.DOOR, "open_deg", s["open_deg"], where, high=travel - closed,
                 why=" (" + where + "travel_deg " + str(travel) + " less closed_deg " + str(closed) + ")")


class Calibration:
    """One door servo. `min_us`/`max_us`: its pulse range, which is `travel_deg` of horn travel and
    a hard limit. `closed_deg`: horn angle with the door closed; the door opens `open_deg` from there
    (the public angle range is 0..open_deg). `trim_us` shifts every pulse; `reversed` turns the other
    way for the mirrored door, so both doors can share the other numbers.

    Calibrated from the PC instead, `closed_us` and `open_us` (within min_us..max_us, at least
    MIN_TRAVEL_US apart; 0 is not set) are, both set, the pulses at the two ends: the door's
    0..open_deg runs straight from one to the other, and travel_deg, closed_deg, trim_us and
    reversed are not used."""

    def __init__(self, min_us=500, max_us=2500, travel_deg=180, closed_deg=45, open_deg=90, trim_us=0,
                 reversed=False, closed_us=0, open_us=0):
        check({"min_us": min_us, "max_us": max_us, "travel_deg": travel_deg, "closed_deg": closed_deg,
               "open_deg": open_deg, "trim_us": trim_us, "reversed": bool(reversed), "closed_us": closed_us,
               "open_us": open_us})
        ends = bool(closed_us and open_us)
        if ends:
            travel_deg, closed_deg, trim_us, reversed = open_deg, 0, 0, open_us < closed_us
        self.closed_us, self.open_us = closed_us, open_us
        self.min_us, self.max_us, self.travel_deg = min_us, max_us, travel_deg
        self.closed_deg, self.open_deg, self.trim_us = closed_deg, open_deg, trim_us
        self.reversed = bool(reversed)
        self.open_cdeg = open_deg * 100
        # the limits, moved inwards onto a duty every chip can make exactly: the chip's own
        # rounding cannot take a pulse outside them either
        self.min_ns = _ceil_div(_units_from(min_us * 1000) * 1_000_000_000, _PER_S)
        self.max_ns = (_units_from(max_us * 1000 + 1) - _COARSEST) * 1_000_000_000 // _PER_S
        # pulse = base +- (horn cdeg x ns per cdeg), with ns per cdeg in 1/256 ns: every product
        # stays below (max-min) x 256 < 2**30, so the tick needs no big integers
        span_ns = (max_us - min_us) * 1000
        if ends:  # the ends are the pulses set: travel_deg is then open_deg between them
            span_ns = abs(open_us - closed_us) * 1000
        self._k = (span_ns << 8) // (travel_deg * 100)
        self._c0 = closed_deg * 100 * self._k + 128  # + rounding
        self._base = (max_us if self.reversed else min_us) * 1000 + trim_us * 1000
        # the ends exactly (not a few ns short by the rounding of _k), and no angle beyond them
        self._open_ns = self._closed_ns = 0  # (pulse_ns computes them until they are set)
        if ends:
            self._base = closed_us * 1000
        self._open_ns = self._clamp(open_us * 1000) if ends else self.pulse_ns(self.open_cdeg)
        self._closed_ns = self.pulse_ns(0)

    def pulse_ns(self, cdeg):
        """Pulse for a door angle in cdeg, clamped to the calibrated range. Integer-only."""
        if cdeg >= self.open_cdeg and self._open_ns:
            return self._open_ns
        if cdeg <= 0 and self._closed_ns:
            return self._closed_ns
        q = (self._c0 + cdeg * self._k) >> 8
        ns = self._base - q if self.reversed else self._base + q
        return self.min_ns if ns < self.min_ns else self.max_ns if ns > self.max_ns else ns

    def _clamp(self, ns):
        return self.min_ns if ns < self.min_ns else self.max_ns if ns > self.max_ns else ns

    def angle_cdeg(self, ns):
        """The door angle a pulse holds (inverse of pulse_ns), within 0..open."""
        q = (self._base - ns) if self.reversed else (ns - self._base)
        cdeg = ((q << 8) - self._c0 + 128 + self._k // 2) // self._k
        return max(0, min(self.open_cdeg, cdeg))


class Servo:
    """One servo output. `pulse` is the last pulse sent (ns): the position the servo holds, also
    after a release; `attach()` resumes exactly there."""

    def __init__(self, pin, calibration):
        self.cal = calibration
        self._name = str(pin) if isinstance(pin, Pin) else "GPIO" + str(pin)
        self._pin = pin if isinstance(pin, Pin) else Pin(pin)
        self._pwm = None
        self.pulse = calibration.pulse_ns(0)  # until known otherwise, the door is taken as closed
        self.driving = False  # pulses are going out

    @property
    def attached(self):
        return self._pwm is not None

    def attach(self):
        """Start the output at the last pulse; one-call construction, so the first pulse is it."""
        pwm = self._pwm
        if pwm is None:
            pwm = self._pwm = open_pwm(self._pin, FREQ_HZ, duty_u16_of(self.pulse), "servo on " + self._name)
        elif not self.driving:
            pwm.duty_ns(self.pulse)
        self.driving = True
        return pwm

    def hold(self, ns):
        """Take `ns` (clamped to the calibration) as the position held, e.g. restored at boot."""
        self.pulse = max(self.cal.min_ns, min(self.cal.max_ns, ns))

    def drive(self, ns):
        """Drive straight to a pulse (clamped to the calibration): a calibration jog."""
        self.hold(ns)
        pwm = self._pwm
        if pwm is None or not self.driving:
            self.attach()
        else:
            pwm.duty_ns(self.pulse)

    def write(self, cdeg):
        """Drive to a door angle; a released servo first resumes at the pulse it held. The control
        tick calls this: no allocation while attached."""
        ns = self.cal.pulse_ns(cdeg)
        pwm = self._pwm
        if pwm is None or not self.driving:
            pwm = self.attach()
        if ns != self.pulse:
            self.pulse = ns
            pwm.duty_ns(ns)

    def quiet(self):
        """First half of a release: duty 0 from the next period on; the pulse in flight completes."""
        if self._pwm is not None:
            self._pwm.duty_ns(0)
        self.driving = False

    def detach(self):
        """Second half of a release, at least one frame (FRAME_MS) after quiet(): stop the channel."""
        if self._pwm is not None:
            if self.driving:
                raise RuntimeError("servo detach without quiet() would cut a pulse")
            self._pwm.deinit()
            self._pwm = None
