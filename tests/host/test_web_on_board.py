"""The model's web panel on a virtual board with a plain ESP32's heap, attacked and used as the issue asks:
hostile HTTP and WebSocket input never stops the board (every bad request gets an error status or a closed
connection, the serial console keeps answering, the free heap comes back); without the PIN nothing changes;
wrong PINs are slowed down; three phones and the serial console see the same events; the page cannot lock the
owner out. Timing is never asserted tightly: tests run beside others on shared cores."""

import os
import random
import select
import threading
import time

import pytest

from host_tools import deploy
from host_tools.link import Link
from tests.host import webclient as wc
from tests.host.test_flood_on_board import console_only
from tests.host.virtual import SimProcess, set_pin

PIN = "2468"
REQUEST_S = 5  # httpd.REQUEST_S: how long a request may take to arrive
SLOW_S = 30  # what "a request must arrive within 5 s" may take here, on a loaded machine
RANDOM_REQUESTS = 1000
CONTROL_STATE = ("doors", "engine", "outputs", "halted")  # what a request that acts would change in `status`


def start_board(flash, pin=PIN, unplug=False):
    """A virtual ESP32 (110 KB heap) running gullwing with `web.pin` set: (sim, its web address). The PIN is
    applied at the next start, so the firmware is restarted after it is set over serial."""
    sim = SimProcess(flash, "--heap-kb", "110")
    try:
        deploy.deploy(port=sim.port, progress=False)
        if unplug:
            console_only(sim)  # the restart below takes it in
        if pin:
            set_pin(sim.port, pin)
        url = sim.wait_web_url(30)
        if not url:
            with Link(sim.port, timeout=10) as link:
                problems = link.request("status").data.get("problems")
            raise AssertionError("the firmware never listened on port 80; status problems: " + repr(problems))
        wait_serving(url)
        return sim, url
    except BaseException:
        sim.stop()
        raise


def wait_serving(url, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        try:
            if wc.http(url, "GET", "/session") is not None:
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, "the web server did not answer at " + url
        time.sleep(0.3)


def session(url, pin=PIN):
    reply, cookie = wc.login(url, pin, timeout=10)
    assert reply is not None and reply.status == 200 and cookie, reply
    return cookie


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    sim, url = start_board(tmp_path_factory.mktemp("web") / "flash")
    link = Link(sim.port, timeout=10)
    yield sim, url, link
    link.close()
    sim.stop()


def answers(link):
    reply = link.request("ping")
    assert reply.ok, "the serial console stopped answering: " + reply.line


def control_state(link):
    status = link.request("status").data
    return {key: status.get(key) for key in CONTROL_STATE}


def free_heap(link):
    link.request("heap")  # (a first collection: what the last round left to collect)
    return link.request("heap").data["free"]


def refused(reply, closed):
    """Whether a bad request was refused: an error status, or the connection closed without a reply."""
    return closed and (reply is None or reply.status >= 400)


# the hostile rounds: each returns nothing and asserts what a user would see


def oversized_http(url):
    cases = [
        (b"GET /" + b"a" * 300 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (b"GET /" + b"a" * 65536 + b" HTTP/1.1\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\nX-Long: " + b"b" * 300 + b"\r\n\r\n", 431),
        (b"GET / HTTP/1.1\r\n" + b"X-A: 1\r\n" * 30 + b"\r\n", 431),
        (b"GET / HTTP/1.1\r\n" + b"X-Wide: " + b"c" * 200 + b"\r\n" * 1 + (b"X-B: " + b"d" * 200 + b"\r\n") * 15
         + b"\r\n", 431),
        (b"POST /login HTTP/1.1\r\nContent-Length: 100\r\n\r\n" + b"pin=" + b"1" * 96, 413),
        (b"POST /login HTTP/1.1\r\nContent-Length: 99999999999999\r\n\r\npin=1", 413),
    ]
    for data, status in cases:
        reply, closed = wc.raw(url, data, timeout=10)
        # a server that stops reading early may reset the connection before its reply is read: closed is enough
        assert closed and (reply is None or reply.status == status), (data[:60], reply, status)


def malformed_http(url):
    cases = [
        (b"\r\n\r\n", None), (b"GET\r\n\r\n", None), (b"GET / HTTP/1.1\r\nno colon here\r\n\r\n", None),
        (b"\x00\xff\xfe\x16\x03\x01garbage\r\n\r\n", None), (b"GET / HTTP/9.9\r\n\r\n", None),
        (b"POST /login HTTP/1.1\r\nContent-Length: -5\r\n\r\n", None),
        (b"POST /login HTTP/1.1\r\nContent-Length: abc\r\n\r\n", None),
        (b"BREW / HTTP/1.1\r\n\r\n", 405), (b"DELETE /session HTTP/1.1\r\n\r\n", 405),
        (b"GET /etc/passwd HTTP/1.1\r\n\r\n", 404), (b"GET /../config.json HTTP/1.1\r\n\r\n", None),
        (b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n",
         None),  # no key, no cookie
    ]
    for data, status in cases:
        reply, closed = wc.raw(url, data, timeout=10)
        assert refused(reply, closed), (data[:60], reply, closed)
        if status is not None and reply is not None:
            assert reply.status == status, (data[:60], reply)


def slow_clients(url):
    """Four clients that hold their connection (three dribble a request a byte a second, one says nothing):
    a fifth is turned away with 503 meanwhile, each of the four is closed by the server in bounded time, and
    then a new client is served."""
    slow = [wc.Connection(url, timeout=10) for _ in range(4)]
    try:
        for conn in slow[:3]:
            conn.send(b"GET /session HTTP/1.1\r\n")
        time.sleep(2.0)  # each one taken in by the board first, on a loaded machine too
        reply, closed = wc.raw(url, b"GET /session HTTP/1.1\r\n\r\n", timeout=10)
        assert closed and (reply is None or reply.status == 503), reply
        open_ = {conn.sock: conn for conn in slow}
        deadline = time.monotonic() + SLOW_S
        while open_:
            assert time.monotonic() < deadline, str(len(open_)) + " slow clients still held after " + str(SLOW_S) + " s"
            readable, _, _ = select.select(list(open_), [], [], 1.0)
            for sock in readable:
                try:
                    data = sock.recv(4096)
                except OSError:
                    data = b""
                if not data:
                    open_.pop(sock)
            for sock, conn in list(open_.items()):
                if conn is not slow[3] and not conn.send(b"X"):  # a byte of a header that never ends
                    open_.pop(sock)
    finally:
        for conn in slow:
            conn.close()
    assert wc.http(url, "GET", "/session", timeout=10).status in (200, 401)


def ws_close_code(url, cookie, *frames):
    with wc.WebSocket(url, cookie, timeout=10) as ws:
        for data in frames:
            ws.conn.send(data)
        try:
            return ws.close_code(timeout=10)
        except TimeoutError:
            return "still open"


def hostile_frames(url, cookie):
    text = wc.TEXT
    assert ws_close_code(url, cookie, wc.frame(text, b"x" * 200)) == 1009
    assert ws_close_code(url, cookie, wc.frame(text, b"ping" + b" " * 125)) == 1009  # a 129-byte line
    assert ws_close_code(url, cookie, wc.frame(text, b"", length=1 << 40)) == 1009  # a header promising 1 TB
    assert ws_close_code(url, cookie, wc.frame(text, b"ping", mask=False)) == 1002
    assert ws_close_code(url, cookie, wc.frame(wc.BINARY, b"ping")) == 1003
    # fragmented: the contract lists it with binary (1003); RFC 6455 would also allow 1002
    assert ws_close_code(url, cookie, wc.frame(text, b"pi", fin=False), wc.frame(wc.CONTINUATION, b"ng")) in (1002,
                                                                                                         1003)
    assert ws_close_code(url, cookie, wc.frame(wc.CONTINUATION, b"ping")) in (1002, 1003)
    assert ws_close_code(url, cookie, wc.frame(text, b"ping \xff\xfe")) == 1007
    assert ws_close_code(url, cookie, wc.frame(text, b"ping \xed\xa0\x80")) == 1007  # a UTF-16 surrogate
    # not named by the contract: reserved bits, an unknown opcode, a too long ping; any close will do
    for data in (wc.frame(text, b"ping", rsv=4), wc.frame(0x5, b"ping"), wc.frame(wc.PING, b"p" * 126)):
        assert ws_close_code(url, cookie, data) != "still open", data[:4]
    with wc.WebSocket(url, cookie, timeout=10) as ws:  # a good channel after all that
        assert ws.ping(b"still there")
        assert ws.request("ping", timeout=10) == "ok"
        # more than 30 a second: each still gets exactly one reply, `ok` or busy
        for i in range(60):
            ws.send("#" + str(i) + " ping")
        replies = [ws.reply_line(timeout=10) for _ in range(60)]
        assert [r.split(" ")[0] for r in replies] == ["#" + str(i) for i in range(60)], replies
        assert all(r.split(" ", 1)[1] in ("ok", "err busy too many requests") for r in replies), replies
        ws.close()


def upgrade_refusals(url, cookie):
    for headers in ([("Sec-WebSocket-Version", "8")], [("Upgrade", "h2c")]):
        with pytest.raises(wc.HandshakeRefused) as refusal:
            wc.WebSocket(url, cookie, timeout=10, headers=headers)
        assert refusal.value.reply is None or refusal.value.reply.status >= 400


VERBS = ("status", "ping", "help", "heap", "version", "door left open", "door both to 30", "door right stop",
         "throttle 20", "blip", "events on", "events off", "engine", "door", "x" * 50, "#7 status", "# ping", "")


def random_http(rng):
    """Bytes of a random, mostly hostile, HTTP request."""
    kind = rng.randrange(6)
    if kind == 0:
        return os.urandom(rng.randrange(1, 600))
    method = rng.choice(["GET", "POST", "PUT", "HEAD", "OPTIONS", "G\x00T", "get", "X" * 40])
    path = rng.choice(["/", "/session", "/ws", "/panel.html.gz", "/%00", "/" + "z" * rng.randrange(300),
                       "*", "http://x/", "/ws?x=1", ""])
    version = rng.choice(["HTTP/1.1", "HTTP/1.0", "HTTP/2", "", "HTTP/1.1 junk"])
    lines = [method + " " + path + " " + version]
    for _ in range(rng.randrange(0, 30 if kind == 1 else 6)):
        name = rng.choice(["Cookie", "Upgrade", "Connection", "Content-Length", "Sec-WebSocket-Key",
                           "Sec-WebSocket-Version", "X-" + "h" * rng.randrange(300), ""])
        value = rng.choice(["gw=" + os.urandom(16).hex(), "websocket", "Upgrade", str(rng.randrange(-9, 99999)),
                            "dGhlIHNhbXBsZSBub25jZQ==", "13", "v" * rng.randrange(400), "\x7f\x01"])
        lines.append(name + rng.choice([": ", ":", " "]) + value)
    head = "\r\n".join(lines).encode("latin-1", "replace")
    ending = rng.choice([b"\r\n\r\n", b"\n\n", b"\r\n", b""])
    return head + ending + os.urandom(rng.choice([0, 0, 10, 80]))


def random_frame(rng):
    """(a random frame's bytes, whether it is a well-formed request the board must answer)."""
    line = rng.choice(VERBS).encode()
    if rng.random() < 0.5:
        return wc.frame(wc.TEXT, line), True
    choice = rng.randrange(7)
    if choice == 0:
        return wc.frame(wc.TEXT, os.urandom(rng.randrange(1, 200))), False
    if choice == 1:
        return wc.frame(wc.TEXT, line, mask=False), False
    if choice == 2:
        return wc.frame(rng.choice([wc.BINARY, wc.CONTINUATION, 0x3, 0xB]), line), False
    if choice == 3:
        return wc.frame(wc.TEXT, line, fin=False), False
    if choice == 4:
        return wc.frame(wc.TEXT, line, rsv=rng.randrange(1, 8)), False
    if choice == 5:
        return wc.frame(wc.TEXT, line + b"\n" + line), False
    return wc.frame(wc.TEXT, line[:3], length=rng.choice([300, 70000, 1 << 33])), False


def random_requests(url, cookie, link, count=RANDOM_REQUESTS, seed=15):
    """`count` random requests, a quarter of them frames on a live channel; serial answers every 100."""
    rng = random.Random(seed)
    ws = None
    for i in range(count):
        if i % 100 == 0:
            answers(link)
        if rng.random() < 0.75:
            data = random_http(rng)
            reply, closed = wc.raw(url, data, timeout=10, done=True)  # (an unfinished one is not waited out)
            assert closed, ("still open after", data[:80], reply)  # one request per connection, whatever it was
            continue
        if ws is None:
            ws = wc.WebSocket(url, cookie, timeout=10)
        data, good = random_frame(rng)
        ws.conn.send(data)
        try:
            ws.reply_line(timeout=10)  # one reply, whatever it says
        except (wc.Closed, ConnectionError):
            assert not good, ("a good request closed the channel", data[:40])
            ws.conn.close()
            ws = None
        except TimeoutError:
            assert not good, ("no reply to a good request", data[:40])
            try:  # a bad frame left unanswered: the server must still close the channel on its own
                ws.close_code(timeout=SLOW_S)
            except TimeoutError:
                raise AssertionError("a bad frame neither answered nor closed: " + repr(data[:40])) from None
            ws.conn.close()
            ws = None
    if ws is not None:
        ws.close()


def test_hostile_http_and_websocket_input_never_stops_the_board(board):
    sim, url, link = board
    cookie = session(url)
    with wc.WebSocket(url, cookie, timeout=10) as ws:  # everything the web needs, loaded, before the measure
        assert ws.request("status", timeout=10).startswith("ok {")
        ws.close()
    # the first hundreds of requests leave the heap a few KB lower for good, once (the interpreter's and the
    # server's tables growing to what the traffic needs, measured: the next 1,000 random requests take 0.1 KB):
    # a leak shows from there on
    random_requests(url, cookie, link, count=300, seed=1)
    time.sleep(REQUEST_S + 1)
    before = free_heap(link)
    rounds = (lambda: oversized_http(url), lambda: malformed_http(url), lambda: slow_clients(url),
              lambda: hostile_frames(url, cookie), lambda: upgrade_refusals(url, cookie),
              lambda: random_requests(url, cookie, link))
    for round_ in rounds:
        round_()
        answers(link)
    wait_serving(url)
    time.sleep(REQUEST_S + 1)  # a connection the server is still timing out holds its buffers until then
    after = free_heap(link)
    assert after >= before * 0.95, "free heap " + str(before) + " before, " + str(after) + " after"
    assert sim.proc.poll() is None


def test_without_the_pin_no_request_changes_anything(board):
    _sim, url, link = board
    before = control_state(link)
    forged = os.urandom(16).hex()
    assert wc.http(url, "GET", "/session", timeout=10).status == 401
    assert wc.http(url, "GET", "/session", cookie=forged, timeout=10).status == 401
    for cookie in (None, forged, "", "../" * 20):
        with pytest.raises(wc.HandshakeRefused) as refusal:
            wc.WebSocket(url, cookie, timeout=10)
        assert refusal.value.reply is not None and refusal.value.reply.status == 401
    # the frames a page would send, after a refused upgrade on the same connection: nothing may read them
    conn = wc.Connection(url, timeout=10)
    conn.send(wc.request_bytes("GET", "/ws", [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                                              ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                                              ("Sec-WebSocket-Version", "13")]))
    conn.send(wc.frame(wc.TEXT, b"door both open") + wc.frame(wc.TEXT, b"engine start"))
    reply = conn.read_reply(timeout=10)
    assert reply is not None and reply.status == 401 and conn.closed(10)
    conn.close()
    for method, path, body in (("POST", "/ws", b"door both open"), ("GET", "/door%20both%20open", b""),
                               ("POST", "/", b"engine start"), ("POST", "/session", b"throttle 100")):
        reply = wc.http(url, method, path, body=body, timeout=10)
        assert reply is None or reply.status >= 400, (method, path, reply)
    time.sleep(1.0)  # (a move started would show by now)
    assert control_state(link) == before
    # the same request with the PIN does act: the check above could have failed
    with wc.WebSocket(url, session(url), timeout=10) as ws:
        assert ws.request("door both open 2000", timeout=10).startswith("ok {")
        assert control_state(link)["doors"] != before["doors"]
        assert ws.request("door both close 200", timeout=10).startswith("ok {")
        ws.close()


def test_after_5_wrong_pins_further_tries_wait_and_even_the_right_pin_is_refused_then(board):
    _sim, url, _link = board
    wrong = "1357"  # not PIN
    for _ in range(5):
        reply, cookie = wc.login(url, wrong, timeout=10)
        assert reply.status == 403 and reply.json() == {"error": "wrong PIN"} and cookie is None
    # each wrong try past the fifth doubles the wait (1, 2, 4, then 8 s): long enough to judge on a loaded machine
    for _ in range(3):
        reply, _ = wc.login(url, wrong, timeout=10)
        while reply.status == 429:
            time.sleep(int(reply.headers["retry-after"]) + 0.2)
            reply, _ = wc.login(url, wrong, timeout=10)
        assert reply.status == 403
    reply, cookie = wc.login(url, PIN, timeout=10)
    assert reply.status == 429 and cookie is None, "the right PIN was checked inside the wait"
    wait_s = int(reply.headers["retry-after"])
    assert reply.json() == {"error": "wait", "wait_s": wait_s} and wait_s >= 1
    time.sleep(wait_s + 0.5)
    session(url)  # after the wait the right PIN works


def _listen_all(clients, link, seconds):
    threads = [threading.Thread(target=ws.listen, args=(seconds,)) for ws in clients]
    for thread in threads:
        thread.start()
    link.listen(seconds)
    for thread in threads:
        thread.join()


def test_three_phones_and_the_serial_console_see_the_same_events(board):
    _sim, url, link = board
    phones = [wc.WebSocket(url, session(url), timeout=10) for _ in range(3)]
    try:
        for ws in phones:
            assert ws.request("events on", timeout=10) == "ok"
        assert link.request("events on").ok
        _listen_all(phones, link, 1.0)
        for channel in (*phones, link):
            channel.events.clear()
        assert phones[0].request("door both open 300", timeout=10).startswith("ok {")
        assert link.request("engine start").ok
        _listen_all(phones, link, 6.0)
        assert phones[1].request("engine stop", timeout=10).startswith("ok")
        assert phones[2].request("door both close 300", timeout=10).startswith("ok {")
        _listen_all(phones, link, 4.0)
        seen = [[e for e in channel.events if not e.startswith("evt config ")] for channel in (*phones, link)]
        assert any(e.startswith("evt door ") for e in seen[3]) and any(e.startswith("evt engine ") for e in seen[3])
        for phone in seen[:3]:
            assert phone == seen[3]
    finally:
        link.request("events off")
        for ws in phones:
            ws.close()


def test_what_could_lock_the_owner_out_is_denied_on_the_web_and_works_on_serial(board):
    _sim, url, link = board
    ap_password = link.request("wifi password").data["password"]
    denied = ("config set web.pin 1357", "config set wifi.password abcdefgh1", "config set wifi.ssid Home",
              "config set wifi.mode off", "config set wifi.ap_password newkey123", "config reset", "wifi password")
    with wc.WebSocket(url, session(url), timeout=10) as ws:
        for line in denied:
            reply = ws.request(line, timeout=10)
            assert reply.startswith("err denied "), (line, reply)
        for line in ("status", "wifi", "config get wifi.ap_password", "config get web.pin"):
            reply = ws.request(line, timeout=10)
            assert ap_password not in reply and PIN not in reply, (line, reply)
        ws.close()
    assert link.request("config get wifi.ssid").data == {"wifi.ssid": ""}  # nothing was changed
    assert link.request("config get wifi.mode").data == {"wifi.mode": "ap"}
    session(url)  # the PIN is still the owner's
    for line in ("config set wifi.ssid Home", "config set web.pin 1357", "config set wifi.password abcdefgh1"):
        reply = link.request(line)
        assert reply.ok and reply.data.get("restart") is True, (line, reply.line)
    assert link.request("config get wifi.ssid").data == {"wifi.ssid": "Home"}
    assert link.request("config reset").ok  # on serial: every setting forgotten, config.json alone from the next start
    assert link.request("config get").data["settings"] == {}


def test_a_steady_20_requests_a_second_over_the_live_channel_lose_none():
    from bench import web_bench

    failed = [text for text, ok in web_bench.summary(web_bench.run(seconds=10)) if not ok]
    assert not failed, failed

