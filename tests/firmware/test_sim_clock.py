"""The simulated clock and what runs on it: ticks with ESP32 wrap-around, Timer, WDT, resets."""

import asyncio
import time

import machine
import micropython
from fwtest import raises
from simboard import TICKS_PERIOD, HardReset, board


def setup_function():
    board.reset("ESP32")


def test_the_clock_moves_only_when_told():
    t0 = time.ticks_ms()
    assert time.ticks_ms() == t0
    board.advance_ms(10_000)  # a ten-second sequence takes no real time
    assert time.ticks_diff(time.ticks_ms(), t0) == 10_000
    time.sleep_ms(20)
    assert time.ticks_diff(time.ticks_us(), 0) == 10_020_000


def test_ticks_wrap_like_the_esp32_and_ticks_diff_sees_through_the_wrap():
    board.reset("ESP32", start_us=(TICKS_PERIOD - 5) * 1000)
    before = time.ticks_ms()
    board.advance_ms(10)
    after = time.ticks_ms()
    assert after < before  # wrapped
    assert time.ticks_diff(after, before) == 10
    assert time.ticks_add(before, 10) == after
    with raises(OverflowError):
        time.ticks_add(0, TICKS_PERIOD)


def test_periodic_and_one_shot_timers_fire_on_time():
    fired = []
    periodic = machine.Timer(0, mode=machine.Timer.PERIODIC, period=20,
                             callback=lambda t: fired.append(board.now_us))
    once = []
    machine.Timer(1, mode=machine.Timer.ONE_SHOT, period=50, callback=lambda t: once.append(board.now_us))
    board.advance_ms(100)
    assert fired == [20_000, 40_000, 60_000, 80_000, 100_000]
    assert once == [50_000]
    periodic.deinit()
    board.advance_ms(100)
    assert len(fired) == 5


def test_timer_ids_follow_the_chip():
    board.reset("ESP32-C3")
    machine.Timer(1)
    with raises(ValueError, "Timer(2) doesn't exist, there are only 2 hardware timers"):
        machine.Timer(2)


def test_watchdog_resets_an_unfed_board_and_no_except_exception_can_stop_it():
    wdt = machine.WDT(timeout=100)
    for _ in range(10):
        board.advance_ms(90)
        wdt.feed()
    try:
        board.advance_ms(150)
    except Exception:  # noqa: BLE001  the firmware's broad handlers must not swallow a reset
        raise AssertionError("a reset was caught as an Exception") from None
    except HardReset:
        assert board.now_us == 1000 * (900 + 100)
        assert machine.reset_cause() == machine.WDT_RESET
        return
    raise AssertionError("no watchdog reset")


def test_machine_resets():
    with raises(HardReset):
        machine.reset()
    assert machine.reset_cause() == machine.HARD_RESET
    with raises(SystemExit):
        machine.soft_reset()
    assert machine.reset_cause() == machine.SOFT_RESET


def test_unique_id_and_cpu_frequency():
    assert len(machine.unique_id()) == 6
    machine.freq(240_000_000)
    assert machine.freq() == 240_000_000
    with raises(ValueError):
        machine.freq(123)
    board.reset("ESP32-C3")
    with raises(ValueError):
        machine.freq(240_000_000)


def test_scheduled_callbacks_run_from_the_main_flow_not_inside_the_caller():
    ran = []
    micropython.schedule(ran.append, 7)
    assert ran == []
    board.advance_us(0)
    assert ran == [7]


def test_on_real_time_the_ticks_stay_the_boards_and_asyncio_sleeps_still_wake():
    board.reset("ESP32", start_us=(TICKS_PERIOD - 50) * 1000)  # 50 ms before the ticks wrap
    board.use_real_time()  # as on the virtual board

    async def nap():
        await asyncio.sleep(0.1)

    before = time.ticks_ms()
    asyncio.run(nap())
    after = time.ticks_ms()
    assert after < before  # wrapped, as on the chip
    assert 100 <= time.ticks_diff(after, before) < 300
