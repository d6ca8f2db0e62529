"""Request lines from a serial stream (the console, a UART), read without ever blocking the board.

A stream's own readline() waits inside the call until a newline comes, so a terminal typing a
request key by key would stall the control loop (and the watchdog would reset the board). This
reader takes only the bytes that are there, and holds at most one line's worth: an overlong line
is cut at MAX_LINE + 3 bytes, which the protocol answers `err too_long`, and the rest of it is
dropped as it arrives, so no input, however long, grows the heap. `\\n`, `\\r\\n` and a lone `\\r`
(a terminal's Enter key) all end a line; the empty line between `\\r` and `\\n` gets no reply.
"""

import asyncio
import select

from gullwing.protocol import MAX_LINE

LIMIT = MAX_LINE + 3  # one byte past what the protocol takes with a line ending: too long


class LineReader:
    def __init__(self, stream, limit=LIMIT):
        self._stream = stream
        self._wait = asyncio.StreamReader(stream)
        self._ready = select.poll()
        self._ready.register(stream, select.POLLIN)
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
                if not self._ready.poll(0):
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
