"""The web server's HTTP side against hostile and honest clients: every bound answered with its status and
a closed connection, the page sent from flash in small chunks, and no request acting without a session."""

import asyncio

import fwtest
import webrig
from gullwing import httpd
from simboard import board
from webrig import PIN, Access, App, Client, logged_in, request, run, server


def setup_function():
    board.reset("ESP32")
    board.use_real_time()  # asyncio's timeouts run on the interpreter's clock


def teardown_function():
    fwtest.remove_temp()


def _answer(app, *chunks, **options):
    client = Client(*chunks)
    run(server(app, **options), client)
    assert client.closed
    return client.response()


def test_the_page_is_sent_gzipped_from_flash_in_small_chunks():
    path = fwtest.temp_store_path("page")
    page = bytes(range(256)) * 12  # 3 KB, six chunks
    with open(path, "wb") as f:
        f.write(page)
    client = Client(request("GET", "/"))
    run(server(page=path), client)
    status, headers, body = client.response()
    assert status == 200 and body == page
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["content-encoding"] == "gzip" and headers["cache-control"] == "no-cache"
    assert headers["content-length"] == str(len(page))
    assert max(client.writes) <= httpd.CHUNK  # never the whole file at once


def test_no_page_stored_is_404():
    status, _, _ = _answer(App(), request("GET", "/"), page="/tmp/gw-no-such-page.gz")
    assert status == 404


def test_an_overlong_request_line_is_414_and_read_in_bounded_pieces():
    client = Client(b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\n\r\n")
    run(server(), client)
    assert client.response()[0] == 414
    assert client.asked <= httpd.LINE_MAX + 8  # the server's buffer, whatever the client sends


def test_oversized_headers_are_431():
    long_line = request("GET", "/session", "X-Long: " + "b" * 300)
    many = request("GET", "/session", *["X-%d: 1" % i for i in range(30)])
    heavy = request("GET", "/session", *["X-%d: %s" % (i, "c" * 240) for i in range(10)])  # 2.4 KB in all
    for chunks in (long_line, many, heavy):
        assert _answer(App(), chunks)[0] == 431


def test_a_body_over_64_bytes_is_413_and_no_pin_is_checked():
    app = App()
    assert _answer(app, request("POST", "/login", body=b"pin=" + b"1" * 70))[0] == 413
    assert app.access.checked == 0


def test_malformed_requests_are_400():
    for bad in (b"GET\r\n\r\n", b"GET / HTTP/2.0\r\n\r\n", b"get / HTTP/1.1\r\n\r\n", b"GET nopath HTTP/1.1\r\n\r\n",
                b"GET  / HTTP/1.1\r\n\r\n", b"\xff\xfe / HTTP/1.1\r\n\r\n", b"GET / HTTP/1.1\r\nNo colon here\r\n\r\n",
                b"POST /login HTTP/1.1\r\nContent-Length: -5\r\n\r\n", b"GET /\x00 HTTP/1.1\r\n\r\n"):
        assert _answer(App(), bad)[0] == 400, bad


def test_other_paths_are_404_and_other_methods_405():
    assert _answer(App(), request("GET", "/etc/passwd"))[0] == 404
    assert _answer(App(), request("DELETE", "/session"))[0] == 405
    assert _answer(App(), request("GET", "/login"))[0] == 405


def test_a_client_that_hangs_up_early_is_closed_without_an_answer():
    client = Client(b"GET / HT")
    run(server(), client)
    assert client.closed and client.out == b""


def test_a_slow_client_is_closed_when_its_request_takes_too_long():
    client = Client(b"GET /session HTTP/1.1\r\nHost: x\r\n", hold=True)  # the blank line never comes
    run(server(request_s=0.1), client)
    assert client.closed and client.out == b""


def test_a_fifth_client_gets_503_while_four_are_connected():
    srv = server(request_s=2)
    quiet = [Client(b"GET /", hold=True) for _ in range(4)]
    fifth = Client(request("GET", "/session"))

    async def go():
        tasks = [asyncio.create_task(srv.connection(client, client)) for client in quiet]
        await asyncio.sleep(0.01)
        assert srv.clients == 4
        await srv.connection(fifth, fifth)
        for client in quiet:
            client.hang_up()
        for task in tasks:
            await task

    asyncio.run(go())
    assert fifth.response()[0] == 503 and fifth.closed
    assert srv.clients == 0
    sixth = Client(request("GET", "/session"))
    run(srv, sixth)
    assert sixth.response()[0] == 401  # the slots free again


def test_the_session_needs_the_cookie():
    app = App()
    status, _, body = _answer(app, request("GET", "/session"))
    assert status == 401 and body == b'{"pin":true}'
    assert _answer(app, request("GET", "/session", "Cookie: gw=0123456789abcdef"))[0] == 401
    assert _answer(app, request("GET", "/session", "Cookie: " + logged_in(app)))[0] == 200


def test_the_models_own_network_without_a_pin_is_open_and_a_home_network_without_one_refused():
    assert _answer(App(Access(pin="", mode="ap")), request("GET", "/session"))[0] == 200
    status, _, body = _answer(App(Access(pin="", mode="sta")), request("GET", "/session"))
    assert status == 403 and b"config set web.pin" in body
    assert _answer(App(Access(pin="", mode="sta")), request("POST", "/login", body=b"pin=1234"))[0] == 403


def test_the_right_pin_sets_the_session_cookie():
    app = App()
    status, headers, body = _answer(app, request("POST", "/login", "Content-Type: application/x-www-form-urlencoded",
                                                 body=b"pin=" + PIN.encode()))
    assert status == 200 and body == b"{}"
    cookie = headers["set-cookie"]
    assert cookie.endswith("; Path=/; HttpOnly; SameSite=Strict")
    assert _answer(app, request("GET", "/session", "Cookie: " + cookie.split(";")[0]))[0] == 200


def test_wrong_pins_are_403_then_slowed_with_429_and_retry_after():
    app = App()
    for _ in range(5):
        status, headers, body = _answer(app, request("POST", "/login", body=b"pin=9999"))
        assert status == 403 and body == b'{"error":"wrong PIN"}' and "set-cookie" not in headers
    status, headers, body = _answer(app, request("POST", "/login", body=b"pin=" + PIN.encode()))
    assert status == 429 and body == b'{"error":"wait","wait_s":1}' and headers["retry-after"] == "1"
    assert app.access.checked == 5  # the right PIN was not even looked at while slowed
    assert _answer(app, request("POST", "/login", body=b"nope=1"))[0] == 400


def test_the_live_channel_without_a_session_is_401_and_nothing_is_handled():
    app = App()
    client = Client(webrig.upgrade(), webrig.frame("door both open"))
    run(server(app), client)
    assert client.response()[0] == 401
    assert app.handled == []
    client = Client(webrig.upgrade("gw=forged"), webrig.frame("engine start"))
    run(server(app), client)
    assert client.response()[0] == 401 and app.handled == []
    assert _answer(App(Access(pin="", mode="sta")), webrig.upgrade())[0] == 403


def test_a_bad_upgrade_is_400():
    app = App()
    for bad in (webrig.upgrade(logged_in(app), key="short"),
                request("GET", "/ws", "Cookie: " + logged_in(app), "Upgrade: websocket", "Connection: Upgrade")):
        assert _answer(app, bad)[0] == 400


def test_a_port_that_cannot_be_bound_is_a_problem_not_a_crash():
    app = App()
    srv = httpd.Server(app)

    async def go():
        await srv.serve("256.1.1.1", 80)

    asyncio.run(go())
    assert app.problems and app.problems[0].startswith("web: ")


def test_the_control_task_keeps_the_most_a_quiet_tick_allocated():
    if not fwtest.MICROPYTHON:
        return  # gc.mem_alloc is MicroPython's
    from gullwing import runner

    class Ticking:
        def __init__(self):
            self.outbox = []
            self.ticks = 0
            self.kept = []

        def tick(self, now_ms):
            self.ticks += 1
            if self.ticks == 3:
                self.kept.append(bytearray(200))  # a tick that allocates, queuing no event
            if self.ticks == 5:
                self.outbox.append("evt big " + "x" * 500)  # a tick with an event: not counted

    app = Ticking()

    async def go():
        task = asyncio.create_task(runner.control(app, []))
        await asyncio.sleep(0.2)
        task.cancel()

    asyncio.run(go())
    assert app.ticks >= 6
    assert 200 <= app.tick_bytes < 400, app.tick_bytes
