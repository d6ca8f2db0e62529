"""What a virtual board has wired to it from outside, each given on the command line and served from this
side while the board runs: jumper wires between its pins, the live trace, UARTs on pseudo-terminals, RC
receiver channels with their sticks moved from a pseudo-terminal."""

import os
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
