"""The firmware's life: its start (configuration, crash count, safe mode), its two tasks, and its end.

The control task ticks the app every 20 ms and feeds the watchdog; the serial task answers one request
line at a time on the console, and another serves the second UART when the board wires one; the audio
task feeds the I2S amplifier when the board wires one (speaker.py). Ctrl-C
(KeyboardInterrupt) stops the motor, holds the doors where they are and returns to the REPL; any other
exception that ends the firmware is a crash, counted (crashes.py), and resets the board.
"""

import asyncio
import gc
import os
import sys
import time

import machine

from gullwing import VERSION, halt
from gullwing import crashes as crashes_mod
from gullwing.faults import note, reason, task_failed
from gullwing.lines import LineReader, LineWriter

TICK_MS = 20
WDT_MS = 2000  # the control loop feeds the watchdog every tick; a hang resets the board
REPL_WDT_MS = 86_400_000  # nothing feeds it at the REPL: stretched to a day there
TICK_FAILURES = 10  # ticks failing in a row (200 ms) end the firmware: a crash, counted
UART_ID = 1  # every chip has UART1; its pins come from the board file


async def control(app, writes, wdt=None):
    """Ticks every 20 ms, feeding the watchdog. A tick that raises is a fault (safe state, reported)
    and the next tick comes; TICK_FAILURES in a row end the firmware, which counts as a crash.
    Event lines go to every channel in `writes` (callables; a LineWriter queues them, and is
    pumped here each tick: it writes only what its stream takes without waiting).

    The bytes a tick that queues no event allocates are measured (gc.mem_alloc around it, MicroPython's
    only) and the most kept in app.tick_bytes, which the `heap` verb reports and resets; the measure
    allocates nothing itself (small ints, a length, a builtin call)."""
    failures = 0
    pumps = [write.pump for write in writes if hasattr(write, "pump")]  # bound once, not per tick
    mem_alloc = getattr(gc, "mem_alloc", None)
    if not hasattr(app, "tick_bytes"):
        app.tick_bytes = 0
    while True:
        now = time.ticks_ms()
        if wdt is not None:
            wdt.feed()
        try:
            queued = len(app.outbox)
            before = mem_alloc() if mem_alloc is not None else 0
            app.tick(now)
            if mem_alloc is not None and len(app.outbox) == queued:
                used = mem_alloc() - before  # below 0 when the collector ran: not a measure
                if used > app.tick_bytes:
                    app.tick_bytes = used
            failures = 0
        except Exception as exc:
            failures += 1
            if failures >= TICK_FAILURES:
                raise
            task_failed(app, now, "control", exc)
        if app.outbox:
            for line in app.outbox:
                for write in writes:  # events go to every channel
                    write(line)
            app.outbox.clear()
        for pump in pumps:
            pump()
        spent = time.ticks_diff(time.ticks_ms(), now)
        await asyncio.sleep_ms(TICK_MS - spent if spent < TICK_MS else 0)


async def serial(app, reader, write, name="serial"):
    """One reply per request line; an error outside a request (a failed write) is a fault, and the
    next line is served. With a LineWriter, the reply waits for room (never dropped) and is written
    out before the next line is read: a host that stops reading stops its requests too."""
    while True:
        line = await reader.readline()
        if not line:
            return  # the console closed (the virtual board powers off)
        try:
            if line.strip():
                await _reply(write, app.handle(line, time.ticks_ms()))
        except Exception as exc:
            task_failed(app, time.ticks_ms(), name, exc)


async def _reply(write, text):
    if not hasattr(write, "put"):
        write(text)
        return
    await write.put(text)
    await write.drain()


def open_uart(cfg, problems):
    """The second command channel on the board's uart_tx/uart_rx pins, or None (reported when broken)."""
    pins = cfg["pins"]
    if "uart_tx" not in pins or "uart_rx" not in pins:
        return None
    try:
        return machine.UART(UART_ID, cfg["uart"]["baudrate"], tx=pins["uart_tx"], rx=pins["uart_rx"])
    except (KeyError, ValueError, TypeError, OSError) as exc:
        problems.append("uart: " + reason(exc))
        return None


def _start_web(app):
    """WiFi (wifi.py: up without blocking, then its own task) and the web server (httpd.py), whose events
    hub joins the channels. Imported here: a board without WiFi keeps the heap the server would take."""
    from gullwing.httpd import Server

    try:
        app.wifi.start()
        asyncio.create_task(app.wifi.run())
    except Exception as exc:  # the radio refused: the model works on without its page
        note(app.problems, "wifi: " + type(exc).__name__ + ": " + reason(exc))
        return
    server = Server(app)
    app.writers.append(server.hub)
    asyncio.create_task(server.serve())


async def _clean_after(crashes):
    await asyncio.sleep_ms(crashes_mod.CLEAN_MS)
    crashes.clean()


async def main(app, wdt=None, uart=None, crashes=None):
    console = LineWriter(sys.stdout)
    app.writers = [console]
    if uart is not None:
        app.writers.append(LineWriter(uart, app.cfg["uart"]["baudrate"] // 10))
        asyncio.create_task(serial(app, LineReader(uart), app.writers[1], "uart"))
    if getattr(app, "wifi", None) is not None:  # None in safe mode
        _start_web(app)
    asyncio.create_task(control(app, app.writers, wdt))
    if app.speaker is not None:
        asyncio.create_task(app.speaker.run(app))  # the audio task (speaker.py): a block per DMA buffer
    if app.saver is not None:
        asyncio.create_task(app.saver.run())
    if crashes is not None:
        asyncio.create_task(_clean_after(crashes))
    await serial(app, LineReader(sys.stdin.buffer), console)


def start(state_dir, safe_mode):
    """The app and its second channel. The parts are imported here, inside the crash counter: a module
    that cannot be loaded, or a configuration that exhausts the heap, is a crash like any other."""
    from gullwing import config
    from gullwing.app import App

    cfg, problems = config.load()
    app = App(cfg, time.ticks_ms(), state_dir, problems, safe_mode)
    return app, open_uart(app.cfg, app.problems)


def run(state_dir="/state"):
    """The firmware: a crash is counted and resets the board. In safe mode a crash leaves the REPL, and a
    start that fails raises (main.py then answers in its minimal safe mode)."""
    print("gullwing " + VERSION)
    try:
        os.mkdir(state_dir)
    except OSError:
        pass  # there already
    crashes = crashes_mod.Crashes(state_dir + "/crashes")
    safe_mode = crashes.boot(machine.reset_cause() == machine.WDT_RESET)
    try:
        app, uart = start(state_dir, safe_mode)
    except Exception as exc:  # MemoryError included
        crashes.crashed("start: " + type(exc).__name__ + ": " + reason(exc))
        if safe_mode is not None:
            raise
        print("gullwing crashed at its start:")
        sys.print_exception(exc)
        machine.reset()
        return  # not reached on the chip
    try:
        try:
            wdt = machine.WDT(timeout=WDT_MS)  # inside: a Ctrl-C from here on stretches it for the REPL
            asyncio.run(main(app, wdt, uart, crashes))
        except BaseException as exc:  # Ctrl-C, a crash, a soft reset: the model left safe, uninterrupted
            halt.end(app, exc, crashes, safe_mode is None)
    except KeyboardInterrupt as again:  # a second Ctrl-C, raised as the handler above matched the first
        halt.end(app, again, crashes, safe_mode is None)
    finally:
        # the next start's loop; a Ctrl-C raised late in here is taken as in the stop (the virtual board can
        # deliver one the host sent just before it heard Ctrl-C go off)
        halt.tried(asyncio.new_event_loop)
