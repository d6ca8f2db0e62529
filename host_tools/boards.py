"""Board files: `boards/<name>.toml` gives a board's chip, the USB ids it shows up as and the GPIO of each role.

    name = "esp32-devkitc"                # the file's own name, without .toml
    title = "ESP32-DevKitC (ESP32-WROOM-32)"
    chip = "ESP32"                        # one of host_tools.chips.CHIPS
    module = "ESP32-WROOM-32"             # optional: the module or chip package; PSRAM pins follow from it
    usb_ids = ["10c4:ea60"]               # vendor:product of its USB-serial bridge, for port discovery
    header = [4, 16, 17, 18, 19]          # optional: the GPIOs the board gives access to (pins, LED)
    led_active_low = false                # optional: the status LED lights when its pin is low
    [layout]                              # optional: the pins as printed, for wiring diagrams (host_tools/wiring.py)
    rows = [["3V3", "EN", "VP=36", "34"], ["GND", "23"]]
    [pins]
    door_left = 18                        # role = GPIO

Pins are checked against the same chip tables the simulator enforces (including the GPIOs stock MicroPython
has no Pin for), and against the module's PSRAM.
Every finding is a `Problem` (severity, file, key, message, fix, kind); errors stop the load with a
`BoardFileError` listing all of them, warnings stay on `Board.problems` for the tools to show. Each
key gets at most one problem: the first that applies, errors before warnings.
"""

import difflib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from host_tools import BOARDS_DIR, ROOT, chips
from host_tools.errors import BoardFileError

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
    "shaker": OUTPUT,  # optional: a vibration coil through a transistor, odd tones 11-201 Hz (config voice.shake)
    "led": OUTPUT,
    "uart_tx": OUTPUT,
    # optional, all three or none: an I2S amplifier (MAX98357A), the engine's voice instead of the buzzer.
    # The chip is the I2S master, so all three are outputs (ports/esp32/machine_i2s.c:
    # mp_machine_i2s_init_helper), routed through the GPIO matrix: any GPIO that can drive a pin will do.
    "i2s_bck": OUTPUT,  # bit clock (BCLK)
    "i2s_ws": OUTPUT,  # word select (LRCLK)
    "i2s_dout": OUTPUT,  # the samples (the amplifier's DIN)
    "rc_throttle": INPUT,  # RC receiver channels
    "rc_door": INPUT,
    "rc_engine": INPUT,
    "uart_rx": INPUT,
}

ERROR = "error"
WARNING = "warning"

# Problem kinds: what a test or a tool can tell problems apart by, whatever the wording.
UNKNOWN_KEY = "unknown-key"
WRONG_TYPE = "wrong-type"
MISSING = "missing"
NAME_MISMATCH = "name-mismatch"
BAD_USB_ID = "bad-usb-id"
UNKNOWN_CHIP = "unknown-chip"
UNKNOWN_MODULE = "unknown-module"
MODULE_OF_OTHER_CHIP = "module-of-other-chip"
UNKNOWN_ROLE = "unknown-role"
NO_SUCH_GPIO = "no-such-gpio"
FLASH_PIN = "flash-pin"
NOT_IN_FIRMWARE = "not-in-firmware"  # the chip has it, stock MicroPython has no Pin for it
PSRAM_PIN = "psram-pin"
INPUT_ONLY = "input-only"
NOT_BROKEN_OUT = "not-broken-out"
USED_TWICE = "used-twice"
HALF_H_BRIDGE = "half-h-bridge"
PARTIAL_I2S = "partial-i2s"
STRAPPING_PIN = "strapping-pin"  # the kinds from here on are warnings
USB_PIN = "usb-pin"
CONSOLE_PIN = "console-pin"

I2S_ROLES = ("i2s_bck", "i2s_ws", "i2s_dout")
# Roles that work only together: (what they make, how to say "all of them", the roles, the problem's kind)
GROUPS = (("an H-bridge", "both inputs", ("motor_in1", "motor_in2"), HALF_H_BRIDGE),
          ("an I2S amplifier", "all three signals", I2S_ROLES, PARTIAL_I2S))

_KEYS = {"name": str, "title": str, "chip": str, "module": str, "usb_ids": list, "header": list,
         "led_active_low": bool, "pins": dict, "layout": dict}
_REQUIRED = ("name", "chip", "pins")
_USB_ID = re.compile(r"^[0-9a-f]{4}:[0-9a-f]{4}$")
_TYPE_NAMES = {str: "a string", list: "a list", dict: "a table", int: "an integer", bool: "true or false"}


@dataclass(frozen=True)
class Problem:
    severity: str  # ERROR stops the load; WARNING is reported and kept
    file: str
    key: str
    message: str
    fix: str = ""
    kind: str = ""  # one of the kinds above

    def __str__(self):
        text = self.file + ": " + self.key + ": " + self.message
        return text + ". Fix: " + self.fix if self.fix else text


@dataclass
class Board:
    name: str
    title: str
    chip: chips.Chip
    usb_ids: tuple[str, ...]
    pins: dict[str, int]  # role -> GPIO
    path: Path
    problems: list[Problem] = field(default_factory=list)  # warnings only: errors never make a Board
    module: str | None = None
    header: tuple[int, ...] | None = None  # the GPIOs the board gives access to, when the file says
    led_active_low: bool = False
    layout: dict | None = None  # the [layout] table, checked; host_tools.wiring reads it

    @property
    def chip_name(self):
        return self.chip.name

    def identity(self):
        """What the device's config.json says of its board (config.FIXED): its name, chip, the GPIO of each
        role and whether its status LED lights when its pin is low. Deploys and kit builds both write it."""
        return {"board": self.name, "chip": self.chip_name, "pins": dict(self.pins),
                "led_active_low": self.led_active_low}

    @property
    def amplifier(self):
        """The board wires an I2S amplifier (all three lines; a partial set never loads): it is the engine's
        voice, and the buzzer's pin stays unconnected."""
        return all(role in self.pins for role in I2S_ROLES)

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


@dataclass(frozen=True)
class PinRules:
    """What the GPIOs of one board may do: its chip's tables, its module's PSRAM, the pins it breaks out."""

    chip: chips.Chip
    module: str | None = None
    psram: tuple[int, ...] = ()
    header: tuple[int, ...] | None = None

    def error(self, gpio, output):
        """(kind, message) when `gpio` cannot carry the role (an output when `output`), else None."""
        chip = self.chip
        if gpio not in chip.gpios:
            return NO_SUCH_GPIO, chip.pin_problem(gpio, output)
        if gpio in chip.flash:
            return FLASH_PIN, chip.pin_problem(gpio, output)
        if gpio in chip.no_pin:
            return NOT_IN_FIRMWARE, chip.pin_problem(gpio, output)
        if gpio in self.psram:
            return PSRAM_PIN, ("invalid pin: GPIO" + str(gpio) + " is wired to the PSRAM of " + str(self.module)
                               + ": any use crashes the board")
        if output and gpio in chip.input_only:
            return INPUT_ONLY, chip.pin_problem(gpio, output)
        if self.header is not None and gpio not in self.header:
            return NOT_BROKEN_OUT, "GPIO" + str(gpio) + " is not broken out on this board: it is not in header"
        return None

    def warning(self, gpio, output):
        """(kind, message, what to do if it stays) when `gpio` works but needs care, else None."""
        chip = self.chip
        where = "GPIO" + str(gpio) + " is "
        if gpio in chip.strapping:
            return (STRAPPING_PIN, where + "a strapping pin of " + chip.name + ": " + chip.strapping[gpio],
                    "wire it so that the pin keeps its boot level while the board resets")
        if gpio in chip.usb:
            line = "D-" if gpio == chip.usb[0] else "D+"
            return (USB_PIN, where + "USB " + line + " of " + chip.name + ": wiring it ends the native USB port "
                    "(console, deploy and flashing over USB)",
                    "use it only where the board's USB socket goes through a USB-serial bridge")
        if gpio in chip.console:
            tx = gpio == chip.console[0]
            if not tx:
                what = "MicroPython's REPL listens on it, and on boards with a USB-serial bridge the bridge drives it"
            elif output:
                what = "the boot ROM prints on it at every reset, so a servo or motor there twitches"
            else:
                what = "the boot ROM drives it at every reset, against the signal wired there"
            return (CONSOLE_PIN, where + "UART0 " + ("TX" if tx else "RX") + " of " + chip.name + ": " + what,
                    "where the USB socket is the chip's own, wire only the second UART (uart_tx/uart_rx) here")
        return None

    def free(self, output, taken=(), care=False):
        """GPIOs that can carry a role of this direction with neither an error nor a warning (with `care`:
        those that work but get a warning)."""
        gpios = self.chip.gpios if self.header is None else sorted(self.header)
        return [g for g in gpios if g not in taken and self.error(g, output) is None
                and (self.warning(g, output) is None) != care]


def board_path(name_or_path=None):
    """The file of a board given by catalogue name (`esp32-devkitc`) or by path (`my/board.toml`)."""
    name_or_path = str(name_or_path or DEFAULT_BOARD)
    if name_or_path.endswith(".toml") or "/" in name_or_path or "\\" in name_or_path:
        return Path(name_or_path)
    return BOARDS_DIR / (name_or_path + ".toml")


def load(name_or_path=None):
    """Load and check one board file; raises BoardFileError naming the file and every bad key."""
    path = board_path(name_or_path)
    return from_dict(_read(path), path)


def problems_of(name_or_path):
    """Every problem of one board file, errors and warnings, without loading it; BoardFileError when the
    file is missing or not TOML."""
    path = board_path(name_or_path)
    return check(_read(path), _shown(path), expected_name=path.stem)


def summary(name_or_path, problems):
    """One line closing a check: `boards/x.toml: 1 error, 2 warnings`, or `boards/x.toml: no problems`."""
    counts = []
    for severity in (ERROR, WARNING):
        n = sum(1 for p in problems if p.severity == severity)
        if n:
            counts.append(str(n) + " " + severity + ("" if n == 1 else "s"))
    return _shown(board_path(name_or_path)) + ": " + (", ".join(counts) or "no problems")


def _read(path):
    shown = _shown(path)
    if not path.is_file():
        known = ", ".join(p.stem for p in sorted(BOARDS_DIR.glob("*.toml")))
        raise BoardFileError("no board file " + shown,
                             hint="known boards: " + known + "; or give a path to a .toml file")
    try:
        return tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BoardFileError(shown + " is not valid TOML: " + str(exc)) from None


def from_dict(data, path):
    """A Board from parsed TOML, or BoardFileError with every error found."""
    shown = _shown(path)
    problems = check(data, shown, expected_name=Path(path).stem)
    errors = [p for p in problems if p.severity == ERROR]
    if errors:
        lines = "\n".join("  " + str(p) for p in errors)
        count = str(len(errors)) + (" error" if len(errors) == 1 else " errors")
        raise BoardFileError("board file " + shown + " has " + count + ":\n" + lines, errors)
    header = data.get("header")
    return Board(
        name=data["name"],
        title=data.get("title", data["name"]),
        chip=chips.chip(data["chip"]),
        usb_ids=tuple(u.lower() for u in data.get("usb_ids", ())),
        pins=dict(data["pins"]),
        path=Path(path),
        problems=problems,
        module=data.get("module"),
        header=tuple(header) if header is not None else None,
        led_active_low=data.get("led_active_low", False),
        layout=data.get("layout"),
    )


def check(data, file, expected_name=None):
    """Every problem of a parsed board file, errors and warnings, in file order."""
    problems = []

    def error(key, message, fix="", kind=""):
        problems.append(Problem(ERROR, file, key, message, fix, kind))

    for key, value in data.items():
        wanted = _KEYS.get(key)
        if wanted is None:
            error(key, "unknown key", _did_you_mean(key, _KEYS, "known keys"), UNKNOWN_KEY)
        elif not isinstance(value, wanted):
            error(key, "must be " + _TYPE_NAMES[wanted] + ", not " + repr(value), kind=WRONG_TYPE)
    for key in _REQUIRED:
        if key not in data:
            error(key, "missing", "every board file needs " + ", ".join(_REQUIRED), MISSING)
    name = data.get("name")
    if isinstance(name, str) and expected_name and name != expected_name:
        error("name", repr(name) + " differs from the file name", 'write name = "' + expected_name + '"',
              NAME_MISMATCH)
    for i, usb_id in enumerate(_list(data, "usb_ids")):
        if not isinstance(usb_id, str) or not _USB_ID.match(usb_id.lower()):
            error("usb_ids[" + str(i) + "]", repr(usb_id) + " is not a USB id",
                  'write vendor:product in hex, e.g. "10c4:ea60"', BAD_USB_ID)
    chip = None
    if isinstance(data.get("chip"), str):
        try:
            chip = chips.chip(data["chip"])
        except ValueError:
            error("chip", "unknown chip " + repr(data["chip"]), "known chips: " + ", ".join(sorted(chips.CHIPS)),
                  UNKNOWN_CHIP)
    rules = None
    if chip is not None:
        rules = PinRules(chip, *_module_psram(data.get("module"), chip, error),
                         header=_header(_list(data, "header"), chip, error) if "header" in data else None)
    if isinstance(data.get("pins"), dict):
        problems.extend(check_pins(data["pins"], rules, file))
    if isinstance(data.get("layout"), dict) and rules is not None:
        _check_layout(data["layout"], rules, error)
    return problems


def _list(data, key):
    value = data.get(key)
    return value if isinstance(value, list) else []


def _module_psram(module, chip, error):
    """(module, PSRAM GPIOs) of the `module` key; an unknown module or one of another chip is an error."""
    if not isinstance(module, str):
        return None, ()
    found = chips.modules().get(module.upper())
    if found is None:
        known = [name for name, (of_chip, _) in chips.modules().items() if of_chip == chip.name]
        error("module", "unknown module " + repr(module) + " for " + chip.name,
              _did_you_mean(module.upper(), known, "known " + chip.name + " modules"), UNKNOWN_MODULE)
        return None, ()
    if found[0] != chip.name:
        error("module", module + " carries an " + found[0] + ", but chip = " + repr(chip.name),
              'write chip = "' + found[0] + '", or name the module the board really has', MODULE_OF_OTHER_CHIP)
        return None, ()
    return module.upper(), found[1]


def _header(header, chip, error):
    gpios = []
    for i, gpio in enumerate(header):
        if type(gpio) is not int:  # noqa: E721 - bool is an int subclass and not a GPIO
            error("header[" + str(i) + "]", "must be a GPIO number, not " + repr(gpio), kind=WRONG_TYPE)
        elif gpio not in chip.gpios:
            error("header[" + str(i) + "]", chip.name + " has no GPIO" + str(gpio),
                  "list the GPIO numbers printed next to the board's pins", NO_SUCH_GPIO)
        else:
            gpios.append(gpio)
    return tuple(gpios)


def _check_layout(layout, rules, error):
    """The [layout] table: `rows` of printed pin names (host_tools.wiring.pin_of reads each), optional
    `top` (what is at the top of the rows) and `onboard_led` (the `led` GPIO drives an LED on the board)."""
    from host_tools import wiring  # the one reader of a pin's printed name

    known = {"rows": list, "top": str, "onboard_led": bool}
    for key, value in layout.items():
        if key not in known:
            error("layout." + key, "unknown key", _did_you_mean(key, known, "known keys"), UNKNOWN_KEY)
        elif not isinstance(value, known[key]):
            error("layout." + key, "must be " + _TYPE_NAMES[known[key]] + ", not " + repr(value), kind=WRONG_TYPE)
    rows = layout.get("rows")
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        error("layout.rows", "must be a list of rows, each a list of the pins' printed names", kind=WRONG_TYPE)
        return
    for r, row in enumerate(rows):
        for i, printed in enumerate(row):
            try:
                _, gpio, _ = wiring.pin_of(printed)
            except ValueError as exc:
                error("layout.rows[" + str(r) + "][" + str(i) + "]", str(exc), wiring.PRINTED_HELP, WRONG_TYPE)
                continue
            if gpio is not None and rules.header is not None and gpio not in rules.header:
                error("layout.rows[" + str(r) + "][" + str(i) + "]", "GPIO" + str(gpio) + " is not in header",
                      "list it in header too", NOT_BROKEN_OUT)


def check_pins(pins, rules, file):
    """Problems of a [pins] table, at most one per role; GPIO checks need the PinRules (None when the
    chip is unknown)."""
    problems = []
    used = {}  # GPIO -> first role using it
    taken = {g for g in pins.values() if type(g) is int}  # noqa: E721

    def add(severity, key, message, fix, kind):
        problems.append(Problem(severity, file, key, message, fix, kind))

    for role, gpio in pins.items():
        key = "pins." + role
        if role not in ROLES:
            add(ERROR, key, "unknown role", _did_you_mean(role, ROLES, "known roles"), UNKNOWN_ROLE)
            continue
        if type(gpio) is not int:  # noqa: E721 - bool is an int subclass and not a GPIO
            add(ERROR, key, "must be a GPIO number, not " + repr(gpio), "", WRONG_TYPE)
            continue
        output = ROLES[role] == OUTPUT
        found = rules.error(gpio, output) if rules else None
        if found:
            add(ERROR, key, found[1], _free_pins_hint(rules, output, taken), found[0])
        elif gpio in used:
            add(ERROR, key, "GPIO" + str(gpio) + " is already used by " + used[gpio],
                _free_pins_hint(rules, output, taken), USED_TWICE)
        else:
            found = rules.warning(gpio, output) if rules else None
            if found:
                add(WARNING, key, found[1], _care_hint(rules, output, taken, found[2]), found[0])
        used.setdefault(gpio, role)
    for what, needs, group, kind in GROUPS:
        wired = [role for role in group if role in pins]
        if wired and len(wired) < len(group):
            missing = [role for role in group if role not in pins]
            fix = ("add " + " and ".join(role + " = <GPIO>" for role in missing) + ", or remove "
                   + " and ".join(wired))
            for role in missing:
                add(ERROR, "pins." + role, "missing: " + what + " needs " + needs + " and only "
                    + " and ".join(wired) + (" is" if len(wired) == 1 else " are") + " set", fix, kind)
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


def _free_pins_hint(rules, output, taken):
    if rules is None:
        return ""
    free = rules.free(output, taken)
    kind = "outputs" if output else "inputs"
    where = rules.chip.name if rules.header is None else "this board"
    if not free:
        careful = rules.free(output, taken, care=True)
        return ("every GPIO of " + where + " that needs no care is taken"
                + ("; free ones that need care: " + ", ".join(str(g) for g in careful) if careful else "")
                + "; or leave out an optional role (rc_engine, motor_in1/motor_in2, shaker, the amplifier's "
                + "i2s_bck/i2s_ws/i2s_dout) to free its pins")
    # Strapping, native-USB and UART0 pins work but can stop the board booting or its console: not offered.
    return "free GPIOs for " + kind + " on " + where + ": " + ", ".join(str(g) for g in free)


def _care_hint(rules, output, taken, care):
    free = rules.free(output, taken)
    if not free:
        return care + "; no GPIO of this board that needs no care is free"
    where = rules.chip.name if rules.header is None else "this board"
    kind = "an output" if output else "an input"
    return ("move it to a GPIO free for " + kind + " on " + where + " (" + ", ".join(str(g) for g in free)
            + "), or " + care)


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
