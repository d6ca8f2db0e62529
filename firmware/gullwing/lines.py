"""Lines from and to a serial stream (the console, a UART), read and written without ever blocking
the board.

A stream's own readline() waits inside the call until a newline comes, so a terminal typing a
request key by key would stall the control loop (and the watchdog would reset the board). This
reader takes only the bytes that are there, and holds at most one line's worth: an overlong line
is cut at MAX_LINE + 3 bytes, which the protocol answers `err too_long`, and the rest of it is
dropped as it arrives, so no input, however long, grows the heap. `\\n`, `\\r\\n` and a lone `\\r`
(a terminal's Enter key) all end a line; the empty line between `\\r` and `\\n` gets no reply.
"""

import asyncio
import select
import time

from gullwing.protocol import MAX_LINE

LIMIT = MAX_LINE + 3  # one byte past what the protocol takes with a line ending: too long


class LineReader:
    def __init__(self, stream, limit=LIMIT):
        self._stream = stream
        self._wait = asyncio.StreamReader(stream)
        self._ready = select.poll()
        self._ready.register(stream, select.POLLIN)
        # a UART says what is waiting with any(); a poll of an object that is not a file descriptor
        # costs a millisecond on the unix port (extmod/modselect.c), too slow to ask after every byte
        self._any = getattr(stream, "any", None)
        self._limit = limit
        self._line = bytearray()

    async def readline(self):
        """The next line with its ending (bytes); b"" when the stream has ended."""
        while True:
            byte = await self._wait.read(1)
            while byte:
                line = self._take(byte[0])
                if line is not None:
                    return line
                if not (self._any() if self._any is not None else self._ready.poll(0)):
                    break
                byte = self._stream.read(1)
            if not byte:
                if byte is None:
                    continue  # a stream may call itself readable with nothing to give
                return b""

    def _take(self, b):
        if b == 10 or b == 13:
            line = bytes(self._line) + b"\n"
            self._line = bytearray()
            return line
        if len(self._line) < self._limit:
            self._line.append(b)
        return None


CONSOLE_BYTES_PER_S = 11_520  # the console's 115200 baud, 10 bits a byte
CONSOLE_ROOM = 128  # bytes the console takes at once: the UART FIFO (SOC_UART_FIFO_LEN), two USB packets
UART_ROOM = 256  # a machine.UART's transmit buffer on the esp32 port (txbuf's default)
OUT_LINES = 16  # lines waiting to go out; an event past these is dropped and counted


class LineWriter:
    """Lines out to a serial stream without ever blocking the board.

    On the esp32 port a write waits until the bytes are in the transmit buffer: the console's
    (ports/esp32/uart.c: uart_stdout_tx_strn) spins on the UART FIFO, USB-Serial/JTAG waits up to
    200 ms for a host that does not read (usb_serial_jtag.c: usb_serial_jtag_tx_strn), a UART's
    waits for room in its ring buffer (machine_uart.c: mp_machine_uart_write, uart_write_bytes),
    and poll always reports them writable (the ioctl's MP_STREAM_POLL_WR), so an asyncio drain
    cannot tell either. So lines are queued here, at most `lines` of them, and written only as far
    as the stream takes them at once: what it has sent at `bytes_per_s` since the last write (or
    all of it once a UART's `txdone()` says so) makes room again, up to its buffer (UART_ROOM) or,
    for the console, CONSOLE_ROOM. `__call__` queues an event line (dropped and counted
    in `dropped` when the queue is full); `pump()`, from the control task each tick, writes what
    fits; `await put(line)` and `await drain()` are for replies, which wait rather than drop.
    """

    def __init__(self, stream, bytes_per_s=CONSOLE_BYTES_PER_S, lines=OUT_LINES):
        self._stream = stream
        self._txdone = getattr(stream, "txdone", None)  # machine.UART: True once all is on the wire
        self._room = CONSOLE_ROOM if self._txdone is None else UART_ROOM
        self._us_per_byte = -(-1_000_000 // bytes_per_s)  # rounded up: never ahead of the wire
        self._ring = [""] * lines  # queuing stores into it: no allocation
        self._first = 0
        self._count = 0
        self._text = None  # the line being written, with its "\n"
        self._sent = 0  # ... how much of it is out
        self._clear_at = time.ticks_us()  # by when the stream has sent what it was given
        self.dropped = 0

    def __call__(self, text):
        """Queue a line; False (and counted) when the queue is full."""
        if self._queue(text):
            return True
        self.dropped = (self.dropped + 1) & 0x3FFFFFFF
        return False

    async def put(self, text):
        """Queue a line, waiting for room rather than dropping it."""
        while not self._queue(text):
            self.pump()
            await asyncio.sleep_ms(self._half_ms())

    def _queue(self, text):
        if self._count >= len(self._ring):
            return False
        self._ring[(self._first + self._count) % len(self._ring)] = text
        self._count += 1
        return True

    async def drain(self):
        """Until everything queued is written."""
        while not self.pump():
            await asyncio.sleep_ms(self._half_ms())

    def _half_ms(self):
        # until half the room is free again: fewer, larger writes while the wire stays busy
        wait = time.ticks_diff(self._clear_at, time.ticks_us()) - self._room * self._us_per_byte // 2
        return 1 + wait // 1000 if wait > 0 else 1

    def pump(self):
        """Write as much as the stream takes without waiting; True when nothing is left."""
        if self._text is None and not self._count:
            return True  # the usual tick: nothing to say, nothing asked of the stream
        free = self._free()
        while free > 0:
            if self._text is None:
                if not self._count:
                    return True
                self._text = self._ring[self._first] + "\n"
                self._ring[self._first] = ""
                self._first = (self._first + 1) % len(self._ring)
                self._count -= 1
                self._sent = 0
            end = min(len(self._text), self._sent + free)
            self._stream.write(self._text[self._sent:end])
            self._wrote(end - self._sent)
            free -= end - self._sent
            self._sent = end
            if end == len(self._text):
                self._text = None
        return self._text is None and not self._count

    def _free(self):
        # bytes the stream takes now: its room less what is still going out at its byte rate
        # (a UART that says it is done has nothing left; the console cannot say)
        wait = time.ticks_diff(self._clear_at, time.ticks_us())
        if wait <= 0 or wait > self._room * self._us_per_byte or (self._txdone is not None and self._txdone()):
            return self._room  # all sent, or written too long ago to tell
        return self._room - wait // self._us_per_byte - 1

    def _wrote(self, n):
        now = time.ticks_us()
        wait = time.ticks_diff(self._clear_at, now)
        start = self._clear_at if 0 < wait <= self._room * self._us_per_byte else now
        self._clear_at = time.ticks_add(start, n * self._us_per_byte)
