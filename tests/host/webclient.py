"""A small HTTP/1.1 and WebSocket (RFC 6455) client on raw sockets, for the tests and the benchmark of the model's
web panel (docs/wifi.md): it speaks both correctly, and misbehaves on purpose when asked (raw bytes, requests
sent a few bytes at a time, unmasked, binary, fragmented, oversized or invalid UTF-8 frames, a frame header that
promises more than comes). Standard library only, so it runs wherever the tests do."""

import base64
import hashlib
import json
import os
import socket
import threading
import time
from urllib.parse import urlsplit

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3
TEXT, BINARY, CLOSE, PING, PONG, CONTINUATION = 0x1, 0x2, 0x8, 0x9, 0xA, 0x0


class Closed(Exception):
    """The server closed the connection (`code`: the close frame's status, None when it sent none)."""

    def __init__(self, code=None, reason=""):
        super().__init__("closed" + ("" if code is None else " " + str(code) + " " + reason))
        self.code = code
        self.reason = reason


def address(url):
    """(host, port) of an `http://host:port/` address."""
    parts = urlsplit(url)
    return parts.hostname, parts.port or 80


class Reply:
    """An HTTP reply: `status` (int), `reason`, `headers` ({lower-case name: value}; a repeated header keeps the
    last), `body` (bytes)."""

    def __init__(self, status, reason, headers, body):
        self.status, self.reason, self.headers, self.body = status, reason, headers, body

    def json(self):
        return json.loads(self.body)

    def cookie(self, name):
        """The value `Set-Cookie` gives `name`, or None."""
        head = self.headers.get("set-cookie", "").split(";")[0]
        key, _, value = head.partition("=")
        return value.strip() if key.strip() == name else None

    def __repr__(self):
        return "<Reply " + str(self.status) + " " + repr(self.body[:80]) + ">"


class Connection:
    """One TCP connection to the board's web server, for whatever bytes a test wants to send."""

    def __init__(self, url, timeout=5.0):
        self.sock = socket.create_connection(address(url), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.pending = b""  # read but not yet consumed

    def send(self, data):
        """Send bytes; False when the server has already closed the connection (a reset or a broken pipe)."""
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    def _more(self, deadline):
        """Read what comes by `deadline` into `pending`; b"" means the server closed; raises TimeoutError."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("nothing from the server in time")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            raise TimeoutError("nothing from the server in time") from None
        except ConnectionResetError:
            data = b""
        self.pending += data
        return data

    def read_exactly(self, n, deadline):
        while len(self.pending) < n:
            if not self._more(deadline):
                raise Closed()
        data, self.pending = self.pending[:n], self.pending[n:]
        return data

    def read_reply(self, timeout=5.0):
        """The next HTTP reply, or None when the server closed the connection without one; raises TimeoutError
        when it stays silent and open."""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.pending:
            if not self._more(deadline):
                return None
        head, _, self.pending = self.pending.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        version, _, rest = status_line.partition(" ")
        if not version.startswith("HTTP/1."):
            raise ValueError("not an HTTP reply: " + repr(status_line))
        code, _, reason = rest.partition(" ")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        status = int(code)
        if "content-length" in headers:
            body = self.read_exactly(int(headers["content-length"]), deadline)
        elif status in (101, 204, 304) or 100 <= status < 200:
            body = b""
        else:  # to the end of the connection
            while self._more(deadline):
                pass
            body, self.pending = self.pending, b""
        return Reply(status, reason, headers, body)

    def closed(self, timeout=5.0):
        """True when the server closes the connection within `timeout` (what it sent meanwhile is dropped)."""
        deadline = time.monotonic() + timeout
        try:
            while self._more(deadline):
                self.pending = b""
        except TimeoutError:
            return False
        return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def request_bytes(method, path, headers=(), body=b"", host="gullwing"):
    """An HTTP/1.1 request as bytes; `headers` is [(name, value)]."""
    lines = [method + " " + path + " HTTP/1.1", "Host: " + host]
    lines += [name + ": " + value for name, value in headers]
    if body or method == "POST":
        lines.append("Content-Length: " + str(len(body)))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def http(url, method, path, headers=(), body=b"", cookie=None, timeout=5.0):
    """One request on a new connection; its Reply, or None when the server closed without answering."""
    headers = list(headers)
    if cookie:
        headers.append(("Cookie", "gw=" + cookie))
    with Connection(url, timeout) as conn:
        conn.send(request_bytes(method, path, headers, body))
        return conn.read_reply(timeout)


def raw(url, data, timeout=5.0, done=False):
    """Send bytes as they are on a new connection: (the Reply or None, whether the server then closed). With
    `done` the client then says it sends no more (a half close), so an unfinished request ends at once."""
    with Connection(url, timeout) as conn:
        conn.send(data)
        if done:
            conn.sock.shutdown(socket.SHUT_WR)
        try:
            reply = conn.read_reply(timeout)
        except (TimeoutError, ValueError):
            reply = None
        return reply, conn.closed(timeout)


def login(url, pin, timeout=5.0):
    """POST /login: (the Reply, the `gw` session cookie or None)."""
    reply = http(url, "POST", "/login", [("Content-Type", "application/x-www-form-urlencoded")],
                 ("pin=" + str(pin)).encode(), timeout=timeout)
    return reply, reply.cookie("gw") if reply else None


def accept_key(key):
    """The Sec-WebSocket-Accept a server must answer to `key` (RFC 6455 section 4.2.2)."""
    return base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest()).decode()


def frame(opcode, payload=b"", fin=True, mask=True, rsv=0, length=None):
    """One WebSocket frame as a client would send it; `length` overrides the length the header claims (a header
    that promises more than follows), `mask=False` leaves it unmasked (which a server must refuse)."""
    length = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    bit = 0x80 if mask else 0
    if length < 126:
        head += bytes([bit | length])
    elif length < 1 << 16:
        head += bytes([bit | 126]) + length.to_bytes(2, "big")
    else:
        head += bytes([bit | 127]) + length.to_bytes(8, "big")
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i & 3] for i, b in enumerate(payload))


class WebSocket:
    """The live channel (`GET /ws`): `request(line)` -> the reply line; `evt` lines met on the way are kept in
    `events`, oldest first. Raises Closed when the server closes, HandshakeRefused when it will not upgrade."""

    def __init__(self, url, cookie=None, timeout=5.0, path="/ws", headers=()):
        self.url = url
        self.timeout = timeout
        self.events = []
        self._sending = threading.Lock()  # a reader thread answers pings while another thread sends
        self.conn = Connection(url, timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        head = [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Key", key),
                ("Sec-WebSocket-Version", "13"), *headers]
        if cookie:
            head.append(("Cookie", "gw=" + cookie))
        self.conn.send(request_bytes("GET", path, head))
        reply = self.conn.read_reply(timeout)
        if reply is None or reply.status != 101:
            self.conn.close()
            raise HandshakeRefused(reply)
        if reply.headers.get("sec-websocket-accept") != accept_key(key):
            self.conn.close()
            raise ValueError("wrong Sec-WebSocket-Accept: " + repr(reply.headers))
        self.reply = reply

    def send_frame(self, opcode, payload=b"", **how):
        """One frame (see `frame` for `fin`, `mask`, `rsv`, `length`); False when the server has closed."""
        data = frame(opcode, payload, **how)
        with self._sending:
            return self.conn.send(data)

    def send(self, text):
        """One text message (str, or bytes sent as they are: e.g. invalid UTF-8)."""
        return self.send_frame(TEXT, text.encode() if isinstance(text, str) else text)

    def read_frame(self, deadline):
        """The next frame as it comes: (fin, opcode, payload); raises Closed at the end of the connection."""
        first, second = self.conn.read_exactly(2, deadline)
        if second & 0x80:
            raise ValueError("the server masked its frame (RFC 6455 section 5.1 forbids it)")
        length = second & 0x7F
        if length == 126:
            length = int.from_bytes(self.conn.read_exactly(2, deadline), "big")
        elif length == 127:
            length = int.from_bytes(self.conn.read_exactly(8, deadline), "big")
        return bool(first & 0x80), first & 0x0F, self.conn.read_exactly(length, deadline)

    def recv(self, timeout=None):
        """The next message from the server as (opcode, payload bytes); pings are answered with pongs on the
        way; a close frame is answered and raises Closed(code). Raises TimeoutError when nothing comes."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            fin, opcode, payload = self.read_frame(deadline)
            if not fin or opcode == CONTINUATION:
                raise ValueError("a fragmented message from the server (the board sends none)")
            if opcode == PING:
                self.send_frame(PONG, payload)
                continue
            if opcode == CLOSE:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
                self.send_frame(CLOSE, payload[:2])
                self.conn.close()
                raise Closed(code, payload[2:].decode("utf-8", "replace"))
            if opcode == PONG:
                continue
            return opcode, payload

    def recv_line(self, timeout=None):
        """The next text message as str."""
        opcode, payload = self.recv(timeout)
        if opcode != TEXT:
            raise ValueError("expected a text frame, got opcode " + str(opcode))
        return payload.decode()

    def request(self, line, timeout=None):
        """Send one request line; its reply line (the next message that is not an event)."""
        self.send(line)
        return self.reply_line(timeout)

    def reply_line(self, timeout=None):
        """The next message that is not an `evt` line (events met on the way go to `events`)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            text = self.recv_line(max(0.0, deadline - time.monotonic()))
            if not text.startswith("evt "):
                return text
            self.events.append(text)

    def listen(self, seconds):
        """Keep the event lines that come within `seconds` (a non-event line here is a test's mistake)."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                text = self.recv_line(max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                return self.events
            if not text.startswith("evt "):
                raise AssertionError("a line that answers nothing: " + repr(text))
            self.events.append(text)

    def ping(self, payload=b"hi", timeout=None):
        """RFC 6455 ping; True when the matching pong comes back (other messages meanwhile are kept aside only
        if they are events)."""
        self.send_frame(PING, payload)
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            _fin, opcode, back = self.read_frame(deadline)
            if opcode == PONG:
                return back == payload
            if opcode == TEXT and back.startswith(b"evt "):
                self.events.append(back.decode())
            elif opcode == CLOSE:
                raise Closed(int.from_bytes(back[:2], "big") if len(back) >= 2 else None)

    def close_code(self, timeout=None):
        """Read until the server closes: its close code (None when it only dropped the connection)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        try:
            while True:
                self.recv(max(0.0, deadline - time.monotonic()))
        except Closed as closed:
            return closed.code

    def close(self, code=1000):
        """Close politely: send a close frame and wait (briefly) for the server's."""
        if self.send_frame(CLOSE, code.to_bytes(2, "big")):
            try:
                self.close_code(timeout=2.0)
            except (TimeoutError, ValueError, OSError):
                pass
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.conn.close()


class HandshakeRefused(Exception):
    """The server did not upgrade to a WebSocket; `reply` is its HTTP reply (None: it closed without one)."""

    def __init__(self, reply):
        super().__init__("no upgrade: " + repr(reply))
        self.reply = reply
