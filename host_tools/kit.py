"""Kit files: one model as sold, `kits/<name>.toml` or any path.

    name = "az1-1to8"                  # the file's own name
    title = "Autozam AZ-1 1:8, ESP32-DevKitC, MG90S door servos"
    board = "esp32-devkitc"            # a board file (boards/)
    motor = "mosfet"                   # firmware settings, exactly as in the device's config.json:
    [doors]                            #   motor, doors (and doors.left / doors.right), engine, voice, rc
    stagger_ms = 60
    [[bom]]                            # the bill of materials
    part = "MG90S metal-gear micro servo"
    qty = 2

The settings are checked by the firmware's own schema (firmware/gullwing/config.py), so a key the
board would ignore or refuse is refused here first, named with its section.
"""

import importlib.util
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from host_tools import FIRMWARE_DIR, ROOT, boards, errors

KITS_DIR = ROOT / "kits"
_OWN = ("name", "title", "board", "bom")


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
        """The device's config.json: the board's identity and pins, then the kit's settings."""
        out = {"board": self.board.name, "chip": self.board.chip_name, "pins": self.board.pins}
        out.update(self.settings)
        return out

    def config_json(self):
        return json.dumps(self.config(), indent=1, sort_keys=True).encode() + b"\n"


def firmware_config():
    """The firmware's config module, loaded from its file: the one schema both sides check against."""
    spec = importlib.util.spec_from_file_location("gullwing_firmware_config", FIRMWARE_DIR / "gullwing" / "config.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def kit_path(name_or_path):
    text = str(name_or_path)
    if text.endswith(".toml") or "/" in text:
        return Path(text)
    return KITS_DIR / (text + ".toml")


def load(name_or_path):
    path = kit_path(name_or_path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise KitFileError(f"{path}: no such kit file") from None
    except tomllib.TOMLDecodeError as exc:
        raise KitFileError(f"{path}: not valid TOML: {exc}") from None
    problems = []
    for key in ("name", "board"):
        if not isinstance(data.get(key), str):
            problems.append(f"{path}: {key}: required, a string")
    config = firmware_config()
    settings = {key: value for key, value in data.items() if key not in _OWN}
    for key in settings:
        if key in ("board", "chip", "pins"):
            problems.append(f"{path}: {key}: comes from the board file, not the kit")
    merged_problems = []
    config.merge(config.DEFAULTS, settings, "", merged_problems)
    problems += [f"{path}: {problem}" for problem in merged_problems]
    bom = data.get("bom", [])
    if not isinstance(bom, list) or not all(isinstance(item, dict) and "part" in item for item in bom):
        problems.append(f"{path}: bom: a list of tables, each with a `part`")
    if problems:
        raise KitFileError("kit file " + str(path) + " has problems:\n  " + "\n  ".join(problems))
    return Kit(data["name"], data.get("title", data["name"]), boards.load(data["board"]), settings, bom, path)
