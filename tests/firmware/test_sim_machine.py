"""machine.Timer, WDT, Signal, freq, sleeps and resets of the simulated ESP32, as ports/esp32 has them."""

import machine
import micropython
from fwtest import raises
from simboard import HardReset, board


def setup_function():
    board.reset("ESP32")


# -- Timer (ports/esp32/machine_timer.c) ---------------------------------------------------------------


def test_a_timer_callback_is_scheduled_so_its_exception_is_printed_and_the_timer_goes_on():
    calls = []

    def tick(t):
        calls.append(board.now_us)
        raise ValueError("bad callback")

    machine.Timer(0, period=10, callback=tick)
    board.advance_ms(30)  # nothing escapes into the main flow
    assert calls == [10_000, 20_000, 30_000]


def test_hard_timers_are_refused():
    with raises(ValueError, "hard Timers are not implemented"):
        machine.Timer(0, period=10, callback=print, hard=True)


def test_a_timer_without_an_id_is_a_virtual_timer():
    fired = []
    virtual = machine.Timer(period=5, mode=machine.Timer.ONE_SHOT, callback=lambda t: fired.append(board.now_us))
    board.advance_ms(20)
    assert fired == [5_000]
    assert machine.Timer(-1) is not virtual  # each virtual timer is its own


def test_the_same_hardware_timer_id_gives_the_same_running_timer():
    fired = []
    first = machine.Timer(2, period=10, callback=fired.append)
    again = machine.Timer(2)  # no arguments: handed back, still running
    assert again is first
    board.advance_ms(20)
    assert len(fired) == 2


def test_a_timer_counts_at_10_mhz_so_a_period_of_a_third_of_a_second_does_not_drift():
    fired = []
    machine.Timer(0, freq=3, callback=lambda t: fired.append(board.now_us))
    board.advance_us(999_999)
    assert fired == [333_334, 666_667]  # 3 333 333 counts of 0.1 us each, on the next whole us
    board.advance_us(1)
    assert fired[-1] == 1_000_000


def test_value_reads_ms_since_the_last_reload_and_a_one_shot_hardware_count_runs_on():
    periodic = machine.Timer(0, period=100, callback=print)
    one_shot = machine.Timer(1, period=100, mode=machine.Timer.ONE_SHOT, callback=len)
    esp_timer = machine.Timer(-1, period=100, mode=machine.Timer.ONE_SHOT, callback=len)
    board.advance_ms(250)
    assert periodic.value() == 50
    assert one_shot.value() == 250
    assert esp_timer.value() == 100  # stopped at its alarm
    one_shot.deinit()
    esp_timer.deinit()
    board.advance_ms(50)
    assert one_shot.value() == 250  # a stopped hardware count keeps its value
    assert esp_timer.value() == 0


def test_timer_periods_the_chip_cannot_make_are_refused():
    with raises(ValueError, "Timer period is too short for this timer"):
        machine.Timer(0, period=0, callback=len)
    with raises(ValueError, "period or freq"):
        machine.Timer(0, callback=len)  # on the chip: a period of centuries, never a call


def test_a_timer_prints_as_the_port_does_mode_names_swapped():
    assert repr(machine.Timer(0, period=100, callback=len)) == "Timer(0, mode=ONE_SHOT, period=100)"


# -- WDT, reset, freq, irq, sleeps (ports/esp32/machine_wdt.c, modmachine.c) ------------------------------


def test_there_is_one_watchdog_and_another_wdt_reconfigures_it():
    first = machine.WDT(timeout=100)
    assert machine.WDT(timeout=1000) is first
    board.advance_ms(500)  # the new timeout counts from the second WDT()
    with raises(ValueError):
        machine.WDT(1)
    with raises(ValueError, "WDT timeout too short"):
        machine.WDT(timeout=0)


def test_freq_takes_20_and_40_mhz_and_whole_mhz_of_any_hz():
    machine.freq(20_000_000)
    assert machine.freq() == 20_000_000
    machine.freq(240_999_999)
    assert machine.freq() == 240_000_000
    with raises(ValueError, "frequency must be 20MHz, 40MHz, 80Mhz, 160MHz or 240MHz"):
        machine.freq(240)
    board.reset("ESP32-C3")
    with raises(ValueError, "frequency must be 20MHz, 40MHz, 80Mhz or 160MHz"):
        machine.freq(240_000_000)


def test_enable_irq_needs_the_state_disable_irq_gave():
    state = machine.disable_irq()
    with raises(TypeError):
        machine.enable_irq()
    machine.enable_irq(state)


def test_lightsleep_lets_the_time_pass_and_the_timer_woke_the_board():
    assert machine.wake_reason() == 0
    machine.lightsleep(250)
    assert board.now_us == 250_000
    assert machine.wake_reason() == machine.TIMER_WAKE
    assert machine.sleep is machine.lightsleep
    with raises(ValueError):
        machine.lightsleep()  # nothing would wake it


def test_deepsleep_resets_the_board_as_a_deepsleep_reset_woken_by_the_timer():
    with raises(HardReset):
        machine.deepsleep(1000)
    assert machine.reset_cause() == machine.DEEPSLEEP_RESET
    assert machine.wake_reason() == machine.TIMER_WAKE
    board.reset("ESP32", cause=machine.DEEPSLEEP_RESET)  # the boot after it
    assert machine.wake_reason() == machine.TIMER_WAKE


def test_soft_reset_takes_an_exit_code_like_sys_exit():
    with raises(SystemExit):
        machine.soft_reset(3)


# -- Signal (extmod/machine_signal.c) -----------------------------------------------------------------


def test_an_inverted_signal_drives_an_active_low_led():
    led = machine.Signal(2, machine.Pin.OUT, value=0, invert=True)  # off: the pin high
    assert board.level(2) == 1
    led.on()
    assert board.level(2) == 0
    assert led.value() == 1
    led(0)
    assert board.level(2) == 1
    wrapped = machine.Signal(machine.Pin(4, machine.Pin.OUT), invert=True)
    wrapped.value(1)
    assert board.level(4) == 0


# -- micropython (py/modmicropython.c) --------------------------------------------------------------------


def test_micropython_heap_lock_nests_and_opt_level_is_kept():
    locked = micropython.heap_lock()
    depth = micropython.heap_unlock()
    assert locked is None
    assert depth == 0
    micropython.opt_level(1)
    level = micropython.opt_level()
    micropython.opt_level(0)
    assert level == 1
