"""`gullwing flash`: the image check before the board is touched, and the esptool calls that follow.

Images are real ESP images made with esptool's own image classes, merged as micropython.org ships
them (bootloader at the chip's offset, partition table at 0x8000, application at 0x10000). Flashing
runs real esptool against a virtual board's ROM loader (host_tools/rom.py); only a link that drops
mid-write, which a ROM cannot be made to show, is a fake of esptool's board-facing functions.
"""

import hashlib
import io
import os
import random
import struct
import sys
import types

import pytest
import serial
from click.testing import CliRunner
from esptool import cmds
from esptool.bin_image import (
    ELFSection,
    ESP32C3FirmwareImage,
    ESP32FirmwareImage,
    ESP32S2FirmwareImage,
    ESP32S3FirmwareImage,
)
from esptool.logger import log
from esptool.util import FatalError
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from serial.tools import list_ports

from host_tools import errors, flash
from host_tools.cli import cli
from tests.host.virtual import SimProcess

IMAGE_CLASSES = {
    "ESP32": ESP32FirmwareImage,
    "ESP32-S2": ESP32S2FirmwareImage,
    "ESP32-S3": ESP32S3FirmwareImage,
    "ESP32-C3": ESP32C3FirmwareImage,
}
# Where each chip's ROM looks for the second-stage bootloader (ESP-IDF and esptool docs).
BOOTLOADER_OFFSET = {"ESP32": 0x1000, "ESP32-S2": 0x1000, "ESP32-S3": 0x0, "ESP32-C3": 0x0}
APP_OFFSET = 0x10000


def esp_image(chip, section, address, size):
    image = IMAGE_CLASSES[chip]()
    image.entrypoint = 0x40080000
    body = bytes(random.Random(size).getrandbits(8) for _ in range(size))
    image.segments = [ELFSection(section, address, body, 0)]
    return image.save(None)


def partition_table(app_offset=APP_OFFSET):
    entries = [(0x01, 0x02, 0x9000, 0x6000, b"nvs"), (0x01, 0x01, 0xF000, 0x1000, b"phy_init"),
               (0x00, 0x00, app_offset, 0x1F0000, b"factory"), (0x01, 0x81, 0x200000, 0x200000, b"vfs")]
    table = b"".join(struct.pack("<2sBBII16sI", b"\xaa\x50", kind, sub, offset, size, label, 0)
                     for kind, sub, offset, size, label in entries)
    table += b"\xeb\xeb" + b"\xff" * 14 + hashlib.md5(table).digest()
    return table.ljust(0xC00, b"\xff")


def bootloader(chip):
    return esp_image(chip, b".dram0.data", 0x3FFE0000, 2048)


def application(chip):
    drom = IMAGE_CLASSES[chip].ROM_LOADER.DROM_MAP_START
    return esp_image(chip, b".flash.rodata", drom + 0x20, 8192)


def micropython_image(chip, app_chip=None, table=True):
    """A merged image as micropython.org ships it for `chip`, written at the chip's bootloader offset."""
    offset = BOOTLOADER_OFFSET[chip]
    data = bootloader(chip).ljust(0x8000 - offset, b"\xff")
    data += (partition_table() if table else b"\xff" * 0xC00)
    return data.ljust(APP_OFFSET - offset, b"\xff") + application(app_chip or chip)


def board_file(tmp_path, chip):
    name = "board-" + chip.lower()
    path = tmp_path / (name + ".toml")
    path.write_text('name = "' + name + '"\nchip = "' + chip + '"\n[pins]\ndoor_left = 4\n')
    return str(path)


def write(tmp_path, data, name="firmware.bin"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


# -- the image check -----------------------------------------------------------------------------

@pytest.mark.parametrize("chip", sorted(IMAGE_CLASSES))
def test_a_micropython_image_is_accepted_and_goes_at_the_chips_offset(tmp_path, chip):
    data = micropython_image(chip)
    checked = flash.check_image(write(tmp_path, data), chip)
    assert checked.data == data
    assert checked.offset == BOOTLOADER_OFFSET[chip]
    assert checked.app_offset == APP_OFFSET


@pytest.mark.parametrize("image_chip", sorted(IMAGE_CLASSES))
@pytest.mark.parametrize("board_chip", sorted(IMAGE_CLASSES))
def test_an_image_for_another_chip_is_refused_naming_both(tmp_path, image_chip, board_chip):
    if image_chip == board_chip:
        return
    path = write(tmp_path, micropython_image(image_chip))
    with pytest.raises(errors.BadFirmwareImage) as info:
        flash.check_image(path, board_chip)
    text = str(info.value)
    assert "is for " + image_chip + " (its bootloader at " + hex(BOOTLOADER_OFFSET[board_chip]) + ")" in text
    assert text.endswith("but the board has an " + board_chip)
    assert board_chip in info.value.hint


def test_an_application_for_another_chip_inside_the_image_is_refused(tmp_path):
    path = write(tmp_path, micropython_image("ESP32", app_chip="ESP32-S2"))
    with pytest.raises(errors.BadFirmwareImage, match=r"is for ESP32-S2 \(its application at 0x10000\)"):
        flash.check_image(path, "ESP32")


@pytest.mark.parametrize("data, words", [
    (b"", "is empty"),
    (random.Random(7).randbytes(4096).replace(b"\xe9", b"\x00"), "is not an ESP firmware image"),
    (b"UF2\n\x57\x51\x5d\x9e" + bytes(504), "UF2 file"),
    (b"\x7fELF\x01\x01\x01" + bytes(100), "ELF file"),
    (b"\xe9\x01\x02", "damaged or truncated"),
])
def test_files_that_are_no_esp_image_are_refused(tmp_path, data, words):
    with pytest.raises(errors.BadFirmwareImage, match=words):
        flash.check_image(write(tmp_path, data), "ESP32")


def test_an_application_alone_is_refused(tmp_path):
    # the file a MicroPython build leaves as micropython.bin: right chip, but it belongs at 0x10000
    with pytest.raises(errors.BadFirmwareImage, match="no partition table at 0x8000"):
        flash.check_image(write(tmp_path, application("ESP32")), "ESP32")
    with pytest.raises(errors.BadFirmwareImage, match="no partition table"):
        flash.check_image(write(tmp_path, micropython_image("ESP32", table=False)), "ESP32")


def test_an_image_cut_before_its_application_is_refused(tmp_path):
    data = micropython_image("ESP32-S3")
    with pytest.raises(errors.BadFirmwareImage, match="before its application at 0x10000: the file is truncated"):
        flash.check_image(write(tmp_path, data[:APP_OFFSET - 0x100]), "ESP32-S3")


IMAGE = micropython_image("ESP32")


@settings(max_examples=60, deadline=None)
@given(cut=st.integers(0, len(IMAGE) - 1))
def test_any_truncated_image_is_refused(tmp_path_factory, cut):
    path = write(tmp_path_factory.mktemp("cut"), IMAGE[:cut])
    with pytest.raises(errors.BadFirmwareImage):
        flash.check_image(path, "ESP32")


BOOT_LEN = len(bootloader("ESP32"))
APP_AT = APP_OFFSET - 0x1000


@settings(max_examples=80, deadline=None)
@given(at=st.one_of(st.integers(0, BOOT_LEN - 1), st.integers(APP_AT, len(IMAGE) - 1)), flip=st.integers(1, 255))
def test_a_damaged_byte_in_the_bootloader_or_application_is_refused(tmp_path_factory, at, flip):
    data = bytearray(IMAGE)
    data[at] ^= flip
    path = write(tmp_path_factory.mktemp("flip"), bytes(data))
    with pytest.raises(errors.BadFirmwareImage):
        flash.check_image(path, "ESP32")


# -- talking to the board ------------------------------------------------------------------------

class FakeBoard:
    """What esptool's functions see of a board in download mode: its chip and a link that may drop."""

    def __init__(self, chip, fail_at_bauds=(), connect_error=None):
        self.chip = chip
        self.fail_at_bauds = set(fail_at_bauds)  # writing at these rates loses the link
        self.connect_error = connect_error
        self.calls = []
        self.deployed = []

    def install(self, monkeypatch):
        board = self

        class Loader:
            CHIP_NAME = board.chip

            def __init__(self):
                self.baud = cmds.ESPLoader.ESP_ROM_BAUD

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                board.calls.append(("close",))

            def change_baud(self, baud):
                board.calls.append(("baud", baud))
                self.baud = baud

        def detect_chip(port, *args, **kwargs):
            board.calls.append(("connect", port))
            if board.connect_error:
                raise board.connect_error
            return Loader()

        def write_flash(esp, addr_data, **kwargs):
            board.calls.append(("write", esp.baud, [(addr, bytes(data)) for addr, data in addr_data]))
            for _addr, data in addr_data:
                with log.progress(total=len(data), unit="B") as progress:  # as esptool reports its blocks
                    for _ in range(0, len(data), 0x4000):
                        if esp.baud in board.fail_at_bauds:
                            raise FatalError("Packet content transfer stopped (received 8 bytes)")
                        progress.update(advance=0x4000)  # clamped to the total

        monkeypatch.setattr(cmds, "detect_chip", detect_chip)
        monkeypatch.setattr(cmds, "run_stub", lambda esp: board.calls.append(("stub",)) or esp)
        monkeypatch.setattr(cmds, "attach_flash", lambda esp, *a, **k: board.calls.append(("attach",)))
        monkeypatch.setattr(cmds, "erase_flash", lambda esp, *a, **k: board.calls.append(("erase",)))
        monkeypatch.setattr(cmds, "write_flash", write_flash)
        monkeypatch.setattr(cmds, "reset_chip", lambda esp, mode="hard-reset": board.calls.append(("reset", mode)))
        deploy_module = types.ModuleType("host_tools.deploy")
        deploy_module.deploy = lambda port, board, **kwargs: self.deployed.append((port, board))
        monkeypatch.setitem(sys.modules, "host_tools.deploy", deploy_module)
        return self

    def names(self):
        return [call[0] for call in self.calls]


def run_flash(tmp_path, chip, erase=False, image=None, board_chip=None):
    firmware = write(tmp_path, image if image is not None else micropython_image(chip))
    board = board_file(tmp_path, board_chip or chip)
    flash.flash("/dev/ttyUSB0", firmware, board, erase=erase, console=Console(file=io.StringIO()))
    return board


def fake_deploy(monkeypatch):
    """`flash` ends with a deploy; that is deploy's business (tests/host/test_deploy.py): recorded here."""
    deployed = []
    deploy_module = types.ModuleType("host_tools.deploy")
    deploy_module.deploy = lambda port, board, **kwargs: deployed.append((port, board))
    monkeypatch.setitem(sys.modules, "host_tools.deploy", deploy_module)
    return deployed


MARK_AT = 0x300000  # past any image: only an erase of the whole flash clears it


def virtual_board(tmp_path, chip="ESP32", name="esp32-devkitc"):
    """A running virtual board whose flash already holds something at MARK_AT."""
    sim = SimProcess(tmp_path / "flash", "--board", name)
    with open(tmp_path / "flash.img", "wb") as image:
        image.write(b"\xff" * MARK_AT + b"mark" + b"\xff" * (4 * 1024 * 1024 - MARK_AT - 4))
    return sim


def flash_image(tmp_path, offset, length):
    with open(tmp_path / "flash.img", "rb") as image:
        image.seek(offset)
        return image.read(length)


def test_flash_erases_writes_the_image_at_the_chips_offset_then_deploys(tmp_path, monkeypatch):
    # real esptool, through the virtual board's ROM loader (reset into it over RFC 2217 and back)
    deployed = fake_deploy(monkeypatch)
    sim = virtual_board(tmp_path)
    try:
        (sim.flash / "main.py").write_text("print('old')\n")
        firmware = write(tmp_path, micropython_image("ESP32"))
        flash.flash(sim.port, firmware, "esp32-devkitc", erase=True, console=Console(file=io.StringIO()))
        data = firmware.read_bytes()
        assert flash_image(tmp_path, 0x1000, len(data)) == data
        assert flash_image(tmp_path, MARK_AT, 4) == b"\xff" * 4  # erased
        assert not (sim.flash / "main.py").exists()  # the filesystem went with the flash
        assert deployed == [(sim.port, "esp32-devkitc")]
        assert "ok" in sim.mpremote("exec", "print('ok')", timeout=30).stdout  # booted its new MicroPython
    finally:
        sim.stop()


def test_a_failing_fast_link_is_retried_at_115200(tmp_path, monkeypatch):
    # a link that drops at 460800 baud is a cable's failure, not one a ROM can be made to show: faked
    fake = FakeBoard("ESP32", fail_at_bauds={460800}).install(monkeypatch)
    run_flash(tmp_path, "ESP32", erase=True)
    assert fake.names() == ["connect", "stub", "baud", "attach", "erase", "write", "close",
                            "connect", "stub", "attach", "erase", "write", "reset", "close"]
    assert [c[1] for c in fake.calls if c[0] == "write"] == [460800, 115200]
    assert len(fake.deployed) == 1


def test_a_link_failing_at_both_rates_is_reported_and_nothing_is_deployed(tmp_path, monkeypatch):
    fake = FakeBoard("ESP32", fail_at_bauds={460800, 115200}).install(monkeypatch)
    with pytest.raises(errors.BoardNotAnswering, match="Packet content transfer stopped"):
        run_flash(tmp_path, "ESP32")
    assert [c[1] for c in fake.calls if c[0] == "write"] == [460800, 115200]
    assert "reset" not in fake.names() and fake.deployed == []


def test_nothing_touches_the_board_when_the_image_is_refused(tmp_path, monkeypatch):
    deployed = fake_deploy(monkeypatch)
    sim = virtual_board(tmp_path)
    try:
        for image in [b"", b"\x00" * 4096, micropython_image("ESP32-S3"), application("ESP32")]:
            with pytest.raises(errors.BadFirmwareImage):
                flash.flash(sim.port, write(tmp_path, image), "esp32-devkitc", console=Console(file=io.StringIO()))
        assert flash_image(tmp_path, 0, MARK_AT + 4) == b"\xff" * MARK_AT + b"mark" and deployed == []
        assert "ok" in sim.mpremote("exec", "print('ok')").stdout  # never reset: still running
    finally:
        sim.stop()


def test_a_board_with_another_chip_than_its_board_file_is_not_written(tmp_path, monkeypatch):
    deployed = fake_deploy(monkeypatch)
    sim = virtual_board(tmp_path, name="esp32-s3-devkitc-1")
    try:
        firmware = write(tmp_path, micropython_image("ESP32"))
        with pytest.raises(errors.WrongChip, match="has an ESP32-S3, but board file esp32-devkitc says ESP32"):
            flash.flash(sim.port, firmware, "esp32-devkitc", console=Console(file=io.StringIO()))
        assert flash_image(tmp_path, 0, MARK_AT + 4) == b"\xff" * MARK_AT + b"mark" and deployed == []
    finally:
        sim.stop()


def test_a_board_that_does_not_answer_gets_the_boot_button_hint(tmp_path, monkeypatch):
    silent = FatalError("Failed to connect to ESP32: No serial data received.")
    fake = FakeBoard("ESP32", connect_error=silent).install(monkeypatch)
    with pytest.raises(errors.BoardNotAnswering) as info:
        run_flash(tmp_path, "ESP32")
    assert "No serial data received" in str(info.value) and "BOOT" in info.value.hint
    assert fake.names() == ["connect"]  # the same ROM baud again would not help


def test_flashing_through_a_busy_port_says_busy(tmp_path, monkeypatch):
    # real esptool on a real pseudo-terminal that another program holds
    controller, device = os.openpty()
    name = os.ttyname(device)
    holder = serial.Serial(name, 115200, exclusive=True)
    try:
        firmware = write(tmp_path, micropython_image("ESP32"))
        with pytest.raises(errors.PortBusy, match=name):
            flash.flash(name, firmware, None, console=Console(file=io.StringIO()))
    finally:
        holder.close()
        os.close(device)
        os.close(controller)


def test_a_silent_port_is_a_board_that_does_not_answer(tmp_path):
    # real esptool on a pseudo-terminal nobody answers on: what a board outside download mode looks like
    controller, device = os.openpty()
    try:
        firmware = write(tmp_path, micropython_image("ESP32"))
        with pytest.raises(errors.BoardNotAnswering, match="no answer from the bootloader on " + os.ttyname(device)):
            flash.flash(os.ttyname(device), firmware, None, console=Console(file=io.StringIO()))
    finally:
        os.close(device)
        os.close(controller)


def test_the_flash_command_reports_progress_and_the_deploy(tmp_path, monkeypatch):
    deployed = fake_deploy(monkeypatch)
    sim = virtual_board(tmp_path)
    try:
        firmware = write(tmp_path, micropython_image("ESP32"))
        result = CliRunner().invoke(cli, ["flash", "--port", sim.port, "--firmware", str(firmware)])
        assert result.exit_code == 0, result.output
        assert "written at 0x1000" in result.output and "erasing" not in result.output
        assert "writing" in result.output and "/" in result.output  # the progress bar, completed
        assert "deploying" in result.output
        assert deployed == [(sim.port, None)]  # no board named: the deploy keeps what the board recorded
        assert flash_image(tmp_path, MARK_AT, 4) == b"mark"  # only the image's sectors were erased
    finally:
        sim.stop()


def test_the_flash_command_without_a_board_connected(tmp_path, monkeypatch):
    monkeypatch.setattr(list_ports, "comports", lambda *a, **k: [])
    monkeypatch.delenv("GULLWING_PORT", raising=False)
    firmware = write(tmp_path, micropython_image("ESP32"))
    result = CliRunner().invoke(cli, ["flash", "--firmware", str(firmware)])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: no serial ports found\nhint: ")


def _cli(*args):
    """The CLI as a user without a project default types it."""
    return CliRunner(env={k: None for k in os.environ if k.startswith("GULLWING_")}).invoke(cli, list(args))


def _open_deg(sim):
    import json

    return json.loads((sim.flash / "config.json").read_text()).get("doors", {}).get("left", {}).get("open_deg")


def test_flashing_without_a_board_keeps_the_kit_the_board_recorded_and_a_kit_is_deployed_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no project file names a board
    # real esptool and a real deploy: what a user sees after `gullwing flash` on a provisioned model
    from host_tools import kit

    sim = virtual_board(tmp_path)
    try:
        firmware = write(tmp_path, micropython_image("ESP32"))
        console = io.StringIO()
        flash.flash(sim.port, firmware, kit=kit.load("az1-1to8"), console=Console(file=console))
        assert _open_deg(sim) == 85  # the kit's hinge stop, from the one deploy that followed the flash
        assert console.getvalue().count("deploying") == 1

        result = _cli("flash", "--port", sim.port, "--firmware", str(firmware))
        assert result.exit_code == 0, result.output
        assert _open_deg(sim) == 85  # a door driven to 90 deg would hit the 1:8 body's stop
    finally:
        sim.stop()
