"""The model's web server: the page, the session, the PIN login and the live channel (websocket.py).

Bounded everywhere, so no client can hold the board: a request line of at most 256 bytes (414), header
lines of at most 256 bytes, 24 of them and 2 KB in all (431), a body of at most 64 bytes (413),
anything malformed 400; every request waits at most `request_s` to arrive, a write at most as long;
at most `clients` connections at once (the next gets 503); one request per connection. A client's
bytes are read with bounded reads into one buffer of its own (asyncio's Stream.readline,
extmod/asyncio/stream.py, grows its line without limit).
"""

import asyncio
import os
import time

from gullwing import websocket
from gullwing.faults import note, reason
from gullwing.webchannel import Hub

PAGE = "/gullwing/panel.html.gz"
LINE_MAX = 256  # the request line, and each header line
HEADERS_MAX = 2048
HEADER_LINES = 24
BODY_MAX = 64
CLIENTS = 4
REQUEST_S = 5
IDLE_S = 60
RATE = 30  # requests a second on a live channel
CHUNK = 512  # bytes of the page read from flash and sent at a time
BACKLOG = 2
COOKIE = "gw"
KEPT = ("content-length", "cookie", "upgrade", "connection", "sec-websocket-key", "sec-websocket-version")
NO_PIN_HERE = '{"error":"set a PIN over USB: config set web.pin 1234"}'

STATUS = {
    101: "Switching Protocols", 200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
    404: "Not Found", 405: "Method Not Allowed", 413: "Payload Too Large", 414: "URI Too Long",
    429: "Too Many Requests", 431: "Request Header Fields Too Large", 503: "Service Unavailable",
}

OPEN, LOGIN, NO_PIN = 0, 1, 2  # what gate() says of a request


def gate(access, token, now_ms):
    """Whether a request may act, as access.py rules: OPEN (a live session, or the model's own network
    without a PIN), NO_PIN (a home network without a PIN: refused until one is set) or LOGIN."""
    if access is None or access.refusal() is not None:
        return NO_PIN
    return OPEN if access.allowed(token, now_ms) else LOGIN


class HttpError(Exception):
    def __init__(self, status, body='{"error":"bad request"}'):
        super().__init__(status)
        self.status = status
        self.body = body


class Input:
    """A client's bytes, read `read(n)` at a time into one buffer of a fixed size."""

    def __init__(self, stream, size=LINE_MAX + 8):
        self._stream = stream
        self.buf = bytearray(size)
        self._start = 0
        self._end = 0

    async def _more(self):
        if self._start:
            kept = self._end - self._start
            self.buf[:kept] = self.buf[self._start:self._end]
            self._start, self._end = 0, kept
        data = await self._stream.read(len(self.buf) - self._end)
        if not data:
            raise EOFError
        self.buf[self._end:self._end + len(data)] = data
        self._end += len(data)

    async def line(self, limit):
        """The next line without its ending (bytes), or None when it runs past `limit` bytes."""
        seen = 0  # bytes already looked at, from _start
        while True:
            buf = self.buf
            for i in range(self._start + seen, self._end):
                if buf[i] == 10:
                    end = i - 1 if i > self._start and buf[i - 1] == 13 else i
                    line = bytes(buf[self._start:end])
                    self._start = i + 1
                    return line if len(line) <= limit else None
            seen = self._end - self._start
            if seen > limit + 1:
                return None
            await self._more()

    async def exactly(self, n):
        """Where the next n bytes (n <= the buffer's size) start in `buf`, valid until the next read."""
        while self._end - self._start < n:
            await self._more()
        at = self._start
        self._start += n
        return at


class Request:
    def __init__(self, method, path, headers, body):
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body

    def cookie(self, name):
        for part in self.headers.get("cookie", "").split(";"):
            key, _, value = part.strip().partition("=")
            if key == name:
                return value
        return None


async def read_request(source):
    """The request from a client, or HttpError."""
    line = await source.line(LINE_MAX)
    if line is None:
        raise HttpError(414, '{"error":"request line too long"}')
    parts = _text(line).split(" ")
    if len(parts) != 3 or not parts[0].isalpha() or parts[0].upper() != parts[0] or parts[1][:1] != "/":
        raise HttpError(400)
    if parts[2] not in ("HTTP/1.1", "HTTP/1.0"):
        raise HttpError(400)
    headers = {}
    total = 0
    for _ in range(HEADER_LINES + 1):
        line = await source.line(LINE_MAX)
        if line is None:
            raise HttpError(431, '{"error":"header too long"}')
        if not line:
            break
        total += len(line) + 2
        if total > HEADERS_MAX:
            raise HttpError(431, '{"error":"headers too long"}')
        name, colon, value = _text(line).partition(":")
        name = name.lower()
        if not colon or not name or name != name.strip():
            raise HttpError(400)
        if name in KEPT:
            headers[name] = value.strip()
    else:
        raise HttpError(431, '{"error":"too many headers"}')
    body = b""
    if "content-length" in headers:
        length = headers["content-length"]
        if not length.isdigit():
            raise HttpError(400)
        if len(length) > 6 or int(length) > BODY_MAX:  # (judged by its digits first: no big int on the chip)
            raise HttpError(413, '{"error":"body too long"}')
        at = await source.exactly(int(length))
        body = bytes(source.buf[at:at + int(length)])
    return Request(parts[0], parts[1].split("?")[0], headers, body)


def _text(line):
    for b in line:
        if b < 32 and b != 9 or b > 126:
            raise HttpError(400)
    return line.decode()


class Server:
    """`await serve()` listens on port 80 until the firmware stops; `hub` goes into app.writers."""

    def __init__(self, app, page=PAGE, clients=CLIENTS, request_s=REQUEST_S, idle_s=IDLE_S, rate=RATE):
        self.app = app
        self.page = page
        self.most = clients
        self.request_s = request_s
        self.idle_s = idle_s
        self.rate = rate
        self.hub = Hub()
        self.clients = 0  # connections open now

    async def serve(self, host="0.0.0.0", port=80):
        try:
            server = await asyncio.start_server(self.connection, host, port, BACKLOG)
        except Exception as exc:  # no network stack, the port taken: the board goes on without its page
            note(self.app.problems, "web: " + type(exc).__name__ + ": " + reason(exc))
            return
        await server.wait_closed()

    async def connection(self, reader, writer):
        """One client, from its connection to its close; never raises (but a cancel)."""
        if self.clients >= self.most:
            try:
                await self._respond(writer, 503, '{"error":"busy"}')
            except Exception:
                pass
            await _close(writer)
            return
        self.clients += 1
        try:
            await self._serve(reader, writer)
        except Exception:
            pass  # a client that reset, a timeout, a MemoryError: that client is closed, the board serves on
        finally:
            self.clients -= 1
            await _close(writer)

    async def _serve(self, reader, writer):
        source = Input(reader)
        try:
            request = await asyncio.wait_for(read_request(source), self.request_s)
            route = ROUTES.get(request.path)
            if route is None:
                raise HttpError(404, '{"error":"not found"}')
            if request.method != route[0]:
                raise HttpError(405, '{"error":"method not allowed"}')
            await route[1](self, request, source, writer)
        except HttpError as exc:
            await self._respond(writer, exc.status, exc.body)

    async def _respond(self, writer, status, body, extra=""):
        await self._send(writer, _head(status, "application/json", len(body), extra) + body)

    async def _send(self, writer, data):
        writer.write(data.encode() if isinstance(data, str) else data)
        await asyncio.wait_for(writer.drain(), self.request_s)

    def _gate(self, request):
        return gate(getattr(self.app, "access", None), request.cookie(COOKIE), time.ticks_ms())

    async def _page(self, request, source, writer):
        try:
            size = os.stat(self.page)[6]
            page = open(self.page, "rb")
        except OSError:
            raise HttpError(404, '{"error":"no page stored"}') from None
        try:
            extra = "Content-Encoding: gzip\r\nCache-Control: no-cache\r\n"
            await self._send(writer, _head(200, "text/html; charset=utf-8", size, extra))
            chunk = bytearray(CHUNK)
            view = memoryview(chunk)
            while True:
                n = page.readinto(chunk)
                if not n:
                    break
                await self._send(writer, view[:n])
        finally:
            page.close()

    async def _session(self, request, source, writer):
        state = self._gate(request)
        if state == NO_PIN:
            raise HttpError(403, NO_PIN_HERE)
        await self._respond(writer, 200 if state == OPEN else 401, '{"pin":true}')

    async def _login(self, request, source, writer):
        state = self._gate(request)
        if state == NO_PIN:
            raise HttpError(403, NO_PIN_HERE)
        if not request.body.startswith(b"pin="):
            raise HttpError(400)
        pin = _text(request.body[4:])
        token, wait_s = self.app.access.login(pin, time.ticks_ms())
        if token:
            cookie = "Set-Cookie: " + COOKIE + "=" + token + "; Path=/; HttpOnly; SameSite=Strict\r\n"
            await self._respond(writer, 200, "{}", cookie)
        elif wait_s > 0:  # guesses are slowed: the PIN was not even looked at
            wait = str(wait_s)
            await self._respond(writer, 429, '{"error":"wait","wait_s":' + wait + "}", "Retry-After: " + wait + "\r\n")
        else:
            raise HttpError(403, '{"error":"wrong PIN"}')

    async def _live(self, request, source, writer):
        headers = request.headers
        key = headers.get("sec-websocket-key", "")
        if (headers.get("upgrade", "").lower() != "websocket" or "upgrade" not in headers.get("connection", "").lower()
                or headers.get("sec-websocket-version") != "13" or len(key) != 24):
            raise HttpError(400, '{"error":"not a websocket request"}')
        state = self._gate(request)
        if state == NO_PIN:
            raise HttpError(403, NO_PIN_HERE)
        if state != OPEN:
            raise HttpError(401, '{"pin":true}')
        accept = websocket.accept_key(key.encode()).decode()
        await self._send(writer, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Accept: " + accept + "\r\n\r\n")
        outbox = self.hub.join()
        try:
            await websocket.Live(self.app, source, writer, outbox, self.idle_s, self.request_s, self.rate).run()
        finally:
            self.hub.leave(outbox)


ROUTES = {
    "/": ("GET", Server._page),
    "/session": ("GET", Server._session),
    "/login": ("POST", Server._login),
    "/ws": ("GET", Server._live),
}


def _head(status, kind, length, extra=""):
    return ("HTTP/1.1 " + str(status) + " " + STATUS[status] + "\r\nContent-Type: " + kind + "\r\nContent-Length: "
            + str(length) + "\r\nConnection: close\r\n" + extra + "\r\n")


async def _close(writer):
    try:
        writer.close()
        await writer.wait_closed()
    except Exception:
        pass
