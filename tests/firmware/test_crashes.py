"""Crashes and the safe mode: counted across boots, three in a row start a boot that drives nothing
but answers, a minute without one ends it; a task that raises reports a fault and serves on."""

import asyncio
import json
import time

import fwtest
from gullwing import app, config, crashes, runner
from gullwing.lines import LineReader, LineWriter
from machine import UART
from simboard import board

PINS = {"door_left": 18, "door_right": 19, "motor": 25, "buzzer": 23, "uart_tx": 17, "uart_rx": 16}


def setup_function():
    board.reset("ESP32")


def teardown_function():
    fwtest.remove_temp()


def _state_dir():
    return fwtest.temp_dir("crash")


def _boot(state, watchdog=False):
    """What run() does at a start: (Crashes, the safe mode's reason or None)."""
    record = crashes.Crashes(state + "/crashes")
    return record, record.boot(watchdog)


def _app(state, safe_mode=None):
    problems = []
    cfg = config.merge(config.DEFAULTS, {"pins": PINS}, "", problems)
    return app.App(cfg, time.ticks_ms(), state, problems, safe_mode)


def _ok(a, line):
    reply = a.handle(line, time.ticks_ms())
    assert reply == "ok" or reply.startswith("ok {"), (line, reply)
    return json.loads(reply[3:]) if len(reply) > 2 else None


def test_three_crashes_in_a_row_start_the_safe_mode_and_say_why():
    state = _state_dir()
    for n, reason in enumerate(("ValueError: bad", "watchdog", "KeyError: 'x'")):
        record, safe = _boot(state, watchdog=reason == "watchdog")
        assert safe is None, n
        if reason != "watchdog":
            record.crashed(reason)
    record, safe = _boot(state)
    assert safe == "3 crashes within 60 s of boot: KeyError: 'x'"
    record, safe = _boot(state)  # it stays until a boot runs clean
    assert safe is not None and safe.startswith("3 crashes")


def test_a_boot_that_runs_a_minute_clean_ends_the_safe_mode():
    state = _state_dir()
    for _ in range(4):
        _boot(state)[0].crashed("RuntimeError: again")
    record, safe = _boot(state)
    assert safe.startswith("4 crashes")
    record.clean()
    assert _boot(state)[1] is None
    # and the count starts again from nothing: two more crashes are not yet a safe mode
    for _ in range(2):
        _boot(state)[0].crashed("RuntimeError: again")
    assert _boot(state)[1] is None


def test_a_power_cut_while_a_crash_is_saved_keeps_the_count_before_it():
    state = _state_dir()
    for _ in range(2):
        _boot(state)[0].crashed("OSError: 5")
    record = crashes.Crashes(state + "/crashes")
    slot = record._store.paths[0 if record._store._slot == 1 else 1]  # the slot the next save writes
    record.crashed("OSError: 5")
    with open(slot, "rb") as f:
        whole = f.read()
    with open(slot, "wb") as f:
        f.write(whole[:len(whole) // 2])  # the power went mid-write
    assert crashes.Crashes(state + "/crashes").count == 2


def test_in_safe_mode_nothing_is_driven_but_every_verb_answers():
    state = _state_dir()
    a = _app(state, "3 crashes within 60 s of boot: ValueError: x")
    status = _ok(a, "status")
    assert status["safe_mode"] == "3 crashes within 60 s of boot: ValueError: x"
    assert status["doors"] is None
    reply = a.handle("door both open", time.ticks_ms())
    assert reply.startswith("err not_ready ") and "safe mode" in reply
    _ok(a, "engine start")
    _ok(a, "throttle 80")
    for _ in range(100):
        a.tick(time.ticks_ms())
        board.advance_ms(20)
    assert board.trace.rows() == []  # no pin touched: no pulse, no motor, no buzzer
    _ok(a, "ping")


def test_a_normal_boot_has_no_safe_mode_in_its_status():
    assert "safe_mode" not in _ok(_app(_state_dir()), "status")


def _tick_fails(a, part):
    def broken(dt):
        raise RuntimeError(part + " broke")
    a.engine.tick = broken


def _run_control(a, ms):
    written = []

    async def go():
        task = asyncio.create_task(runner.control(a, [written.append]))
        await asyncio.sleep_ms(ms)
        task.cancel()

    board.use_real_time()
    asyncio.run(go())
    return written


def test_a_tick_that_raises_is_a_fault_the_safe_state_and_the_board_answers_on():
    if not fwtest.MICROPYTHON:
        import pytest

        pytest.skip("the control task's asyncio.sleep_ms is MicroPython's")
    a = _app(_state_dir())
    _ok(a, "events on")
    _ok(a, "engine start")
    _ok(a, "throttle 50")
    calls = [0]
    real_tick = a.engine.tick

    def once_broken(dt):
        calls[0] += 1
        if calls[0] == 3:
            raise RuntimeError("engine model broke")
        real_tick(dt)

    a.engine.tick = once_broken
    written = _run_control(a, 200)
    assert written.count('evt fault {"error":"control: RuntimeError: engine model broke"}') == 1, written
    status = _ok(a, "status")
    assert status["halted"] and status["engine"]["throttle"] == 0
    assert "control: RuntimeError: engine model broke" in status["problems"]
    assert calls[0] > 5  # the ticks went on after the fault


def test_a_tick_that_keeps_failing_ends_the_firmware_as_a_crash():
    if not fwtest.MICROPYTHON:
        import pytest

        pytest.skip("the control task's asyncio.sleep_ms is MicroPython's")
    a = _app(_state_dir())
    _tick_fails(a, "engine")
    board.use_real_time()
    failed = []

    async def go():
        try:
            await asyncio.wait_for_ms(runner.control(a, [lambda line: None]), 2000)
        except RuntimeError as exc:
            failed.append(str(exc))

    asyncio.run(go())
    assert failed == ["engine broke"]
    assert len(a.problems) == 1  # the same fault again adds nothing


def test_the_uart_channel_answers_requests_in_pieces_and_refuses_an_overlong_line_whole():
    if not fwtest.MICROPYTHON:
        import pytest

        pytest.skip("asyncio.StreamReader over a stream object is MicroPython's")
    a = _app(_state_dir())
    problems = []
    uart = runner.open_uart(_cfg(), problems)
    assert problems == [] and uart is not None
    board.use_real_time()
    pieces = [b"#1 pi", b"ng\r\n", b"x" * 100, b"x" * 100, b"x" * 100, b"y" * 100 + b"\n",
              b"\xff\xfe\x00garbage\r", b"#2 status\n", b"\r\n\r\n", b"#3 ping\r"]

    async def feed():
        for piece in pieces:
            await asyncio.sleep_ms(5)
            board.uart_feed(1, piece)
        await asyncio.sleep_ms(50)
        sent.append(board.uart_sent(1))

    async def go():
        asyncio.create_task(feed())
        try:  # the channel is read until the feed is done (a deinit'ed UART would end asyncio itself)
            await asyncio.wait_for_ms(runner.serial(a, LineReader(uart), LineWriter(uart), "uart"), 400)
        except asyncio.TimeoutError:
            pass

    sent = []
    asyncio.run(go())
    replies = b"".join(sent).decode().split("\n")[:-1]
    assert len(replies) == 5, replies
    assert replies[0] == "#1 ok"
    assert replies[1].startswith("err too_long ")
    assert replies[2].startswith("err bad_arg not printable ASCII")
    assert replies[3].startswith("#2 ok {")
    assert replies[4] == "#3 ok"


def _cfg():
    return config.merge(config.DEFAULTS, {"pins": PINS}, "", [])


def test_a_uart_on_pins_it_cannot_use_is_a_problem_not_a_crash():
    problems = []
    cfg = config.merge(config.DEFAULTS, {"pins": dict(PINS, uart_tx=34)}, "", problems)
    assert runner.open_uart(cfg, problems) is None
    assert problems == ["uart: pin can only be input: GPIO34 on ESP32 has no output driver"]
    assert runner.open_uart(config.merge(config.DEFAULTS, {"pins": {"motor": 25}}, "", []), problems) is None


def test_the_uart_speed_comes_from_the_configuration():
    cfg = config.merge(config.DEFAULTS, {"pins": PINS, "uart": {"baudrate": 115200}}, "", [])
    uart = runner.open_uart(cfg, [])
    assert "baudrate=115201" in repr(uart)  # what the ESP32's divider makes of 115200
    assert UART is type(uart)
