"""Every setting, declared once: its default, its range and its unit, section by section; and the one
check that the parts, `config`, `calibrate` and the protocol all use, so a value out of range gets the
same words wherever it is caught: `<key> must be <low>..<high> <unit>, got <value>` (and "a whole
number" before the range when it is not one).

Import-free on purpose: the parts read it (each part checks the relations between its own keys, e.g.
servo.check, rcin.check), config builds its defaults and ranges from it, and the host tools load it
with config to check a kit's settings. docs/*.md list these keys; tests/host/test_settings_docs.py holds
the docs to these tables.
"""

# key: (default, low, high, unit); a bool default is a switch (low and high unused); a text default is text,
# `low`..`high` characters of `unit`'s kind (DIGITS, PRINTABLE, NAME) or one of the choices `unit` lists (low
# and high unused), and "" only where "" is the default (not set)
DOOR = {  # one door's servo: servo.Calibration
    "min_us": (500, 100, 2900, "us"),
    "max_us": (2500, 200, 3000, "us"),
    "travel_deg": (180, 10, 360, "deg"),
    "closed_deg": (45, 0, 359, "deg"),
    "open_deg": (90, 1, 180, "deg"),
    "trim_us": (0, -200, 200, "us"),
    "reversed": (False, 0, 1, ""),
    "closed_us": (0, 0, 3000, "us"),  # the calibrated ends, 0 = unset
    "open_us": (0, 0, 3000, "us"),
}
DOORS = {  # the pair: doors.DoorPair and Door's hold time
    "together": (True, 0, 1, ""),  # both doors finish together; False: the right one follows stagger_ms behind
    "stagger_ms": (40, 0, 5000, "ms"),  # never two servos starting in the same instant
    "hold_ms": (1000, 0, 600_000, "ms"),  # a closed door's servo is released this long after it settles
}
ENGINE = {  # engine.Engine
    "idle_rpm": (950, 600, 1500, "rpm"),
    "limit_rpm": (9000, 4000, 11_000, "rpm"),
    "cut_ms": (50, 20, 200, "ms"),
    "full_boost_kpa": (85, 0, 150, "kPa"),
}
RC = {  # rcin.Receiver; pulses outside min_us's low..max_us's high are noise to the receiver
    "min_us": (1000, 800, 2000, "us"),
    "neutral_us": (1500, 800, 2200, "us"),
    "max_us": (2000, 1000, 2200, "us"),
    "deadband_us": (40, 0, 200, "us"),
    "reversed": (False, 0, 1, ""),
    "switch_mid_us": (1500, 850, 2150, "us"),
    "hysteresis_us": (200, 50, 500, "us"),
    "neutral_frames": (5, 1, 50, "frames"),
}
VOICE = {  # voice.Voice
    "motor_min": (16_000, 0, 65534, "duty"),
    "motor_max": (65535, 1, 65535, "duty"),
    "motor_slew": (131_000, 1, 1_000_000, "duty/s"),
    "harmonic": (16, 1, 64, "x"),
    "volume": (100, 0, 100, "%"),
    "shake": (100, 0, 100, "%"),  # the shaker's strength (pins.shaker)
}
SOUND = {  # sound.Sound, through the I2S amplifier (pins i2s_bck, i2s_ws, i2s_dout)
    "volume": (100, 0, 100, "%"),
}
UART = {  # the second command channel on pins uart_tx/uart_rx (HC-05 modules: 9600)
    "baudrate": (9600, 1200, 921_600, "baud"),
}
DIGITS = "digits"
PRINTABLE = "printable ASCII characters"
NAME = "characters A-Z a-z 0-9 - _"
WIFI = {  # wifi.Wifi: the model's own network (ap), a home network (sta) with the ap as its fallback, or off
    "mode": ("ap", 0, 0, ("ap", "sta", "off")),
    "name": ("AZ-1", 1, 26, NAME),  # the SSID is <name>-<4 hex digits>: at most 32 bytes
    "ssid": ("", 1, 32, PRINTABLE),  # the home network
    "password": ("", 8, 64, PRINTABLE),  # the home network's key (64: as hex digits)
    "ap_password": ("", 8, 63, PRINTABLE),  # WPA2; "": the board makes one at its first start
}
WEB = {  # access.Access: the PIN the page asks for
    "pin": ("", 4, 8, DIGITS),
}
# a key the board or the host makes for the model's own network: 32 characters without l/1, o/0 to misread on a
# card (a byte % 32 is even), AP_KEY_LEN of them
AP_KEY_CHARS = "abcdefghijkmnpqrstuvwxyz23456789"
AP_KEY_LEN = 12
SECRETS = ("wifi.password", "wifi.ap_password", "web.pin")  # never echoed: `config get` shows "***"


def span(low, high, unit=""):
    """`low..high unit` (one value when the relations leave only one)."""
    return (str(low) if low == high else str(low) + ".." + str(high)) + (" " + unit if unit else "")


def whole(key, value, low, high, unit="", why=""):
    """`value` if it is a whole number from `low` to `high`, else ValueError naming `key`, the range, its
    unit and `why` (the other key that narrows it). Allocates nothing when the value is good."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(key + " must be a whole number " + span(low, high, unit) + why + ", got " + repr(value)[:24])
    if value < low or value > high:
        raise ValueError(key + " must be " + span(low, high, unit) + why + ", got " + str(value))
    return value


def switch(key, value):
    if not isinstance(value, bool):
        raise ValueError(key + " must be true|false, got " + repr(value)[:24])
    return value


def _fits(text, kind):
    """Every character of `text` of the `kind`, ASCII only (an SSID or a key is bytes on air)."""
    for c in text:
        digit = "0" <= c <= "9"
        if not (digit if kind == DIGITS else " " <= c <= "~" if kind == PRINTABLE else
                digit or "a" <= c <= "z" or "A" <= c <= "Z" or c in "-_"):
            return False
    return True


def words(default, low, high, unit):
    """What a text setting may be, as its error message says it: `ap|sta|off`, `"" or 4..8 digits`."""
    if isinstance(unit, tuple):
        return "|".join(unit)
    return ('"" or ' if default == "" else "") + span(low, high, unit)


def text(key, value, default, low, high, unit, secret=False):
    """`value` if the text setting `key` (declared `default, low, high, unit`) may be it, else ValueError
    naming `key` and what it may be (a secret's value is not repeated, only its length). `check` is for
    numbers and switches."""
    if isinstance(value, str) and (value in unit if isinstance(unit, tuple) else
                                   (value == "" == default) or (low <= len(value) <= high and _fits(value, unit))):
        return value
    got = repr(value)[:24]
    if secret and isinstance(value, str):
        got = str(len(value)) + (" character" if len(value) == 1 else " characters")
    raise ValueError(key + " must be " + words(default, low, high, unit) + ", got " + got)


def check(table, key, value, where="", low=None, high=None, why=""):
    """`value` checked against the declaration of `key` in `table` (named `where` + key), its range
    narrowed to `low`..`high` by the part's relations when given."""
    default, lo, hi, unit = table[key]
    if isinstance(default, bool):
        return switch(where + key, value)
    if low is not None and low > lo:
        lo = low
    if high is not None and high < hi:
        hi = high
    return whole(where + key, value, lo, hi, unit, why)


def section(table, values, where="", later=()):
    """Every key of `table` in `values` checked by its declaration, except those the part checks `later`
    against the others (so a value is judged once, by its narrowest range)."""
    for key in table:
        if key not in later:
            check(table, key, values[key], where)


def defaults(table):
    return {key: declared[0] for key, declared in table.items()}
