"""Host tools for gullwing: flash, deploy, control and provision ESP32 boards, and simulate them."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRMWARE_DIR = ROOT / "firmware"
BOARDS_DIR = ROOT / "boards"


def _firmware_version():
    # The firmware package holds the project's one version string; read it without importing it.
    text = (FIRMWARE_DIR / "gullwing" / "__init__.py").read_text()
    match = re.search(r'^VERSION = "([^"]+)"$', text, re.MULTILINE)
    if not match:
        raise RuntimeError("firmware/gullwing/__init__.py has no VERSION line")
    return match.group(1)


__version__ = _firmware_version()
