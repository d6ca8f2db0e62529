"""Thin adapters from the voice to the pins: motor (MOSFET or H-bridge), buzzer, shaker.

Each PWM is constructed with its frequency and duty in one call (a channel made without a duty
starts at 50 %) and written only when a value changed. LEDC timers are scarce (4 on ESP32-S3/C3,
one already runs the doors' 50 Hz): every motor output runs at MOTOR_FREQ_HZ and so shares one
timer; the buzzer and the shaker change frequency with rpm, so each needs a timer of its own.
"""

from machine import PWM, Pin

MOTOR_FREQ_HZ = 20_000  # above hearing, within what DRV8833 (250 kHz) and TB6612 (100 kHz) switch


class PwmOutput:
    """One PWM pin, written only when its duty changes; released to a plain low output."""

    def __init__(self, pin, freq):
        self._gpio = pin
        self._pwm = PWM(Pin(pin), freq=freq, duty_u16=0)
        self.duty = 0

    def write(self, duty):
        if duty != self.duty:
            self.duty = duty
            self._pwm.duty_u16(duty)

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
    transistor, or a shaker (a vibration coil). Holds its last frequency while silent."""

    def __init__(self, pin, hz=1000):
        self._out = PwmOutput(pin, hz)
        self.hz = hz

    @property
    def duty(self):
        return self._out.duty

    def write(self, hz, duty):
        if duty and hz != self.hz:
            self.hz = hz
            self._out._pwm.freq(hz)
        self._out.write(duty)

    def release(self):
        self._out.release()


class EngineOutputs:
    """The motor and the optional buzzer and shaker, written from a voice.Voice each tick."""

    def __init__(self, motor, buzzer=None, shaker=None):
        self.motor = motor
        self.buzzer = buzzer
        self.shaker = shaker

    def write(self, voice):
        self.motor.write(voice.motor_duty)
        if self.buzzer is not None:
            self.buzzer.write(voice.buzzer_hz, voice.buzzer_duty)
        if self.shaker is not None:
            self.shaker.write(voice.shaker_hz, voice.shaker_duty)

    def silence(self):
        """Motor stopped, buzzer and shaker quiet (the safe state)."""
        self.motor.write(0)
        if self.buzzer is not None:
            self.buzzer.write(self.buzzer.hz, 0)
        if self.shaker is not None:
            self.shaker.write(self.shaker.hz, 0)

    def release(self):
        for out in (self.motor, self.buzzer, self.shaker):
            if out is not None:
                out.release()
