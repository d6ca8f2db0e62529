"""The virtual board's ROM loader, driven by real, unpatched esptool (its command line, as a user types it).

On the plain port a board started with `gullwing sim --download` (BOOT held at power-on) takes
`--before no-reset`; on its RFC 2217 port esptool's own DTR/RTS sequences reset it into the loader and
back, as a DevKitC's auto-reset circuit does. Images are MicroPython-like merged images built with
esptool's own image classes (tests/host/test_flash.py).
"""

import io
import os
import select
import subprocess
import threading
import time

import pytest
from rich.console import Console

from host_tools import errors, flash
from tests.host.test_flash import BOOTLOADER_OFFSET, micropython_image
from tests.host.virtual import BIN, SimProcess, Wire

BOARD = {"ESP32": "esp32-devkitc", "ESP32-S2": "lolin-s2-mini", "ESP32-S3": "esp32-s3-devkitc-1",
         "ESP32-C3": "esp32-c3-devkitm-1"}
CHIPS = sorted(BOARD)
BANNER = "Type \"help()\" for more information."


def esptool(port, *args, before="no-reset", after="no-reset", timeout=120):
    result = subprocess.run([str(BIN / "esptool"), "--port", port, "--before", before, "--after", after, *args],
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def start(tmp_path, chip, *args):
    sim = SimProcess(tmp_path / "flash", "--board", BOARD[chip], *args)
    sim.rfc2217 = sim.proc.stdout.readline().split()[-1]
    return sim


@pytest.fixture
def sims():
    started = []
    yield started
    for sim in started:
        sim.stop()


@pytest.mark.parametrize("chip", CHIPS)
def test_esptool_writes_verifies_and_reads_back_a_board_in_download_mode(tmp_path, sims, chip):
    sim = start(tmp_path, chip, "--download")
    sims.append(sim)
    image = tmp_path / "micropython.bin"
    image.write_bytes(micropython_image(chip))
    offset = hex(BOOTLOADER_OFFSET[chip])

    info = esptool(sim.port, "flash-id")
    assert "Detecting chip type... " + chip in info
    assert "Detected flash size: 4MB" in info
    assert "MAC:                24:0a:c4:" in info

    written = esptool(sim.port, "write-flash", offset, str(image))
    assert "Hash of data verified." in written
    assert "Verification successful" in esptool(sim.port, "verify-flash", offset, str(image))
    back = tmp_path / "back.bin"
    esptool(sim.port, "read-flash", offset, str(image.stat().st_size), str(back))
    assert back.read_bytes() == image.read_bytes()

    # the ROM leaves for the code in flash: the image is sound for this chip, MicroPython boots
    wire = Wire(sim.port)
    try:
        esptool(sim.port, "--no-stub", "run")
        wire.expect(BANNER, timeout=20)
    finally:
        wire.close()


def test_the_download_boot_prints_the_roms_lines(tmp_path, sims):
    sim = start(tmp_path, "ESP32", "--download")
    sims.append(sim)
    fd = os.open(sim.port, os.O_RDWR | os.O_NOCTTY)  # as it is: opening with pyserial flushes the input
    try:
        os.write(fd, b"\r\n")  # a terminal's keystrokes: the ROM loader ignores what is not a SLIP frame
        seen = b""
        deadline = time.monotonic() + 5
        while b"waiting for download" not in seen and time.monotonic() < deadline:
            if select.select([fd], [], [], 0.2)[0]:
                seen += os.read(fd, 4096)
    finally:
        os.close(fd)
    assert b"rst:0x1 (POWERON_RESET),boot:0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))\r\n" \
           b"waiting for download\r\n" in seen
    assert "ESP32" in esptool(sim.port, "chip-id")


def test_erasing_the_flash_leaves_a_fresh_board_that_boots_nothing(tmp_path, sims):
    sim = start(tmp_path, "ESP32-C3", "--download")
    sims.append(sim)
    (sim.flash / "main.py").write_text("print('old')\n")
    esptool(sim.port, "erase-flash")
    assert list(sim.flash.iterdir()) == []  # the filesystem went with the flash
    wire = Wire(sim.port)
    try:
        esptool(sim.port, "--no-stub", "run")
        seen = wire.expect("invalid header: 0xffffffff", timeout=10)
        assert BANNER.encode() not in seen
    finally:
        wire.close()


def test_a_wrong_chip_image_written_with_force_boot_loops(tmp_path, sims):
    sim = start(tmp_path, "ESP32-S3", "--download")
    sims.append(sim)
    image = tmp_path / "esp32.bin"
    image.write_bytes(micropython_image("ESP32"))
    esptool(sim.port, "write-flash", "--force", "0x0", str(image))
    wire = Wire(sim.port)
    try:
        esptool(sim.port, "--no-stub", "run")
        seen = wire.expect("ets_main.c 371", timeout=10)
        seen += wire.expect("rst:0x10 (RTCWDT_RTC_RESET)", timeout=5)  # again and again
        assert b"mismatch chip ID, expected 9, found 0" in seen
        assert BANNER.encode() not in seen
    finally:
        wire.close()


def test_a_damaged_image_boot_loops(tmp_path, sims):
    sim = start(tmp_path, "ESP32", "--download")
    sims.append(sim)
    data = bytearray(micropython_image("ESP32"))
    data[0x40] ^= 0xFF  # inside the bootloader's first segment: its checksum no longer matches
    image = tmp_path / "damaged.bin"
    image.write_bytes(bytes(data))
    esptool(sim.port, "write-flash", "0x1000", str(image))
    wire = Wire(sim.port)
    try:
        esptool(sim.port, "--no-stub", "run")
        seen = wire.expect("ets_main.c 371", timeout=10)
        assert b"csum err" in seen and BANNER.encode() not in seen
    finally:
        wire.close()


def test_esptool_resets_a_running_board_into_the_loader_and_back_over_rfc2217(tmp_path, sims):
    """The user's flow on a DevKitC: no buttons; esptool's DTR/RTS sequences do it (all chips at once,
    as each esptool run waits on the network more than it works)."""
    outputs = {}

    def flash_one(chip):
        sim = start(tmp_path / chip, chip)
        sims.append(sim)
        image = tmp_path / (chip + ".bin")
        image.write_bytes(micropython_image(chip))
        outputs[chip] = (sim, esptool(sim.rfc2217, "write-flash", hex(BOOTLOADER_OFFSET[chip]), str(image),
                                      before="default-reset", after="hard-reset"))

    threads = [threading.Thread(target=flash_one, args=(chip,)) for chip in CHIPS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outputs) == CHIPS
    for chip, (sim, out) in outputs.items():
        assert "Connected to " + chip in out and "Hash of data verified." in out
        assert "Hard resetting via RTS pin" in out
        # booted from its new image: MicroPython answers on the plain port
        assert "ok" in sim.mpremote("exec", "print('ok')", timeout=30).stdout


def test_gullwing_flash_refuses_a_wrong_chip_image_before_touching_the_board(tmp_path, sims):
    sim = start(tmp_path, "ESP32-S3")
    sims.append(sim)
    firmware = tmp_path / "esp32.bin"
    firmware.write_bytes(micropython_image("ESP32"))
    with pytest.raises(errors.BadFirmwareImage, match="is for ESP32 .* but the board has an ESP32-S3"):
        flash.flash(sim.port, firmware, BOARD["ESP32-S3"], console=Console(file=io.StringIO()))
    assert not (tmp_path / "flash.img").exists()  # the flash was never written
    assert "ok" in sim.mpremote("exec", "print('ok')").stdout  # still running its MicroPython
