"""The output adapters on the simulated ESP32: what reaches the motor, buzzer and shaker pins."""

from fwtest import raises
from gullwing.engine import Engine
from gullwing.motor import EVEN, MOTOR_FREQ_HZ, ODD, EngineOutputs, HBridgeMotor, MosfetMotor, Tone, lane_hz
from gullwing.servo import Calibration, Servo
from gullwing.voice import BUZZER_MAX_HZ, BUZZER_MIN_HZ, SHAKER_MAX_HZ, SHAKER_MIN_HZ, Voice
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


# the largest board: two door servos, an H-bridge motor (one PWM, one plain pin), buzzer and shaker
LARGEST = {"ESP32": (18, 19, 26, 27, 23, 22), "ESP32-S3": (4, 5, 7, 15, 16, 6), "ESP32-C3": (4, 5, 7, 10, 3, 6)}
PLAN_TIMERS = 4  # doors 50 Hz, motor MOTOR_FREQ_HZ, buzzer, shaker: all the S2/S3/C3 have
PLAN_CHANNELS = 5


def _in_use():
    return (sum(1 for t in board.timers if t is not None), sum(1 for pin in board.chan_pin if pin >= 0))


def _sweep():
    """(buzzer hz, shaker hz) steps over every frequency the voice can produce, up and down, with the
    shaker crossing the doors' 50 Hz many times and both tones meeting where their ranges overlap."""
    buzz_span = BUZZER_MAX_HZ - BUZZER_MIN_HZ
    shake_span = SHAKER_MAX_HZ - SHAKER_MIN_HZ
    for i in range(2 * buzz_span + 2):
        j = i % (2 * shake_span + 2)
        yield (BUZZER_MIN_HZ + (i if i <= buzz_span else 2 * buzz_span + 1 - i),
               SHAKER_MIN_HZ + (j if j <= shake_span else 2 * shake_span + 1 - j))
    for f in range(BUZZER_MIN_HZ, SHAKER_MAX_HZ + 1):
        for d in (0, -1, 1):
            yield f, f + d


def test_tones_sweeping_every_voice_frequency_keep_within_the_ledc_plan_on_every_chip():
    for chip, (left, right, in1, in2, buzzer_pin, shaker_pin) in LARGEST.items():
        board.reset(chip)
        doors = [Servo(left, Calibration()), Servo(right, Calibration(reversed=True))]
        for door in doors:
            door.write(4500)
        outputs = EngineOutputs(HBridgeMotor(in1, in2), Tone(buzzer_pin), Tone(shaker_pin, SHAKER_MIN_HZ))
        outputs.motor.write(40_000)
        for n, (buzzer_hz, shaker_hz) in enumerate(_sweep()):
            outputs.buzzer.write(buzzer_hz, 20_000)
            outputs.shaker.write(shaker_hz, 20_000)
            if n % 50 == 0:
                doors[n // 50 % 2].write(n % 9000)  # the doors keep moving on their shared timer
            assert _in_use() == (PLAN_TIMERS, PLAN_CHANNELS), (chip, buzzer_hz, shaker_hz, _in_use())
            assert abs(outputs.buzzer.hz - buzzer_hz) <= 2 and abs(outputs.shaker.hz - shaker_hz) <= 2
        board.advance_ms(20)
        assert board.trace.last(left).freq_hz == 50 and board.trace.last(in1).freq_hz == MOTOR_FREQ_HZ, chip
        for door in doors:  # released and back: the 50 Hz timer is freed and found again
            door.quiet()
        board.advance_ms(21)
        for door in doors:
            door.detach()
        outputs.shaker.write(51, 20_000)
        assert _in_use() == (PLAN_TIMERS - 1, PLAN_CHANNELS - 2), chip
        doors[0].write(0)
        assert _in_use() == (PLAN_TIMERS, PLAN_CHANNELS - 1) and board.trace.last(left).freq_hz == 50, chip


def test_a_tone_never_asks_for_the_doors_or_the_motor_s_frequency_nor_the_other_tone_s():
    for hz in range(1, 25_000):
        even, odd = lane_hz(hz, EVEN), lane_hz(hz, ODD)
        assert even % 2 == 0 and odd % 2 == 1 and abs(even - hz) <= 2 and abs(odd - hz) <= 1, hz
        assert even not in (50, MOTOR_FREQ_HZ) and odd not in (50, MOTOR_FREQ_HZ), hz
    outputs = EngineOutputs(MosfetMotor(25), Tone(23), Tone(22, SHAKER_MIN_HZ))
    assert outputs.buzzer.lane != outputs.shaker.lane  # whatever lanes they were made with


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
