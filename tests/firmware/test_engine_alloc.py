"""The engine's share of the control tick (engine + voice + outputs) allocates nothing on the heap
(measured under MicroPython, whose gc.mem_alloc() counts every boxed float, tuple and bound object)."""

import allocprobe
import fwtest
import soundrig
from gullwing.engine import Engine
from gullwing.motor import EngineOutputs, HBridgeMotor, MosfetMotor, Tone
from gullwing.voice import Voice
from simboard import board

TICKS = (10, 20, 40)
CYCLE_MS = 12_000


def _skip_on_cpython():
    if not fwtest.MICROPYTHON:
        import pytest

        pytest.skip("heap allocation is measured under MicroPython")


def setup_function():
    board.reset("ESP32")


def _cycle(e, v, tick):
    """One tick of a 12 s loop through every phase (soundrig.session): start, idle, blip, rev into the
    limiter, a lift with blow-off, part throttle, stop, spin-down, off."""
    clock = [0]

    def step():
        t = clock[0]
        clock[0] = (t + tick) % CYCLE_MS
        soundrig.session(e, t)
        e.tick(tick)
        v.update(e, tick)
        e.take_events()

    return step


def test_engine_and_voice_allocate_nothing_in_any_phase():
    _skip_on_cpython()
    for tick in TICKS:
        e = Engine()
        v = Voice()
        step = _cycle(e, v, tick)
        assert allocprobe.bytes_per_call(step, calls=CYCLE_MS // tick) == 0, tick
        assert e.blowoffs >= 1 and e.limiter_hits >= 10  # every phase was really visited


def _steady(outputs, throttle):
    """The engine's whole tick, outputs included, once the revs have settled at this throttle."""
    e = Engine()
    v = Voice()
    e.start()
    e.throttle(throttle)

    def tick():
        e.tick(20)
        v.update(e, 20)
        outputs.write(v)
        board.advance_ms(20)

    for _ in range(1000):  # 20 s: part throttle settles slowly, as a free-revving engine does
        tick()
    return tick


def test_the_whole_engine_tick_with_outputs_allocates_nothing_at_steady_revs():
    _skip_on_cpython()
    for motor in (MosfetMotor(25), HBridgeMotor(26, 27)):
        outputs = EngineOutputs(motor, Tone(23), Tone(22, 10))
        for pct in (0, 40):  # idle, and a steady part-throttle cruise
            assert allocprobe.bytes_per_call(_steady(outputs, pct)) == 0, pct
        outputs.release()
