"""The firmware's end cannot be interrupted: with the engine at full throttle and the doors mid-move, a
KeyboardInterrupt (a second Ctrl-C) or a part's exception injected at every call the stop makes leaves
the motor and buzzer silent, the doors held without a twitch, the watchdog stretched, the rest saved,
Ctrl-C off and the end said."""

import time

import fwtest
import machine
from gullwing import app, config, halt
from gullwing.crashes import Crashes
from gullwing.store import Store
from simboard import board

LEFT, RIGHT, MOTOR, BUZZER, LED = 18, 19, 25, 23, 4  # boards/esp32-devkitc.toml
PINS = {"door_left": LEFT, "door_right": RIGHT, "motor": MOTOR, "buzzer": BUZZER, "led": LED}
FRAME = 20


def setup_function():
    board.reset("ESP32")


def teardown_function():
    halt.machine, halt.kbd_intr, halt.print, halt.time = machine, _REAL_KBD_INTR, print, time
    fwtest.remove_temp()


_REAL_KBD_INTR = halt.kbd_intr


class Machine:
    """`machine` as halt.py sees it: the board's watchdog, and resets counted instead of done."""

    def __init__(self, faults):
        self.resets = 0
        self.WDT = faults.wrap(machine.WDT)
        self.reset = faults.wrap(self._reset)

    def _reset(self):
        self.resets += 1


class Clock:
    """`time` as halt.py sees it: the board's ticks_ms, its calls counted with the parts' (a pending Ctrl-C
    is raised at whatever call comes next, the clock's too)."""

    def __init__(self, faults):
        self.ticks_ms = faults.wrap(time.ticks_ms, KeyboardInterrupt)  # the clock itself never fails


class Faults:
    """Every call the stop makes to a part, counted; the `at`th raises `error` (`times` calls in a row)."""

    def __init__(self, at=0, error=None, times=1):
        self.calls = 0
        self.at = at
        self.error = error
        self.times = times

    def wrap(self, call, only=BaseException):
        def wrapped(*args, **kwargs):
            self.calls += 1
            if isinstance(self.error, only) and self.at <= self.calls < self.at + self.times:
                raise self.error
            return call(*args, **kwargs)
        return wrapped


class Console:
    def __init__(self):
        self.lines = []
        self.ctrl_c = 3  # the interrupt character, as the REPL leaves it while code runs

    def print(self, *args):
        self.lines.append(" ".join(str(arg) for arg in args))

    def kbd_intr(self, char):
        self.ctrl_c = char


def _running_model(state_dir):
    """Engine at full throttle, doors 1.2 s into a 3 s opening."""
    problems = []
    cfg = config.merge(config.DEFAULTS, {"pins": PINS}, "", problems)
    a = app.App(cfg, time.ticks_ms(), state_dir, problems)
    a.handle("engine start", time.ticks_ms())
    _run(a, 2500)
    a.handle("throttle 100", time.ticks_ms())
    a.handle("door both open 3000", time.ticks_ms())
    _run(a, 1200)
    assert _last(MOTOR) > 0 and _last(BUZZER) > 0
    return a


def _run(a, ms):
    for _ in range(ms // FRAME):
        a.tick(time.ticks_ms())
        a.outbox.clear()
        board.advance_ms(FRAME)


def _last(pin):
    rows = [row for row in board.trace.rows(pin) if row.kind == "pwm"]
    return rows[-1].duty_ns if rows else 0


def _instrument(a, crashes, faults, console):
    """The parts' methods the stop calls, wrapped; the console and machine taken over."""
    outputs = a.outputs
    # the motor's PWM too: a Ctrl-C between the pin's write and the motor's note of it must not leave it driven
    for part, names in ((outputs.motor, ("write",)), (outputs.motor._pwm, ("duty_u16",)), (outputs.buzzer, ("write",)),
                        (a.engine, ("throttle", "stop")), (a.voice, ("reset",)), (a.doors, ("command",)),
                        (a.saver.store, ("save_dict",)), (a.led, ("stop",)), (crashes, ("crashed",))):
        for name in names:
            setattr(part, name, faults.wrap(getattr(part, name)))
    halt.machine = Machine(faults)
    halt.time = Clock(faults)
    halt.kbd_intr = faults.wrap(console.kbd_intr)
    halt.print = faults.wrap(console.print)
    return halt.machine


def _stop_with(exc, faults, crash=False):
    """One end of the firmware with `faults` injected; what a user would see, checked."""
    board.reset("ESP32")
    state = fwtest.temp_dir("halt")
    a = _running_model(state)
    crashes = Crashes(state + "/crashes")
    held = {pin: _last(pin) for pin in (LEFT, RIGHT)}
    stop_us = board.now()
    console = Console()
    board_machine = _instrument(a, crashes, faults, console)
    halt.end(a, exc, crashes, reset=True)  # nothing escapes
    board.advance_ms(100)  # nothing ticks the app any more: the outputs stay as the stop left them
    seen = (faults.at, type(faults.error).__name__)
    assert console.ctrl_c == -1, seen  # Ctrl-C is a plain byte until the REPL runs something
    assert _last(MOTOR) == 0 and _last(BUZZER) == 0, seen
    assert board.wdt_timeout_us == halt.REPL_WDT_MS * 1000, (seen, console.lines)
    for pin in (LEFT, RIGHT):
        after = [row.duty_ns for row in board.trace.rows(pin) if row.kind == "pwm" and row.t_us >= stop_us]
        assert all(abs(duty - held[pin]) < 20_000 for duty in after), (seen, pin, held[pin], after)  # no twitch
    saved = Store(state + "/doors").load_dict()
    assert saved == {"left": a.doors.left.pulse, "right": a.doors.right.pulse}, (seen, saved)
    said = [line for line in console.lines if line.startswith("gullwing stopped")]
    if crash:
        assert board_machine.resets == 1 and Crashes(state + "/crashes").count == 1, seen
        assert console.lines[0] == "gullwing crashed:", seen
    else:
        assert said and said[-1].startswith(halt.STOPPED) and not board_machine.resets, (seen, console.lines)
    return faults.calls


def test_a_stop_with_nothing_in_its_way_leaves_the_model_safe():
    calls = _stop_with(KeyboardInterrupt(), Faults())
    assert calls > 10


def test_a_second_ctrl_c_at_any_call_of_the_stop_changes_nothing():
    total = _stop_with(KeyboardInterrupt(), Faults())
    for at in range(1, total + 1):
        _stop_with(KeyboardInterrupt(), Faults(at, KeyboardInterrupt()))


def test_a_part_failing_at_any_call_of_the_stop_leaves_the_rest_done():
    total = _stop_with(KeyboardInterrupt(), Faults())
    for at in range(1, total + 1):
        _stop_with(KeyboardInterrupt(), Faults(at, OSError(5)))
        _stop_with(KeyboardInterrupt(), Faults(at, KeyboardInterrupt(), times=2))  # twice in a row


def test_a_crash_is_counted_and_resets_whatever_interrupts_its_stop():
    total = _stop_with(ValueError("boom"), Faults(), crash=True)
    for at in range(1, total + 1):
        _stop_with(ValueError("boom"), Faults(at, KeyboardInterrupt()), crash=True)


def test_a_part_that_never_works_is_named_and_the_others_still_stop():
    board.reset("ESP32")
    state = fwtest.temp_dir("halt")
    a = _running_model(state)
    console = Console()
    halt.kbd_intr = console.kbd_intr
    halt.print = console.print

    def broken(*args):
        raise OSError(5)
    a.doors.command = broken  # the doors' servos refuse: the motor, watchdog and the rest still stop
    halt.end(a, KeyboardInterrupt())
    assert _last(MOTOR) == 0 and _last(BUZZER) == 0
    assert board.wdt_timeout_us == halt.REPL_WDT_MS * 1000
    assert console.lines == [halt.STOPPED + " (failed: doors: OSError: 5)"]


def test_a_soft_reset_stops_the_model_and_goes_on():
    board.reset("ESP32")
    a = _running_model(fwtest.temp_dir("halt"))
    halt.kbd_intr = Console().kbd_intr
    with fwtest.raises(SystemExit):
        halt.end(a, SystemExit())
    assert _last(MOTOR) == 0 and _last(BUZZER) == 0
    assert not a.saver.changed  # where the doors stopped is saved


def test_doors_stopped_by_estop_are_saved_at_the_saver_s_next_look_even_within_the_minute():
    board.reset("ESP32")
    state = fwtest.temp_dir("halt")
    problems = []
    a = app.App(config.merge(config.DEFAULTS, {"pins": PINS}, "", problems), time.ticks_ms(), state, problems)
    a.handle("door both open 600", time.ticks_ms())
    _run(a, 1000)
    assert a.saver.poll(time.ticks_ms())  # the open rest, written: the minute starts
    a.handle("door both close 3000", time.ticks_ms())
    _run(a, 1200)
    assert a.handle("estop", time.ticks_ms()) == "ok"
    _run(a, 1000)
    assert a.saver.poll(time.ticks_ms())  # a power cut from here on finds the doors where they stopped
    assert Store(state + "/doors").load_dict() == {"left": a.doors.left.pulse, "right": a.doors.right.pulse}
    a.handle("door both open 600", time.ticks_ms())
    _run(a, 1000)
    assert not a.saver.poll(time.ticks_ms())  # an ordinary rest waits out the minute again
