"""Lines from and to a serial stream (the console, a UART), read and written without ever blocking
the board.

A stream's own readline() waits inside the call until a newline comes, so a terminal typing a
request key by key would stall the control loop (and the watchdog would reset the board); and a
reader that takes whatever is waiting before it lets go would stall it just as well under a flood
(a host on native USB refills the console's input as fast as the board empties it). This reader
takes only the bytes that are there, at most SLICE of them per turn before it yields to the other
tasks, and holds at most one line's worth in a buffer of its own: an overlong line keeps its first
MAX_LINE + 1 bytes, which the protocol answers `err too_long` once, when its end comes, and the rest
of it is dropped as it arrives, so no input, however long, grows the heap or holds up the tick.
`\\n`, `\\r\\n` and a lone `\\r` (a terminal's Enter key) all end a line; the empty line between `\\r`
and `\\n` gets no reply.
"""

import asyncio
import select
import time

from gullwing.protocol import MAX_LINE

LIMIT = MAX_LINE + 1  # one byte past what the protocol takes: too long, whatever the bytes
SLICE = 64  # bytes read per turn (some tens of microseconds each on the chip): the tick waits a few ms at most


class LineReader:
    """Lines from any stream that has readinto() and either any() (a UART) or poll (the console)."""

    def __init__(self, stream, limit=LIMIT, slice_bytes=SLICE):
        self._stream = stream
        self._wait = None  # asyncio's stream over it, made at the first wait
        # A UART says how many bytes wait (machine_uart.c: mp_machine_uart_any); the console only that
        # one does (ports/esp32/mphalport.c: mp_hal_stdio_poll), and asking it for more than wait would
        # block until they come (shared/runtime/sys_stdio_mphal.c: stdio_buffer_read), so every stream
        # is read a byte at a time. A poll of an object that is not a file descriptor costs a millisecond
        # on the unix port (extmod/modselect.c), too slow to ask after every byte: any() where there is one.
        self._any = getattr(stream, "any", None)
        if self._any is None:
            ready = select.poll()
            ready.register(stream, select.POLLIN)
            self._poll = getattr(ready, "ipoll", ready.poll)  # ipoll reuses its tuple: no garbage per byte
        self._byte = bytearray(1)
        self._line = bytearray(limit + 1)  # the one line held, with room for the "\n" it is handed out with
        self._view = memoryview(self._line)
        self._length = 0
        self._limit = limit
        self._slice = slice_bytes
        self._known = 0  # bytes known to be waiting

    async def readline(self):
        """The next line with its ending (bytes); b"" when the stream has ended.

        Each turn waits in the event loop's poll until the stream is readable (MicroPython's asyncio
        stream: every task that is due runs first), then reads that byte and at most a slice more."""
        if self._wait is None:
            self._wait = asyncio.StreamReader(self._stream)
        while True:
            line = self._took(await self._wait.readinto(self._byte))
            if line is None:
                line = self.take()
            if line is not None:
                return line

    def take(self):
        """At most a slice of the bytes waiting, read without waiting: a line with its ending when one
        ended, b"" when the stream has ended, else None (the rest of the line is read at the next turn)."""
        for _ in range(self._slice):
            if not self._known:
                self._known = self._waiting()
                if not self._known:
                    return None
            self._known -= 1
            line = self._took(self._stream.readinto(self._byte))
            if line is not None:
                return line
        return None

    def _waiting(self):
        if self._any is not None:
            return self._any()
        for _ in self._poll(0):
            return 1  # readable: a byte waits, or the stream has ended
        return 0

    def _took(self, got):
        # what a read of one byte gave: a line when the byte ended one, b"" at the stream's end
        if got is None:
            self._known = 0  # a stream may call itself readable with nothing to give
            return None
        if not got:
            return b""
        b = self._byte[0]
        if b == 10 or b == 13:
            end = self._length
            self._line[end] = 10
            self._length = 0
            return bytes(self._view[:end + 1])
        if self._length < self._limit:
            self._line[self._length] = b
            self._length += 1
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
