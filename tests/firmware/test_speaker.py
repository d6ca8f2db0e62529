"""The I2S amplifier as the engine's voice on the simulated ESP32: opened from the board's pins, the buzzer
left undriven, a refused pin reported, the audio task beside the control task (the tick keeps its pace, no
underrun, the amplifier plays the engine), its level in `status`, and the stop silencing it."""

import asyncio
import json
import time

import fwtest
import simi2s
from gullwing import app, config, halt, runner
from simboard import board

LEFT, RIGHT, MOTOR, BUZZER = 18, 19, 25, 23
AMP = {"i2s_bck": 32, "i2s_ws": 33, "i2s_dout": 13}  # boards/esp32-devkitc.toml
PINS = dict({"door_left": LEFT, "door_right": RIGHT, "motor": MOTOR, "buzzer": BUZZER}, **AMP)
FRAME = 20


def setup_function():
    board.reset("ESP32")


def teardown_function():
    fwtest.remove_temp()


def _app(pins=PINS, **given):
    problems = []
    cfg = config.merge(config.DEFAULTS, dict(given, pins=pins), "", problems)
    return app.App(cfg, time.ticks_ms(), fwtest.temp_dir("state"), problems)


def _status(a):
    return json.loads(a.handle("status", time.ticks_ms())[3:])


def test_the_amplifier_is_opened_on_the_board_s_pins_and_the_buzzer_is_left_alone():
    a = _app()
    i2s = board.i2s[0]
    assert i2s.running and (i2s.sck, i2s.ws, i2s.sd) == (32, 33, 13) and i2s.rate == 16000
    assert "problems" not in _status(a)
    a.start_engine()
    for _ in range(100):
        board.advance_ms(FRAME)
        a.tick(time.ticks_ms())
    assert board.trace.last(MOTOR) is not None  # the motor runs ...
    assert board.trace.last(BUZZER) is None  # ... and the buzzer pin is never driven
    assert "buzzer_hz" in _status(a)["outputs"] and _status(a)["outputs"]["buzzer_hz"] == 0


def test_without_all_three_pins_there_is_no_amplifier_and_the_buzzer_sounds():
    a = _app({k: v for k, v in PINS.items() if k != "i2s_dout"})
    assert a.speaker is None and 0 not in board.i2s
    a.start_engine()
    for _ in range(100):
        board.advance_ms(FRAME)
        a.tick(time.ticks_ms())
    assert board.trace.last(BUZZER).freq_hz > 0


def test_a_pin_the_chip_refuses_is_a_problem_and_the_board_answers_on():
    a = _app(dict(PINS, i2s_bck=34))  # input only on the ESP32
    assert a.speaker is None
    assert any(p.startswith("sound: ") and "34" in p for p in _status(a)["problems"])
    assert a.handle("ping", time.ticks_ms()) == "ok"


def test_a_volume_out_of_range_is_named_with_its_range():
    a = _app(sound={"volume": 101})
    assert _status(a)["problems"] == ["sound.volume must be 0..100 %, got 101"]
    assert a.speaker is not None  # at the default volume


def test_the_status_says_how_loud_the_sound_is_and_leaves_it_out_while_silent():
    a = _app()
    assert "outputs" not in _status(a)
    a.start_engine()
    for _ in range(100):
        board.advance_ms(FRAME)
        a.tick(time.ticks_ms())
    for _ in range(4):
        a.speaker.sound.render(a.engine, a.speaker._buf)  # blocks as the audio task renders them
    assert 1 <= _status(a)["outputs"]["sound"] <= 100


def test_the_stop_silences_the_amplifier():
    a = _app()
    board.audio = recorder = simi2s.Recorder()
    board.advance_ms(100)
    assert halt.run_steps(a, time.ticks_ms(), halt.APP_STEPS) == []
    assert not board.i2s[0].running
    heard = len(recorder.blocks)
    board.advance_ms(200)
    assert len(recorder.blocks) == heard  # the DMA stopped: nothing more is played
    assert halt.run_steps(a, time.ticks_ms(), halt.APP_STEPS) == []  # harmless twice


def test_the_audio_task_keeps_the_amplifier_fed_without_slowing_the_tick():
    if not fwtest.MICROPYTHON:
        import pytest

        pytest.skip("asyncio.sleep_ms is MicroPython's")
    a = _app()
    board.audio = recorder = simi2s.Recorder()
    ticks = []
    real_tick = a.tick

    def timed_tick(now):
        real_tick(now)
        ticks.append(now)

    a.tick = timed_tick
    a.start_engine()
    board.use_real_time()

    async def go():
        control = asyncio.create_task(runner.control(a, []))
        audio = asyncio.create_task(a.speaker.run(a))
        await asyncio.sleep_ms(2000)
        control.cancel()
        audio.cancel()

    asyncio.run(go())
    assert board.i2s_underruns == 0, board.i2s_underruns
    gaps = [time.ticks_diff(ticks[i], ticks[i - 1]) for i in range(1, len(ticks))]
    assert len(ticks) >= 90 and sum(gaps) // len(gaps) <= FRAME + 1 and max(gaps) <= 2 * FRAME, gaps
    samples = recorder.samples()
    assert len(samples) >= 16000 * 19 // 10 and max(abs(s) for s in samples[-8000:]) > 1000  # the engine heard
