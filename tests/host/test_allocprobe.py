"""The allocation probe behind `make bench`, run on the real MicroPython unix port."""

import os
import subprocess

from bench import __main__ as bench
from tests.micropython_harness import MODULE_PATH, micropython_binary

PROBE = '''
import allocprobe

def nothing():
    pass

speed = 1.5

def boxes_a_float():
    return speed * 3

def grows():
    return [0] * 8

print(allocprobe.bytes_per_call(nothing), allocprobe.bytes_per_call(boxes_a_float),
      allocprobe.bytes_per_call(grows))
'''


def test_probe_counts_zero_for_nothing_and_sees_every_allocation(tmp_path):
    script = tmp_path / "probe.py"
    script.write_text(PROBE)
    env = dict(os.environ, MICROPYPATH=os.pathsep.join([*map(str, MODULE_PATH), ".frozen"]))
    out = subprocess.run([micropython_binary(), str(script)], capture_output=True, text=True, env=env,
                         check=True).stdout.split()
    nothing, boxed, grown = map(int, out)
    assert nothing == 0
    assert boxed >= 16  # a float is a heap object in MicroPython
    assert grown >= 8 * 8


def test_what_the_firmware_tick_calls_in_the_simulator_allocates_nothing():
    rows = {name: alloc for name, _, alloc, _ in bench.run_cases()}
    assert rows["sim: PWM.duty_ns + 20 ms frame"] == 0
    assert rows["sim: ticks_ms + ticks_diff"] == 0
    assert rows["sim: Pin.toggle + WDT.feed"] == 0
