"""The live channel: a WebSocket (RFC 6455) carrying serial protocol v1 requests and events.

Each client text frame is one request line, answered by exactly one text frame (app.handle, the
serial channel's handlers, with web=True); event lines come from the hub (webchannel.py). Bounded:
a frame's payload at most protocol.MAX_LINE bytes (1009 past it), client frames masked (1002),
text only and unfragmented (1003), valid UTF-8 (1007); no frame for `idle_s` closes the channel
(1001); at most `rate` requests a second, the rest answered `err busy too many requests`.
"""

import asyncio
import binascii
import hashlib
import time

from gullwing import protocol

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3
MAX_PAYLOAD = protocol.MAX_LINE

CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0, 1, 2, 8, 9, 10
GOING_AWAY, PROTOCOL_ERROR, UNSUPPORTED, BAD_DATA, TOO_BIG = 1001, 1002, 1003, 1007, 1009


def accept_key(key):
    """Sec-WebSocket-Accept for a client's Sec-WebSocket-Key (bytes): base64 of SHA-1 of key + GUID."""
    return binascii.b2a_base64(hashlib.sha1(key + GUID).digest())[:-1]  # without the "\n" it ends with


def utf8_valid(data, n):
    """True when the first n bytes of data are well-formed UTF-8 (RFC 3629: no overlong forms, no
    surrogates, nothing past U+10FFFF)."""
    i = 0
    while i < n:
        b = data[i]
        if b < 0x80:
            i += 1
            continue
        if 0xC2 <= b <= 0xDF:
            more, low, high = 1, 0x80, 0xBF
        elif 0xE0 <= b <= 0xEF:
            more = 2
            low = 0xA0 if b == 0xE0 else 0x80
            high = 0x9F if b == 0xED else 0xBF
        elif 0xF0 <= b <= 0xF4:
            more = 3
            low = 0x90 if b == 0xF0 else 0x80
            high = 0x8F if b == 0xF4 else 0xBF
        else:
            return False
        if i + more >= n:
            return False  # cut short
        if not low <= data[i + 1] <= high:
            return False
        for k in range(2, more + 1):
            if not 0x80 <= data[i + k] <= 0xBF:
                return False
        i += more + 1
    return True


def busy(line):
    """The reply to a request over the rate: the request's #id echoed, nothing done."""
    try:
        req_id = protocol.parse(line).id
    except protocol.ProtocolError as exc:
        req_id = exc.req_id
    return protocol.err(req_id, protocol.BUSY, "too many requests")


class Closing(Exception):
    """The channel ends, with this close code."""

    def __init__(self, code):
        super().__init__(code)
        self.code = code


class Live:
    """One open channel: `run()` reads the client's frames; a task of its own sends the events."""

    def __init__(self, app, source, writer, outbox, idle_s=60, send_s=5, rate=30):
        self._app = app
        self._source = source  # httpd.Input: bounded reads, the bytes after the handshake included
        self._writer = writer
        self._outbox = outbox
        self._idle_s = idle_s
        self._send_s = send_s
        self._rate = rate
        self._lock = asyncio.Lock()  # one frame at a time on the stream: replies and events interleave whole
        self._payload = bytearray(MAX_PAYLOAD)
        self._window = time.ticks_ms()  # the second requests are counted in
        self._requests = 0

    async def run(self):
        """Until the client closes, breaks a rule or falls silent; then the close frame, if the stream takes it."""
        sender = asyncio.create_task(self._events(asyncio.current_task()))
        code = None
        try:
            while True:
                code = await self._frame()
                if code is not None:
                    break
        except Closing as exc:
            code = exc.code
        except asyncio.TimeoutError:
            code = GOING_AWAY
        finally:
            sender.cancel()
        if code:
            await self.send(CLOSE, bytes((code >> 8, code & 255)))

    async def _events(self, reader):
        outbox = self._outbox
        try:
            while True:
                await outbox.wake.wait()
                outbox.wake.clear()
                while outbox.count:
                    await self.send(TEXT, outbox.take().encode())
        except Exception:
            reader.cancel()  # a client that does not read its events: the channel ends

    async def send(self, opcode, payload):
        n = len(payload)
        header = bytes((0x80 | opcode, n)) if n < 126 else bytes((0x80 | opcode, 126, n >> 8, n & 255))
        await self._lock.acquire()
        try:
            self._writer.write(header)
            self._writer.write(payload)
            await asyncio.wait_for(self._writer.drain(), self._send_s)
        finally:
            self._lock.release()

    async def _frame(self):
        """Reads and answers one frame: None to go on, a close code (0: none) to end."""
        source = self._source
        at = await asyncio.wait_for(source.exactly(2), self._idle_s)
        first, second = source.buf[at], source.buf[at + 1]
        opcode, n = first & 15, second & 127
        if first & 0x70 or not second & 0x80:
            raise Closing(PROTOCOL_ERROR)  # reserved bits, or an unmasked client frame
        if opcode >= CLOSE:
            if opcode > PONG or not first & 0x80 or n > 125:
                raise Closing(PROTOCOL_ERROR)  # an unknown control frame, or a fragmented or long one
        elif opcode in (CONTINUATION, BINARY) or (opcode == TEXT and not first & 0x80):
            raise Closing(UNSUPPORTED)  # binary, or fragmented
        elif opcode != TEXT:
            raise Closing(PROTOCOL_ERROR)
        if n == 127:
            raise Closing(TOO_BIG)  # a 64-bit length
        if n == 126:
            at = await asyncio.wait_for(source.exactly(2), self._send_s)
            n = source.buf[at] << 8 | source.buf[at + 1]
        if n > MAX_PAYLOAD:
            raise Closing(TOO_BIG)
        at = await asyncio.wait_for(source.exactly(4 + n), self._send_s)
        payload = self._payload
        buf = source.buf
        for i in range(n):
            payload[i] = buf[at + 4 + i] ^ buf[at + (i & 3)]
        if opcode == TEXT:
            await self._request(n)
        elif opcode == PING:
            await self.send(PONG, bytes(payload[:n]))
        elif opcode == CLOSE:
            if n == 1:
                raise Closing(PROTOCOL_ERROR)
            await self.send(CLOSE, bytes(payload[:2]) if n else b"")
            return 0  # answered: nothing more to send
        return None

    async def _request(self, n):
        if not utf8_valid(self._payload, n):
            raise Closing(BAD_DATA)
        line = bytes(self._payload[:n])
        now = time.ticks_ms()
        if time.ticks_diff(now, self._window) >= 1000:
            self._window = now
            self._requests = 0
        self._requests += 1
        reply = self._app.handle(line, now, True) if self._requests <= self._rate else busy(line)
        await self.send(TEXT, reply.encode())
