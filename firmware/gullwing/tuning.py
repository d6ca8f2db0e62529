"""The `config` and `calibrate` requests: settings read, checked, applied and saved while the model
runs. Door settings take effect at once while the door rests (`err busy` while it moves); the rest
are kept for the next start, which the reply says with `"restart": true`.

    config get [key] | config set <key> <value> | config save | config reset

A secret (schema.SECRETS: the WiFi keys, the PIN) is never shown: "***" when set, "" when not.
    calibrate left|right jog <-50..50 us> | calibrate left|right closed|open | calibrate save
"""

from gullwing import config, protocol, rcin, servo, voice
from gullwing.protocol import BAD_ARG, BUSY, FAULT, NOT_READY, ProtocolError
from gullwing.servo import Calibration

JOG_MAX_US = 50
SIDES = ("left", "right")
# the sections whose keys are checked against each other, and the part's check that does it
WHOLE = (("doors.left.", servo.check), ("doors.right.", servo.check), ("rc.", rcin.check), ("voice.", voice.check))


def config_request(app, args):
    action = protocol.choice(args, 0, "config", ("get", "set", "save", "reset"))
    if action == "get":
        protocol.no_more(args, 2)
        if len(args) == 1:  # short: only what was changed from config.json
            values = {key: config.shown(key, value) for key, value in app.settings.values.items()}
            return {"settings": values, "saved": not app.settings.unsaved}
        try:
            return {args[1]: config.shown(args[1], config.get(app.cfg, args[1]))}
        except KeyError:
            raise ProtocolError(BAD_ARG, repr(args[1])[:40] + " is not a configuration key") from None
    if action == "set":
        if len(args) < 3:
            raise ProtocolError(BAD_ARG, "config set <key> <value>")
        protocol.no_more(args, 3)
        key = args[1]
        return change(app, {key: config.typed(key, args[2])})
    protocol.no_more(args, 1)
    if action == "save":
        _save(app)
        return {"saved": len(app.settings.values)}
    try:
        app.settings.reset()
    except OSError as exc:
        raise ProtocolError(FAULT, "settings not saved: " + str(exc)) from None
    return {"restart": True}


def check(cfg, keys):
    """The configuration `cfg` checked where `keys` changed: a section whose keys depend on each other
    by its part's check (naming the keys), any other key by its declaration. ValueError."""
    for key in keys:
        for where, whole in WHOLE:
            if key.startswith(where):
                whole(config.get(cfg, where[:-1]), where)
                break
        else:
            config.setting(key, config.get(cfg, key))


def change(app, values):
    """Apply {dotted key: value of its kind} together, or nothing (ValueError / ProtocolError)."""
    cfg = config.copy(app.cfg)
    for key, value in values.items():
        config.put(cfg, key, value)
    check(cfg, values)
    sections = set(key.split(".")[0] for key in values)
    restart = bool(sections - {"doors"})  # the doors take theirs at once; the rest at the next start
    doors = app.doors
    for side in SIDES:
        if any(key.startswith("doors." + side + ".") for key in values):
            cal = Calibration(**cfg["doors"][side])
            if doors is None:
                restart = True
                continue
            door = doors.side(side)
            if door.moving:
                raise ProtocolError(BUSY, "door " + side + " is moving; set its calibration at rest")
            door.recalibrate(cal)
    if doors is None and "doors" in sections:
        restart = True
    elif doors is not None:
        section = cfg["doors"]
        doors.retime(section["together"], section["stagger_ms"], section["hold_ms"])
    app.cfg = cfg
    for key, value in values.items():
        app.settings.set(key, value)
    out = {key: config.shown(key, value) for key, value in values.items()}
    if restart:
        out["restart"] = True
    return out


def calibrate_request(app, args):
    if args[:1] == ["save"]:
        protocol.no_more(args, 1)
        _save(app)
        return {"saved": len(app.settings.values)}
    doors = ready_doors(app)
    side = protocol.choice(args, 0, "door", SIDES)
    action = protocol.choice(args, 1, "calibrate", ("jog", "closed", "open"))
    door = doors.side(side)
    if action == "jog":
        if len(args) > 2 and args[2][:1] == "+":
            args = args[:2] + [args[2][1:]]
        step = protocol.integer(args, 2, "jog us", -JOG_MAX_US, JOG_MAX_US)
        protocol.no_more(args, 3)
        if door.moving:
            raise ProtocolError(BUSY, "door " + side + " is moving; jog it at rest")
        # whole microseconds, so an end set here is exactly the pulse the servo held
        door.jog((_us(door.pulse) + step) * 1000)
        return {"side": side, "pulse_us": _us(door.pulse)}
    protocol.no_more(args, 2)
    cal = door.cal
    prefix = "doors." + side + "."
    ends = {prefix + "closed_us": cal.closed_us or _us(cal.pulse_ns(0)),
            prefix + "open_us": cal.open_us or _us(cal.pulse_ns(cal.open_cdeg))}
    ends[prefix + action + "_us"] = _us(door.pulse)
    change(app, ends)
    return {"side": side, "closed_us": ends[prefix + "closed_us"], "open_us": ends[prefix + "open_us"]}


def ready_doors(app):
    """The app's doors, or `err not_ready` saying why there are none (safe mode, or the problems)."""
    if app.doors is None:
        why = app.problems if app.safe_mode is None else ["safe mode, " + app.safe_mode]
        raise ProtocolError(NOT_READY, "the doors are not set up: " + "; ".join(why)[:80])
    return app.doors


def _save(app):
    try:
        app.settings.save()
    except OSError as exc:
        raise ProtocolError(FAULT, "settings not saved: " + str(exc)) from None


def _us(ns):
    return (ns + 500) // 1000
