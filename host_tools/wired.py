"""What a virtual board has wired to it from outside, each given on the command line and served from this
side while the board runs: jumper wires between its pins, the live trace, UARTs on pseudo-terminals, RC
receiver channels with their sticks moved from a pseudo-terminal."""

import os
import sys
import threading

from host_tools import chips
from host_tools.serial_wire import RawPty, close_all
from host_tools.sim import simtrace

RECEIVER_US = (800, 2200)  # pulse widths a receiver channel sends (and firmware/gullwing/rcin.py accepts)
NO_PULSES = "off"  # a channel's pulses stopped: the transmitter is off or out of range


def check_receiver_us(width):
    if not RECEIVER_US[0] <= width <= RECEIVER_US[1]:
        raise ValueError("a receiver's pulse is " + str(RECEIVER_US[0]) + " to " + str(RECEIVER_US[1])
                         + " us, not " + str(width))


def parse_jumpers(chip_name, specs):
    """`["4:5", "12:13"]` -> [(4, 5), (12, 13)], each pin one the chip can wire; ValueError says what is wrong."""
    chip = chips.chip(chip_name)
    pairs = []
    used = set()
    for spec in specs:
        parts = spec.split(":")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            raise ValueError(repr(spec) + " is not two GPIO numbers, such as 4:5")
        pair = (int(parts[0]), int(parts[1]))
        for gpio in pair:
            problem = chip.pin_problem(gpio, False)
            if problem:
                raise ValueError(spec + ": " + problem)
            if gpio in used or pair[0] == pair[1]:
                raise ValueError(spec + ": GPIO" + str(gpio) + " already has a jumper; a pin takes one")
            used.add(gpio)
        pairs.append(pair)
    return pairs


def parse_receivers(chip_name, specs):
    """`["34", "35:1000", "36:off"]` -> [(34, 1500), (35, 1000), (36, None)]: receiver channels, each on a GPIO
    the chip can read, with its pulse width in us (default 1500, the stick centred; None, `off`: no pulses
    until set_receiver() gives some); ValueError says what is wrong."""
    chip = chips.chip(chip_name)
    channels = []
    for spec in specs:
        gpio_text, _, us_text = spec.partition(":")
        us_text = us_text.strip()
        if not gpio_text.strip().isdigit() or (us_text and not us_text.isdigit() and us_text != NO_PULSES):
            raise ValueError(repr(spec) + " is not GPIO[:US] or GPIO:off, such as 34, 34:1500 or 34:off")
        gpio, width = int(gpio_text), None if us_text == NO_PULSES else int(us_text or 1500)
        problem = chip.pin_problem(gpio, False)
        if problem:
            raise ValueError(spec + ": " + problem)
        if any(gpio == taken for taken, _ in channels):
            raise ValueError(spec + ": GPIO" + str(gpio) + " already has a receiver channel")
        if width is not None:
            try:
                check_receiver_us(width)
            except ValueError as exc:
                raise ValueError(spec + ": " + str(exc)) from None
        channels.append((gpio, width))
    return channels


def parse_uarts(chip_name, specs):
    """`["1"]` -> [1]: UARTs to wire to pseudo-terminals. UART0 is not offered: it carries an ESP32's REPL
    (the `port:` line), and chips with a USB console boot-log on it."""
    count = chips.chip(chip_name).uarts
    ids = []
    for spec in specs:
        if not spec.strip().isdigit() or not 0 < int(spec) < count:
            others = "UART1" if count == 2 else "UART1 to UART" + str(count - 1)
            raise ValueError(repr(spec) + " is not a UART to wire: " + chip_name + " has " + others
                             + " for it (UART0 stays with the console, the port: line)")
        if int(spec) in ids:
            raise ValueError("UART" + spec + " is given twice")
        ids.append(int(spec))
    return ids


class TraceRelay:
    """The live trace: the board writes each output change as a binary row into a pipe at once (simtrace's
    live stream: nothing allocated on its tick, no CSV made inside it); this thread turns the rows into CSV
    lines in the file and flushes them as they come, so the file stays current while the board runs. One
    pipe for the session: every boot writes into it, and the file gets one header."""

    def __init__(self, path):
        self._read_fd, self.board_fd = os.pipe()
        self._file = open(path, "w")  # noqa: SIM115  (closed by the relay thread when the pipe ends)
        self._file.write(simtrace.HEADER + "\n")
        self._file.flush()
        self._thread = threading.Thread(target=self._relay, daemon=True)
        self._thread.start()

    def _relay(self):
        pending = b""
        while True:
            try:
                data = os.read(self._read_fd, 256 * simtrace.ROW_BYTES)
            except OSError:
                break
            if not data:
                break  # the host's end is closed and every boot has ended
            pending += data
            whole = len(pending) - len(pending) % simtrace.ROW_BYTES
            if whole:
                self._file.write(simtrace.csv_text(pending[:whole]))
                self._file.flush()
                pending = pending[whole:]
        self._file.close()

    def close(self):
        os.close(self.board_fd)
        self._thread.join(timeout=2)
        os.close(self._read_fd)


AUDIO_DEFAULT_RATE = 16000  # the WAV's rate when no I2S has played by the time the board stops
_AUDIO_HEAD = 16  # simi2s.AudioPipe: start_us (8 bytes), rate (4), sample bytes (4), little endian


class AudioRelay:
    """What the I2S amplifier plays (`gullwing sim --audio FILE.wav`): a 16-bit mono WAV from power-on, on the
    trace's clock: sample k plays at t_us = start_us + k * 1e6 / rate. The board sends each DMA buffer as it
    is sent (simi2s.AudioPipe); this thread fills the time between with silence (before the first I2S, after
    a deinit, across resets), and rewrites the header's sizes after every block, so the file is a valid WAV
    whenever it is read. Its rate is that of the first I2S to play (AUDIO_DEFAULT_RATE if none does); a later
    I2S at another rate is resampled to it (nearest sample). Two I2S playing at once: what overlaps what is
    already written is dropped (one amplifier)."""

    def __init__(self, path, start_us):
        self._read_fd, self.board_fd = os.pipe()
        self._file = open(path, "wb")  # noqa: SIM115  (closed by close())
        self._start_us = start_us
        self.rate = 0  # 0 until the first block decides it
        self.samples = 0  # written so far
        self._lock = threading.Lock()
        self._header()
        self._thread = threading.Thread(target=self._relay, daemon=True)
        self._thread.start()

    def _header(self):
        rate = self.rate or AUDIO_DEFAULT_RATE
        data = 2 * self.samples
        self._file.seek(0)
        self._file.write(b"RIFF" + (36 + data).to_bytes(4, "little") + b"WAVEfmt " + (16).to_bytes(4, "little")
                         + (1).to_bytes(2, "little") + (1).to_bytes(2, "little") + rate.to_bytes(4, "little")
                         + (2 * rate).to_bytes(4, "little") + (2).to_bytes(2, "little") + (16).to_bytes(2, "little")
                         + b"data" + data.to_bytes(4, "little"))
        self._file.seek(0, os.SEEK_END)
        self._file.flush()

    def _index(self, t_us):
        return round((t_us - self._start_us) * self.rate / 1_000_000)

    def _silence_to(self, index):
        if index > self.samples:
            self._file.write(bytes(2 * (index - self.samples)))
            self.samples = index

    def add(self, start_us, rate, data):
        """One block of 16-bit mono samples whose first plays at start_us (board time)."""
        with self._lock:
            if not self.rate:
                self.rate = rate
            if rate != self.rate:  # nearest sample at the WAV's rate
                count = len(data) // 2
                out = bytearray()
                for k in range(count * self.rate // rate):
                    at = 2 * min(count - 1, k * rate // self.rate)
                    out += data[at:at + 2]
                data = bytes(out)
            first = self._index(start_us)
            if abs(first - self.samples) <= 1:
                first = self.samples  # the next block of a running I2S: microsecond rounding, not a gap
            self._silence_to(first)
            skip = 2 * (self.samples - first)
            if skip < len(data):
                self._file.write(data[skip:])
                self.samples += (len(data) - skip) // 2
            self._header()

    def _relay(self):
        pending = b""
        while True:
            try:
                data = os.read(self._read_fd, 65536)
            except OSError:
                break
            if not data:
                break
            pending += data
            while len(pending) >= _AUDIO_HEAD:
                size = int.from_bytes(pending[12:16], "little")
                if len(pending) < _AUDIO_HEAD + size:
                    break
                self.add(int.from_bytes(pending[0:8], "little"), int.from_bytes(pending[8:12], "little"),
                         pending[_AUDIO_HEAD:_AUDIO_HEAD + size])
                pending = pending[_AUDIO_HEAD + size:]

    def close(self, end_us):
        """The board has stopped at end_us: silence to there, the header's final sizes, the file closed."""
        os.close(self.board_fd)
        self._thread.join(timeout=2)
        os.close(self._read_fd)
        with self._lock:
            if not self.rate:
                self.rate = AUDIO_DEFAULT_RATE
            self._silence_to(self._index(end_us))
            self._header()
            self._file.close()


def read_wav(path):
    """(rate, samples as an array of signed 16-bit ints) of a 16-bit mono WAV, tolerant of a header whose sizes
    were not rewritten yet (a board killed mid-block): the data runs to the end of the file."""
    import array

    raw = open(path, "rb").read()  # noqa: SIM115
    if raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        raise ValueError(str(path) + " is not a WAV file")
    at = 12
    rate = 0
    while at + 8 <= len(raw):
        kind, size = raw[at:at + 4], int.from_bytes(raw[at + 4:at + 8], "little")
        if kind == b"fmt ":
            if int.from_bytes(raw[at + 8:at + 10], "little") != 1 or raw[at + 10:at + 12] != b"\x01\x00" \
                    or int.from_bytes(raw[at + 22:at + 24], "little") != 16:
                raise ValueError(str(path) + " is not 16-bit mono PCM")
            rate = int.from_bytes(raw[at + 12:at + 16], "little")
        elif kind == b"data":
            data = raw[at + 8:]
            samples = array.array("h")
            samples.frombytes(data[:len(data) - len(data) % 2])
            if sys.byteorder == "big":
                samples.byteswap()
            return rate, samples
        at += 8 + size + size % 2
    raise ValueError(str(path) + " has no data")


class WiredPort:
    """A pseudo-terminal (`port`) wired to a device on the board: what the host writes to it goes on, as
    the threads running `serve` make of it, down a pipe whose read end (`board_rx`) every boot inherits."""

    def __init__(self, *serve):
        self._stop = threading.Event()
        self._pty = RawPty()
        self.port = self._pty.port
        self.board_rx, self._to_board = os.pipe()
        os.set_blocking(self.board_rx, False)  # the board's pump takes what is there and never waits
        os.set_blocking(self._to_board, False)  # a board that stopped reading: the bytes are lost, as on a UART
        self._threads = [threading.Thread(target=target, daemon=True) for target in serve]
        for thread in self._threads:
            thread.start()

    def _pipes(self):
        return [self.board_rx, self._to_board]

    def close(self):
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=2)
        self._pty.close()
        close_all(self._pipes())


class UartPort(WiredPort):
    """A pseudo-terminal wired to the board's UART `uart_id` (a Bluetooth serial module, a USB-UART
    adapter on its pins): bytes written to it arrive on that UART (board.uart_feed), what the firmware
    writes to the UART (board.uart_sent) comes out of it. Two pipes carry them to the board, whose
    simdevices.UartBridge moves them at the UART's baud rate."""

    def __init__(self, uart_id):
        self.uart_id = uart_id
        self._from_board, self.board_tx = os.pipe()
        super().__init__(self._inward, self._outward)

    def spec(self):
        """What boardos reads from GW_UARTS: id, the board's read end, the board's write end."""
        return str(self.uart_id) + ":" + str(self.board_rx) + ":" + str(self.board_tx)

    def _inward(self):
        for data in self._pty.received(self._stop):
            try:
                os.write(self._to_board, data)
            except OSError:  # BlockingIOError included: 64 KB the board has not taken, dropped
                continue

    def _outward(self):
        while True:
            try:
                data = os.read(self._from_board, 256)
            except OSError:
                return
            if not data:
                return
            self._pty.write(data, self._stop)

    def _pipes(self):
        return super()._pipes() + [self._from_board]

    def close(self):
        self._stop.set()
        os.close(self.board_tx)  # every boot has ended: the outward relay sees the end
        super().close()


class ReceiverPort(WiredPort):
    """The sticks of the receiver channels (`--receiver`), moved while the board runs: a pseudo-terminal,
    printed as `rc: /dev/pts/N`, takes lines `GPIO US` (`34 1200`: GPIO34's channel sends 1200 us pulses)
    and `GPIO off` (its pulses stop: signal lost) and answers each with `ok` or `err <what is wrong>`.
    VirtualBoard.set_receiver() does the same from Python. A change reaches the board through a pipe as
    `GPIO:US` (0: no pulses), where simdevices.ReceiverControl applies it from the channel's next frame."""

    def __init__(self, board):
        self._board = board
        super().__init__(self._serve)

    def send(self, gpio, us):
        """To the board (or the next boot, which reads it after the widths it starts with)."""
        try:
            os.write(self._to_board, (str(gpio) + ":" + str(us or 0) + "\n").encode())
        except BlockingIOError:
            pass  # a board that has not read for 64 KB of changes: the next boot starts with the latest

    def answer(self, line):
        """The reply to one line of the terminal."""
        words = line.split()
        if len(words) != 2 or not words[0].isdigit() or not (words[1].isdigit() or words[1] == NO_PULSES):
            return "err expected GPIO US or GPIO off, such as 34 1200"
        try:
            self._board.set_receiver(int(words[0]), None if words[1] == NO_PULSES else int(words[1]))
        except ValueError as exc:
            return "err " + str(exc)
        return "ok"

    def _serve(self):
        pending = b""
        for data in self._pty.received(self._stop):
            *lines, pending = (pending + data).replace(b"\r", b"\n").split(b"\n")
            for line in lines:
                if line.strip():
                    reply = self.answer(line.decode("ascii", "replace"))
                    self._pty.write(reply.encode() + b"\n", self._stop)
