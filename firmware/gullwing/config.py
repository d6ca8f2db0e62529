"""The device's configuration: /config.json over built-in defaults, checked key by key.

config.json is written by `gullwing deploy` from the board file (board, chip, pins) and may carry the
sections below; every key is optional. A key that is unknown or of the wrong type is reported and
ignored, so one typo never stops the doors from working with the rest; a number outside its range
(declared once, in schema.py) is reported with the key, the range and its unit.

Settings changed over the protocol (`config set`, `calibrate`) are not written into config.json: the
app keeps them in a power-fail-safe store as {dotted key: value} and lays them over config.json at
boot (`overlay`), checked by the same rules (`setting`).
"""

import errno

from gullwing import schema, store

PATH = "/config.json"

DOOR = schema.defaults(schema.DOOR)
DEFAULTS = {
    "board": "",
    "chip": "ESP32",
    "pins": {},
    "led_active_low": False,  # the status LED lights when its pin is low (the board file says)
    "motor": "mosfet",  # or "hbridge" (motor_in1/motor_in2)
    "doors": dict(schema.defaults(schema.DOORS), left=dict(DOOR), right=dict(DOOR, reversed=True)),  # mirrored
    "engine": schema.defaults(schema.ENGINE),
    "rc": schema.defaults(schema.RC),
    "voice": schema.defaults(schema.VOICE),
    "sound": schema.defaults(schema.SOUND),
    "uart": schema.defaults(schema.UART),
    "wifi": schema.defaults(schema.WIFI),
    "web": schema.defaults(schema.WEB),
}
# where each section of schema's declarations sits in the configuration
SECTIONS = (("doors.", schema.DOORS), ("doors.left.", schema.DOOR), ("doors.right.", schema.DOOR),
            ("engine.", schema.ENGINE), ("rc.", schema.RC), ("voice.", schema.VOICE), ("sound.", schema.SOUND),
            ("uart.", schema.UART), ("wifi.", schema.WIFI), ("web.", schema.WEB))
# every setting's declaration and every number's range, by dotted key (schema's, laid out): a value outside
# is reported with the key and the range. The parts check the relations between keys (servo.check, ...).
DECLARED = {}
RANGES = {}
for _where, _table in SECTIONS:
    for _key, _declared in _table.items():
        DECLARED[_where + _key] = (_table, _key, _where)
        if not isinstance(_declared[0], (bool, str)):
            RANGES[_where + _key] = _declared[1:3]
CHOICES = {"motor": ("mosfet", "hbridge")}
FIXED = ("board", "chip", "pins", "led_active_low")  # written by deploy into config.json; not settings


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
    try:
        _check(key, value)
    except ValueError as exc:
        return str(exc.args[0])
    return None


def _check(key, value):
    if key in DECLARED:
        table, name, where = DECLARED[key]
        default, low, high, unit = table[name]
        if isinstance(default, str):
            return schema.text(key, value, default, low, high, unit, key in schema.SECRETS)
        return schema.check(table, name, value, where)
    if key in CHOICES and value not in CHOICES[key]:
        raise ValueError(key + " must be " + "|".join(CHOICES[key]) + ", got " + repr(value)[:24])
    return value


def shown(key, value):
    """`value` as `config get` shows it: a secret as "***" when set, "" when not; a section with its secrets so."""
    if isinstance(value, dict):
        return {name: shown(key + "." + name, inner) for name, inner in value.items()}
    if key in schema.SECRETS:
        return "***" if value else ""
    return value


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


def setting(key, value):
    """`value` (text from a request, or a value read back from the settings store) checked for the
    settable `key` by its declaration: the value of the key's kind, or ValueError naming the key and
    its range. The relations to other keys are the parts' to check (tuning.change runs them)."""
    return _check(key, typed(key, value))


def typed(key, value):
    """`value` as the settable `key`'s kind (text from a request converted), its range not yet checked;
    ValueError when `key` is no setting or `value` is not of its kind."""
    try:
        default = get(DEFAULTS, key)
    except KeyError:
        default = None
    if default is None or isinstance(default, dict) or key.split(".")[0] in FIXED:
        raise ValueError(repr(key)[:40] + " is not a setting; config get lists them")
    kind = _kind(default)
    if value == '""' and kind == "str":  # a request's words cannot be empty: `""` is the empty text
        value = ""
    if isinstance(value, str) and kind != "str":  # text from a request
        if kind == "bool" and value in ("true", "false"):
            value = value == "true"
        elif kind == "int" and (value[1:] if value[:1] == "-" else value).isdigit() and len(value) < 10:
            value = int(value)
    if _kind(value) != kind:
        _check(key, value)  # the declaration's own words: "<key> must be 1..180 deg, got 'wide'"
        raise ValueError(key + " must be " + kind + ", got " + repr(value)[:24])
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


MAX_BYTES = 8192  # a kit's config.json is 1-2 KB; parsed, 8 KB of JSON takes about 20 KB of the heap
MAX_DEPTH = 6  # config.json nests 3 levels (doors.left.closed_us)


def load(path=PATH):
    """(configuration, problems): the defaults, overridden by what the file validly says. A file too
    large or nested too deep for the chip's heap is not parsed: the defaults, and the problem reported."""
    problems = []
    given = {}
    try:
        data = store.read_at_most(path, MAX_BYTES)
        if len(data) > MAX_BYTES:
            problems.append(path + ": over " + str(MAX_BYTES // 1024) + " KB, not read")
        else:
            given = store.loads(data, MAX_DEPTH)
    except OSError as exc:
        problems.append(path + (": missing" if exc.args[0] == errno.ENOENT else ": not a readable file"))
    except MemoryError:
        problems.append(path + ": too large for the heap, not read")
    except ValueError as exc:
        problems.append(path + ": not valid JSON" + (" (" + str(exc.args[0]) + ")" if "nested" in str(exc) else ""))
    return merge(DEFAULTS, given, "", problems), problems
