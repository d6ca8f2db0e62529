"""The device's configuration: /config.json over built-in defaults, checked key by key.

config.json is written by `gullwing deploy` from the board file (board, chip, pins) and may carry the
sections below; every key is optional. A key that is unknown or of the wrong type is reported and
ignored, so one typo never stops the doors from working with the rest; a number outside its range
(RANGES) is reported with the key and the range.

Settings changed over the protocol (`config set`, `calibrate`) are not written into config.json: the
app keeps them in a power-fail-safe store as {dotted key: value} and lays them over config.json at
boot (`overlay`), checked by the same rules (`setting`).
"""

import json

PATH = "/config.json"

DOOR = {"min_us": 500, "max_us": 2500, "travel_deg": 180, "closed_deg": 45, "open_deg": 90, "trim_us": 0,
        "reversed": False, "closed_us": 0, "open_us": 0}  # closed_us/open_us: the calibrated ends, 0 = unset

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
    "uart": {"baudrate": 9600},  # the second command channel on pins uart_tx/uart_rx (HC-05 modules: 9600)
}


# The allowed range of every number, by dotted key: a value outside is reported with the key and the
# range. The parts check the relations between keys (a door's max_us above its min_us) themselves.
_DOOR_RANGES = {"min_us": (100, 2900), "max_us": (200, 3000), "travel_deg": (10, 360), "closed_deg": (0, 359),
                "open_deg": (1, 180), "trim_us": (-200, 200), "closed_us": (0, 3000), "open_us": (0, 3000)}
RANGES = {
    "doors.stagger_ms": (0, 5000), "doors.hold_ms": (0, 600_000),
    "engine.idle_rpm": (600, 1500), "engine.limit_rpm": (4000, 11_000), "engine.cut_ms": (20, 200),
    "engine.full_boost_kpa": (0, 150),
    "rc.min_us": (800, 2200), "rc.neutral_us": (800, 2200), "rc.max_us": (800, 2200), "rc.deadband_us": (0, 200),
    "rc.switch_mid_us": (800, 2200), "rc.hysteresis_us": (50, 500), "rc.neutral_frames": (1, 50),
    "voice.motor_min": (0, 65534), "voice.motor_max": (1, 65535), "voice.motor_slew": (1, 1_000_000),
    "voice.harmonic": (1, 64), "voice.volume": (0, 100),
    "uart.baudrate": (1200, 921_600),
}
for _side in ("left", "right"):
    for _key, _range in _DOOR_RANGES.items():
        RANGES["doors." + _side + "." + _key] = _range
CHOICES = {"motor": ("mosfet", "hbridge")}
FIXED = ("board", "chip", "pins")  # written by deploy into config.json; not settings


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
            # out of range: reported, and kept, so the part it belongs to refuses it as a whole
            # (doors not set up rather than moved by a half-default calibration)
            trouble = _out_of_range(name, value)
            if trouble:
                problems.append(trouble)
            out[key] = value
    return out


def _out_of_range(key, value):
    """The problem with `value` for `key` (its kind already right), or None."""
    if key in RANGES:
        lo, hi = RANGES[key]
        if not lo <= value <= hi:
            return key + ": must be " + str(lo) + ".." + str(hi) + ", got " + str(value)
    if key in CHOICES and value not in CHOICES[key]:
        return key + ": must be " + "|".join(CHOICES[key]) + ", got " + repr(value)
    return None


def get(cfg, key):
    """The value at a dotted key; KeyError naming it when there is none."""
    value = cfg
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            raise KeyError(key)
        value = value[part]
    return value


def copy(cfg):
    """A copy down to the last level, so changing it leaves `cfg` as it was."""
    return {key: copy(value) if isinstance(value, dict) else value for key, value in cfg.items()}


def put(cfg, key, value):
    parts = key.split(".")
    for part in parts[:-1]:
        cfg = cfg[part]
    cfg[parts[-1]] = value


def _rule(key):
    if key in RANGES:
        return " (" + str(RANGES[key][0]) + ".." + str(RANGES[key][1]) + ")"
    if key in CHOICES:
        return " (" + "|".join(CHOICES[key]) + ")"
    return ""


def setting(key, value):
    """`value` (text from a request, or a value read back from the settings store) checked for the
    settable `key`: the value of the key's kind, or ValueError naming the key and its range."""
    try:
        default = get(DEFAULTS, key)
    except KeyError:
        default = None
    if default is None or isinstance(default, dict) or key.split(".")[0] in FIXED:
        raise ValueError(repr(key)[:40] + " is not a setting; config get lists them")
    kind = _kind(default)
    if isinstance(value, str) and kind != "str":  # text from a request
        if kind == "bool" and value in ("true", "false"):
            value = value == "true"
        elif kind == "int" and (value[1:] if value[:1] == "-" else value).isdigit() and len(value) < 10:
            value = int(value)
    if _kind(value) != kind:
        raise ValueError(key + " must be " + ("true|false" if kind == "bool" else "a whole number" + _rule(key)
                                              if kind == "int" else "text" + _rule(key))
                         + ", got " + repr(value)[:24])
    trouble = _out_of_range(key, value)
    if trouble:
        raise ValueError(trouble)
    return value


def overlay(cfg, settings, problems):
    """The configuration with the saved `settings` ({dotted key: value}) over it; a setting that
    no longer checks out is reported and left out."""
    out = copy(cfg)
    for key, value in settings.items():
        try:
            put(out, key, setting(key, value))
        except ValueError as exc:
            problems.append("settings: " + str(exc.args[0]))
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
