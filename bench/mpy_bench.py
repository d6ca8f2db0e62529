"""Runs inside the MicroPython unix port: each case's heap bytes and microseconds per call.

Usage: micropython mpy_bench.py MODULE... ; each module has CASES = [(name, target_bytes, make)]
where make() prepares state and returns the no-argument callable to measure, or (callable, roots):
objects whose int attributes are checked after every call for values outside the chip's small-int
range (each one found counts as allocprobe.BIG_INT_BYTES). Prints one tab-separated line per
case: name, target bytes (-1 for none), bytes kept per call, all bytes per call (kept and transient,
micropython.mem_total), the simulator's share of those, big ints per call, the firmware's bytes per
call (all - simulator + big ints), microseconds per call.
"""

import sys

import allocprobe
import simboard

_host_us = simboard._host_clock()[0]
SCANS = 200


def us_per_call(func, calls=2000):
    func()
    start = _host_us()
    for _ in range(calls):
        func()
    return (_host_us() - start) / calls


def big_ints_per_call(func, roots):
    """Big ints found in `roots` after each of SCANS calls, per call (rounded up), and the first."""
    found = 0
    first = ""
    for _ in range(SCANS):
        func()
        big = allocprobe.big_ints(roots) if roots is not None else []
        if big and not first:
            first = big[0]
        found += len(big)
    return (found + SCANS - 1) // SCANS, first


def measure(make):
    made = make()
    func, roots = made if isinstance(made, tuple) else (made, None)
    meter = allocprobe.simulator_meter().install()
    try:
        kept = allocprobe.bytes_per_call(func)
        total, sim = allocprobe.transient_per_call(func, meter=meter)
    finally:
        meter.remove()
    speed = us_per_call(func)
    bigs, first = big_ints_per_call(func, roots)
    firmware = max(0, total - sim) + bigs * allocprobe.BIG_INT_BYTES
    return kept, total, sim, bigs, firmware, speed, first


def main():
    for name in sys.argv[1:]:
        module = __import__(name)
        for case, target, make in module.CASES:
            kept, total, sim, bigs, firmware, speed, first = measure(make)
            print("\t".join((case, str(target), str(kept), str(total), str(sim), str(bigs), str(firmware),
                             str(round(speed, 2)), first)))


main()
