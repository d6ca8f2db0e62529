"""The allocation probe behind `make bench`, run on the real MicroPython unix port."""

import os
import re
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

_ENV = dict(os.environ, MICROPYPATH=os.pathsep.join([*map(str, MODULE_PATH), ".frozen"]))


def _micropython(tmp_path, source):
    """Run `source` as a script in the MicroPython unix port; the words it prints."""
    script = tmp_path / "script.py"
    script.write_text(source)
    return subprocess.run([micropython_binary(), str(script)], capture_output=True, text=True, env=_ENV,
                          check=True).stdout.split()


def test_probe_counts_zero_for_nothing_and_sees_every_allocation(tmp_path):
    out = _micropython(tmp_path, PROBE)
    nothing, boxed, grown = map(int, out)
    assert nothing == 0
    assert boxed >= 16  # a float is a heap object in MicroPython
    assert grown >= 8 * 8


def test_what_the_firmware_tick_calls_in_the_simulator_keeps_nothing():
    rows = {row[0]: row[2] for row in bench.run_cases(["cases_sim"])}
    assert rows["sim: PWM.duty_ns + 20 ms frame"] == 0
    assert rows["sim: ticks_ms + ticks_diff"] == 0
    assert rows["sim: Pin.toggle + WDT.feed"] == 0


FRAMES = '''
import allocprobe

def small(a, b):
    return a + b

def big(a, b):
    c = d = e = f = g = h = i = j = a  # twelve words: the frame comes from the heap, and goes back
    return a + b + c + d + e + f + g + h + i + j

class Hardware:
    def write(self, value):
        return [value]  # a simulator call that allocates

class State:
    pass

state = State()
state.count = 1 << 30  # a big int on the chip
state.inner = State()
state.inner.low = -(1 << 30) - 1  # and so is this one
state.inner.fine = (1 << 30) - 1
hw = Hardware()
meter = allocprobe.Meter([(Hardware, "write")]).install()

def firmware_and_simulator():
    small(1, 2)
    hw.write(3)

print(allocprobe.bytes_per_call(lambda: big(1, 2)), allocprobe.transient_per_call(lambda: small(1, 2))[0],
      allocprobe.transient_per_call(lambda: big(1, 2))[0], *allocprobe.transient_per_call(firmware_and_simulator,
      meter=meter), len(allocprobe.big_ints(state)), allocprobe.out_of_range(1 << 30),
      allocprobe.out_of_range((1 << 30) - 1), allocprobe.out_of_range(-(1 << 30)))
'''


def test_transient_bytes_show_a_heap_frame_and_the_simulator_s_share_apart(tmp_path):
    out = _micropython(tmp_path, FRAMES)
    kept, small, big, both, simulator = map(int, out[:5])
    assert kept == 0 and small == 0  # gc.mem_alloc() never sees a frame freed on return
    assert big > 0  # micropython.mem_total() does
    assert both == simulator > 0  # everything allocated was the simulator's: the firmware's share is 0
    assert out[5:] == ["2", "True", "False", "False"]


def test_the_firmware_tick_allocates_nothing_on_top_of_the_simulator_and_no_int_passes_2_30():
    rows = bench.run_cases(["cases_doors", "cases_engine", "cases_app"])
    for name, target, _kept, _total, _sim, bigs, firmware, _us, first in rows:
        assert bigs == 0, (name, first)
        if target >= 0:
            assert firmware == 0, name
    assert any("2**30" in row[0] for row in rows)


# Every function the control tick calls, by file. A bytecode function whose frame (n_state words,
# plus 3 per exception handler) is over 11 words gets it from the heap at every call (py/objfun.c:
# fun_bc_call, VM_MAX_STATE_ON_STACK); both sides count in words, so this holds on the 32-bit chip
# as on the 64-bit host. Paths the benchmarks may not reach (an arrival, a release, a blow-off) too.
TICK_PATH = {
    "app.py": ("tick", "_tick", "_count_up", "_rc_tick", "_show"),
    "events.py": ("engine", "doors", "_door", "say"),
    "throttle.py": ("follow",),
    "led.py": ("tick", "_start", "_advance", "_show"),
    "lines.py": ("__call__", "_queue", "pump", "_free", "_wrote"),
    "doors.py": ("tick", "_settle", "_rest", "_releases", "_release_step"),
    "motion.py": ("position", "at", "_blend"),
    "easing.py": ("value", "_read", "slope", "_slope"),
    "engine.py": ("tick", "_step", "_pedal", "_charge", "_limiter", "_spin", "_advance_state", "_idle_air",
                  "gross_q8", "loss_q8", "_lerp", "_set_state", "take_events"),
    "turbo.py": ("step", "_blowoff", "target_pa"),
    "rcin.py": ("_edge", "update", "poll", "pct_of", "_median3", "_lose", "_resume", "_switches", "take_events"),
    "servo.py": ("write", "pulse_ns"),
    "voice.py": ("update", "_motor", "motor_target", "_engine_note", "_chirp", "_shaker", "_share", "_follow"),
    "motor.py": ("write",),
}


def _frame_words():
    """{(file name, function name): largest frame in words} for the firmware, from the unix port's
    bytecode dump (`micropython -v -v` prints N_STATE and N_EXC_STACK of every code block)."""
    command = [micropython_binary(), "-v", "-v", "-c", "import gullwing.app, gullwing.lines"]
    out = subprocess.run(command, capture_output=True, text=True, env=_ENV, check=True).stdout
    words, block = {}, None
    state = 0
    for line in out.splitlines():
        match = re.match(r"File (\S+), code block '([^']+)'", line)
        if match:
            block = (os.path.basename(match.group(1)), match.group(2))
        elif line.startswith("(N_STATE "):
            state = int(line.split()[1].rstrip(")"))
        elif line.startswith("(N_EXC_STACK ") and block is not None:
            size = state + 3 * int(line.split()[1].rstrip(")"))
            words[block] = max(size, words.get(block, 0))
    return words


def test_no_function_on_the_tick_s_path_has_a_frame_that_goes_to_the_heap():
    words = _frame_words()
    missing = [(f, n) for f, names in TICK_PATH.items() for n in names if (f, n) not in words]
    assert missing == []  # a function renamed or gone: keep this list in step
    heavy = {(f, n): words[f, n] for f, names in TICK_PATH.items() for n in names if words[f, n] > 11}
    assert heavy == {}
