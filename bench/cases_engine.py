"""Benchmark cases for the engine's share of the control tick (20 ms ticks; a 12 s cycle is start,
idle, rev into the limiter, lift with blow-off, stop): heap bytes (target 0) and microseconds per
tick, under the MicroPython unix port."""

from gullwing.engine import Engine
from gullwing.motor import EngineOutputs, MosfetMotor, Tone
from gullwing.voice import Voice
from simboard import board

TICK_MS = 20
CYCLE_MS = 12_000


def _phases(e, t):
    # a 12 s loop through every phase: start, idle, rev into the limiter, lift with blow-off, stop
    if t == 0:
        e.start()
    elif t == 3000:
        e.throttle(100)
    elif t == 6000:
        e.throttle(0)
    elif t == 9000:
        e.stop()


def _engine_idle():
    e = Engine()
    e.start()
    for _ in range(200):
        e.tick(TICK_MS)

    def tick():
        e.tick(TICK_MS)

    return tick, e


def _cycle(with_voice):
    def make():
        e = Engine()
        v = Voice() if with_voice else None
        clock = [0]

        def tick():
            t = clock[0]
            clock[0] = (t + TICK_MS) % CYCLE_MS
            _phases(e, t)
            e.tick(TICK_MS)
            if v is not None:
                v.update(e, TICK_MS)
                e.take_events()

        return tick

    return make


NEAR_WRAP = (1 << 30) - 3  # counters three steps short of the chip's small-int limit


def _with_outputs(throttle, counts=0):
    def make():
        board.reset("ESP32")
        e = Engine()
        e.limiter_hits = e.blowoffs = counts
        v = Voice()
        outputs = EngineOutputs(MosfetMotor(25), Tone(23), Tone(22, 10))
        e.start()
        e.throttle(throttle)

        def tick():
            e.tick(TICK_MS)
            v.update(e, TICK_MS)
            outputs.write(v)
            board.trace.clear()  # the simulator's in-memory trace would otherwise grow

        for _ in range(500):
            tick()
        return tick, (e, v)

    return make


CASES = [
    ("engine tick at idle", 0, _engine_idle),
    ("engine tick, 12 s cycle", 0, _cycle(False)),
    ("engine+voice tick, 12 s cycle", 0, _cycle(True)),
    ("engine+voice+outputs at idle", 0, _with_outputs(0)),
    # the tones follow the bouncing revs: every LEDC frequency change is on this path
    ("engine+voice+outputs on limiter", 0, _with_outputs(100)),
    ("engine+voice+outputs on limiter, hits counted past 2**30", 0, _with_outputs(100, NEAR_WRAP - 60)),
]
