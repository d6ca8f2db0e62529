"""The virtual board's ROM serial loader: what an ESP32-family chip answers on UART0 in download mode.

Plain CPython in the `gullwing sim` process (the MicroPython interpreter is not running while the chip
is in download mode). It speaks the loader protocol esptool speaks (esptool/loader.py): SLIP frames,
SYNC, register reads and writes, security info, SPI attach and parameters, FLASH_BEGIN/DATA/END and
the compressed FLASH_DEFL_* forms, the MD5 of a region, RAM downloads; when code downloaded to RAM is
started (MEM_END with an entry point, as esptool does with its flasher stub) the loader answers as the
stub does from then on: `OHAI`, two status bytes, erase, read flash, baud rate changes.

The chip's facts (register addresses, chip-detect magic, image chip id, bootloader offset) are the ones
esptool's target classes hold (esptool/targets/*.py); the flash is a FlashImage file.
"""

import hashlib
import os
import queue
import struct
import threading
import zlib
from pathlib import Path

from esptool.targets import CHIP_DEFS

FLASH_BYTES = 4 * 1024 * 1024  # the 4 MB flash of an ESP32-WROOM-32 / DevKitC
SECTOR = 0x1000
FLASH_ID = 0x1640EF  # RDID of a Winbond W25Q32 (4 MB): vendor 0xEF, type 0x40, size id 0x16
SFDP = b"SFDP" + bytes([0x06, 0x01, 0x00, 0xFF]) + bytes(24)  # the SFDP header a JEDEC NOR flash reports

# Commands (esptool/loader.py: ESPLoader.ESP_CMDS)
FLASH_BEGIN, FLASH_DATA, FLASH_END = 0x02, 0x03, 0x04
MEM_BEGIN, MEM_END, MEM_DATA = 0x05, 0x06, 0x07
SYNC, WRITE_REG, READ_REG = 0x08, 0x09, 0x0A
SPI_SET_PARAMS, SPI_ATTACH, READ_FLASH_SLOW, CHANGE_BAUDRATE = 0x0B, 0x0D, 0x0E, 0x0F
FLASH_DEFL_BEGIN, FLASH_DEFL_DATA, FLASH_DEFL_END, SPI_FLASH_MD5 = 0x10, 0x11, 0x12, 0x13
GET_SECURITY_INFO = 0x14
ERASE_FLASH, ERASE_REGION, READ_FLASH, RUN_USER_CODE = 0xD0, 0xD1, 0xD2, 0xD3
STUB_ONLY = (ERASE_FLASH, ERASE_REGION, READ_FLASH, RUN_USER_CODE)

# Error codes in the status bytes (esptool/util.py: FatalError.WithResult)
INVALID_MESSAGE, FAILED_TO_ACT, BAD_CHECKSUM, DEFLATE_ERROR = 0x05, 0x06, 0x07, 0x0B
CHECKSUM_SEED = 0xEF
SYNC_DATA = b"\x07\x07\x12\x20" + b"\x55" * 32

SPI_CMD_USR = 1 << 18  # SPI_CMD_REG: start a user command; cleared by the hardware when done
SPIFLASH_RDID, SPIFLASH_SFDP = 0x9F, 0x5A

END, ESC, ESC_END, ESC_ESC = 0xC0, 0xDB, 0xDC, 0xDD


def slip(frame):
    return b"\xc0" + frame.replace(b"\xdb", b"\xdb\xdd").replace(b"\xc0", b"\xdb\xdc") + b"\xc0"


def checksum(data):
    value = CHECKSUM_SEED
    for byte in data:
        value ^= byte
    return value


def target(chip_name):
    """esptool's class for a chip name as the board files write it ("ESP32-S3")."""
    return CHIP_DEFS[chip_name.lower().replace("-", "")]


class FlashImage:
    """The board's SPI NOR flash as a file of its size: erased bytes read 0xFF, a write can only clear
    bits (NOR flash programs 1 -> 0; only an erase sets them again), as on the chip."""

    def __init__(self, path, size=FLASH_BYTES):
        self.path = Path(path)
        self.size = size
        self._lock = threading.Lock()

    def exists(self):
        """False for a board never flashed: it still holds MicroPython as the simulator starts it."""
        return self.path.exists()

    def _file(self):
        if not self.path.exists():
            with open(self.path, "wb") as out:
                out.write(b"\xff" * self.size)
        return open(self.path, "r+b")  # noqa: SIM115  (closed by the callers' `with`)

    def read(self, offset, length):
        length = max(0, min(length, self.size - offset))
        if not self.path.exists():
            return b"\xff" * length
        with self._lock, open(self.path, "rb") as image:
            image.seek(offset)
            return image.read(length)

    def write(self, offset, data):
        data = data[:max(0, self.size - offset)]
        with self._lock, self._file() as image:
            image.seek(offset)
            old = image.read(len(data))
            image.seek(offset)
            image.write((int.from_bytes(old, "little") & int.from_bytes(data, "little")).to_bytes(len(data), "little"))

    def erase(self, offset, length):
        start = offset - offset % SECTOR
        end = min(self.size, -(-(offset + length) // SECTOR) * SECTOR)
        with self._lock, self._file() as image:
            image.seek(start)
            image.write(b"\xff" * (end - start))


class RomLoader:
    """One stay in download mode: reads frames from `feed()`, answers through `send(bytes)`.

    `on_run()` is called when the host asks the loader to leave and run the code in flash
    (FLASH_END / FLASH_DEFL_END with "reboot", the stub's RUN_USER_CODE); `on_baud(baud)` when
    CHANGE_BAUDRATE switches the chip's UART; `on_erase_all()` after the stub's whole-chip erase;
    `on_cpu_reset()` when the loader resets the CPU (FLASH_END with "reboot"): the boot mode latched at
    power-on holds, so the chip comes back in the ROM loader (esptool/loader.py: soft_reset)."""

    def __init__(self, chip_name, flash, mac, send, on_run=None, on_baud=None, on_erase_all=None, on_cpu_reset=None):
        self.rom = target(chip_name)
        self.chip_name = chip_name
        self.flash = flash
        self.send = send
        self.on_run = on_run or (lambda: None)
        self.on_baud = on_baud or (lambda baud: None)
        self.on_erase_all = on_erase_all or (lambda: None)
        self.on_cpu_reset = on_cpu_reset or (lambda: None)
        self.stub = False
        self.regs = self._registers(mac)
        self._input = queue.Queue()
        self._pending = b""
        self._write = None  # (next flash address, end, decompressor or None) between FLASH_(DEFL_)BEGIN and END
        self._mem = None
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    # -- the wire ---------------------------------------------------------------------------------

    def feed(self, data):
        self._input.put(data)

    def stop(self):
        self._input.put(None)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=2)

    def _bytes(self):
        while True:
            if self._pending:
                data, self._pending = self._pending, b""
                return data
            data = self._input.get()
            if data is None:
                raise EOFError
            return data

    def _frames(self):
        """SLIP frames as they arrive; bytes outside a frame (a terminal's keystrokes) are ignored."""
        frame = None
        escaped = False
        while True:
            data = self._bytes()
            for i, byte in enumerate(data):
                if frame is None:
                    if byte == END:
                        frame = bytearray()
                    continue
                if escaped:
                    frame.append({ESC_END: END, ESC_ESC: ESC}.get(byte, byte))
                    escaped = False
                elif byte == ESC:
                    escaped = True
                elif byte == END:
                    if frame:
                        self._pending = data[i + 1:]
                        yield bytes(frame)
                        frame = None
                        break
                    # an empty frame: two ENDs in a row, the second starts the next frame
                else:
                    frame.append(byte)

    def _serve(self):
        try:
            for frame in self._frames():
                if len(frame) < 8 or frame[0] != 0:
                    continue  # not a request
                _, op, size, chk = struct.unpack_from("<BBHI", frame)
                self._request(op, frame[8:8 + size], chk)
        except EOFError:
            return

    def _reply(self, op, value=0, data=b"", error=0):
        # The ROM sends two status bytes and two reserved ones, the stub only the two (esptool/loader.py:
        # ESPLoader.check_command)
        status = bytes([1 if error else 0, error]) + (b"" if self.stub else b"\x00\x00")
        body = data + status
        self.send(slip(struct.pack("<BBHI", 1, op, len(body), value) + body))

    # -- requests ---------------------------------------------------------------------------------

    def _request(self, op, data, chk):
        handler = {
            SYNC: self._sync, READ_REG: self._read_reg, WRITE_REG: self._write_reg,
            GET_SECURITY_INFO: self._security_info, SPI_ATTACH: self._ok, SPI_SET_PARAMS: self._spi_params,
            MEM_BEGIN: self._mem_begin, MEM_DATA: self._mem_data, MEM_END: self._mem_end,
            FLASH_BEGIN: self._flash_begin, FLASH_DATA: self._flash_data, FLASH_END: self._flash_end,
            FLASH_DEFL_BEGIN: self._flash_begin, FLASH_DEFL_DATA: self._flash_data,
            FLASH_DEFL_END: self._flash_end, SPI_FLASH_MD5: self._md5, CHANGE_BAUDRATE: self._change_baud,
            READ_FLASH_SLOW: self._read_flash_slow, ERASE_FLASH: self._erase_flash,
            ERASE_REGION: self._erase_region, READ_FLASH: self._read_flash, RUN_USER_CODE: self._run_user_code,
        }.get(op)
        if op == GET_SECURITY_INFO and self.chip_name == "ESP32":
            handler = None  # the ESP32's ROM predates the command
        if op in STUB_ONLY and not self.stub:
            handler = None
        if op == READ_FLASH_SLOW and (self.stub or self.chip_name != "ESP32"):
            handler = None  # only the ESP32's ROM has the slow read (esptool/targets/esp32.py)
        if handler is None:
            self._reply(op, error=INVALID_MESSAGE)
            return
        try:
            handler(op, data, chk)
        except (struct.error, IndexError):
            self._reply(op, error=INVALID_MESSAGE)

    def _ok(self, op, data, chk):
        self._reply(op)

    def _sync(self, op, data, chk):
        if data != SYNC_DATA:
            return
        # Eight answers to a SYNC: the ROM's with a non-zero value, the stub's with 0 (esptool/loader.py: sync)
        for _ in range(8):
            self._reply(op, value=0 if self.stub else 0x20120707)

    def _registers(self, mac):
        rom = self.rom
        regs = {rom.CHIP_DETECT_MAGIC_REG_ADDR: rom.MAGIC_VALUE if rom.USES_MAGIC_VALUE else 0}
        regs[rom.UART_CLKDIV_REG] = 40_000_000 // 115200  # the ROM's divider from the 40 MHz crystal
        if self.chip_name == "ESP32":
            # EFUSE_BLK0 words 1 and 2: the MAC's low four bytes, then its high two (esptool/targets/esp32.py)
            regs[rom.EFUSE_RD_REG_BASE + 4] = int.from_bytes(mac[2:], "big")
            regs[rom.EFUSE_RD_REG_BASE + 8] = int.from_bytes(mac[:2], "big")
        else:
            regs[rom.MAC_EFUSE_REG] = int.from_bytes(mac[2:], "big")
            regs[rom.MAC_EFUSE_REG + 4] = int.from_bytes(mac[:2], "big")
        return regs

    def _read_reg(self, op, data, chk):
        (address,) = struct.unpack_from("<I", data)
        self._reply(op, value=self.regs.get(address, 0))

    def _write_reg(self, op, data, chk):
        for at in range(0, len(data) - 15, 16):
            address, value, mask, _delay = struct.unpack_from("<IIII", data, at)
            self.regs[address] = (self.regs.get(address, 0) & ~mask) | (value & mask)
            if address == self.rom.SPI_REG_BASE and value & SPI_CMD_USR:
                self._spi_user_command()
        self._reply(op)

    def _spi_user_command(self):
        """A user command on the flash's SPI bus, as esptool/loader.py: run_spiflash_command sets it up."""
        base = self.rom.SPI_REG_BASE
        command = self.regs.get(base + self.rom.SPI_USR2_OFFS, 0) & 0xFF
        address = self.regs.get(base + 0x04, 0)
        if self.rom.SPI_ADDR_REG_MSB:
            address >>= 8  # 24-bit address sent from the register's top bits
        if command == SPIFLASH_RDID:
            result = FLASH_ID
        elif command == SPIFLASH_SFDP:
            result = int.from_bytes(SFDP[address:address + 4].ljust(4, b"\xff"), "little")
        elif command == 0x05:  # read status register: idle, not write-protected
            result = 0
        else:
            result = self.regs.get(base + self.rom.SPI_W0_OFFS, 0)
        self.regs[base + self.rom.SPI_W0_OFFS] = result
        self.regs[base] = self.regs.get(base, 0) & ~SPI_CMD_USR  # done at once

    def _security_info(self, op, data, chk):
        # flags, flash_crypt_cnt, 7 key purposes; the ESP32-S2 stops there, later chips add chip id and
        # API version (esptool/loader.py: get_security_info)
        info = struct.pack("<IBBBBBBBB", 0, 0, 0, 0, 0, 0, 0, 0, 0)
        if self.chip_name != "ESP32-S2":
            info += struct.pack("<II", self.rom.IMAGE_CHIP_ID, 0)
        self._reply(op, data=info)

    def _spi_params(self, op, data, chk):
        _fl_id, total_size, _block, _sector, _page, _status = struct.unpack_from("<IIIIII", data)
        self._reply(op, error=0 if total_size else FAILED_TO_ACT)

    # -- RAM: the stub ----------------------------------------------------------------------------

    def _mem_begin(self, op, data, chk):
        size, blocks, block_size, offset = struct.unpack_from("<IIII", data)
        self._mem = (size, offset)
        self._reply(op)

    def _mem_data(self, op, data, chk):
        size = struct.unpack_from("<I", data)[0]
        payload = data[16:16 + size]
        if self._mem is None:
            self._reply(op, error=FAILED_TO_ACT)
        elif checksum(payload) != chk & 0xFF:
            self._reply(op, error=BAD_CHECKSUM)
        else:
            self._reply(op)

    def _mem_end(self, op, data, chk):
        stay, entry = struct.unpack_from("<II", data)
        self._reply(op)
        if not stay and entry:
            # The downloaded code starts. The simulator runs no Xtensa/RISC-V code: whatever was
            # downloaded, it answers as esptool's flasher stub does once it starts.
            self.stub = True
            self.send(slip(b"OHAI"))

    # -- flash writes -----------------------------------------------------------------------------

    def _flash_begin(self, op, data, chk):
        size, blocks, block_size, offset = struct.unpack_from("<IIII", data)
        if offset + (size if op == FLASH_BEGIN else 0) > self.flash.size:
            self._reply(op, error=FAILED_TO_ACT)
            return
        if op == FLASH_BEGIN and size:
            self.flash.erase(offset, size)  # the ROM erases the region up front; the stub as it writes
        elif op == FLASH_DEFL_BEGIN and not self.stub:
            self.flash.erase(offset, size)  # `size`: the uncompressed size rounded up to whole blocks
        decompressor = zlib.decompressobj() if op == FLASH_DEFL_BEGIN else None
        self._write = [offset, offset, block_size, decompressor, offset - offset % SECTOR]
        self._reply(op)

    def _flash_data(self, op, data, chk):
        size, seq = struct.unpack_from("<II", data)
        payload = data[16:16 + size]
        if self._write is None or (op == FLASH_DEFL_DATA) != (self._write[3] is not None):
            self._reply(op, error=FAILED_TO_ACT)
            return
        if checksum(payload) != chk & 0xFF:
            self._reply(op, error=BAD_CHECKSUM)
            return
        start, written, block_size, decompressor, _erased_to = self._write
        if decompressor is not None:
            try:
                payload = decompressor.decompress(payload)
            except zlib.error:
                self._reply(op, error=DEFLATE_ERROR)
                return
            address = written
        else:
            address = start + seq * block_size
        if self.stub:
            self._erase_ahead(address, len(payload))
        self.flash.write(address, payload)
        self._write[1] = address + len(payload)
        self._reply(op)

    def _erase_ahead(self, address, length):
        """The stub erases each sector as the write reaches it."""
        erased_to = self._write[4]
        if address + length > erased_to:
            end = -(-(address + length) // SECTOR) * SECTOR
            self.flash.erase(erased_to, end - erased_to)
            self._write[4] = end

    def _flash_end(self, op, data, chk):
        # 0: reset the CPU (the latched boot mode brings the ROM loader back); 1: the ROM jumps to the code
        # in flash, the stub stays (esptool/loader.py: flash_finish, soft_reset)
        (run_user_code,) = struct.unpack_from("<I", data)
        self._write = None
        self._reply(op)
        if not run_user_code:
            self.on_cpu_reset()
        elif not self.stub:
            self.on_run()

    def _md5(self, op, data, chk):
        address, size = struct.unpack_from("<II", data)
        digest = hashlib.md5(self.flash.read(address, size)).digest()
        # the ROM answers in hex text, the stub in 16 raw bytes (esptool/loader.py: flash_md5sum)
        self._reply(op, data=digest if self.stub else digest.hex().encode())

    def _change_baud(self, op, data, chk):
        baud, _old = struct.unpack_from("<II", data)
        self._reply(op)
        self.on_baud(baud)

    def _read_flash_slow(self, op, data, chk):
        address, length = struct.unpack_from("<II", data)
        self._reply(op, data=self.flash.read(address, min(length, 64)).ljust(64, b"\xff"))

    # -- the stub's own commands ------------------------------------------------------------------

    def _erase_flash(self, op, data, chk):
        self.flash.erase(0, self.flash.size)
        self.on_erase_all()
        self._reply(op)

    def _erase_region(self, op, data, chk):
        address, size = struct.unpack_from("<II", data)
        if address % SECTOR or size % SECTOR:
            self._reply(op, error=FAILED_TO_ACT)
            return
        self.flash.erase(address, size)
        self._reply(op)

    def _read_flash(self, op, data, chk):
        address, length, packet, _in_flight = struct.unpack_from("<IIII", data)
        self._reply(op)
        content = self.flash.read(address, length)
        frames = self._frames()
        for at in range(0, len(content), packet):
            self.send(slip(content[at:at + packet]))
            next(frames)  # the host acknowledges each packet with the count it has (one packet in flight)
        self.send(slip(hashlib.md5(content).digest()))

    def _run_user_code(self, op, data, chk):
        self.on_run()  # no reply: the application starts


def board_mac(uid):
    """The board's factory MAC: Espressif's OUI, then three bytes of its unique id."""
    return bytes([0x24, 0x0A, 0xC4]) + bytes.fromhex(uid[:6])


def remove_contents(folder):
    """Empty the filesystem folder: what an erased flash leaves of MicroPython's filesystem."""
    for root, dirs, files in os.walk(folder, topdown=False):
        for name in files:
            os.unlink(os.path.join(root, name))
        for name in dirs:
            os.rmdir(os.path.join(root, name))


def boot_messages(flash, chip_name):
    """What the chip prints instead of booting when the flash holds no sound image for it; None when it
    boots. A flash never written holds MicroPython as the simulator starts it."""
    from host_tools import errors
    from host_tools.flash import check_image_data  # esptool's image parser, as `gullwing flash` checks

    if not flash.exists():
        return None
    offset = target(chip_name).BOOTLOADER_FLASH_OFFSET
    data = flash.read(offset, flash.size - offset)
    if data[0] != 0xE9:
        # the ROM reads the header again and again until the RTC watchdog resets the chip (ESP32 ROM: ets_main.c)
        return b"invalid header: 0x%08x\r\n" % int.from_bytes(data[:4], "little") * 3
    try:
        check_image_data(data, chip_name, "flash")
    except errors.BadFirmwareImage as problem:
        text = str(problem)
        if " is for " in text:
            found = text.split(" is for ", 1)[1].split(" ", 1)[0]
            return (b"E (45) boot_comm: mismatch chip ID, expected %d, found %d\r\n"
                    % (target(chip_name).IMAGE_CHIP_ID, target(found).IMAGE_CHIP_ID) + b"ets_main.c 371 \r\n")
        if "checksum" in text:
            return b"csum err\r\nets_main.c 371 \r\n"
        return b"E (52) boot: " + text.split("flash ", 1)[-1].encode() + b"\r\nets_main.c 371 \r\n"
    return None
