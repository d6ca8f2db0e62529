"""The engine's voice (pure): engine state -> motor duty, buzzer tone and loudness, shaker.

- Motor: duty follows rpm through a calibration: `motor_min` is the duty that just turns the motor at
  idle, `motor_max` the duty at the limiter, linear between (and in proportion below idle, so cranking
  barely turns it), never faster than `motor_slew` duty per second.
- Buzzer: the triple fires at rpm / 40 Hz, 24 Hz at idle, which a piezo cannot voice; the tone is the
  `harmonic`-th multiple (16: 380 Hz at idle, 3.6 kHz at 9,000 rpm). Loudness rises with rpm and load
  and drops while no fuel burns. A blow-off plays a falling chirp.
- Shaker: the triple's free rocking couple at crank frequency, rpm / 60 Hz, stronger with speed.

Duties are 16-bit (`duty_u16`). Tone frequencies move only when they drift by more than 1/64
(about a quarter of a semitone): every LEDC frequency change restarts the timer.
"""

from gullwing import schema
from gullwing.engine import MAX_TICK_MS, OFF

DUTY_MAX = 65535
BUZZER_MIN_HZ = 100
BUZZER_MAX_HZ = 8000
BUZZER_FULL = 32768  # a 50 % square wave is a piezo's loudest
CHIRP_MS = 250
CHIRP_FROM_HZ = 4000
CHIRP_TO_HZ = 2000
SHAKER_MIN_HZ = 10  # the lowest an ESP32-S3/C3 LEDC timer makes
SHAKER_MAX_HZ = 200  # 12,000 rpm
SHAKER_FULL = 32768
FIRING_DIVISOR = 40  # a four-stroke triple fires every 240 degrees: rpm / 40 Hz
ROCKING_DIVISOR = 60  # its rocking couple turns with the crank: rpm / 60 Hz


def check(s, where=""):
    """The voice's settings (a dict of schema.VOICE's keys) checked as a whole; ValueError naming the key
    (`where` + key), its range as the other keys narrow it, and them."""
    schema.section(schema.VOICE, s, where, ("motor_max",))
    low = s["motor_min"]
    schema.check(schema.VOICE, "motor_max", s["motor_max"], where, low + 1,
                 why=" (above " + where + "motor_min " + str(low) + ")")


class Voice:
    def __init__(self, motor_min=16_000, motor_max=DUTY_MAX, motor_slew=131_000, idle_rpm=950,
                 limit_rpm=9000, harmonic=16, volume=100, shake=100):
        check({"motor_min": motor_min, "motor_max": motor_max, "motor_slew": motor_slew, "harmonic": harmonic,
               "volume": volume, "shake": shake})
        schema.whole("limit_rpm", limit_rpm, 2, 12_000, "rpm")  # the engine's, checked there as settings
        schema.whole("idle_rpm", idle_rpm, 1, limit_rpm - 1, "rpm", " (below limit_rpm " + str(limit_rpm) + ")")
        self.motor_min = motor_min
        self.motor_max = motor_max
        self.motor_slew = motor_slew
        self.idle_rpm = idle_rpm
        self.limit_rpm = limit_rpm
        self.harmonic = harmonic
        self._buzzer_full = BUZZER_FULL * volume // 100
        self._shaker_full = SHAKER_FULL * shake // 100
        self.motor_duty = 0
        self.buzzer_hz = BUZZER_MIN_HZ
        self.buzzer_duty = 0
        self.shaker_hz = SHAKER_MIN_HZ
        self.shaker_duty = 0
        self._blowoffs = 0
        self._chirp_ms = 0

    def reset(self):
        """Everything quiet and the motor at rest, as after an emergency stop."""
        self.motor_duty = 0
        self.buzzer_duty = 0
        self.shaker_duty = 0
        self._chirp_ms = 0

    def motor_target(self, rpm):
        """The calibrated duty for this rpm, before the slew limit."""
        if rpm <= 0:
            return 0
        if rpm < self.idle_rpm:
            return self.motor_min * rpm // self.idle_rpm
        if rpm >= self.limit_rpm:
            return self.motor_max
        span = self.motor_max - self.motor_min
        return self.motor_min + span * (rpm - self.idle_rpm) // (self.limit_rpm - self.idle_rpm)

    def update(self, engine, dt_ms):
        """Follow the engine after a tick of dt_ms."""
        if dt_ms > MAX_TICK_MS:
            dt_ms = MAX_TICK_MS  # as the engine does; keeps the slew arithmetic in small ints
        rpm = engine.rpm
        self._motor(rpm, dt_ms)
        if engine.blowoffs != self._blowoffs:
            self._blowoffs = engine.blowoffs
            self._chirp_ms = CHIRP_MS
        if self._chirp_ms > 0:
            self._chirp(dt_ms)
        else:
            self._engine_note(engine, rpm)
        self._shaker(engine, rpm)

    def _motor(self, rpm, dt_ms):
        target = self.motor_target(rpm)
        step = self.motor_slew * dt_ms // 1000
        duty = self.motor_duty
        if target > duty + step:
            target = duty + step
        elif target < duty - step:
            target = duty - step
        self.motor_duty = target

    def _engine_note(self, engine, rpm):
        if engine.state == OFF or rpm <= 0:
            self.buzzer_duty = 0
            return
        self.buzzer_hz = _follow(self.buzzer_hz, rpm * self.harmonic // FIRING_DIVISOR, BUZZER_MIN_HZ, BUZZER_MAX_HZ)
        level = 64 + _share(rpm, self.limit_rpm, 192)  # q8: a quarter at rest, full at the limiter
        level = level * (64 + engine.load) // 320  # louder under load
        if not engine.firing:
            level >>= 2  # starter, fuel cut or spin-down: only mechanical noise
        self.buzzer_duty = self._buzzer_full * level >> 8

    def _chirp(self, dt_ms):
        left = self._chirp_ms
        self.buzzer_hz = CHIRP_TO_HZ + (CHIRP_FROM_HZ - CHIRP_TO_HZ) * left // CHIRP_MS
        self.buzzer_duty = self._buzzer_full * left // CHIRP_MS
        self._chirp_ms = left - dt_ms

    def _shaker(self, engine, rpm):
        if engine.state == OFF or rpm <= 0:
            self.shaker_duty = 0
            return
        self.shaker_hz = _follow(self.shaker_hz, rpm // ROCKING_DIVISOR, SHAKER_MIN_HZ, SHAKER_MAX_HZ)
        speed = _share(rpm, self.limit_rpm, 256)
        level = 96 + (160 * speed * speed >> 16)  # the couple grows with the square of speed
        self.shaker_duty = self._shaker_full * level >> 8


def _share(rpm, top, full):
    # rpm as a share of top, scaled to full and capped there
    if rpm >= top:
        return full
    return full * rpm // top


def _follow(current, wanted, low, high):
    # a tone frequency that moves only when the wanted one drifts by more than 1/64
    if wanted < low:
        wanted = low
    elif wanted > high:
        wanted = high
    gap = wanted - current
    if gap > (current >> 6) or -gap > (current >> 6):
        return wanted
    return current
