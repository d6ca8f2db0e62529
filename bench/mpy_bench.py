"""Runs inside the MicroPython unix port: each case's heap bytes and microseconds per call.

Usage: micropython mpy_bench.py MODULE... ; each module has CASES = [(name, target_bytes, make)]
where make() prepares state and returns the no-argument callable to measure. Prints one
tab-separated line per case: name, target bytes (-1 for none), bytes per call, microseconds per call.
"""

import sys

import allocprobe
import simboard

_host_us = simboard._host_clock()[0]


def us_per_call(func, calls=2000):
    func()
    start = _host_us()
    for _ in range(calls):
        func()
    return (_host_us() - start) / calls


def main():
    for name in sys.argv[1:]:
        module = __import__(name)
        for case, target, make in module.CASES:
            func = make()
            alloc = allocprobe.bytes_per_call(func)
            speed = us_per_call(func)
            print("\t".join((case, str(target), str(alloc), str(round(speed, 2)))))


main()
