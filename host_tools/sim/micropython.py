"""`micropython` for CPython runs of the firmware (MicroPython has it built in and ignores this file)."""

from simboard import board


def const(value):
    return value


def native(func):
    return func


def viper(func):
    return func


def alloc_emergency_exception_buf(size):
    return None


def schedule(func, arg):
    board.schedule(func, arg)


def opt_level(level=None):
    return 0 if level is None else None


def kbd_intr(chr):
    return None


def heap_lock():
    return 0


def heap_unlock():
    return 0


def mem_info(verbose=False):
    print("mem: simulated board (CPython run)")


def stack_use():
    return 0
