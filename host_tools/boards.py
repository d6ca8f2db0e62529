"""Board files: `boards/<name>.toml` gives a board's chip, the USB ids it shows up as and the GPIO of each role.

    name = "esp32-devkitc"                # the file's own name, without .toml
    title = "ESP32-DevKitC (ESP32-WROOM-32)"
    chip = "ESP32"                        # one of host_tools.sim.chips.CHIPS
    usb_ids = ["10c4:ea60"]               # vendor:product of its USB-serial bridge, for port discovery
    [pins]
    door_left = 18                        # role = GPIO

Pins are checked against the same chip tables the simulator enforces. Every finding is a `Problem`
(severity, file, key, message, fix); errors stop the load with a `BoardFileError` listing all of
them, warnings stay on `Board.problems` for the tools to show.
"""

import difflib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from host_tools import BOARDS_DIR, ROOT
from host_tools.errors import BoardFileError
from host_tools.sim import chips

DEFAULT_BOARD = "esp32-devkitc"

OUTPUT = "output"
INPUT = "input"

# Every role a board file may wire, and which way its signal goes.
ROLES = {
    "door_left": OUTPUT,  # servo signal
    "door_right": OUTPUT,
    "motor": OUTPUT,  # PWM to a MOSFET gate
    "motor_in1": OUTPUT,  # H-bridge inputs, used instead of `motor` when fitted
    "motor_in2": OUTPUT,
    "buzzer": OUTPUT,
    "led": OUTPUT,
    "uart_tx": OUTPUT,
    "rc_throttle": INPUT,  # RC receiver channels
    "rc_door": INPUT,
    "rc_engine": INPUT,
    "uart_rx": INPUT,
}

ERROR = "error"
WARNING = "warning"

_KEYS = {"name": str, "title": str, "chip": str, "usb_ids": list, "pins": dict}
_REQUIRED = ("name", "chip", "pins")
_USB_ID = re.compile(r"^[0-9a-f]{4}:[0-9a-f]{4}$")
_TYPE_NAMES = {str: "a string", list: "a list", dict: "a table", int: "an integer"}


@dataclass(frozen=True)
class Problem:
    severity: str  # ERROR stops the load; WARNING is reported and kept
    file: str
    key: str
    message: str
    fix: str = ""

    def __str__(self):
        text = self.file + ": " + self.key + ": " + self.message
        return text + " (" + self.fix + ")" if self.fix else text


@dataclass
class Board:
    name: str
    title: str
    chip: chips.Chip
    usb_ids: tuple[str, ...]
    pins: dict[str, int]  # role -> GPIO
    path: Path
    problems: list[Problem] = field(default_factory=list)  # warnings only: errors never make a Board

    @property
    def chip_name(self):
        return self.chip.name

    def role_of(self, gpio):
        """The role wired to `gpio`, or None."""
        for role, pin in self.pins.items():
            if pin == gpio:
                return role
        return None

    def label(self, gpio):
        """How plots and messages name a pin: `door_left (GPIO18)`, or `GPIO13` when no role uses it."""
        role = self.role_of(gpio)
        return role + " (GPIO" + str(gpio) + ")" if role else "GPIO" + str(gpio)


def board_path(name_or_path=None):
    """The file of a board given by catalogue name (`esp32-devkitc`) or by path (`my/board.toml`)."""
    name_or_path = str(name_or_path or DEFAULT_BOARD)
    if name_or_path.endswith(".toml") or "/" in name_or_path or "\\" in name_or_path:
        return Path(name_or_path)
    return BOARDS_DIR / (name_or_path + ".toml")


def load(name_or_path=None):
    """Load and check one board file; raises BoardFileError naming the file and every bad key."""
    path = board_path(name_or_path)
    shown = _shown(path)
    if not path.is_file():
        known = ", ".join(p.stem for p in sorted(BOARDS_DIR.glob("*.toml")))
        raise BoardFileError("no board file " + shown,
                             hint="known boards: " + known + "; or give a path to a .toml file")
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BoardFileError(shown + " is not valid TOML: " + str(exc)) from None
    return from_dict(data, path)


def from_dict(data, path):
    """A Board from parsed TOML, or BoardFileError with every error found."""
    shown = _shown(path)
    problems = check(data, shown, expected_name=Path(path).stem)
    errors = [p for p in problems if p.severity == ERROR]
    if errors:
        lines = "\n".join("  " + str(p) for p in errors)
        count = str(len(errors)) + (" error" if len(errors) == 1 else " errors")
        raise BoardFileError("board file " + shown + " has " + count + ":\n" + lines, errors)
    return Board(
        name=data["name"],
        title=data.get("title", data["name"]),
        chip=chips.chip(data["chip"]),
        usb_ids=tuple(u.lower() for u in data.get("usb_ids", ())),
        pins=dict(data["pins"]),
        path=Path(path),
        problems=problems,
    )


def check(data, file, expected_name=None):
    """Every problem of a parsed board file, errors and warnings, in file order."""
    problems = []

    def error(key, message, fix=""):
        problems.append(Problem(ERROR, file, key, message, fix))

    for key, value in data.items():
        if key not in _KEYS:
            error(key, "unknown key", _did_you_mean(key, _KEYS, "known keys"))
        elif not isinstance(value, _KEYS[key]):
            error(key, "must be " + _TYPE_NAMES[_KEYS[key]] + ", not " + repr(value))
    for key in _REQUIRED:
        if key not in data:
            error(key, "missing", "every board file needs " + ", ".join(_REQUIRED))
    name = data.get("name")
    if isinstance(name, str) and expected_name and name != expected_name:
        error("name", repr(name) + " differs from the file name", 'write name = "' + expected_name + '"')
    for i, usb_id in enumerate(data.get("usb_ids", ()) if isinstance(data.get("usb_ids"), list) else ()):
        if not isinstance(usb_id, str) or not _USB_ID.match(usb_id.lower()):
            error("usb_ids[" + str(i) + "]", repr(usb_id) + " is not a USB id",
                  'write vendor:product in hex, e.g. "10c4:ea60"')
    chip = None
    if isinstance(data.get("chip"), str):
        try:
            chip = chips.chip(data["chip"])
        except ValueError:
            error("chip", "unknown chip " + repr(data["chip"]), "known chips: " + ", ".join(sorted(chips.CHIPS)))
    if isinstance(data.get("pins"), dict):
        problems.extend(check_pins(data["pins"], chip, file))
    return problems


def check_pins(pins, chip, file):
    """Problems of a [pins] table; GPIO checks need the chip (None when the chip is unknown)."""
    problems = []
    used = {}  # GPIO -> first role using it
    for role, gpio in pins.items():
        key = "pins." + role
        if role not in ROLES:
            problems.append(Problem(ERROR, file, key, "unknown role", _did_you_mean(role, ROLES, "known roles")))
            continue
        if type(gpio) is not int:  # noqa: E721 - bool is an int subclass and not a GPIO
            problems.append(Problem(ERROR, file, key, "must be a GPIO number, not " + repr(gpio)))
            continue
        output = ROLES[role] == OUTPUT
        why = chip.pin_problem(gpio, output) if chip else None
        if why:
            problems.append(Problem(ERROR, file, key, why, _free_pins_hint(chip, output, pins)))
        elif gpio in used:
            problems.append(Problem(ERROR, file, key, "GPIO" + str(gpio) + " is already used by " + used[gpio],
                                    _free_pins_hint(chip, output, pins)))
        used.setdefault(gpio, role)
    return problems


def catalogue(folder=None):
    """(boards, errors): every board file in `folder` (default boards/) that loads, and a BoardFileError
    for each that does not."""
    boards, errors = [], []
    for path in sorted(Path(folder or BOARDS_DIR).glob("*.toml")):
        try:
            boards.append(load(path))
        except BoardFileError as exc:
            errors.append(exc)
    return boards, errors


def known_usb_ids(folder=None):
    """{"vvvv:pppp": [board names]} over every valid board file: what port discovery looks for."""
    ids = {}
    for board in catalogue(folder)[0]:
        for usb_id in board.usb_ids:
            ids.setdefault(usb_id, []).append(board.name)
    return ids


def _free_pins_hint(chip, output, pins):
    if chip is None:
        return ""
    taken = {g for g in pins.values() if type(g) is int}  # noqa: E721
    # Strapping and native-USB pins work but can stop the board booting or its console: not suggested.
    free = [g for g in chip.gpios if chip.pin_problem(g, output) is None and g not in taken
            and g not in chip.strapping and g not in chip.usb]
    kind = "outputs" if output else "inputs"
    return "free GPIOs for " + kind + " on " + chip.name + ": " + ", ".join(str(g) for g in free)


def _did_you_mean(word, known, what):
    close = difflib.get_close_matches(word, known, n=1)
    listing = what + ": " + ", ".join(known)
    return "did you mean " + repr(close[0]) + "? " + listing if close else listing


def _shown(path):
    """A path as the user would write it: relative to the project when inside it."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)
