"""The simulated LEDC PWM: the duty grid per chip, channel and timer limits, shared timers."""

from fwtest import raises
from machine import PWM, Pin
from simboard import board


def setup_function():
    board.reset("ESP32")


def _servo(gpio, ns=1_500_000):
    return PWM(Pin(gpio), freq=50, duty_ns=ns)


def test_esp32_servo_frame_has_16_bit_resolution_on_a_305_ns_grid():
    pwm = _servo(13)
    timer = board.timers[pwm.timer]
    assert timer.bits == 16
    assert timer.step_ns() == 305  # 20 ms / 65536
    assert pwm.freq() == 50
    assert pwm.duty_ns() == 1_499_939  # 1.5 ms lands on the nearest grid step
    assert board.trace.last(13).duty_ns == 1_499_939


def test_s3_and_c3_servo_frame_has_13_bit_resolution_on_a_2441_ns_grid():
    for chip in ("ESP32-S3", "ESP32-C3"):
        board.reset(chip)
        pwm = _servo(4)
        timer = board.timers[pwm.timer]
        assert timer.bits == 13, chip
        assert timer.step_ns() == 2441, chip
        assert pwm.duty_ns() == 1_499_023, chip
        # requests between two steps land on the grid: the next step is 2.44 us further
        pwm.duty_ns(1_501_000)
        assert pwm.duty_ns() == 1_499_023, chip
        pwm.duty_ns(1_502_000)
        assert pwm.duty_ns() == 1_501_465, chip


def test_every_requested_width_lands_on_the_grid_and_within_half_a_step_or_so():
    for chip, step in (("ESP32", 305.17578125), ("ESP32-S3", 2441.40625)):
        board.reset(chip)
        pwm = _servo(5)
        for ns in range(500_000, 2_500_001, 7_919):
            pwm.duty_ns(ns)
            out = board.trace.last(5).duty_ns
            steps = out / step
            assert abs(steps - round(steps)) < 0.01, (chip, ns, out)
            assert abs(out - ns) <= step, (chip, ns, out)


def test_resolution_follows_the_frequency_as_the_ledc_driver_computes_it():
    expected = {50: 16, 1000: 16, 5000: 13, 20_000: 11, 1_000_000: 6, 40_000_000: 1}
    for freq, bits in expected.items():
        board.reset("ESP32")
        pwm = PWM(Pin(13), freq=freq, duty_u16=0)
        assert board.timers[pwm.timer].bits == bits, freq
    board.reset("ESP32-C3")
    assert board.timers[PWM(Pin(3), freq=5000, duty_u16=0).timer].bits == 13


def test_very_low_frequencies_need_ref_tick_which_s3_lacks():
    pwm = PWM(Pin(13), freq=1, duty_u16=32768)
    assert board.timers[pwm.timer].src_hz == 1_000_000
    assert pwm.freq() == 1
    board.reset("ESP32-S3")
    with raises(OSError, "cannot make 1 Hz"):
        PWM(Pin(13), freq=1, duty_u16=32768)


def test_bad_frequencies_and_duties_are_refused():
    with raises(ValueError, "frequency must be"):
        PWM(Pin(13), freq=40_000_001)
    with raises(ValueError, "frequency must be"):
        PWM(Pin(13), freq=0)
    pwm = _servo(13)
    with raises(ValueError, "duty_ns must be from 0 to 20000000"):
        pwm.duty_ns(20_000_001)
    with raises(ValueError, "duty_u16"):
        pwm.duty_u16(65536)
    assert pwm.duty_ns() == 1_499_939  # a refused value changes nothing


def test_full_duty_reads_back_as_65535():
    pwm = PWM(Pin(13), freq=1000, duty_u16=65535)
    assert pwm.duty_u16() == 65535
    assert pwm.freq() == 998  # the 8.8 fixed-point divider cannot make 1 kHz exactly at 16 bits
    assert board.trace.last(13).duty_ns == board.timers[pwm.timer].period_ns() == 1_001_600


def test_without_a_duty_the_channel_starts_at_50_percent():
    # Why the firmware constructs servo PWM with freq and duty in one call.
    PWM(Pin(13), freq=50)
    assert board.trace.rows(13)[0].duty_ns == 10_000_000


def test_esp32_has_16_channels_then_refuses_with_a_clear_error():
    pins = [0, 2, 4, 5, 12, 13, 14, 15, 16, 17, 18, 19, 21, 22, 23, 25]
    for gpio in pins:
        _servo(gpio)
    with raises(RuntimeError, "out of PWM channels:16"):
        _servo(26)


def test_s3_has_8_channels_and_c3_has_6():
    for chip, count in (("ESP32-S3", 8), ("ESP32-C3", 6)):
        board.reset(chip)
        for gpio in range(count):
            _servo(gpio)
        with raises(RuntimeError, "out of PWM channels:" + str(count)):
            _servo(count)


def test_equal_frequencies_share_a_timer_and_a_new_frequency_takes_another():
    left, right = _servo(13), _servo(14)
    assert left.timer == right.timer
    right.freq(100)
    assert right.timer != left.timer
    assert left.freq() == 50 and right.freq() == 100
    right.freq(50)  # back on the shared timer, the 100 Hz timer is freed
    assert right.timer == left.timer
    assert sum(1 for t in board.timers if t is not None) == 1


def test_timers_run_out_after_eight_frequencies_on_esp32_and_four_on_s3():
    for chip, freqs in (("ESP32", 8), ("ESP32-S3", 4)):
        board.reset(chip)
        for i in range(freqs):
            PWM(Pin(i + 1 if chip == "ESP32-S3" else (13, 14, 15, 16, 17, 18, 19, 21)[i]), freq=1000 + i,
                duty_u16=100)
        with raises(RuntimeError, "out of PWM timers"):
            PWM(Pin(23 if chip == "ESP32" else 10), freq=5000, duty_u16=100)
        # a frequency already running still fits
        PWM(Pin(23 if chip == "ESP32" else 10), freq=1000, duty_u16=100)


def test_deinit_frees_the_channel_and_traces_the_release():
    pwm = _servo(13)
    pwm.deinit()
    assert board.trace.last(13).kind == "off"
    with raises(RuntimeError, "PWM is inactive"):
        pwm.duty_ns(1_000_000)
    assert all(pin < 0 for pin in board.chan_pin)
    assert all(t is None for t in board.timers)
    pwm.init(freq=50, duty_ns=1_000_000)  # re-attach
    assert pwm.duty_ns() == 1_000_061


def test_output_pins_only():
    with raises(ValueError, "can only be input"):
        PWM(Pin(34), freq=50, duty_ns=1_500_000)
    with raises(ValueError, "SPI flash"):
        PWM(7, freq=50, duty_ns=1_500_000)


def test_pulse_phase_is_known_so_a_release_can_avoid_cutting_a_pulse():
    _servo(13, 1_000_000)
    assert board.pwm_high_at(13, board.now_us + 500)
    assert not board.pwm_high_at(13, board.now_us + 1_500)
    assert board.pwm_high_at(13, board.now_us + 20_000 + 999)


def test_a_new_duty_latches_at_the_next_period_like_the_ledc():
    servo = _servo(13, 1_500_000)
    board.advance_us(40_200)  # inside the third 1.5 ms pulse
    servo.duty_ns(1_000_000)
    assert board.pwm_high_at(13, 41_200)  # the pulse in progress keeps its 1.5 ms
    assert board.pwm_high_at(13, 60_900)
    assert not board.pwm_high_at(13, 61_200)  # the next one is 1 ms
    assert servo.duty_ns() == 1_000_061  # reads back what was written


def test_releasing_in_the_middle_of_a_pulse_is_recorded_as_a_cut_pulse():
    servo = _servo(13, 1_500_000)
    board.advance_us(40_000 + 700)  # inside the third pulse
    servo.deinit()
    assert board.cut_pulses == [(40_700, 13)]


def test_dropping_the_duty_to_zero_first_lets_the_last_pulse_finish():
    servo = _servo(13, 1_500_000)
    board.advance_us(40_000 + 700)
    servo.duty_ns(0)  # latches at 60 ms; the pulse in progress completes
    assert board.pwm_high_at(13, 40_000 + 1_400)
    board.advance_us(20_000)
    servo.deinit()
    assert board.cut_pulses == []
