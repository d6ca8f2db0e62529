"""The servo adapter on the simulated ESP32: calibration, hard pulse limits, one-call construction,
release without a cut pulse, re-attach where it was."""

from fwtest import raises
from gullwing.servo import Calibration, Servo, duty_u16_of
from simboard import board

PIN = 18


def setup_function():
    board.reset("ESP32")


def _pulses(pin=PIN):
    return [row.duty_ns for row in board.trace.rows(pin) if row.kind == "pwm"]


def test_calibration_maps_door_angles_to_pulses_both_ways_round():
    left = Calibration()  # 500-2500 us over 180 deg, closed at 45 deg of horn, 90 deg of opening
    right = Calibration(reversed=True)
    assert abs(left.pulse_ns(0) - 1_000_000) < 100
    assert abs(left.pulse_ns(9000) - 2_000_000) < 100
    assert abs(left.pulse_ns(4500) - 1_500_000) < 100
    assert abs(right.pulse_ns(0) - 2_000_000) < 100  # the mirrored door turns the other way
    assert abs(right.pulse_ns(9000) - 1_000_000) < 100
    trimmed = Calibration(trim_us=-12)
    assert trimmed.pulse_ns(3000) == left.pulse_ns(3000) - 12_000
    servo_1_to_2 = Calibration(min_us=1000, max_us=2000, travel_deg=90, closed_deg=0, open_deg=90)
    assert abs(servo_1_to_2.pulse_ns(4500) - 1_500_000) < 100


def test_angle_of_a_pulse_is_the_inverse_of_the_pulse_of_an_angle():
    for cal in (Calibration(), Calibration(reversed=True, trim_us=37), Calibration(closed_deg=10, open_deg=120)):
        for cdeg in range(0, cal.open_cdeg + 1, 7):
            assert cal.pulse_ns(cal.angle_cdeg(cal.pulse_ns(cdeg))) == cal.pulse_ns(cdeg), cdeg
            assert abs(cal.angle_cdeg(cal.pulse_ns(cdeg)) - cdeg) <= 1


def test_pulses_never_leave_the_calibrated_range_whatever_is_asked():
    for cal in (Calibration(closed_deg=0, open_deg=180, trim_us=-200),
                Calibration(closed_deg=0, open_deg=180, trim_us=200, reversed=True),
                Calibration(min_us=900, max_us=2100, travel_deg=120, closed_deg=20, open_deg=100)):
        for cdeg in (-10**6, -1, 0, 1, cal.open_cdeg, cal.open_cdeg + 1, 10**6):
            assert cal.min_us * 1000 <= cal.pulse_ns(cdeg) <= cal.max_us * 1000, cdeg


def test_even_the_chips_rounding_keeps_pulses_within_the_range():
    for chip in ("ESP32", "ESP32-S3", "ESP32-C3"):
        board.reset(chip)
        cal = Calibration(min_us=501, max_us=2499, closed_deg=0, open_deg=180)
        servo = Servo(4, cal)
        for cdeg in (-500, 0, 100, 17_900, 18_000, 20_000):
            servo.write(cdeg)
            board.advance_ms(20)
        pulses = _pulses(4)
        assert min(pulses) >= 501_000 and max(pulses) <= 2_499_000, (chip, pulses)
        assert min(pulses) < 501_000 + 2_500 and max(pulses) > 2_499_000 - 2_500  # and reach the ends


def test_bad_calibrations_are_refused_by_name_and_value():
    with raises(ValueError, "max_us must be 1100..3000 us (100 us above min_us 1000), got 900"):
        Calibration(min_us=1000, max_us=900)
    with raises(ValueError, "open_deg must be 1..135 deg (travel_deg 180 less closed_deg 45), got 150"):
        Calibration(open_deg=150)
    with raises(ValueError, "trim_us"):
        Calibration(trim_us=500)
    with raises(ValueError, "closed_deg"):
        Calibration(closed_deg=-5)
    with raises(ValueError, "min_us"):
        Calibration(min_us=1.5)


def test_the_first_pulse_is_the_position_held_never_the_50_percent_default():
    servo = Servo(PIN, Calibration())
    assert board.trace.rows(PIN) == []  # nothing driven until asked
    servo.write(0)
    rows = board.trace.rows(PIN)
    assert len(rows) == 1 and rows[0].freq_hz == 50
    assert abs(rows[0].duty_ns - 1_000_000) < 400  # the closed pulse, on the LEDC grid


def test_a_released_servo_resumes_at_the_pulse_it_held():
    servo = Servo(PIN, Calibration())
    servo.hold(1_734_000)  # e.g. restored at boot
    servo.write(3000)
    first, second = _pulses()[:2]
    assert abs(first - 1_734_000) < 310  # first exactly where it was...
    assert abs(second - Calibration().pulse_ns(3000)) < 310  # ...then where it is asked to go


def test_release_lets_the_last_pulse_finish_stops_the_output_and_reattaches_in_one_call():
    servo = Servo(PIN, Calibration())
    servo.write(4500)
    held = _pulses()[-1]
    board.advance_us(40_700)  # in the middle of a pulse
    servo.quiet()
    board.advance_ms(21)
    servo.detach()
    assert board.cut_pulses == []
    rows = board.trace.rows(PIN)
    assert rows[-1].kind == "off" and not servo.attached
    board.advance_ms(500)
    assert len(board.trace.rows(PIN)) == len(rows)  # nothing driven while released
    servo.write(4500)
    again = board.trace.rows(PIN)[len(rows):]
    assert [r.duty_ns for r in again] == [held]  # back on, at once at the same pulse
    assert servo.attached


def test_a_release_that_would_cut_a_pulse_is_refused():
    servo = Servo(PIN, Calibration())
    servo.write(4500)
    board.advance_us(10_500)
    with raises(RuntimeError, "cut a pulse"):
        servo.detach()
    assert board.cut_pulses == [] and servo.attached


def test_writing_during_a_release_resumes_without_a_new_channel():
    servo = Servo(PIN, Calibration())
    servo.write(4500)
    held = _pulses()[-1]
    servo.quiet()
    board.advance_ms(5)
    servo.write(4600)
    pulses = _pulses()
    assert pulses[-3:] == [0, held, board.trace.last(PIN).duty_ns]  # resumes where it was, moves on
    assert abs(pulses[-1] - Calibration().pulse_ns(4600)) < 310
    assert sum(1 for row in board.trace.rows(PIN) if row.kind == "off") == 0


def test_the_first_pulse_at_attach_is_exactly_the_pulse_the_port_makes_of_it_later():
    # a PWM not yet running refuses duty_ns ("PWM is inactive" on 1.26-1.29): attach passes duty_u16,
    # rounded as the port rounds duty_ns, so attaching and writing the same pulse give one width
    for chip in ("ESP32", "ESP32-S3", "ESP32-C3"):
        board.reset(chip)
        servo = Servo(4, Calibration(min_us=500, max_us=2500))
        for ns in list(range(500_000, 2_500_001, 9_973)) + [1_000_152, 1_000_153, 1_500_076, 1_500_077]:
            servo.drive(ns)  # attaches: the first pulse
            first = board.trace.last(4)
            servo.drive(ns + 20_000)
            servo.drive(ns)  # the same pulse through duty_ns
            assert board.trace.last(4).duty_ns == first.duty_ns and first.freq_hz == 50, (chip, ns)
            servo.quiet()
            board.advance_ms(21)
            servo.detach()
        assert board.cut_pulses == [], chip


def test_the_attach_duty_is_the_port_s_rounding_of_the_pulse():
    for ns in (0, 1, 152, 153, 305, 1_000_000, 1_500_076, 1_500_077, 2_999_999, 20_000_000):
        exact = (ns * 65536 * 50 + 500_000_000) // 1_000_000_000  # machine_pwm.c: ns_to_duty
        exact = 1 if ns and not exact else min(exact, 65536)
        assert duty_u16_of(ns) == (65535 if exact == 65536 else exact), ns


def test_a_servo_pin_the_chip_refuses_is_named_in_the_error():
    servo = Servo(34, Calibration())  # input only on the ESP32: ESP-IDF refuses the channel (OSError)
    with raises(OSError, "GPIO34"):
        servo.write(0)
    assert not servo.attached and board.trace.rows(34) == []
