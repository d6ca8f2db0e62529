"""The protocol's verbs (docs/protocol.md): one handler per verb, each taking the app, the request's
arguments and the time, and returning the reply's payload (a dict, or None for a bare `ok`). A handler
checks everything before it changes anything, and says what is wrong by raising ProtocolError or
ValueError; `handle` turns that into the one `err` line, so a bad request changes nothing.
"""

import binascii
import gc
import sys

import machine

from gullwing import VERSION, protocol
from gullwing.engine import STATE_NAMES
from gullwing.faults import reason
from gullwing.protocol import BAD_ARG, BUSY, DENIED, FAULT, NOT_READY, UNKNOWN_VERB, ProtocolError
from gullwing.rcin import STATE_NAMES as RC_STATES
from gullwing.rcin import WAITING as RC_WAITING
from gullwing.throttle import HOST
from gullwing.tuning import calibrate_request, config_request, ready_doors

USAGE = {
    "door": "door left|right|both open|close|toggle|stop [ms] | to <deg> [ms]",
    "engine": "engine start|stop", "throttle": "throttle 0-100", "blip": "blip [ms]",
    "rc": "rc (the receiver's live pulses)", "events": "events on|off",
    "config": "config get [key] | set <key> <value> | save | reset",
    "calibrate": "calibrate left|right jog <-50..50> | closed | open; calibrate save",
    "wifi": "wifi | wifi password (over USB only)",
}
USB_ONLY = "over USB only: from the page it could lock the owner out"


def handle(app, line, now_ms, web=False):
    """The one reply line to one request line. Never raises: a bad request changes nothing. On the web
    page's channel (`web`) what could lock the owner out is refused (`err denied`)."""
    req_id = None
    try:
        request = protocol.parse(line)
        req_id = request.id
        handler = HANDLERS.get(request.verb)
        if handler is None:
            raise ProtocolError(UNKNOWN_VERB, repr(request.verb)[:24] + " is not a verb; try help")
        if web and _locks_out(request.verb, request.args):
            raise ProtocolError(DENIED, " ".join([request.verb] + request.args[:2])[:40] + ": " + USB_ONLY)
        return protocol.ok(req_id, handler(app, request.args, now_ms))
    except ProtocolError as exc:
        if req_id is None:
            req_id = exc.req_id  # parse() may have read the id before it failed
        return protocol.err(req_id, exc.code, exc.message)
    except ValueError as exc:
        return protocol.err(req_id, BAD_ARG, reason(exc))
    except Exception as exc:  # a bug must not stop the board from answering
        return protocol.err(req_id, FAULT, type(exc).__name__ + ": " + reason(exc))


def _locks_out(verb, args):
    """The requests the page may not make: the WiFi and PIN settings, forgetting every setting, the AP's key."""
    if verb == "config":
        action = args[:1]
        return action == ["reset"] or (action == ["set"] and len(args) > 1 and args[1].split(".")[0] in ("wifi", "web"))
    return verb == "wifi" and len(args) > 0


def _ping(app, args, now_ms):
    protocol.no_more(args, 0)


def _help(app, args, now_ms):
    protocol.no_more(args, 0)
    out: dict = {"verbs": VERBS}
    out.update(USAGE)
    return out


def _version(app, args, now_ms):
    protocol.no_more(args, 0)
    return {"version": VERSION, "micropython": ".".join(str(n) for n in sys.implementation.version[:3]),
            "id": binascii.hexlify(machine.unique_id()).decode()}


def _heap(app, args, now_ms):
    """Free and used heap after a collection: a leak shows as free bytes shrinking over time; and the most
    any control tick without an event allocated since the last `heap` (the runner measures it)."""
    protocol.no_more(args, 0)
    gc.collect()
    free, used = getattr(gc, "mem_free", None), getattr(gc, "mem_alloc", None)  # MicroPython's
    tick_bytes = app.tick_bytes
    app.tick_bytes = 0
    return {"free": free() if free else None, "used": used() if used else None, "tick_bytes": tick_bytes}


def _status(app, args, now_ms):
    protocol.no_more(args, 0)
    engine = app.engine
    running = {"state": STATE_NAMES[engine.state], "rpm": engine.rpm, "boost": engine.boost_kpa,
               "throttle": engine.throttle_pct}
    out = {"version": VERSION, "up_ms": app.up_ms(), "doors": None if app.doors is None else app.doors.status(),
           "engine": running}
    # what is usually off is left out: a short reply is a fast one at 115200 baud
    outputs = app.outputs
    if outputs is not None and outputs.driven():  # what the pins are driven with, for a self-test
        out["outputs"] = outputs.status()
    level = 0 if app.speaker is None else app.speaker.level()
    if level:  # the amplifier's last block, its peak in % of full scale; left out while silent
        out.setdefault("outputs", {})["sound"] = level
    if app.events.on:
        out["events"] = True
    if app.halted:
        out["halted"] = True
    dropped = app.dropped()
    if dropped:
        out["dropped"] = dropped  # event lines nobody collected in time
    if app.rc is not None:
        if app.rc.state != RC_WAITING:  # a receiver that never had a signal: usually none is plugged in
            out["rc"] = RC_STATES[app.rc.state]
        if app.throttle.owner != HOST:
            running["owner"] = app.throttle.owner  # the transmitter holds the throttle (usually the host does)
    if app.problems:
        out["problems"] = app.problems
    if app.safe_mode is not None:
        out["safe_mode"] = app.safe_mode
    return out


def _door(app, args, now_ms):
    doors = ready_doors(app)
    side = protocol.choice(args, 0, "door", ("left", "right", "both"))
    verb = protocol.choice(args, 1, "action", ("open", "close", "toggle", "stop", "to"))
    deg = None
    at = 2
    if verb == "to":
        deg = protocol.integer(args, 2, "angle", 0, 180)
        at = 3
    ms = protocol.integer(args, at, "ms", 20, 60_000, -1)
    protocol.no_more(args, at + 1)
    doors.command(now_ms, side, verb, deg, None if ms < 0 else ms)
    return doors.status()


def _engine(app, args, now_ms):
    action = protocol.choice(args, 0, "action", ("start", "stop"))
    protocol.no_more(args, 1)
    if action == "start":
        app.start_engine()
    else:
        app.engine.stop()
    return {"state": STATE_NAMES[app.engine.state]}


def _throttle(app, args, now_ms):
    pct = protocol.integer(args, 0, "throttle", 0, 100)
    protocol.no_more(args, 1)
    _own_throttle(app)
    app.engine.throttle(pct)


def _blip(app, args, now_ms):
    ms = protocol.integer(args, 0, "blip ms", 10, 2000, 250)
    protocol.no_more(args, 1)
    _own_throttle(app)
    if not app.engine.blip(ms):
        raise ProtocolError(NOT_READY, "the engine is not running; engine start first")


def _own_throttle(app):
    busy = app.throttle.busy()
    if busy is not None:
        raise ProtocolError(BUSY, busy)


def _rc(app, args, now_ms):
    """The receiver's live pulse widths, switch positions and counters, for setting up a transmitter."""
    protocol.no_more(args, 0)
    if app.rc is None:
        raise ProtocolError(NOT_READY, "no RC receiver: the board file wires no rc_throttle pin")
    return app.rc.status()


def _events(app, args, now_ms):
    on = protocol.choice(args, 0, "events", ("on", "off")) == "on"
    protocol.no_more(args, 1)
    app.events.switch(on, app.problems)


def _config(app, args, now_ms):
    return config_request(app, args)


def _calibrate(app, args, now_ms):
    return calibrate_request(app, args)


def _wifi(app, args, now_ms):
    """What runs now (`wifi`), or the model's own network and its key (`wifi password`, serial only)."""
    password = protocol.choice(args, 0, "wifi", ("password",)) if args else None
    protocol.no_more(args, 1)
    if app.wifi is None:
        raise ProtocolError(NOT_READY, "no WiFi in safe mode")
    if password is None:
        return app.wifi.info()
    out = app.wifi.password()
    if out is None:
        raise ProtocolError(NOT_READY, "the model's own network is not set up: wifi.mode is off")
    return out


def _estop(app, args, now_ms):
    protocol.no_more(args, 0)
    app.safe_state(now_ms)


_TABLE = (("ping", _ping), ("help", _help), ("version", _version), ("status", _status), ("door", _door),
          ("engine", _engine), ("throttle", _throttle), ("blip", _blip), ("rc", _rc), ("events", _events),
          ("estop", _estop), ("config", _config), ("calibrate", _calibrate), ("heap", _heap), ("wifi", _wifi))
HANDLERS = dict(_TABLE)
VERBS = tuple(verb for verb, _ in _TABLE)  # in this order in `help` (a dict keeps no order on MicroPython)
