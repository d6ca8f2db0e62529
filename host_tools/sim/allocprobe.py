"""Heap bytes a call allocates, measured under MicroPython with the garbage collector off.

MicroPython boxes floats and allocates for closures, bound-method creation, string formatting and
growing lists; a control tick that allocates feeds the collector, whose pauses jitter the servo frame.
Counts are deterministic for a given build, so tests may assert them and `make bench` reports them.
Only meaningful under MicroPython (`gc.mem_alloc()` is MicroPython's).
"""

import gc


def bytes_per_call(func, calls=200):
    """Heap bytes allocated per `func()` call over `calls` calls, rounded up so that any allocation
    at all shows; two warm-up calls come first."""
    func()
    func()  # the first calls may fill caches (interned names, lazily built tables)
    gc.collect()
    gc.disable()
    try:
        before = gc.mem_alloc()
        for _ in range(calls):  # compiled to a counting loop: allocates nothing itself
            func()
        after = gc.mem_alloc()
    finally:
        gc.enable()
    return (after - before + calls - 1) // calls
