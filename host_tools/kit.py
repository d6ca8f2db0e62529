"""Kit files: one model as sold, `kits/<name>.toml` or any path.

    name = "az1-1to8"                  # the file's own name
    title = "Autozam AZ-1 1:8, ESP32-DevKitC, MG90S door servos"
    board = "esp32-devkitc"            # a board file (boards/)
    motor = "mosfet"                   # firmware settings, exactly as in the device's config.json:
    [doors]                            #   motor, doors (and doors.left / doors.right), engine, voice, rc
    stagger_ms = 60
    [[bom]]                            # the kit's own choice for a part of the bill of materials
    for = "servo"                      #   (one of BOM_PARTS), or with no `for` an extra line
    part = "MG90S metal-gear micro servo"
    number = "TowerPro MG90S"

The settings are checked by the firmware's own schema (firmware/gullwing/config.py), so a key the
board would ignore or refuse is refused here first, named with its section.

The bill of materials follows from what the board wires (`bill_of_materials`): a receiver only where
RC pins are wired, the kit's motor driver only, a shaker only where the board wires one, no LED where the
board has it on board, and the engine's voice: an I2S amplifier and its speaker where the board wires
i2s_bck/i2s_ws/i2s_dout, else the buzzer and its driver.

The kit card (`Card`) goes in the box: how to join the model's own network and open its page. `gullwing
provision` writes one per board with the board's network name and key; `kit build` writes the kit's
template, which says where a board's key is. A kit file carries no key, home network or PIN: those are
each board's (and its owner's), never a whole kit's.
"""

import difflib
import importlib.util
import json
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from host_tools import FIRMWARE_DIR, ROOT, boards, errors

KITS_DIR = ROOT / "kits"
_OWN = ("name", "title", "board", "bom")
PER_BOARD = ("wifi.ssid", "wifi.password", "wifi.ap_password", "web.pin")  # never the same for a whole kit
AP_ADDRESS = "192.168.4.1"  # the page's address on the model's own network (MicroPython's AP default)


class KitFileError(errors.GullwingError):
    hint = "fix the kit file: the key and what it must be are named above (docs/kits.md)"


@dataclass
class Kit:
    name: str
    title: str
    board: boards.Board
    settings: dict  # firmware settings beyond the board's pins, as config.json carries them
    bom: list = field(default_factory=list)
    path: Path | None = None

    def config(self):
        """The device's config.json: the board's identity (boards.Board.identity), then the kit's settings."""
        out = self.board.identity()
        out.update(self.settings)
        return out

    def config_json(self):
        return config_json(self.config())

    def on_board(self, board):
        """This kit's settings on another board (`kit build --board`); KitFileError when the board cannot
        carry the kit's motor driver."""
        if self.settings.get("motor") == "hbridge" and not {"motor_in1", "motor_in2"} <= set(board.pins):
            raise KitFileError("kit " + self.name + " drives its motor through an H-bridge and board " + board.name
                               + " wires no motor_in1/motor_in2",
                               hint="pick a board that wires them (gullwing boards list), or a kit with motor = "
                                    '"mosfet"')
        return Kit(self.name, self.title, board, self.settings, self.bom, self.path)


def config_json(config):
    """config.json as it lands on the device (deploy) and beside a kit's diagram (kit build)."""
    return json.dumps(config, indent=1, sort_keys=True).encode() + b"\n"


def firmware_config():
    """The firmware's config module, loaded from its file: the one schema both sides check against."""
    if str(FIRMWARE_DIR) not in sys.path:  # config reads the declarations in gullwing/schema.py (import-free)
        sys.path.append(str(FIRMWARE_DIR))
    return importlib.import_module("gullwing.config")


def kit_path(name_or_path):
    text = str(name_or_path)
    if text.endswith(".toml") or "/" in text:
        return Path(text)
    return KITS_DIR / (text + ".toml")


def names():
    """The catalogued kits, by name."""
    return sorted(p.stem for p in KITS_DIR.glob("*.toml"))


def load(name_or_path):
    path = kit_path(name_or_path)
    try:
        data = tomllib.loads(path.read_text())
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        close = difflib.get_close_matches(path.stem, names(), n=1)
        raise KitFileError("no kit " + str(name_or_path),
                           hint=("did you mean " + close[0] + "? " if close else "") + "known kits: "
                           + ", ".join(names()) + "; or give a path to a .toml kit file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise KitFileError(f"{path}: cannot read the kit file: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise KitFileError(f"{path}: not valid TOML: {exc}") from None
    problems = []
    for key in ("name", "board"):
        if not isinstance(data.get(key), str):
            problems.append(f"{path}: {key}: required, a string")
    config = firmware_config()
    settings = {key: value for key, value in data.items() if key not in _OWN}
    for key in settings:
        if key in config.FIXED:
            problems.append(f"{path}: {key}: comes from the board file, not the kit")
    for dotted in PER_BOARD:
        section, key = dotted.split(".")
        if isinstance(settings.get(section), dict) and key in settings[section]:
            problems.append(f"{path}: {dotted}: is each board's own, never a whole kit's (docs/kits.md)")
    merged_problems = []
    config.merge(config.DEFAULTS, settings, "", merged_problems)
    problems += [f"{path}: {problem}" for problem in merged_problems]
    bom = data.get("bom", [])
    if not isinstance(bom, list) or not all(isinstance(item, dict) and "part" in item for item in bom):
        problems.append(f"{path}: bom: a list of tables, each with a `part`")
    else:
        for i, item in enumerate(bom):
            if "for" in item and item["for"] not in BOM_PARTS:
                problems.append(f"{path}: bom[{i}].for: unknown part {item['for']!r}; known: " + ", ".join(BOM_PARTS))
    if problems:
        raise KitFileError("kit file " + str(path) + " has problems:\n  " + "\n  ".join(problems))
    return Kit(data["name"], data.get("title", data["name"]), boards.load(data["board"]), settings, bom, path)


# -- the bill of materials -----------------------------------------------------------------------

# What the model needs to run untethered, part by part: (what it is, a typical part number, what it is
# for). A kit's [[bom]] entry with `for = KEY` names its own choice instead.
BOM_PARTS = {
    "board": ("", "", "runs the firmware"),
    "servo": ("metal-gear micro servo", "TowerPro MG90S", "one per door (signal, + and - leads)"),
    "servo_pulldown": ("10 kOhm resistor, 1/4 W", "Yageo MFR-25FBF52-10K",
                       "from each servo signal to GND: the servo stays still while the chip boots"),
    "motor": ("DC motor with an off-centre weight", "Mabuchi FA-130RA", "the engine's sound and shake"),
    "mosfet": ("logic-level N-channel MOSFET, TO-220", "IRLZ44N", "switches the motor's (or shaker's) - lead to GND"),
    "gate_resistor": ("100 Ohm resistor, 1/4 W", "Yageo MFR-25FBF52-100R", "in series with each MOSFET gate"),
    "gate_pulldown": ("10 kOhm resistor, 1/4 W", "Yageo MFR-25FBF52-10K",
                      "each MOSFET gate to GND: its motor or shaker stays off while the chip boots"),
    "flyback_diode": ("Schottky diode 1 A", "1N5819", "across the motor (or shaker), band (cathode) to its + lead"),
    "hbridge": ("dual H-bridge motor driver module", "DRV8833 carrier (Pololu 2130)", "drives the motor"),
    "buzzer": ("passive piezo buzzer", "TDK PS1240P02BT", "the engine's note"),
    "buzzer_transistor": ("NPN transistor, TO-92", "2N2222A", "switches the buzzer from 5 V"),
    "base_resistor": ("1 kOhm resistor, 1/4 W", "Yageo MFR-25FBF52-1K", "in series with the transistor base"),
    "buzzer_bleed": ("1 kOhm resistor, 1/4 W", "Yageo MFR-25FBF52-1K",
                     "across the piezo: lets it discharge between pulses, else the note is faint"),
    "amplifier": ("I2S class-D amplifier breakout, MAX98357A (VIN 2.5-5.5 V, 3.3 V logic in)", "Adafruit 3006",
                  "the engine's voice: BCLK, LRC and DIN from the board, VIN from the 5 V rail"),
    "speaker": ("small speaker, 8 Ohm (or 4 Ohm), 40 mm, 1-2 W", "Visaton K 40, 8 Ohm",
                "on the amplifier's + and - terminals, under the engine cover"),
    "shaker": ("coin exciter (tactile transducer), 8 Ohm, 2 W", "Dayton Audio DAEX19CT-8",
               "the engine's rocking shake at crank frequency, glued to the floor pan"),
    "led": ("3 mm red LED", "Kingbright WP710A10ID", "status light"),
    "led_resistor": ("330 Ohm resistor, 1/4 W", "Yageo MFR-25FBF52-330R", "in series with the LED"),
    "receiver": ("2.4 GHz RC receiver with transmitter", "FlySky FS-iA6B with FS-i6",
                 "throttle and switch channels (docs/rc.md)"),
    "bluetooth": ("Bluetooth serial module on a breakout (VCC 3.6-6 V, 3.3 V logic)", "HC-05",
                  "the phone or laptop command channel"),
    "bec": ("5 V 3 A switching regulator (UBEC), set to 5 V", "Hobbywing UBEC 3A",
            "the 5 V rail: servos, motor, buzzer or amplifier, receiver, module and the board's 5V pin"),
    "battery": ("2S 7.4 V LiPo battery, 1000-1500 mAh", "Turnigy nano-tech 1300 mAh 2S", "runs the model untethered"),
    "switch": ("power switch rated 3 A or more", "E-Switch 100SP1T1B4M2QE", "between battery and regulator"),
}


@dataclass
class BomLine:
    key: str  # one of BOM_PARTS, or "" for a kit's extra line
    qty: int
    part: str
    number: str
    use: str


def bill_of_materials(kit):
    """Every part the kit's model needs, as its board wires it: [BomLine], in building order."""
    pins = kit.board.pins
    motor = kit.settings.get("motor", "mosfet")
    doors = sum(1 for role in ("door_left", "door_right") if role in pins)
    onboard_led = bool((kit.board.layout or {}).get("onboard_led"))
    wanted = [("board", 1), ("servo", doors), ("servo_pulldown", doors)]
    if motor == "mosfet" and "motor" in pins:
        wanted += [("motor", 1), ("mosfet", 1), ("gate_resistor", 1), ("gate_pulldown", 1), ("flyback_diode", 1)]
    if motor == "hbridge" and "motor_in1" in pins:
        wanted += [("motor", 1), ("hbridge", 1)]
    if kit.board.amplifier:  # the engine's voice: the buzzer's pin stays unconnected
        wanted += [("amplifier", 1), ("speaker", 1)]
    elif "buzzer" in pins:
        wanted += [("buzzer", 1), ("buzzer_transistor", 1), ("base_resistor", 1), ("buzzer_bleed", 1)]
    if "shaker" in pins:  # behind its own MOSFET, like the motor
        wanted += [("shaker", 1), ("mosfet", 1), ("gate_resistor", 1), ("gate_pulldown", 1), ("flyback_diode", 1)]
    if "led" in pins and not onboard_led:
        wanted += [("led", 1), ("led_resistor", 1)]
    if any(role.startswith("rc_") for role in pins):
        wanted.append(("receiver", 1))
    if "uart_tx" in pins and "uart_rx" in pins:
        wanted.append(("bluetooth", 1))
    wanted += [("bec", 1), ("battery", 1), ("switch", 1)]
    counts = {}  # a part that two roles need is one line
    for key, qty in wanted:
        counts[key] = counts.get(key, 0) + qty
    chosen = {item["for"]: item for item in kit.bom if "for" in item}
    lines = []
    for key, qty in counts.items():
        if qty == 0:
            continue
        part, number, use = BOM_PARTS[key]
        if key == "board":
            part, number = kit.board.title, kit.board.module or kit.board.chip_name
        own = chosen.get(key, {})
        lines.append(BomLine(key, own.get("qty", qty), own.get("part", part), own.get("number", number),
                             own.get("use", use)))
    for item in kit.bom:
        if "for" not in item:
            lines.append(BomLine("", item.get("qty", 1), item["part"], item.get("number", ""), item.get("use", "")))
    return lines


# -- the kit card ----------------------------------------------------------------------------------

@dataclass
class Card:
    """What goes in the box: the model, its board, how to join its network and open its page. Without a
    board (`template`), where the board's own card and key are."""

    title: str
    board_id: str = ""
    ssid: str = ""
    password: str = ""
    address: str = "http://" + AP_ADDRESS + "/"

    def lines(self):
        """(label, value) rows, the same on the printed card and in its text."""
        return [("Board", self.board_id or "see the board's own card"),
                ("WiFi network", self.ssid),
                ("Password", self.password or "on the board's own card (gullwing provision), or over USB: "
                                              "gullwing wifi --password"),
                ("Then open", self.address),
                ("PIN", "none needed on this network; to set one, over USB: gullwing send config set web.pin "
                        "2468, then gullwing send config save, and switch the model off and on"),
                ("Card lost?", "over USB: gullwing wifi --password")]

    def text(self):
        width = max(len(label) for label, _ in self.lines())
        return "\n".join([self.title, ""] + [label.ljust(width) + "  " + value for label, value in self.lines()]
                         + ["", "On the phone: Settings, WiFi, the network above, its password; then open the page "
                                "in the browser. The phone may say the network has no internet: stay on it."]) + "\n"


def template(kit):
    """The kit's card without a board (`kit build`): the network's name as every board of the kit makes it."""
    prefix = kit.config().get("wifi", {}).get("name") or firmware_config().DEFAULTS.get("wifi", {}).get("name", "")
    return Card(kit.title, ssid=prefix + "-XXXX (XXXX: four characters of the board's own)")


def card_md(kit):
    """card.md: the kit card's template, for the box and the manual."""
    if kit.config().get("wifi", {}).get("mode") == "off":
        return "# " + kit.title + "\n\nThis kit has no WiFi (wifi.mode is off): no network, no page, no password.\n"
    card = template(kit)
    rows = ["| " + label + " | " + value + " |" for label, value in card.lines()]
    return "\n".join(["# " + kit.title + ": joining the model", "", "| | |", "| --- | --- |", *rows, "",
                      "Each board has its own network name and password: `gullwing provision` prints them on "
                      "its card (provision-reports/cards/). Never an open network. docs/wifi.md says more."]) + "\n"
