"""Test setup shared by all tests: the firmware and the simulated ESP32 importable under CPython."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for folder in (ROOT / "tests" / "firmware", ROOT / "host_tools" / "sim", ROOT / "firmware"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import mpcompat  # noqa: E402

mpcompat.install()
