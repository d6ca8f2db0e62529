"""The device's configuration: /config.json over built-in defaults, checked key by key.

config.json is written by `gullwing deploy` from the board file (board, chip, pins) and may carry the
sections below; every key is optional. A key that is unknown or of the wrong type is reported and
ignored, so one typo never stops the doors from working with the rest.
"""

import json

PATH = "/config.json"

DOOR = {"min_us": 500, "max_us": 2500, "travel_deg": 180, "closed_deg": 45, "open_deg": 90, "trim_us": 0,
        "reversed": False}

DEFAULTS = {
    "board": "",
    "chip": "ESP32",
    "pins": {},
    "motor": "mosfet",  # or "hbridge" (motor_in1/motor_in2)
    "doors": {
        "together": True,  # both doors finish together; False: the right one follows stagger_ms behind
        "stagger_ms": 40,  # never two servos starting in the same instant
        "hold_ms": 1000,  # a closed door's servo is released this long after it settles
        "left": dict(DOOR),
        "right": dict(DOOR, reversed=True),  # the mirrored door
    },
    "engine": {"idle_rpm": 950, "limit_rpm": 9000, "cut_ms": 50, "full_boost_kpa": 85},
    "rc": {"min_us": 1000, "neutral_us": 1500, "max_us": 2000, "deadband_us": 40, "reversed": False,
           "switch_mid_us": 1500, "hysteresis_us": 200, "neutral_frames": 5},
    "voice": {"motor_min": 16000, "motor_max": 65535, "motor_slew": 131000, "harmonic": 16, "volume": 100},
}


def _kind(value):
    return "bool" if isinstance(value, bool) else type(value).__name__


def merge(defaults, given, where, problems):
    """`given` over `defaults`, keeping only known keys of the right type; problems named by key."""
    out = {}
    for key, default in defaults.items():
        out[key] = dict(default) if isinstance(default, dict) else default
    if not isinstance(given, dict):
        problems.append(where + ": expected an object")
        return out
    for key, value in given.items():
        name = where + "." + key if where else key
        if key not in defaults:
            problems.append(name + ": unknown key")
        elif where == "" and key == "pins":
            out[key] = _pins(value, problems)
        elif isinstance(defaults[key], dict):
            out[key] = merge(defaults[key], value, name, problems)
        elif _kind(value) != _kind(defaults[key]):
            problems.append(name + ": expected " + _kind(defaults[key]) + ", got " + _kind(value))
        else:
            out[key] = value
    return out


def _pins(value, problems):
    pins = {}
    if not isinstance(value, dict):
        problems.append("pins: expected an object")
        return pins
    for role, gpio in value.items():
        if isinstance(gpio, int) and not isinstance(gpio, bool) and 0 <= gpio <= 48:
            pins[role] = gpio
        else:
            problems.append("pins." + role + ": expected a GPIO number 0..48")
    # roles sharing a GPIO would fight over it (a servo fed the motor's 20 kHz): none of them is used
    for role in sorted(pins):
        gpio = pins.get(role)
        shared = [other for other in sorted(pins) if pins[other] == gpio]
        if len(shared) > 1:
            problems.append("pins." + ", pins.".join(shared) + ": all GPIO" + str(gpio) + "; none is used")
            for other in shared:
                del pins[other]
    return pins


def load(path=PATH):
    """(configuration, problems): the defaults, overridden by what the file validly says."""
    problems = []
    try:
        with open(path) as f:
            given = json.load(f)
    except OSError:
        problems.append(path + ": missing")
        given = {}
    except ValueError:
        problems.append(path + ": not valid JSON")
        given = {}
    return merge(DEFAULTS, given, "", problems), problems
