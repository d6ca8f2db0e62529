"""Thin adapters from the voice to the pins: motor (MOSFET or H-bridge), buzzer, shaker.

Each PWM is constructed with its frequency and duty in one call (a channel made without a duty
starts at 50 %) and written only when a value changed.

LEDC timers are scarce (4 on the ESP32-S2/S3/C3) and never freed by a frequency change: on the esp32
port (machine_pwm.c: select_timer) a PWM whose new frequency another timer already runs moves onto
that timer and leaves its own configured; only deinit() frees one. A tone that once met another
output's frequency would leak a timer, and the next change would find none. So the outputs keep to
one plan (docs/engine.md): the doors share a 50 Hz timer, every motor output a MOTOR_FREQ_HZ one,
and the two tones each keep a timer of their own by never asking for a frequency anything else runs:
the buzzer sounds only even frequencies, the shaker only odd ones, and both step over 50 Hz and
MOTOR_FREQ_HZ (`lane_hz`).
"""

from machine import Pin

from gullwing.servo import FREQ_HZ as SERVO_FREQ_HZ
from gullwing.servo import open_pwm
from gullwing.voice import DUTY_MAX

MOTOR_FREQ_HZ = 20_000  # above hearing, within what DRV8833 (250 kHz) and TB6612 (100 kHz) switch
EVEN, ODD = 0, 1  # a tone's lane: the buzzer's frequencies and the shaker's never meet


def lane_hz(hz, lane):
    """`hz` moved by at most 2 Hz onto its lane, never onto the doors' or the motor's frequency."""
    hz = (hz & ~1) | lane
    if hz == SERVO_FREQ_HZ or hz == MOTOR_FREQ_HZ:  # both even: only the even lane can meet them
        hz += 2
    return hz if hz > 0 else 2


class PwmOutput:
    """One PWM pin, written only when its duty changes; released to a plain low output."""

    def __init__(self, pin, freq):
        self._gpio = pin
        self._pwm = open_pwm(Pin(pin), freq, 0, "PWM on GPIO" + str(pin))
        self.duty = 0

    def write(self, duty):
        if duty != self.duty:
            self._pwm.duty_u16(duty)
            self.duty = duty  # after the pin: a write cut short (a Ctrl-C in the stop) is done again

    def retune(self, freq):
        self._pwm.freq(freq)

    def release(self):
        """Stop the PWM and hold the pin low."""
        self._pwm.deinit()
        Pin(self._gpio, Pin.OUT, value=0)
        self.duty = 0


class MosfetMotor(PwmOutput):
    """A DC motor switched on its low side by a logic-level MOSFET: one PWM pin."""

    def __init__(self, pin, freq=MOTOR_FREQ_HZ):
        PwmOutput.__init__(self, pin, freq)


class HBridgeMotor(PwmOutput):
    """A DC motor on a DRV8833- or TB6612-style bridge driven by two inputs: PWM on IN1 with IN2 held
    low turns it forward, coasting between pulses (with a TB6612, tie its PWM input high). `reverse`
    swaps the inputs for a motor wired the other way round."""

    def __init__(self, in1, in2, freq=MOTOR_FREQ_HZ, reverse=False):
        if in1 == in2:
            raise ValueError("H-bridge inputs must be two different pins, got " + str(in1) + " twice")
        if reverse:
            in1, in2 = in2, in1
        self._gpios = (in1, in2)
        self._low = Pin(in2, Pin.OUT, value=0)
        PwmOutput.__init__(self, in1, freq)

    def release(self):
        """Both inputs low: the bridge lets the motor coast."""
        PwmOutput.release(self)
        self._low.value(0)


class Tone:
    """A square wave of changing frequency on one pin: a piezo buzzer or small speaker through a
    transistor, or a shaker (a vibration coil). Holds its last frequency while silent. `lane`: EVEN
    or ODD frequencies only (EngineOutputs sets it: the buzzer even, the shaker odd); `hz` is the
    frequency on the pin."""

    def __init__(self, pin, hz=1000, lane=EVEN):
        self.lane = lane
        self.hz = lane_hz(hz, lane)
        self._out = PwmOutput(pin, self.hz)

    @property
    def duty(self):
        return self._out.duty

    @property
    def sounding_hz(self):
        """The frequency on the pin while it sounds, 0 while silent."""
        return self.hz if self._out.duty else 0

    def write(self, hz, duty):
        if duty and hz != self.hz:
            hz = lane_hz(hz, self.lane)
            if hz != self.hz:
                self._out.retune(hz)
                self.hz = hz
        self._out.write(duty)

    def release(self):
        self._out.release()


class EngineOutputs:
    """The motor and the optional buzzer and shaker, written from a voice.Voice each tick. Any of them
    may be None (not fitted, or refused by the board): the others work on."""

    def __init__(self, motor, buzzer=None, shaker=None):
        self.motor = motor
        self.buzzer = buzzer
        self.shaker = shaker
        if buzzer is not None:
            buzzer.lane = EVEN
        if shaker is not None:
            shaker.lane = ODD

    @property
    def motor_pct(self):
        """The motor's duty as last written, in percent rounded up: 0 only while it is not driven."""
        duty = 0 if self.motor is None else self.motor.duty
        return (duty * 100 + DUTY_MAX - 1) // DUTY_MAX

    @property
    def buzzer_hz(self):
        return 0 if self.buzzer is None else self.buzzer.sounding_hz

    @property
    def shaker_hz(self):
        return 0 if self.shaker is None else self.shaker.sounding_hz

    def driven(self):
        """Whether any output is driven now (the engine heard or felt)."""
        return bool(self.motor_pct or self.buzzer_hz or self.shaker_hz)

    def status(self):
        """What the pins are driven with: for a self-test on a board without a trace."""
        out = {"motor": self.motor_pct, "buzzer_hz": self.buzzer_hz}
        if self.shaker is not None:
            out["shaker_hz"] = self.shaker_hz
        return out

    def write(self, voice):
        if self.motor is not None:
            self.motor.write(voice.motor_duty)
        if self.buzzer is not None:
            self.buzzer.write(voice.buzzer_hz, voice.buzzer_duty)
        if self.shaker is not None:
            self.shaker.write(voice.shaker_hz, voice.shaker_duty)

    def silence(self):
        """Motor stopped, buzzer and shaker quiet (the safe state)."""
        if self.motor is not None:
            self.motor.write(0)
        if self.buzzer is not None:
            self.buzzer.write(self.buzzer.hz, 0)
        if self.shaker is not None:
            self.shaker.write(self.shaker.hz, 0)

    def release(self):
        for out in (self.motor, self.buzzer, self.shaker):
            if out is not None:
                out.release()
