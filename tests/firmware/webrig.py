"""A web client as the server sees it (a fake stream), a fake app with its access rules, and WebSocket
frames, for the web server's tests under CPython and MicroPython alike (no sockets)."""

import asyncio

from gullwing import access, httpd, protocol

PIN = "1234"
KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455's example key
MASK = b"\x11\x22\x33\x44"


class Client:
    """The bytes a client sends (given now, or fed later) and what the server writes back. After the
    bytes given, the client hangs up, or with hold=True stays silent until fed or released."""

    def __init__(self, *chunks, hold=False):
        self.incoming = list(chunks)
        self.hold = hold
        self.more = asyncio.Event()
        self.out = b""
        self.writes = []
        self.closed = False
        self.asked = 0  # the most bytes one read asked for

    async def read(self, n):
        self.asked = max(self.asked, n)
        while not self.incoming:
            if not self.hold or self.closed:
                return b""
            await self.more.wait()
            self.more.clear()
        chunk = self.incoming[0]
        if len(chunk) > n:
            self.incoming[0] = chunk[n:]
            return chunk[:n]
        self.incoming.pop(0)
        return chunk

    def feed(self, data):
        self.incoming.append(data)
        self.more.set()

    def hang_up(self):
        self.hold = False
        self.more.set()

    def write(self, data):
        self.writes.append(len(data))
        self.out += bytes(data)

    async def drain(self):
        await asyncio.sleep(0)

    def close(self):
        self.closed = True

    async def wait_closed(self):
        pass

    def response(self):
        """(status, headers as a dict with lower-case names, body) of the HTTP answer."""
        head, _, body = self.out.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.lower()] = value.strip()
        return int(lines[0].split(" ")[1]), headers, body

    def frames(self):
        """The server's frames after its 101: [(opcode, payload)]."""
        _, _, data = self.out.partition(b"\r\n\r\n")
        frames = []
        while data:
            assert data[0] & 0x80, "a server frame is never fragmented"
            n, at = data[1], 2
            assert not n & 0x80, "a server frame is never masked"
            if n == 126:
                n, at = data[2] << 8 | data[3], 4
            frames.append((data[0] & 15, data[at:at + n]))
            data = data[at + n:]
        return frames

    def texts(self):
        return [payload.decode() for opcode, payload in self.frames() if opcode == 1]

    def close_code(self):
        closes = [payload for opcode, payload in self.frames() if opcode == 8]
        return (closes[-1][0] << 8 | closes[-1][1]) if closes and closes[-1] else None


class _Wifi:
    def __init__(self, running):
        self.running = running  # what wifi.Wifi runs now: ap, sta or off


class Access(access.Access):
    """The firmware's own access rules, on a network that runs `mode`, counting the PINs it really checked."""

    def __init__(self, pin=PIN, mode="ap"):
        super().__init__(pin, _Wifi(mode))
        self.checked = 0

    def login(self, pin, now_ms):
        if self.refusal() is None and self.wait_s(now_ms) == 0:
            self.checked += 1
        return super().login(pin, now_ms)


class App:
    """What the server asks of the app: handle() (answering ping, and any verb as handled), access, problems."""

    def __init__(self, access=None):
        self.access = access if access is not None else Access()
        self.problems = []
        self.handled = []  # (line, web) of every request handled

    def handle(self, line, now_ms, web=False):
        self.handled.append((line, web))
        try:
            request = protocol.parse(line)
        except protocol.ProtocolError as exc:
            return protocol.err(exc.req_id, exc.code, exc.message)
        return protocol.ok(request.id)


def logged_in(app):
    token, _ = app.access.login(PIN, 0)
    return "gw=" + token


def request(method, path, *headers, body=b""):
    text = method + " " + path + " HTTP/1.1\r\nHost: 192.168.4.1\r\n"
    for header in headers:
        text += header + "\r\n"
    if body:
        text += "Content-Length: " + str(len(body)) + "\r\n"
    return text.encode() + b"\r\n" + body


def upgrade(cookie=None, key=KEY):
    headers = ["Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: " + key, "Sec-WebSocket-Version: 13"]
    if cookie:
        headers.append("Cookie: theme=dark; " + cookie)
    return request("GET", "/ws", *headers)


def frame(payload, opcode=1, fin=True, mask=MASK, length=None):
    """A client frame; `length` forces the length field (a frame that lies about its size)."""
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload) if length is None else length
    head = bytes((0x80 * fin | opcode,))
    bit = 0x80 if mask else 0
    if n < 126:
        head += bytes((bit | n,))
    elif n < 65536:
        head += bytes((bit | 126, n >> 8, n & 255))
    else:
        head += bytes((bit | 127,)) + n.to_bytes(8, "big")
    if not mask:
        return head + payload
    return head + mask + bytes(b ^ mask[i & 3] for i, b in enumerate(payload))


def close_frame(code=1000):
    return frame(bytes((code >> 8, code & 255)), opcode=8)


def run(server, *clients):
    """Serve the clients, each on its own connection, until every one is done."""

    async def go():
        tasks = [asyncio.create_task(server.connection(client, client)) for client in clients]
        for task in tasks:
            await task

    asyncio.run(go())


def server(app=None, **options):
    options.setdefault("request_s", 0.2)
    return httpd.Server(app if app is not None else App(), **options)
