"""Provisioning one virtual board against eight at once, side by side: MicroPython flashed by real esptool
through each board's ROM loader (reset into it over RFC 2217), the kit deployed, the whole self-test with the
output pins read from each board's live trace."""

import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from host_tools import kit, provision
from host_tools.virtual_board import VirtualBoard

MANY = 8


def _run(count, folder, firmware):
    with ExitStack() as stack:
        boards = [stack.enter_context(VirtualBoard(flash_dir=folder / f"b{count}-{i}",
                                                   trace_path=folder / f"b{count}-{i}.csv")) for i in range(count)]
        time.sleep(0.5)
        start = time.monotonic()
        results, _ = provision.provision([b.port for b in boards], kit.load("az1-1to8"), firmware=firmware,
                                         reports=folder / "rep", live=False, console=_quiet(),
                                         traces={b.port: b.trace_path for b in boards})
        seconds = time.monotonic() - start
    assert all(r.passed and "flashed" in r.done for r in results), [r.error for r in results]
    return seconds


def _quiet():
    from rich.console import Console

    return Console(file=open("/dev/null", "w"))


def _firmware(folder):
    """A MicroPython-like merged ESP32 image (tests/host/test_flash.py makes them with esptool's classes)."""
    from tests.host.test_flash import micropython_image

    path = folder / "micropython.bin"
    path.write_bytes(micropython_image("ESP32"))
    return path


def run():
    with tempfile.TemporaryDirectory() as tmp:
        firmware = _firmware(Path(tmp))
        one = _run(1, Path(tmp), firmware)
        many = _run(MANY, Path(tmp), firmware)
    return one, many


def verdicts(one, many):
    return [(f"{MANY} boards in {many:.1f} s, {many / one:.2f}x one board's {one:.1f} s (<= 1.5x)", many <= 1.5 * one)]
