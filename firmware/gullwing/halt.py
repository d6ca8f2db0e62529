"""The firmware's end, which nothing interrupts: Ctrl-C, a crash or a soft reset leaves the model safe.

Whatever arrives while stopping (Ctrl-C again, a KeyboardInterrupt raised late, an exception from a
part), the motor, buzzer and amplifier end silent, the doors held where they are, the watchdog
stretched, the doors' rest position saved and the end said. How:

- Ctrl-C goes off first (`micropython.kbd_intr(-1)`): from then on the console's 0x03 is a plain byte
  (ports/esp32/uart.c: uart_irq_handler, usb_serial_jtag.c: only `mp_interrupt_char` is turned into
  mp_sched_keyboard_interrupt()), which the REPL reads later and passes over. The REPL turns Ctrl-C
  back on for whatever it runs next (shared/runtime/pyexec.c: parse_compile_execute); turning it on
  here would only reopen a window for a late Ctrl-C to print a traceback at the prompt.
- A Ctrl-C that came before it went off is pending, one at most (py/scheduler.c:
  mp_sched_keyboard_interrupt sets one pending exception), and raised at the next jump (py/vm.c:
  pending_exception_check) or blocking call: inside one of the steps below, each of which is tried
  again (TRIES) when it raises anything, and then left for the next, so that one broken part stops
  none of the others.
"""

import sys
import time

import machine
from micropython import kbd_intr

from gullwing.faults import reason

REPL_WDT_MS = 86_400_000  # nothing feeds the watchdog at the REPL (it cannot be stopped): a day
TRIES = 3  # a step that raises is tried again: a pending Ctrl-C once, a failing part twice more
STOPPED = "gullwing stopped: motor off, doors held; the REPL is yours"


def _silence(app, now_ms):
    app.halted = True  # nothing writes the engine outputs again
    if app.outputs is not None:
        app.outputs.silence()


def _hush(app, now_ms):
    if app.speaker is not None:
        app.speaker.stop()  # the I2S deinit: the DMA and the amplifier's clocks stop, it plays nothing more


def _stretch(app, now_ms):
    machine.WDT(timeout=REPL_WDT_MS)  # another WDT() reconfigures the one (ports/esp32/machine_wdt.c)


def _engine_off(app, now_ms):
    app.engine.throttle(0)
    app.engine.stop()
    app.voice.reset()


def _hold(app, now_ms):
    if app.doors is not None:
        app.doors.command(now_ms, "both", "stop", None, 20)


def _save(app, now_ms):
    saver = app.saver
    if saver is not None and not saver.save_now() and saver.store_error is not None:
        raise saver.store_error  # the flash refused (the saver keeps it from the tick): tried again here


def _lit(app, now_ms):
    if app.led is not None:
        app.led.stop()


# the order is the urgency: the motor first, then the watchdog (its reset would cut the save short)
APP_STEPS = (("motor", _silence), ("sound", _hush), ("engine", _engine_off), ("doors", _hold), ("rest", _save),
             ("led", _lit))
STOP_STEPS = APP_STEPS[:1] + (("watchdog", _stretch),) + APP_STEPS[1:]


def ctrl_c_off():
    """Ctrl-C is a plain byte from here on; one raised before it went off is taken here."""
    tried(kbd_intr, -1)


def run_steps(app, now_ms, steps):
    """Each step tried until it passes (at most TRIES times); the failures as "step: Type: words"."""
    failed = []
    for name, step in steps:
        _failed(failed, name, tried(step, app, now_ms))
    return failed


def end(app, exc, crashes=None, reset=True, tries=TRIES):
    """The firmware's end, from runner.run's `except BaseException as exc`. Ctrl-C (KeyboardInterrupt):
    stopped, back to the REPL. A soft reset (SystemExit): stopped, and the reset goes on. Anything else:
    a crash, counted in `crashes`, then machine.reset() if `reset` (not in safe mode, where the REPL
    stays). A Ctrl-C still pending when Ctrl-C went off is raised at the next bytecode that checks, which
    may be anywhere in here: the whole stop is then done again (each step is harmless twice)."""
    # (no loop around the `try`: a loop's jump is where a pending Ctrl-C is raised, outside it)
    try:
        _end(app, exc, crashes, reset)
    except KeyboardInterrupt:
        if tries:
            end(app, exc, crashes, reset, tries - 1)


def _end(app, exc, crashes, reset):
    ctrl_c_off()
    failed = run_steps(app, time.ticks_ms(), STOP_STEPS)
    if isinstance(exc, SystemExit):
        raise exc
    crash = not isinstance(exc, KeyboardInterrupt)
    if crash and crashes is not None:
        _failed(failed, "crash count", tried(crashes.crashed, type(exc).__name__ + ": " + reason(exc)))
    tried(_say, exc if crash else None, failed, not (crash and reset))
    if crash and reset:
        for _ in range(TRIES):
            try:
                machine.reset()  # does not return on the chip
                return
            except KeyboardInterrupt:
                pass


def tried(call, *args):
    """call(*args) until it returns (at most TRIES times): None, or what it raised the last time."""
    error = None
    for _ in range(TRIES):
        try:
            call(*args)
            return None
        except BaseException as exc:  # a pending Ctrl-C, or the part: the next try
            error = exc
    return error


def _failed(failed, name, error):
    if error is not None and not isinstance(error, KeyboardInterrupt):
        failed.append(name + ": " + type(error).__name__ + ": " + reason(error))


def _say(exc, failed, to_repl):
    """What the console shows; said again whole if a pending Ctrl-C cut it short."""
    if exc is not None:
        print("gullwing crashed:")
        sys.print_exception(exc)
    if to_repl or failed:
        print(STOPPED if not failed else STOPPED + " (failed: " + "; ".join(failed) + ")")
