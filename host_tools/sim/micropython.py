"""`micropython` for CPython runs of the firmware (MicroPython has it built in and ignores this file).

What the ESP32 port's module has (py/modmicropython.c at MICROPY_CONFIG_ROM_LEVEL_EXTRA_FEATURES, without
MICROPY_MEM_STATS, so no mem_total/mem_current/mem_peak, and no heap_locked). `native` and `viper` are not
attributes there but decorators the compiler consumes; they are here so that CPython can run such code.
Likewise viper's pointer casts `ptr8`, `ptr16` and `ptr32` (py/emitnative.c: compile-time names, typed as
built-ins by the stubs): importing this module makes them CPython built-ins, as little-endian unsigned views of
the buffer. A viper load from ptr32 is a 32-bit word, zero-extended on a 64-bit host and signed on the 32-bit
chip, so code that must agree on both keeps the words it loads in 0..2**31-1; a store keeps the low bits,
which CPython's view refuses: store `value & 0xFFFF` through ptr16.
"""

import builtins
import sys

from simboard import board

_opt = [0]  # MP_STATE_VM(mp_optimise_value)
_lock_depth = [0]  # gc_lock_depth


def const(value):
    return value


def native(func):
    return func


def viper(func):
    return func


def ptr8(buf):
    return memoryview(buf).cast("B")


def ptr16(buf):
    return memoryview(buf).cast("B").cast("H")


def ptr32(buf):
    return memoryview(buf).cast("B").cast("I")


assert sys.byteorder == "little"  # as the ESP32 and I2S lay samples out
for _cast in (ptr8, ptr16, ptr32):
    if not hasattr(builtins, _cast.__name__):
        setattr(builtins, _cast.__name__, _cast)


def alloc_emergency_exception_buf(size):
    return None


def schedule(func, arg):
    # mp_micropython_schedule(): RuntimeError when the 8-deep queue is full
    board.schedule(func, arg)


def opt_level(*level):
    if not level:
        return _opt[0]
    _opt[0] = int(level[0])
    return None


def kbd_intr(chr):
    return None


def heap_lock():
    # gc_lock(): nests; returns None
    _lock_depth[0] += 1


def heap_unlock():
    # gc_unlock(): returns the depth left
    if _lock_depth[0]:
        _lock_depth[0] -= 1
    return _lock_depth[0]


def mem_info(*verbose):
    print("mem: simulated board (CPython run): no heap figures")


def qstr_info(*verbose):
    print("qstr pool: n_pool=0, n_qstr=0, n_str_data_bytes=0, n_total_bytes=0")


def stack_use():
    return 0
