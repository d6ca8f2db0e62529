"""The simulated LEDC PWM as ports/esp32/machine_pwm.c drives it: the duty grid per chip, channel and
timer allocation, its refusals, and its quirks (duty_ns needs a timer, timers leak on a frequency change)."""

from fwtest import raises
from machine import PWM, Pin
from simboard import board


def setup_function():
    board.reset("ESP32")


def _servo(gpio, ns=1_500_000):
    # duty_ns needs a running timer: a duty_u16 first, as the port requires
    pwm = PWM(Pin(gpio), freq=50, duty_u16=0)
    pwm.duty_ns(ns)
    return pwm


def _timer(pwm):
    return board.timers[pwm.timer]


def _timers_in_use():
    return sum(1 for t in board.timers if t is not None)


def test_esp32_servo_frame_has_16_bit_resolution_on_a_305_ns_grid():
    pwm = _servo(13)
    assert _timer(pwm).bits == 16
    assert _timer(pwm).step_ns() == 305  # 20 ms / 65536
    assert pwm.freq() == 50
    assert pwm.duty_ns() == 1_499_939  # 1.5 ms lands on the nearest grid step
    assert board.trace.last(13).duty_ns == 1_499_939


def test_s3_and_c3_servo_frame_has_13_bit_resolution_on_a_2441_ns_grid():
    for chip in ("ESP32-S3", "ESP32-C3"):
        board.reset(chip)
        pwm = _servo(4)
        assert _timer(pwm).bits == 13, chip
        assert _timer(pwm).step_ns() == 2441, chip
        assert pwm.duty_ns() == 1_499_023, chip
        # requests between two steps land on the grid: the next step is 2.44 us further
        pwm.duty_ns(1_501_000)
        board.advance_ms(20)  # the duty register takes a write at the next period
        assert pwm.duty_ns() == 1_499_023, chip
        pwm.duty_ns(1_502_000)
        board.advance_ms(20)
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
        assert _timer(pwm).bits == bits, freq
    board.reset("ESP32-C3")
    assert _timer(PWM(Pin(3), freq=5000, duty_u16=0)).bits == 13


def test_very_low_frequencies_need_ref_tick_and_the_s3_refuses_them_with_esp_idf_errors():
    pwm = PWM(Pin(13), freq=1, duty_u16=32768)
    assert _timer(pwm).src_hz == 1_000_000
    assert pwm.freq() == 1
    board.reset("ESP32-S3")
    # no 14-bit divider fits below ~5 Hz: ledc_timer_config() refuses resolution 0
    with raises(OSError, "ESP_ERR_INVALID_ARG") as refused:
        PWM(Pin(13), freq=1, duty_u16=32768)
    assert refused.value.args[0] == -0x102
    # from 5 to 9 Hz 14 bits fit but 13 (one below the timer width) do not: ESP_FAIL, errno 1
    with raises(OSError, "ESP_FAIL") as refused:
        PWM(Pin(13), freq=9, duty_u16=32768)
    assert refused.value.args[0] == 1
    assert PWM(Pin(13), freq=10, duty_u16=32768).freq() == 10


def test_bad_frequencies_and_duties_are_refused_with_upstreams_messages():
    with raises(ValueError, "frequency must be from 1Hz to 40MHz"):
        PWM(Pin(13), freq=40_000_001)
    with raises(ValueError, "frequency must be from 1Hz to 40MHz"):
        PWM(Pin(13), freq=0)
    pwm = _servo(13)
    with raises(ValueError, "duty_ns must be from 0 to 20000000 ns"):
        pwm.duty_ns(20_000_001)
    with raises(ValueError, "duty_u16 must be from 0 to 65536"):
        pwm.duty_u16(65536)
    with raises(ValueError, "duty must be from 0 to 1023"):
        pwm.duty(1024)
    assert pwm.duty_ns() == 1_499_939  # a refused value changes nothing


def test_duty_ns_in_the_constructor_raises_pwm_is_inactive_on_every_chip():
    # check_duty_ns() converts through duty_to_ns(), which needs the timer a new PWM has not got yet
    for chip in ("ESP32", "ESP32-S2", "ESP32-S3", "ESP32-C3"):
        board.reset(chip)
        with raises(RuntimeError, "PWM is inactive"):
            PWM(Pin(4), freq=50, duty_ns=1_500_000)
        assert all(pin < 0 for pin in board.chan_pin), chip  # nothing was set up
        pwm = PWM(Pin(4), freq=50, duty_u16=0)
        pwm.duty_ns(1_500_000)
        assert 1_497_000 <= board.trace.last(4).duty_ns <= 1_501_000, chip
        pwm.deinit()
        with raises(RuntimeError, "PWM is inactive"):  # same on a deinit'ed PWM
            pwm.init(freq=50, duty_ns=1_500_000)
    with raises(ValueError, "frequency must be"):  # the frequency is checked first
        PWM(Pin(4), freq=0, duty_ns=1_500_000)


def test_init_checks_duty_ns_against_the_old_frequency_and_applies_it_at_the_new_one():
    # mp_machine_pwm_init_helper() checks duty_ns before set_freq(): the range is the old period's
    pwm = PWM(Pin(13), freq=1000, duty_u16=0)
    with raises(ValueError, "duty_ns must be from 0 to 1000000 ns"):
        pwm.init(freq=50, duty_ns=1_500_000)  # fits 20 ms, not the 1 ms it runs now
    pwm.init(freq=50, duty_u16=0)
    pwm.init(freq=1000, duty_ns=5_000_000)  # fits 20 ms: clamped to 100 % of the new 1 ms
    assert pwm.duty_u16() == 65535
    # duty_u16 wins over duty_ns, which is then not even checked
    pwm.init(duty_u16=100, duty_ns=99_999_999)
    assert pwm.duty_u16() == 100


def test_full_duty_reads_back_as_65535_and_holds_the_pin_high():
    pwm = PWM(Pin(13), freq=1000, duty_u16=65535)
    assert pwm.duty_u16() == 65535
    assert pwm.freq() == 998  # the 8.8 fixed-point divider cannot make 1 kHz exactly at 16 bits
    assert board.trace.last(13).duty_ns == _timer(pwm).period_ns() == 1_001_600
    for t in range(0, 3000, 97):
        assert board.pwm_high_at(13, t)
    pwm.duty_u16(0)
    board.advance_ms(2)
    for t in range(2000, 5000, 97):
        assert not board.pwm_high_at(13, t)


def test_without_a_duty_the_channel_starts_at_50_percent_and_5_khz():
    pwm = PWM(Pin(13), freq=50)
    assert board.trace.rows(13)[0].duty_ns == 10_000_000
    assert PWM(Pin(14)).freq() == 5000
    pwm.init(duty_u16=100)  # no frequency: the channel keeps its timer's
    assert pwm.freq() == 50


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


def test_a_frequency_change_onto_another_timers_frequency_leaks_its_own_timer():
    # machine_pwm.c: select_timer() moves the channel to the timer at that frequency; only deinit()
    # frees a timer, so the one it ran on stays configured at its old frequency
    left, right = _servo(13), _servo(14)
    assert left.timer == right.timer
    right.freq(100)
    assert right.timer != left.timer
    assert left.freq() == 50 and right.freq() == 100
    right.freq(50)
    assert right.timer == left.timer
    assert _timers_in_use() == 2
    assert sorted(t.requested_hz for t in board.timers if t is not None) == [50, 100]
    right.deinit()
    left.deinit()
    assert _timers_in_use() == 1  # the 100 Hz timer: nothing frees it before a soft reset


def test_a_tone_crossing_the_servo_frequency_runs_out_of_timers_on_s3_and_c3():
    for chip in ("ESP32-S3", "ESP32-C3"):
        board.reset(chip)
        servos = (_servo(1), _servo(2))
        tone = PWM(Pin(3), freq=45, duty_u16=32768)
        with raises(RuntimeError, "out of PWM timers:4"):
            for hz in (50, 56, 50, 44, 50, 57):  # each crossing leaves the timer it came from behind
                tone.freq(hz)
        assert tone.freq() == 50, chip
        assert servos[0].freq() == 50 and servos[1].freq() == 50


def test_re_frequencing_its_own_timer_in_place_leaks_nothing():
    tone = PWM(Pin(4), freq=440, duty_u16=32768)
    _servo(5)
    for hz in range(300, 3000, 7):
        tone.freq(hz)
    assert _timers_in_use() == 2


def test_timers_run_out_after_eight_frequencies_on_esp32_and_four_on_s3():
    for chip, freqs in (("ESP32", 8), ("ESP32-S3", 4)):
        board.reset(chip)
        for i in range(freqs):
            PWM(Pin(i + 1 if chip == "ESP32-S3" else (13, 14, 15, 16, 17, 18, 19, 21)[i]), freq=1000 + i,
                duty_u16=100)
        # find_channel() wants a mode with a timer free or at the frequency: channels run out first
        with raises(RuntimeError, "out of PWM channels"):
            PWM(Pin(23 if chip == "ESP32" else 10), freq=5000, duty_u16=100)
        # a frequency already running still fits
        PWM(Pin(23 if chip == "ESP32" else 10), freq=1000, duty_u16=100)


def test_esp32_fills_the_high_speed_timers_first_then_the_low_speed_ones():
    for i, gpio in enumerate((13, 14, 15, 16, 17)):
        pwm = PWM(Pin(gpio), freq=1000 + i, duty_u16=100)
        assert pwm.mode == (0 if i < 4 else 1), gpio
    assert pwm.channel == 8 and pwm.timer == 4  # the first low-speed channel and timer


def test_deinit_frees_the_channel_and_its_timer_and_traces_the_release():
    pwm = _servo(13)
    pwm.deinit()
    assert board.trace.last(13).kind == "off"
    assert board.level(13) == 0  # the stopped channel idles low
    with raises(RuntimeError, "PWM is inactive"):
        pwm.duty_u16(1000)
    with raises(RuntimeError, "PWM is inactive"):
        pwm.freq()
    assert all(pin < 0 for pin in board.chan_pin)
    assert _timers_in_use() == 0
    pwm.init(freq=50, duty_u16=0)  # re-attach, then the width
    pwm.duty_ns(1_000_000)
    assert pwm.duty_ns() == 1_000_061


def test_input_only_pins_pass_the_pin_check_and_ledc_channel_config_refuses_them():
    # Pin(34) exists; ESP-IDF ledc_channel_config() refuses a pin without output driver, after
    # the timer was set up: that timer stays configured
    with raises(OSError, "ESP_ERR_INVALID_ARG") as refused:
        PWM(Pin(34), freq=1000, duty_u16=0)
    assert refused.value.args[0] == -0x102
    assert [t.requested_hz for t in board.timers if t is not None] == [1000]
    assert all(pin < 0 for pin in board.chan_pin)
    board.reset("ESP32-S2")
    with raises(OSError, "ESP_ERR_INVALID_ARG"):
        PWM(46, freq=1000, duty_u16=0)


def test_pins_the_chip_lacks_or_the_flash_owns_are_invalid_pins():
    with raises(ValueError, "invalid pin"):
        PWM(20, freq=50, duty_u16=0)
    with raises(ValueError, "SPI flash"):
        PWM(7, freq=50, duty_u16=0)


def test_invert_flips_the_output_and_the_repr_says_so():
    pwm = PWM(Pin(13), freq=50, duty_u16=16384, invert=True)
    assert not board.pwm_high_at(13, 1000) and board.pwm_high_at(13, 6000)
    assert repr(pwm) == "PWM(Pin(13), freq=50, duty_u16=16384, invert=True)"
    pwm.init(invert=False)
    assert board.pwm_high_at(13, board.now_us + 1000)
    pwm.deinit()
    assert repr(pwm) == "PWM(Pin(13))"


def test_pulse_phase_is_known_so_a_release_can_avoid_cutting_a_pulse():
    _servo(13, 1_000_000)
    assert board.pwm_high_at(13, board.now_us + 500)
    assert not board.pwm_high_at(13, board.now_us + 1_500)
    assert board.pwm_high_at(13, board.now_us + 20_000 + 999)


def test_a_new_duty_latches_at_the_next_period_and_reads_back_from_then_on():
    # ESP-IDF ledc_get_duty() reads the duty the output runs on: upstream's PWM test sleeps after a
    # change on the ESP32 before reading it back
    servo = _servo(13, 1_500_000)
    board.advance_us(40_200)  # inside the third 1.5 ms pulse
    servo.duty_ns(1_000_000)
    assert servo.duty_ns() == 1_499_939  # still the old duty until the period ends
    assert board.pwm_high_at(13, 41_200)  # the pulse in progress keeps its 1.5 ms
    assert board.pwm_high_at(13, 60_900)
    assert not board.pwm_high_at(13, 61_200)  # the next one is 1 ms
    board.advance_us(20_000)
    assert servo.duty_ns() == 1_000_061


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


def test_a_ctrl_c_between_the_duty_write_and_its_trace_row_leaves_no_row_missing():
    # a pending KeyboardInterrupt is raised between two bytecodes of the simulator (the chip's C call is
    # not cut there): the next write of the same duty must still show it in the trace
    pwm = PWM(Pin(25), freq=1000, duty_u16=40_000)
    record = board.record

    def interrupted(*args):
        board.record = record
        raise KeyboardInterrupt

    board.record = interrupted
    with raises(KeyboardInterrupt):
        pwm.duty_u16(0)
    assert board.trace.last(25).duty_ns > 0  # the row was cut off
    pwm.duty_u16(0)  # the stop writes it again
    assert board.trace.last(25).duty_ns == 0
