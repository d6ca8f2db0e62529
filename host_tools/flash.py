"""Putting MicroPython on a board with esptool's Python API, then deploying the gullwing firmware.

The image is checked before the board is touched: MicroPython's downloads are merged images, written
at the chip's bootloader offset (ESP32, ESP32-S2: 0x1000; later chips: 0x0), that hold a bootloader,
the partition table at 0x8000 and the MicroPython application. Each part must be a sound ESP image
for the board's chip; esptool's own image parser reads them.

Writing runs at 460800 baud; cheap USB-serial bridges and long cables lose data at that speed, so a
failure once the fast link is up starts again at the ROM's 115200 baud.
"""

import struct
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import serial
from esptool import cmds
from esptool.bin_image import LoadFirmwareImage
from esptool.logger import EspLog, TemplateLogger, log
from esptool.targets import CHIP_DEFS, ROM_LIST
from esptool.util import FatalError
from rich import filesize
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from host_tools import boards, errors, ports

ROM_BAUD = 115200  # what the ROM bootloader answers at first
FAST_BAUD = 460800
PARTITION_TABLE_OFFSET = 0x8000  # where ESP-IDF (and so MicroPython) puts the partition table

ESP_IMAGE_MAGIC = 0xE9
_PARTITION_ENTRY = struct.Struct("<2sBBII16sI")  # magic, type, subtype, offset, size, label, flags
_PARTITION_MAGIC = b"\xaa\x50"
_PARTITION_TYPE_APP = 0x00
_PARTITION_TABLE_SIZE = 0xC00
# What the serial link raises when it breaks: esptool's FatalError, pyserial's, the OS's.
_LINK_ERRORS = (FatalError, serial.SerialException, OSError)


@dataclass(frozen=True)
class CheckedImage:
    data: bytes
    chip: str  # e.g. "ESP32"
    offset: int  # where the image goes in flash
    app_offset: int  # where the MicroPython application starts in flash


def esptool_target(chip_name):
    """esptool's ROM class for a chip name as the board files write it ("ESP32-S3")."""
    return CHIP_DEFS[chip_name.lower().replace("-", "")]


def flash_offset(chip_name):
    """Where a merged image (one starting with the bootloader) goes on this chip."""
    return esptool_target(chip_name).BOOTLOADER_FLASH_OFFSET


def check_image(path, chip_name):
    """Read a firmware file and make sure it is a whole MicroPython image for `chip_name`.

    Raises BadFirmwareImage naming the file and what is wrong with it."""
    path = Path(path)
    return check_image_data(path.read_bytes(), chip_name, path)


def check_image_data(data, chip_name, path):
    """check_image() for bytes; `path` names them in the errors."""
    offset = flash_offset(chip_name)

    if not data:
        raise _bad(path, "is empty")
    if data[:4] == b"UF2\n":
        raise _bad(path, "is a UF2 file (for drag-and-drop USB flashing), not a .bin image")
    if data[:4] == b"\x7fELF":
        raise _bad(path, "is an ELF file; esptool needs the .bin image built from it")
    _check_part(data, chip_name, "bootloader", offset, path)

    table_at = PARTITION_TABLE_OFFSET - offset
    app_at = _first_app_offset(data[table_at:table_at + _PARTITION_TABLE_SIZE])
    if app_at is None:
        raise _bad(path, "has no partition table at " + hex(PARTITION_TABLE_OFFSET) +
                  ": it is not a full MicroPython image (an application or OTA update alone cannot go at " +
                  hex(offset) + ")")
    if app_at - offset >= len(data):
        raise _bad(path, "ends at " + hex(offset + len(data)) + ", before its application at " + hex(app_at) +
                  ": the file is truncated")
    _check_part(data[app_at - offset:], chip_name, "application", app_at, path)
    return CheckedImage(data, chip_name, offset, app_at)


def _check_part(data, chip_name, part, address, path):
    where = "its " + part + " at " + hex(address)

    if data[0] != ESP_IMAGE_MAGIC:
        raise _bad(path, "is not an ESP firmware image: " + where + " starts with byte " + hex(data[0]) +
                  " where an ESP image has " + hex(ESP_IMAGE_MAGIC))
    try:
        image = LoadFirmwareImage(chip_name, data)
    except (FatalError, struct.error, RuntimeError, TypeError, ValueError) as exc:
        # TypeError: esptool's checksum read on a file cut short
        raise _bad(path, "is damaged or truncated: " + where + " cannot be read (" + str(exc) + ")") from None
    wanted = esptool_target(chip_name).IMAGE_CHIP_ID
    if image.chip_id != wanted:
        raise errors.BadFirmwareImage(
            str(path) + " is for " + _chip_of_image_id(image.chip_id) + " (" + where + "), but the board has an " +
            chip_name,
            hint="download the " + chip_name + " image from https://micropython.org/download/, or pick the board "
                 "file that matches the hardware with --board")
    if image.checksum != image.calculate_checksum() or (
            image.append_digest and image.stored_digest != image.calc_digest):
        raise _bad(path, "is damaged or truncated: " + where + " fails its checksum")


def _bad(path, message):
    return errors.BadFirmwareImage(str(path) + " " + message)


def _chip_of_image_id(chip_id):
    for rom in ROM_LIST:
        if getattr(rom, "IMAGE_CHIP_ID", None) == chip_id and rom.CHIP_NAME != "ESP8266":
            return rom.CHIP_NAME
    return "an unknown chip (id " + str(chip_id) + ")"


def _first_app_offset(table):
    """Flash offset of the first application partition in a partition table, None without a table."""
    for start in range(0, len(table) - _PARTITION_ENTRY.size + 1, _PARTITION_ENTRY.size):
        magic, kind, _subtype, offset, _size, _label, _flags = _PARTITION_ENTRY.unpack_from(table, start)
        if magic != _PARTITION_MAGIC:
            return None  # end of the table (0xFF fill or the MD5 entry)
        if kind == _PARTITION_TYPE_APP:
            return offset
    return None


# -- talking to the bootloader -------------------------------------------------------------------

class _LinkLost(Exception):
    """The link broke once the bootloader had answered: at the fast rate, worth one more try at the ROM's."""


def flash(port, firmware, board=None, erase=False, console=None, verbose=False, kit=None, deploy=True):
    """Write MicroPython from `firmware` to the board on `port`, then deploy the gullwing firmware.

    `port` None finds the board (see host_tools.ports); `board` is a board name or board file path
    (the default board when None); `kit` (host_tools.kit.Kit or name) is deployed with its settings.
    Without either, the deploy keeps what the board recorded at its last deploy (when the flash kept its
    filesystem), else the default board. `deploy` False leaves the deploy to the caller (provisioning
    reports the two steps apart)."""
    console = console or Console(soft_wrap=True)
    if isinstance(kit, (str, Path)):
        from host_tools import kit as kits

        kit = kits.load(kit)
    spec = kit.board if kit is not None and board is None else boards.load(board)
    image = check_image(firmware, spec.chip_name)  # refuse a wrong file before the board is touched
    port = ports.choose_port(port)
    console.print("MicroPython image for " + image.chip + ": " + filesize.decimal(len(image.data)) + ", written at " +
                  hex(image.offset) + (" after erasing the whole flash" if erase else ""))
    with _esptool_output(console, verbose) as output:
        try:
            _write(port, spec, image, erase, FAST_BAUD, console)
        except _LinkLost as exc:
            output.close()  # the bar of the failed attempt
            console.print("[yellow]the link failed at " + str(FAST_BAUD) + " baud (" + escape(str(exc.__cause__)) +
                          "); trying again at " + str(ROM_BAUD) + " baud[/yellow]")
            try:
                _write(port, spec, image, erase, ROM_BAUD, console)
            except _LinkLost as again:
                raise errors.BootloaderNotAnswering("writing to the board on " + port + " failed: " +
                                               _first_line(again.__cause__)) from again
    if deploy:
        console.print("MicroPython is on the board; deploying the gullwing firmware")
        deploy_firmware(port, board, kit, console)


def deploy_firmware(port, board, kit=None, console=None):
    from host_tools.deploy import deploy  # flashing needs none of deploy's machinery until here

    # no board named: deploy chooses as a plain deploy does (the board's record, then the default)
    deploy(port=port, board=board, kit=kit, console=console)


def _write(port, board, image, erase, baud, console):
    speed = " (then " + str(baud) + " baud)" if baud != ROM_BAUD else ""
    console.print("connecting to the bootloader on " + port + speed)
    from host_tools.virtual_board import reset_url

    # A virtual board's pseudo-terminal carries no DTR/RTS: esptool resets it through its RFC 2217 port
    wire = reset_url(port) or port
    try:
        esp = cmds.detect_chip(wire)
    except _LINK_ERRORS as exc:
        raise errors.port_error(port, exc) or errors.BootloaderNotAnswering(
            "no answer from the bootloader on " + port + ": " + _first_line(exc)) from exc
    with esp:
        found = esp.CHIP_NAME
        if found != board.chip_name:
            raise errors.WrongChip("the board on " + port + " has an " + found + ", but board file " +
                                   board.name + " says " + board.chip_name)
        try:
            esp = cmds.run_stub(esp)
            if baud != ROM_BAUD:
                esp.change_baud(baud)
            cmds.attach_flash(esp)
            if erase:
                console.print("erasing the flash (this takes a while)")
                cmds.erase_flash(esp)
            cmds.write_flash(esp, [(image.offset, image.data)])
        except _LINK_ERRORS as exc:
            raise _LinkLost(str(exc)) from exc
        try:
            cmds.reset_chip(esp, "hard-reset")
        except _LINK_ERRORS as exc:
            raise errors.BoardNotAnswering(
                "MicroPython is written, but the board on " + port + " did not reset: " + _first_line(exc),
                hint="press the board's EN (reset) button, then run `gullwing deploy`") from exc


def _first_line(exc):
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class _ProgressLog(TemplateLogger):
    """esptool's output: its chatter only with `verbose`, warnings always, progress as a rich bar."""

    def __init__(self, console, verbose):
        self.console = console
        self.verbose = verbose
        self.bar = None
        self.task = None

    def print(self, *args, **kwargs):
        if self.verbose:
            self.console.print(*(escape(str(a)) for a in args), end=kwargs.get("end", "\n"), style="dim")

    def note(self, message):
        if self.verbose:
            self.console.print("note: " + escape(message), style="dim")

    def warning(self, message):
        self.console.print("[yellow]warning:[/yellow] " + escape(message))

    def error(self, message):
        self.console.print("[red]" + escape(message) + "[/red]")

    def stage(self, finish=False):
        pass

    def set_verbosity(self, verbosity):
        pass

    def progress_bar(self, cur_iter, total_iters, prefix="", suffix="", bar_length=30):
        if self.bar is None:
            self.bar = Progress(TextColumn("writing"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                                console=self.console, transient=False)
            self.bar.start()
            self.task = self.bar.add_task("write", total=total_iters)
        self.bar.update(self.task, completed=cur_iter, total=total_iters)
        if cur_iter >= total_iters:
            self.close()

    def close(self):
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


class _ThreadLogs(TemplateLogger):
    """esptool has one logger per process; provisioning flashes many boards at once, each in its own
    thread: each thread's esptool output goes to that thread's _ProgressLog."""

    def __init__(self, saved):
        self.saved = saved  # esptool's own logger, put back when the last flash ends
        self.by_thread = {}

    def _mine(self):
        return self.by_thread.get(threading.get_ident()) or _ProgressLog(Console(stderr=True), False)

    def print(self, *args, **kwargs):
        self._mine().print(*args, **kwargs)

    def note(self, message):
        self._mine().note(message)

    def warning(self, message):
        self._mine().warning(message)

    def error(self, message):
        self._mine().error(message)

    def stage(self, finish=False):
        pass

    def set_verbosity(self, verbosity):
        pass

    def progress_bar(self, cur_iter, total_iters, prefix="", suffix="", bar_length=30):
        self._mine().progress_bar(cur_iter, total_iters, prefix, suffix, bar_length)


_thread_logs = None
_thread_logs_lock = threading.Lock()


@contextmanager
def _esptool_output(console, verbose):
    global _thread_logs
    logger = _ProgressLog(console, verbose)
    with _thread_logs_lock:
        if _thread_logs is None:
            _thread_logs = _ThreadLogs(EspLog.instance)
            log.set_logger(_thread_logs)
        _thread_logs.by_thread[threading.get_ident()] = logger
    try:
        yield logger
    finally:
        logger.close()
        with _thread_logs_lock:
            del _thread_logs.by_thread[threading.get_ident()]
            if not _thread_logs.by_thread:
                EspLog.instance, _thread_logs = _thread_logs.saved, None
