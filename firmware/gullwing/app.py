"""The composition root: configuration -> doors, engine, voice and outputs -> two asyncio tasks.

The control task ticks every 20 ms (one servo frame): doors and engine advance by the measured time,
outputs are written, events are queued. The serial task answers one request line at a time. Ctrl-C
(KeyboardInterrupt) stops the motor, holds the doors where they are and returns to the REPL.
"""

import asyncio
import binascii
import gc
import os
import sys
import time

import machine

from gullwing import VERSION, config, protocol
from gullwing import crashes as crashes_mod
from gullwing.doors import Door, DoorPair
from gullwing.engine import EV_BLOWOFF, EV_LIMITER, EV_STATE, STATE_NAMES, Engine
from gullwing.lines import LineReader, LineWriter
from gullwing.motor import ODD, EngineOutputs, HBridgeMotor, MosfetMotor, Tone
from gullwing.protocol import BAD_ARG, FAULT, NOT_READY, UNKNOWN_VERB, ProtocolError
from gullwing.rcin import CONTROL as RC_CONTROL
from gullwing.rcin import EV_DOOR_TOGGLE as RC_DOOR_TOGGLE
from gullwing.rcin import EV_ENGINE_START as RC_ENGINE_START
from gullwing.rcin import EV_ENGINE_STOP as RC_ENGINE_STOP
from gullwing.rcin import EV_FAILSAFE as RC_FAILSAFE
from gullwing.rcin import EV_SIGNAL_BACK as RC_SIGNAL_BACK
from gullwing.rcin import STATE_NAMES as RC_STATES
from gullwing.rcin import Receiver
from gullwing.servo import Calibration, Servo
from gullwing.settings import Settings
from gullwing.store import Store
from gullwing.tuning import calibrate_request, config_request
from gullwing.voice import SHAKER_MIN_HZ, Voice

TICK_MS = 20
OUTBOX_LINES = 16  # event lines the tick queues between two sends; beyond, dropped and counted
COUNT_MASK = 0x3FFFFFFF  # counters wrap within the ESP32's small ints
LIMITER_EVENT_MS = 1000  # the limiter bounces 10-25 times a second: one event a second says it
MAX_PROBLEMS = 16  # a fault repeating with new words each time must not eat the heap
WDT_MS = 2000  # the control loop feeds the watchdog every tick; a hang resets the board
REPL_WDT_MS = 86_400_000  # nothing feeds it at the REPL: stretched to a day there
TICK_FAILURES = 10  # ticks failing in a row (200 ms) end the firmware: a crash, counted
UART_ID = 1  # every chip has UART1; its pins come from the board file
# what a part set up from the configuration may raise: our own checks (KeyError, ValueError, TypeError),
# ESP-IDF refusing a pin (OSError: check_esp_err) and the esp32 port out of LEDC channels or timers
# (RuntimeError): each is a problem in `status`, and the board runs on with the parts that work
REFUSALS = (KeyError, ValueError, TypeError, OSError, RuntimeError)
VERBS = ("ping", "help", "version", "status", "door", "engine", "throttle", "blip", "events", "estop", "config",
         "calibrate", "heap")


class App:
    def __init__(self, cfg, now_ms, state_dir="/state", problems=(), safe_mode=None):
        self.problems = list(problems)
        self.settings = Settings(state_dir)  # config set / calibrate, saved apart from config.json
        cfg = self.cfg = self.settings.over(cfg, self.problems)
        self._report_config = True  # the boot's problems, as `evt config` at the first `events on`
        self.safe_mode = safe_mode  # why nothing is driven this boot (repeated crashes), or None
        self.started_ms = now_ms
        self._last_ms = now_ms
        self.events_on = False
        self.outbox = []  # event lines waiting for the serial side
        self.halted = False  # after estop: the motor stays silent until the engine is started again
        self.doors = None
        try:
            self.engine = Engine(**cfg["engine"])
        except (KeyError, ValueError, TypeError) as exc:  # the right type, out of range: the defaults
            self.problems.append("engine: " + _reason(exc))
            self.engine = Engine()
        pins = cfg["pins"]
        if safe_mode is None:
            try:
                self.doors = _door_pair(cfg["doors"], pins, state_dir)
            except REFUSALS as exc:  # no motion with a door set up wrong
                self.problems.append("doors: " + _reason(exc))
            self.voice, self.outputs = _engine_outputs(cfg, self.engine, pins, self.problems)
        else:  # safe mode: no door, motor, buzzer or receiver pin is touched
            pins = {}
            self.voice, self.outputs = Voice(idle_rpm=self.engine.idle_rpm, limit_rpm=self.engine.limit_rpm), None
        self.rc = None  # the RC receiver, when the board wires a throttle channel
        if "rc_throttle" in pins:
            try:
                self.rc = Receiver(pins["rc_throttle"], pins.get("rc_door"), pins.get("rc_engine"), **cfg["rc"])
            except (KeyError, ValueError, TypeError) as exc:
                self.problems.append("rc: " + _reason(exc))
        self._see_arrivals()
        self._up_s = self._up_ms = 0  # uptime, counted by the tick
        self._part = None  # the part the tick drives: a fault there is that part's
        self._ticks = self._ticking()
        next(self._ticks)
        self.dropped = 0  # event lines dropped because the outbox was full
        self.writers = []  # the channels' LineWriters (main() sets them): their drops count too
        self._limiter_ms = time.ticks_add(now_ms, -LIMITER_EVENT_MS)

    # -- the control tick --------------------------------------------------------------------------

    def tick(self, now_ms):
        """One servo frame. Allocates nothing unless an event is queued. An output the board refuses
        (a servo on an input-only pin) is a fault: the safe state, reported, and the board answers on;
        any other exception is raised here, for the control task."""
        exc = self._ticks.send(now_ms)
        if exc is not None:
            raise exc

    def _ticking(self):
        """The tick as a generator made once. A MicroPython frame over 11 words (locals, value stack,
        3 words per exception handler: a `try` alone takes 6) is allocated on the heap at every
        call; a generator's lives on the heap for good, so the `try` a fault needs costs nothing
        per tick, and the parts below are small functions whose frames stay on the C stack. (A
        BaseException, Ctrl-C or a reset, ends it: the app ends with it.)"""
        exc = None
        while True:
            now_ms = yield exc
            exc = None
            try:
                self._tick(now_ms)
            except Exception as error:
                exc = error
                try:
                    if self._part is not None:  # a part that failed is not driven again
                        self._fault(now_ms, self._part, error)
                        exc = None
                except Exception as again:
                    exc = again
            self._part = None

    def _tick(self, now_ms):
        dt = time.ticks_diff(now_ms, self._last_ms)
        self._last_ms = now_ms
        self._count_up(dt)
        if self.rc is not None:
            self._rc_tick(self.rc, now_ms)
        if self.doors is not None:
            self._part = "doors"
            self.doors.tick(now_ms)
        self._part = None
        self.engine.tick(dt)
        if self.outputs is not None and not self.halted:
            self.voice.update(self.engine, dt)
            self._part = "engine outputs"
            self.outputs.write(self.voice)
            self._part = None
        if self.engine.events:
            self._engine_events(now_ms, self.engine.take_events())
        if self.doors is not None:
            self._door_events(self.doors)

    def _count_up(self, dt):
        # uptime as seconds and ms: one count of ms would pass 2**30 (a big int) after 12 days
        if dt > 0:
            ms = self._up_ms + dt
            if ms >= 1000:
                self._up_s += ms // 1000
                ms %= 1000
            self._up_ms = ms

    def _rc_tick(self, rc, now_ms):
        rc.poll(time.ticks_us())
        if rc.events:
            self._rc_events(now_ms, rc.take_events())
        if rc.state == RC_CONTROL:
            self.engine.throttle(rc.throttle_pct)

    def _rc_events(self, now_ms, events):
        """What the transmitter asked for, and the failsafe: throttle closed, doors held where they are."""
        if events & RC_FAILSAFE:
            self.engine.throttle(0)
            if self.doors is not None:
                self.doors.command(now_ms, "both", "stop", None, 20)
            self._event("failsafe", {"state": "failsafe"})
        if events & RC_SIGNAL_BACK:
            self._event("failsafe", {"state": "control"})
        if events & RC_DOOR_TOGGLE and self.doors is not None:
            self.doors.command(now_ms, "both", "toggle")
        if events & RC_ENGINE_START:
            self.halted = False
            self.engine.start()
        if events & RC_ENGINE_STOP:
            self.engine.stop()

    def _fault(self, now_ms, part, exc):
        """`part` is not driven again (a door's servo keeps its last pulse); the rest goes safe."""
        reason = part + ": " + type(exc).__name__ + ": " + _reason(exc)
        self.problems.append(reason)
        if part == "doors":
            self.doors = None
        elif self.outputs is not None:
            outputs, self.outputs = self.outputs, None
            try:
                outputs.silence()
            except Exception:
                pass  # the pin that failed cannot be silenced either
        self.safe_state(now_ms)
        self._event("fault", {"error": reason})

    def _see_arrivals(self):
        doors = self.doors
        self._left_seen = 0 if doors is None else doors.left.arrived
        self._right_seen = 0 if doors is None else doors.right.arrived

    def _door_events(self, doors):
        # each door's arrival count apart: they wrap, so they are compared, never combined
        if doors.left.arrived != self._left_seen:
            self._left_seen = doors.left.arrived
            self._door_event(doors.left)
        if doors.right.arrived != self._right_seen:
            self._right_seen = doors.right.arrived
            self._door_event(doors.right)

    def _door_event(self, door):
        if self.events_on:
            status = door.status()
            self._event("door", {"side": door.name, "state": status["state"], "angle": status["angle"]})

    def _engine_events(self, now_ms, events):
        if not self.events_on:
            return  # no payloads built for nobody
        engine = self.engine
        if events & EV_STATE:
            self._event("engine", {"state": STATE_NAMES[engine.state], "rpm": engine.rpm})
        if events & EV_BLOWOFF:
            self._event("bov", {"boost": engine.boost_kpa, "rpm": engine.rpm})
        if events & EV_LIMITER and time.ticks_diff(now_ms, self._limiter_ms) >= LIMITER_EVENT_MS:
            self._limiter_ms = now_ms
            self._event("limiter", {"rpm": engine.rpm, "hits": engine.limiter_hits})

    def _event(self, name, payload):
        if not self.events_on:
            return
        if len(self.outbox) >= OUTBOX_LINES:  # nobody collects them: dropped and counted, not built
            self.dropped = (self.dropped + 1) & COUNT_MASK
            return
        self.outbox.append(protocol.event(name, payload))

    # -- requests ----------------------------------------------------------------------------------

    def handle(self, line, now_ms):
        """The one reply line to one request line. Never raises: a bad request changes nothing."""
        req_id = None
        try:
            request = protocol.parse(line)
            req_id = request.id
            handler = getattr(self, "_do_" + request.verb, None) if request.verb in VERBS else None
            if handler is None:
                raise ProtocolError(UNKNOWN_VERB, repr(request.verb)[:24] + " is not a verb; try help")
            return protocol.ok(req_id, handler(request.args, now_ms))
        except ProtocolError as exc:
            if req_id is None:
                req_id = exc.req_id  # parse() may have read the id before it failed
            return protocol.err(req_id, exc.code, exc.message)
        except ValueError as exc:
            return protocol.err(req_id, BAD_ARG, _reason(exc))
        except Exception as exc:  # a bug must not stop the board from answering
            return protocol.err(req_id, FAULT, type(exc).__name__ + ": " + _reason(exc))

    def _do_ping(self, args, now_ms):
        protocol.no_more(args, 0)
        return None

    def _do_heap(self, args, now_ms):
        """Free and used heap after a collection: a leak shows as free bytes shrinking over time."""
        protocol.no_more(args, 0)
        gc.collect()
        free, used = getattr(gc, "mem_free", None), getattr(gc, "mem_alloc", None)  # MicroPython's
        return {"free": free() if free else None, "used": used() if used else None}

    def _do_help(self, args, now_ms):
        protocol.no_more(args, 0)
        return {"verbs": list(VERBS), "door": "door left|right|both open|close|toggle|stop [ms] | to <deg> [ms]",
                "engine": "engine start|stop", "throttle": "throttle 0-100", "blip": "blip [ms]",
                "events": "events on|off", "config": "config get [key] | set <key> <value> | save | reset",
                "calibrate": "calibrate left|right jog <-50..50> | closed | open; calibrate save"}

    def _do_version(self, args, now_ms):
        protocol.no_more(args, 0)
        return {"version": VERSION, "micropython": ".".join(str(n) for n in sys.implementation.version[:3]),
                "id": binascii.hexlify(machine.unique_id()).decode()}

    def _do_status(self, args, now_ms):
        protocol.no_more(args, 0)
        engine = self.engine
        out = {"version": VERSION, "up_ms": self._up_s * 1000 + self._up_ms,
               "doors": None if self.doors is None else self.doors.status(),
               "engine": {"state": STATE_NAMES[engine.state], "rpm": engine.rpm, "boost": engine.boost_kpa,
                          "throttle": engine.throttle_pct}}
        outputs = self.outputs
        # what the pins are driven with, for a self-test on a board without a trace; left out while
        # nothing is driven (the engine off), as every field that is usually off
        if outputs is not None and (outputs.motor_pct or outputs.buzzer_hz or outputs.shaker_hz):
            driven = {"motor": outputs.motor_pct, "buzzer_hz": outputs.buzzer_hz}
            if outputs.shaker is not None:
                driven["shaker_hz"] = outputs.shaker_hz
            out["outputs"] = driven
        # what is usually off is left out: a short reply is a fast one at 115200 baud
        if self.events_on:
            out["events"] = True
        if self.halted:
            out["halted"] = True
        dropped = self.dropped + sum(writer.dropped for writer in self.writers)
        if dropped:
            out["dropped"] = dropped  # event lines nobody collected in time
        if self.rc is not None:
            out["rc"] = RC_STATES[self.rc.state]
        if self.problems:
            out["problems"] = self.problems
        if self.safe_mode is not None:
            out["safe_mode"] = self.safe_mode
        return out

    def _do_door(self, args, now_ms):
        if self.doors is None:
            why = self.problems if self.safe_mode is None else ["safe mode, " + self.safe_mode]
            raise ProtocolError(NOT_READY, "the doors are not set up: " + "; ".join(why)[:80])
        side = protocol.choice(args, 0, "door", ("left", "right", "both"))
        verb = protocol.choice(args, 1, "action", ("open", "close", "toggle", "stop", "to"))
        deg = None
        at = 2
        if verb == "to":
            deg = protocol.integer(args, 2, "angle", 0, 180)
            at = 3
        ms = protocol.integer(args, at, "ms", 20, 60_000, -1)
        protocol.no_more(args, at + 1)
        self.doors.command(now_ms, side, verb, deg, None if ms < 0 else ms)
        return self.doors.status()

    def _do_engine(self, args, now_ms):
        action = protocol.choice(args, 0, "action", ("start", "stop"))
        protocol.no_more(args, 1)
        if action == "start":
            self.halted = False
            self.engine.start()
        else:
            self.engine.stop()
        return {"state": STATE_NAMES[self.engine.state]}

    def _do_throttle(self, args, now_ms):
        pct = protocol.integer(args, 0, "throttle", 0, 100)
        protocol.no_more(args, 1)
        self.engine.throttle(pct)
        return None

    def _do_blip(self, args, now_ms):
        ms = protocol.integer(args, 0, "blip ms", 10, 2000, 250)
        protocol.no_more(args, 1)
        if not self.engine.blip(ms):
            raise ProtocolError(NOT_READY, "the engine is not running; engine start first")
        return None

    def _do_events(self, args, now_ms):
        on = protocol.choice(args, 0, "events", ("on", "off")) == "on"
        protocol.no_more(args, 1)
        self.events_on = on
        if not on:
            self.outbox.clear()
        elif self._report_config:
            self._report_config = False
            if self.problems:
                self._event("config", {"problems": self.problems})
        return None

    def _do_config(self, args, now_ms):
        return config_request(self, args)

    def _do_calibrate(self, args, now_ms):
        return calibrate_request(self, args)

    def _do_estop(self, args, now_ms):
        protocol.no_more(args, 0)
        self.safe_state(now_ms)
        return None

    def safe_state(self, now_ms):
        """Motor off at once, doors held where they are (no twitch): estop, Ctrl-C, a fault."""
        self.halted = True
        self.engine.throttle(0)
        self.engine.stop()
        self.voice.reset()
        if self.outputs is not None:
            self.outputs.silence()
        if self.doors is not None:
            self.doors.command(now_ms, "both", "stop", None, 20)

    def task_fault(self, now_ms, task, exc):
        """An exception that escaped a task: the safe state, reported; the task serves on."""
        reason = task + ": " + type(exc).__name__ + ": " + _reason(exc)
        if reason not in self.problems and len(self.problems) < MAX_PROBLEMS:  # a repeat adds nothing
            self.problems.append(reason)
        try:
            self.safe_state(now_ms)
        except Exception:
            self.doors = None  # what failed to stop is not driven again
            self.outputs = None
        self._event("fault", {"error": reason})


def _reason(exc):
    if isinstance(exc, OSError) and len(exc.args) > 1:
        return str(exc.args[1])  # ESP-IDF's (errno, name): the name says it
    return str(exc.args[0]) if exc.args else type(exc).__name__


def _pin(pins, role):
    if role not in pins:
        raise ValueError("pins." + role + " is not set")
    return pins[role]


def _door_pair(cfg, pins, state_dir):
    doors = []
    for side in ("left", "right"):
        servo = Servo(_pin(pins, "door_" + side), Calibration(**cfg[side]))
        doors.append(Door(side, servo, hold_ms=cfg["hold_ms"]))
    try:
        os.mkdir(state_dir)
    except OSError:
        pass  # there already
    return DoorPair(doors[0], doors[1], store=Store(state_dir + "/doors"), together=cfg["together"],
                    stagger_ms=cfg["stagger_ms"])


def _engine_outputs(cfg, engine, pins, problems):
    """(voice, outputs): every output the configuration names and the board accepts; outputs is None
    when there is none. Each refusal is reported under its output's name."""
    try:
        voice = Voice(idle_rpm=engine.idle_rpm, limit_rpm=engine.limit_rpm, **cfg["voice"])
    except (KeyError, ValueError, TypeError) as exc:
        problems.append("voice: " + _reason(exc))
        voice = Voice(idle_rpm=engine.idle_rpm, limit_rpm=engine.limit_rpm)
    motor = _output(problems, "motor", _motor, cfg, pins)
    buzzer = _output(problems, "buzzer", Tone, pins["buzzer"]) if "buzzer" in pins else None
    shaker = _output(problems, "shaker", Tone, pins["shaker"], SHAKER_MIN_HZ, ODD) if "shaker" in pins else None
    if motor is None and buzzer is None and shaker is None:
        return voice, None
    return voice, EngineOutputs(motor, buzzer, shaker)


def _motor(cfg, pins):
    if cfg["motor"] == "hbridge":
        return HBridgeMotor(_pin(pins, "motor_in1"), _pin(pins, "motor_in2"))
    return MosfetMotor(_pin(pins, "motor"))


def _output(problems, name, make, *args):
    """make(*args), or None when the configuration or the board refuses it (reported as `name`)."""
    try:
        return make(*args)
    except REFUSALS as exc:
        problems.append(name + ": " + _reason(exc))
        return None


# -- the two tasks ---------------------------------------------------------------------------------

async def control(app, writes, wdt=None):
    """Ticks every 20 ms, feeding the watchdog. A tick that raises is a fault (safe state, reported)
    and the next tick comes; TICK_FAILURES in a row end the firmware, which counts as a crash.
    Event lines go to every channel in `writes` (callables; a LineWriter queues them, and is
    pumped here each tick: it writes only what its stream takes without waiting)."""
    failures = 0
    pumps = [write.pump for write in writes if hasattr(write, "pump")]  # bound once, not per tick
    while True:
        now = time.ticks_ms()
        if wdt is not None:
            wdt.feed()
        try:
            app.tick(now)
            failures = 0
        except Exception as exc:
            failures += 1
            if failures >= TICK_FAILURES:
                raise
            app.task_fault(now, "control", exc)
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
            app.task_fault(time.ticks_ms(), name, exc)


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
        problems.append("uart: " + _reason(exc))
        return None


_UartWriter = LineWriter  # a UART's writer, by the name the crash tests use


async def _clean_after(crashes):
    await asyncio.sleep_ms(crashes_mod.CLEAN_MS)
    crashes.clean()


async def main(app, wdt=None, uart=None, crashes=None):
    console = LineWriter(sys.stdout)
    app.writers = [console]
    if uart is not None:
        app.writers.append(LineWriter(uart, app.cfg["uart"]["baudrate"] // 10))
        asyncio.create_task(serial(app, LineReader(uart), app.writers[1], "uart"))
    asyncio.create_task(control(app, app.writers, wdt))
    if crashes is not None:
        asyncio.create_task(_clean_after(crashes))
    await serial(app, LineReader(sys.stdin.buffer), console)


def run(state_dir="/state"):
    """The firmware: a crash is counted and resets the board (in safe mode the REPL stays)."""
    print("gullwing " + VERSION)
    cfg, problems = config.load()
    _make_dir(state_dir)
    crashes = crashes_mod.Crashes(state_dir + "/crashes")
    safe_mode = crashes.boot(machine.reset_cause() == machine.WDT_RESET)
    app = App(cfg, time.ticks_ms(), state_dir, problems, safe_mode)
    uart = open_uart(cfg, app.problems)
    try:
        wdt = machine.WDT(timeout=WDT_MS)  # inside: a Ctrl-C from here on stretches it for the REPL
        asyncio.run(main(app, wdt, uart, crashes))
    except KeyboardInterrupt:
        machine.WDT(timeout=REPL_WDT_MS)  # it cannot be stopped: stretched, so the REPL stays
        app.safe_state(time.ticks_ms())
        print("gullwing stopped: motor off, doors held; the REPL is yours")
    except Exception as exc:
        machine.WDT(timeout=REPL_WDT_MS)
        crashes.crashed(type(exc).__name__ + ": " + _reason(exc))
        try:
            app.safe_state(time.ticks_ms())
        except Exception:
            pass  # the board resets anyway
        print("gullwing crashed:")
        sys.print_exception(exc)
        if safe_mode is None:
            machine.reset()
    finally:
        asyncio.new_event_loop()


def _make_dir(path):
    try:
        os.mkdir(path)
    except OSError:
        pass  # there already
