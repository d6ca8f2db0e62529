"""Heap bytes a call allocates, measured under MicroPython: what it keeps, what it allocates and frees
again (transient), the simulator's share of that, and ints outside the chip's small-int range.

MicroPython boxes floats and allocates for closures, bound-method creation, string formatting,
growing lists, and for a function's frame when it is larger than 11 words (py/objfun.c:
fun_bc_call, VM_MAX_STATE_ON_STACK is sizeof(mp_uint_t) * 11 bytes, the state n_state words plus
3 words per exception handler; no pystack on the esp32 port): such a frame is taken from the heap
and freed on return, which `gc.mem_alloc()` never shows but which runs a full collection when the
heap is full. `micropython.mem_total()` (unix port) counts every byte ever allocated, so it does.
The threshold and the frame both count in words, so the 64-bit unix port moves exactly the frames
the 32-bit chip moves to the heap; the bytes it reports are about twice the chip's.

On the chip an int outside -2**30..2**30-1 is a heap object (py/mpconfig.h, 31-bit small ints),
which a 64-bit host never shows: `big_ints()` finds them among the tick's state, and the bench
counts each as BIG_INT_BYTES allocated.

Counts are deterministic for a given build, so tests may assert them and `make bench` reports them.
Only meaningful under MicroPython.
"""

import gc

import micropython

SMALL_MIN = -(1 << 30)  # the ESP32's small ints
SMALL_MAX = (1 << 30) - 1
BIG_INT_BYTES = 32  # on the chip: an mp_obj_int_t block and a block of mpz digits
_NONE = object()  # "argument not given" for the meters below


def _loop(func, calls):
    for _ in range(calls):  # compiled to a counting loop: allocates nothing itself
        func()


def _warm(func):
    func()
    func()  # the first calls may fill caches (interned names, lazily built tables)
    gc.collect()


def bytes_per_call(func, calls=200):
    """Heap bytes kept per `func()` call over `calls` calls (gc.mem_alloc, collector off), rounded
    up so that any allocation at all shows; two warm-up calls come first."""
    _warm(func)
    gc.disable()
    try:
        before = gc.mem_alloc()
        _loop(func, calls)
        after = gc.mem_alloc()
    finally:
        gc.enable()
    return (after - before + calls - 1) // calls


def _total_over(func, calls):
    gc.disable()
    try:
        before = micropython.mem_total()
        _loop(func, calls)
        return micropython.mem_total() - before
    finally:
        gc.enable()


def _nothing():
    pass


def transient_per_call(func, calls=200, meter=None):
    """(all, simulator) heap bytes per `func()` call, kept or freed (micropython.mem_total), rounded
    up; the measuring loop's own bytes are taken off. With a Meter, `simulator` is what the metered
    simulator calls allocated; else 0."""
    _warm(func)
    base = _total_over(_nothing, calls)
    if meter is not None:
        meter.bytes[0] = 0
    total = _total_over(func, calls) - base
    sim = meter.bytes[0] if meter is not None else 0
    return (total + calls - 1) // calls, (sim + calls - 1) // calls


def big_ints(obj, found=None, seen=None, path="", depth=4):
    """Every int outside the chip's small-int range in `obj`'s attributes, followed into the objects
    it holds (not into containers), as "path=value" strings. Allocates: call it between ticks."""
    if found is None:
        found, seen = [], set()
    if id(obj) in seen or depth < 0 or isinstance(obj, _simulated()):
        return found  # the simulator's own state (its clock counts unwrapped microseconds) is not the tick's
    seen.add(id(obj))
    try:
        attrs = obj.__dict__
    except AttributeError:
        return found
    for name in attrs:
        value = attrs[name]
        if isinstance(value, int) and not isinstance(value, bool):
            if not SMALL_MIN <= value <= SMALL_MAX:
                found.append(path + name + "=" + str(value))
        elif hasattr(value, "__dict__") and not isinstance(value, type):
            big_ints(value, found, seen, path + name + ".", depth - 1)
    return found


def _simulated():
    import machine

    return tuple(getattr(machine, n) for n in ("PWM", "Pin", "UART", "WDT", "Timer") if hasattr(machine, n))


def out_of_range(value):
    """True when an int would be a heap object on the chip."""
    return isinstance(value, int) and not SMALL_MIN <= value <= SMALL_MAX


class Meter:
    """Counts what the simulator allocates inside its own calls: the methods named in `targets`
    ((owner, name), owner a class, module or object) are wrapped, for as long as the Meter is
    installed, in calls that add the heap bytes allocated inside them to `bytes[0]`. The wrappers
    themselves allocate nothing (small frames, preallocated counter)."""

    def __init__(self, targets):
        self.targets = targets
        self.bytes = [0, 0]  # bytes counted, calls in progress
        self._saved = []

    def install(self):
        for owner, name in self.targets:
            real = getattr(owner, name)
            self._saved.append((owner, name, real))
            setattr(owner, name, _metered(real, self.bytes))
        return self

    def remove(self):
        for owner, name, real in reversed(self._saved):
            setattr(owner, name, real)
        self._saved = []


def _metered(real, count):
    # count: [bytes, depth]; only the outermost metered call counts (a simulator call may make
    # another). At most two arguments (a method's self and one value): with more, this frame would
    # outgrow the 11 words a frame may take on the C stack and allocate before it starts counting.
    def call(a=_NONE, b=_NONE):
        count[1] += 1
        start = micropython.mem_total()
        if a is _NONE:
            return _add(count, start, real())
        if b is _NONE:
            return _add(count, start, real(a))
        return _add(count, start, real(a, b))

    return call


def _add(count, start, result):
    count[1] -= 1
    if not count[1]:
        count[0] += micropython.mem_total() - start
    return result


def simulator_meter():
    """A Meter over the simulator calls a firmware tick (and a bench's tick function) makes: PWM,
    Pin, WDT and UART methods, the time.ticks_* functions and the board's clock and input drive."""
    import time

    import machine
    from simboard import board

    targets = [(machine.PWM, n) for n in ("duty_ns", "duty_u16", "freq", "deinit")]
    targets += [(machine.Pin, n) for n in ("value", "on", "off", "toggle")]
    targets += [(machine.WDT, "feed")]
    targets += [(machine.UART, n) for n in ("write", "read", "any", "txdone")]
    targets += [(time, n) for n in ("ticks_ms", "ticks_us", "ticks_diff", "ticks_add")]
    targets += [(board, n) for n in ("advance_ms", "advance_us", "drive")]
    targets += [(board.trace, "clear")]
    return Meter([t for t in targets if hasattr(t[0], t[1])])
