"""The status LED on the simulated ESP32: each mode's blink pattern as the pin shows it over time."""

import time

import fwtest
import machine
from gullwing.led import FAILSAFE, FAULT, PATTERNS, RUNNING, SAFE_MODE, STOPPED, StatusLed, mode_for
from simboard import board

LED = 4
TICK_MS = 20
_writes = [0]
_real_value = machine.Pin.value


def _counting_value(pin, x=None):
    if x is not None:
        _writes[0] += 1
    return _real_value(pin, x)


def setup_function():
    board.reset("ESP32")
    _writes[0] = 0
    machine.Pin.value = _counting_value  # every write the firmware makes, whether it changes the level or not


def teardown_function():
    machine.Pin.value = _real_value


def _run(led, ms):
    """Tick every 20 ms for `ms`; the LED's lit level (1/0) after each tick, one per tick."""
    seen = []
    for _ in range(ms // TICK_MS):
        led.tick(time.ticks_ms())
        seen.append(board.level(LED))
        board.advance_ms(TICK_MS)
    return seen


def _lit(levels, active_low=False):
    return [1 - v for v in levels] if active_low else levels


def _runs(levels):
    """The lengths in ms of each run of equal levels, with the level: [(1, 100), (0, 100), ...]."""
    out = []
    for v in levels:
        if out and out[-1][0] == v:
            out[-1][1] += TICK_MS
        else:
            out.append([v, TICK_MS])
    return [tuple(r) for r in out]


def _expected(pattern, cycles):
    out = []
    for _ in range(cycles):
        for i, ms in enumerate(pattern):
            level = 1 - (i & 1)
            if ms == 0:
                continue
            if out and out[-1][0] == level:
                out[-1] = (level, out[-1][1] + ms)
            else:
                out.append((level, ms))
    return out


def test_the_led_is_dark_from_the_constructor_on_and_never_flashes_on_the_way():
    StatusLed(LED)
    assert [(r.kind, r.level) for r in board.trace.rows(LED)] == [("gpio", 0)]
    board.reset("ESP32")
    StatusLed(LED, active_low=True)  # a strapping pin that must stay high: high before it is an output
    assert [(r.kind, r.level) for r in board.trace.rows(LED)] == [("gpio", 1)]


def test_each_mode_blinks_its_own_pattern_on_the_20_ms_grid():
    for mode, cycles in ((RUNNING, 3), (FAILSAFE, 4), (FAULT, 10), (SAFE_MODE, 3)):
        board.reset("ESP32")
        led = StatusLed(LED)
        led.mode = mode
        pattern = PATTERNS[mode]
        assert all(ms % TICK_MS == 0 for ms in pattern), mode
        assert _runs(_run(led, sum(pattern) * cycles)) == _expected(pattern, cycles), mode


def test_the_patterns_read_as_described():
    def lit_flashes(mode):  # (flashes per cycle, longest lit ms, cycle ms)
        pattern = PATTERNS[mode]
        lit = [ms for i, ms in enumerate(pattern) if i % 2 == 0]
        return len(lit), max(lit), sum(pattern)

    assert lit_flashes(RUNNING) == (2, 100, 1500)  # heartbeat: a double flash every 1.5 s
    assert lit_flashes(FAULT) == (1, 100, 200)  # 5 Hz
    assert lit_flashes(FAILSAFE) == (1, 500, 1000)  # 1 Hz, even
    assert lit_flashes(SAFE_MODE) == (1, 1600, 2000)  # mostly lit, a dark wink
    assert PATTERNS[STOPPED][1] == 0  # never dark


def test_active_low_inverts_the_pin_not_the_pattern():
    high = _run(StatusLed(LED), 3000)
    board.reset("ESP32")
    low = _run(StatusLed(LED, active_low=True), 3000)
    assert _lit(low, active_low=True) == high and 1 in high and 0 in high


def test_a_mode_change_shows_at_the_next_tick_whatever_the_phase():
    for after_ms in (20, 140, 700, 1480):
        board.reset("ESP32")
        led = StatusLed(LED)
        _run(led, after_ms)  # somewhere in the heartbeat's dark or lit part
        led.mode = FAULT
        assert _runs(_run(led, 1000)) == _expected(PATTERNS[FAULT], 5), after_ms


def test_setting_the_same_mode_every_tick_changes_nothing():
    led = StatusLed(LED)
    plain = _run(led, 3000)
    board.reset("ESP32")
    led = StatusLed(LED)
    seen = []
    for _ in range(3000 // TICK_MS):
        led.mode = mode_for(False, False, False)
        led.tick(time.ticks_ms())
        seen.append(board.level(LED))
        board.advance_ms(TICK_MS)
    assert seen == plain


def test_the_pin_is_written_only_when_the_level_changes():
    led = StatusLed(LED)
    _writes[0] = 0
    _run(led, 15_000)  # ten heartbeats: 750 ticks, four changes each
    assert _writes[0] == 40
    led.mode = SAFE_MODE
    _writes[0] = 0
    _run(led, 20_000)  # already lit: the first change is the wink at 1.6 s
    assert _writes[0] == 20


def test_the_pattern_keeps_time_across_the_ticks_wrap():
    board.reset("ESP32", start_us=((1 << 30) - 700) * 1000)  # ticks_ms wraps 0.7 s in
    led = StatusLed(LED)
    assert _runs(_run(led, 4500)) == _expected(PATTERNS[RUNNING], 3)


def test_late_ticks_delay_a_change_but_never_stretch_the_pattern():
    led = StatusLed(LED)
    lit_at = []
    before = 0
    start = time.ticks_ms()
    for _ in range(3000 // 30):  # a 30 ms tick: each change is seen up to 20 ms late, never later
        led.tick(time.ticks_ms())
        if board.level(LED) and not before:
            lit_at.append(time.ticks_diff(time.ticks_ms(), start))
        before = board.level(LED)
        board.advance_ms(30)
    assert lit_at == [0, 210, 1500, 1710]  # lit at 0, 200, 1500 and 1700 ms


def test_a_stalled_loop_picks_the_pattern_up_again_rather_than_race_through_it():
    led = StatusLed(LED)
    _run(led, 100)
    board.advance_ms(5000)
    _writes[0] = 0
    assert _runs(_run(led, 1500)) == _expected(PATTERNS[RUNNING], 1)


def test_the_priority_is_safe_mode_then_fault_then_failsafe_then_running():
    assert mode_for(False, False, False) == RUNNING
    assert mode_for(False, False, True) == FAILSAFE
    assert mode_for(False, True, True) == FAULT
    assert mode_for(True, True, True) == SAFE_MODE
    assert mode_for("3 crashes", [], False) == SAFE_MODE  # truth values, as the app holds them
    assert mode_for(None, ["motor: no pin"], False) == FAULT


def test_stop_lights_the_led_for_good():
    led = StatusLed(LED, active_low=True)
    led.mode = FAULT
    _run(led, 250)
    led.stop()
    assert board.level(LED) == 0  # lit: the pin is low
    assert _lit(_run(led, 2000), active_low=True) == [1] * 100  # a tick after the stop changes nothing


def test_the_trace_shows_the_led_level_with_its_times():
    led = StatusLed(LED)
    _run(led, 1500)
    rows = [(r.t_us // 1000, r.kind, r.level) for r in board.trace.rows(LED)]
    assert rows == [(0, "gpio", 0), (0, "gpio", 1), (100, "gpio", 0), (200, "gpio", 1), (300, "gpio", 0)]


def test_the_tick_allocates_nothing_in_any_mode():
    if not fwtest.MICROPYTHON:
        import pytest

        pytest.skip("heap allocation is measured under MicroPython")
    import allocprobe

    led = StatusLed(LED)
    meter = allocprobe.simulator_meter().install()
    try:
        for mode in (RUNNING, FAILSAFE, FAULT, SAFE_MODE, STOPPED, RUNNING):
            led.mode = mode

            def tick():
                led.tick(time.ticks_ms())
                board.advance_ms(TICK_MS)
                board.trace.clear()

            assert allocprobe.bytes_per_call(tick, calls=300) == 0, mode
            total, sim = allocprobe.transient_per_call(tick, calls=300, meter=meter)
            assert total - sim == 0, mode
    finally:
        meter.remove()
