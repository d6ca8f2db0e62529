"""The output adapters on the simulated ESP32: what reaches the motor, buzzer and shaker pins."""

from fwtest import raises
from gullwing.engine import Engine
from gullwing.motor import MOTOR_FREQ_HZ, EngineOutputs, HBridgeMotor, MosfetMotor, Tone
from gullwing.voice import Voice
from machine import PWM, Pin
from simboard import board


def setup_function():
    board.reset("ESP32")


def _ns(duty_u16, freq=MOTOR_FREQ_HZ):
    return duty_u16 * 1_000_000_000 // freq // 65536


def _run_engine(outputs, tick=20, ms=9000, each=None):
    """Start, idle, full throttle into the limiter, lift, stop: outputs written every tick."""
    e = Engine()
    v = Voice()
    e.start()
    for t in range(0, ms, tick):
        if t == 3000:
            e.throttle(100)
        elif t == 5000:
            e.throttle(0)
        elif t == 7000:
            e.stop()
        e.tick(tick)
        v.update(e, tick)
        outputs.write(v)
        board.advance_ms(tick)
        if each is not None:
            each(e, v)
    return e, v


def test_the_mosfet_motor_starts_stopped_and_writes_only_changes():
    motor = MosfetMotor(25)
    first = board.trace.rows(25)
    assert len(first) == 1 and first[0].duty_ns == 0 and first[0].freq_hz == MOTOR_FREQ_HZ  # never 50 %
    motor.write(32768)
    assert abs(board.trace.last(25).duty_ns - _ns(32768)) <= 25
    rows = len(board.trace.rows(25))
    motor.write(32768)
    assert len(board.trace.rows(25)) == rows


def test_the_motor_pin_follows_the_voice():
    motor = MosfetMotor(25)

    def check(e, v):
        assert abs(board.trace.last(25).duty_ns - _ns(v.motor_duty)) <= 50, (e.rpm, v.motor_duty)

    _run_engine(EngineOutputs(motor), each=check)
    assert len(board.trace.rows(25)) > 100


def test_the_h_bridge_pulses_in1_and_holds_in2_low():
    for reverse in (False, True):
        board.reset("ESP32")
        bridge = HBridgeMotor(26, 27, reverse=reverse)
        pulsed, held = (27, 26) if reverse else (26, 27)
        _run_engine(EngineOutputs(bridge), ms=5000)
        pwm_rows = board.trace.rows(pulsed)
        assert len(pwm_rows) > 100 and all(r.kind == "pwm" and r.freq_hz == MOTOR_FREQ_HZ for r in pwm_rows)
        assert max(r.duty_ns for r in pwm_rows) > _ns(60_000)
        assert [(r.kind, r.level) for r in board.trace.rows(held)] == [("gpio", 0)]
        assert board.level(held) == 0
    with raises(ValueError, "two different pins, got 26 twice"):
        HBridgeMotor(26, 26)


def test_a_tone_changes_frequency_only_while_sounding():
    buzzer = Tone(23, 400)
    assert board.trace.last(23).duty_ns == 0
    buzzer.write(400, 20_000)
    assert board.trace.last(23).freq_hz == 400
    buzzer.write(800, 0)  # silent: the duty drops, the timer is left alone
    assert board.trace.last(23).duty_ns == 0 and board.trace.last(23).freq_hz == 400
    buzzer.write(800, 20_000)
    assert abs(board.trace.last(23).freq_hz - 800) <= 1  # what the LEDC divider makes of 800 Hz
    rows = len(board.trace.rows(23))
    buzzer.write(800, 20_000)
    assert len(board.trace.rows(23)) == rows


def test_everything_fits_the_s3_ledc_beside_the_doors():
    # 4 LEDC timers: the doors' 50 Hz, the motor's 20 kHz, and one each for the changing tones
    board.reset("ESP32-S3")
    doors = (PWM(Pin(1), freq=50, duty_ns=1_500_000), PWM(Pin(2), freq=50, duty_ns=1_500_000))
    outputs = EngineOutputs(HBridgeMotor(4, 5), Tone(6), Tone(7, 10))
    buzzer_hz = set()
    shaker_hz = set()

    def check(e, v):
        buzzer_hz.add(board.trace.last(6).freq_hz)
        shaker_hz.add(board.trace.last(7).freq_hz)

    _run_engine(outputs, each=check)
    assert len(buzzer_hz) > 20 and len(shaker_hz) > 20  # the tones moved with the engine ...
    assert sum(1 for t in board.timers if t is not None) <= 4  # ... within the chip's timers
    assert doors[0].freq() == 50 and board.trace.last(1).duty_ns == doors[0].duty_ns()


def test_silence_and_release_leave_every_output_low():
    outputs = EngineOutputs(MosfetMotor(25), Tone(23), Tone(22, 10))
    _run_engine(outputs, ms=4000)  # at the limiter: everything is busy
    assert board.trace.last(25).duty_ns > 0 and board.trace.last(23).duty_ns > 0
    outputs.silence()
    for gpio in (25, 23, 22):
        assert board.trace.last(gpio).duty_ns == 0, gpio
    outputs.release()
    for gpio in (25, 23, 22):
        assert board.trace.last(gpio).kind == "gpio" and board.level(gpio) == 0, gpio
    assert all(pin < 0 for pin in board.chan_pin)
