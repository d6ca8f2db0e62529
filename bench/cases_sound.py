"""Benchmark cases for the engine's sound (gullwing/sound.py and its viper kernel synth.py), under the
MicroPython unix port: heap bytes per block (target 0) and the run that bench/sound_bench.py times and
counts with callgrind.

The audio runs as the app runs it: the engine ticks every 20 ms through the 12 s cycle of
bench/cases_engine.py (start, idle, rev into the limiter, lift with blow-off, stop, silence), and a block
of BLOCK samples is rendered whenever its 16 ms come due. `run(seconds, render=False)` is the same run with
the blocks left unrendered (the Sound is still built): the engine's share, which the figures take off.
"""

import sys

from cases_engine import CYCLE_MS, TICK_MS, _phases
from gullwing.engine import Engine
from gullwing.sound import BLOCK, RATE, Sound

CYCLE_SAMPLES = CYCLE_MS * RATE // 1000  # a whole number of blocks (750)


def _blocks(render=True):
    """A callable that plays the next block: the engine ticked up to the block's end, then the block."""
    e = Engine()
    s = Sound()
    buf = bytearray(2 * BLOCK)
    clock = [0, 0]  # engine time in ms, audio time in samples (both back to 0 at the end of the cycle)

    def block():
        t = clock[0]
        done = clock[1] + BLOCK
        while t * RATE < done * 1000:
            _phases(e, t)
            e.tick(TICK_MS)
            e.take_events()
            t += TICK_MS
        if done >= CYCLE_SAMPLES:
            t = done = 0
        clock[0] = t
        clock[1] = done
        if render:
            s.render(e, buf)

    return block


def blocks_in(seconds):
    return seconds * RATE // BLOCK


def run(seconds, render=True):
    """Play `seconds` of the cycle (render=False: only the engine ticks)."""
    block = _blocks(render)
    for _ in range(blocks_in(seconds)):
        block()


def us_per_audio_second(seconds):
    """Host microseconds to synthesize a second of audio: the run with its blocks less the run without."""
    from simboard import _host_clock

    now = _host_clock()[0]
    spent = []
    for render in (True, False):
        block = _blocks(render)
        n = blocks_in(seconds)
        start = now()
        for _ in range(n):
            block()
        spent.append(now() - start)
    return (spent[0] - spent[1]) * RATE / (blocks_in(seconds) * BLOCK)


CASES = [
    ("sound block (256 samples) and the engine, 12 s cycle", 0, _blocks),
]

if __name__ == "__main__":  # micropython cases_sound.py SECONDS [engine]: one run, for callgrind
    run(int(sys.argv[1]), len(sys.argv) < 3)
