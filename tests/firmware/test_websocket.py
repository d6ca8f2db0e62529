"""The live channel: one reply frame per request frame through the app's handlers (web=True), events to
every open channel, and every broken rule (size, mask, opcode, fragments, UTF-8, silence, flood) answered
with its close code, the board serving on."""

import asyncio

import fwtest
from gullwing import websocket
from gullwing.webchannel import Hub
from simboard import board
from webrig import App, Client, close_frame, frame, logged_in, run, server, upgrade


def setup_function():
    board.reset("ESP32")
    board.use_real_time()


def _channel(app, *frames, **options):
    client = Client(upgrade(logged_in(app)), *frames)
    run(server(app, **options), client)
    assert client.out.startswith(b"HTTP/1.1 101 ") and client.closed
    return client


def test_the_handshake_answers_rfc_6455s_example():
    assert websocket.accept_key(b"dGhlIHNhbXBsZSBub25jZQ==") == b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    app = App()
    client = _channel(app, close_frame())
    status, headers, _ = client.response()
    assert status == 101 and headers["sec-websocket-accept"] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert headers["upgrade"] == "websocket"


def test_each_request_frame_gets_one_reply_through_the_handlers_on_the_web_channel():
    app = App()
    client = _channel(app, frame("#1 ping"), frame("ping"), frame("#x"), close_frame(1000))
    assert client.texts() == ["#1 ok", "ok", "#x err unknown_verb empty request; try help"]
    assert app.handled == [(b"#1 ping", True), (b"ping", True), (b"#x", True)]
    assert client.close_code() == 1000  # the close echoed


def test_frames_sent_a_byte_at_a_time_are_read_whole():
    app = App()
    data = frame("#7 ping") + close_frame()
    client = _channel(app, *[data[i:i + 1] for i in range(len(data))])
    assert client.texts() == ["#7 ok"]


def test_ping_gets_pong_with_its_payload():
    client = _channel(App(), frame(b"hello", opcode=9), frame(b"", opcode=10), close_frame())
    assert client.frames()[0] == (10, b"hello")


def test_broken_frames_close_the_channel_with_their_code_and_nothing_is_handled():
    cases = (
        (frame("ping", mask=None), 1002),  # unmasked
        (frame("x" * 129), 1009),  # over 128 bytes
        (frame("x" * 20, length=70_000), 1009),  # a length past 64 KB
        (frame(b"\x00\x01", opcode=2), 1003),  # binary
        (frame("pi", fin=False) + frame("ng", opcode=0), 1003),  # fragmented
        (frame("ng", opcode=0), 1003),  # a stray continuation
        (frame("ping", opcode=3), 1002),  # an unknown opcode
        (bytes((0xC1,)) + frame("ping")[1:], 1002),  # a reserved bit
        (frame(b"x" * 126, opcode=9), 1002),  # a control frame too long
        (frame(b"\x03", opcode=8), 1002),  # a close frame of one byte
        (frame(b"ping \xff"), 1007),  # not UTF-8
        (frame(b"\xed\xa0\x80"), 1007),  # a surrogate
        (frame(b"\xc0\xaf"), 1007),  # overlong
        (frame(b"ok \xe2\x82"), 1007),  # cut short
    )
    for data, code in cases:
        app = App()
        client = _channel(app, data + frame("ping"))
        assert client.close_code() == code, (data, client.frames())
        assert app.handled == [], data


def test_utf8_is_checked_as_rfc_3629_has_it():
    for text in (b"", b"abc", "door é".encode(), "€".encode(), "𝄞".encode(), b"\xf4\x8f\xbf\xbf"):
        assert websocket.utf8_valid(text, len(text)), text
    for bad in (b"\x80", b"\xf5\x80\x80\x80", b"\xf4\x90\x80\x80", b"\xe0\x80\x80", b"\xf0\x80\x80\x80", b"\xc3"):
        assert not websocket.utf8_valid(bad, len(bad)), bad


def test_a_silent_channel_is_closed_going_away():
    app = App()
    client = Client(upgrade(logged_in(app)), frame("ping"), hold=True)
    run(server(app, idle_s=0.1), client)
    assert client.texts() == ["ok"] and client.close_code() == 1001 and client.closed


def test_over_30_requests_a_second_are_answered_busy_and_not_handled():
    app = App()
    client = _channel(app, *[frame("#%d ping" % i) for i in range(35)], close_frame())
    replies = client.texts()
    assert len(replies) == 35  # still one reply each
    assert replies[:30] == ["#%d ok" % i for i in range(30)]
    assert replies[30:] == ["#%d err busy too many requests" % i for i in range(30, 35)]
    assert len(app.handled) == 30


def test_events_reach_every_open_channel_and_a_full_one_drops_and_counts():
    app = App()
    srv = server(app, request_s=2)
    clients = [Client(upgrade(logged_in(app)), hold=True) for _ in range(3)]

    async def go():
        tasks = [asyncio.create_task(srv.connection(client, client)) for client in clients]
        await asyncio.sleep(0.02)
        assert srv.hub.channels() == 3
        srv.hub("evt door {\"door\":\"left\"}")
        srv.hub.pump()
        await asyncio.sleep(0.02)
        clients[0].feed(frame("ping"))
        await asyncio.sleep(0.02)
        for client in clients:
            client.feed(close_frame())
        for task in tasks:
            await task

    asyncio.run(go())
    for client in clients:
        assert client.texts()[0] == 'evt door {"door":"left"}'
    assert clients[0].texts()[1:] == ["ok"]
    assert srv.hub.channels() == 0 and srv.hub.dropped == 0
    hub = Hub()
    outbox = hub.join(lines=4)
    for i in range(6):
        hub("evt n %d" % i)
    assert outbox.count == 4 and hub.dropped == 2


def test_the_hub_allocates_nothing_in_the_tick():
    if not fwtest.MICROPYTHON:
        return  # the heap is MicroPython's to count
    import allocprobe

    hub = Hub()
    assert allocprobe.bytes_per_call(hub.pump) == 0  # no channel open
    assert allocprobe.bytes_per_call(lambda: hub("evt x {}")) == 0
    hub.join()
    assert allocprobe.bytes_per_call(hub.pump) == 0  # a channel open, nothing waiting


def test_an_open_channel_takes_little_heap_and_gives_it_back():
    if not fwtest.MICROPYTHON:
        return  # the heap is MicroPython's to count
    import gc

    app = App()
    srv = server(app, request_s=2)
    clients = [Client(upgrade(logged_in(app)), hold=True) for _ in range(4)]
    used = []

    async def go():
        gc.collect()
        before = gc.mem_free()
        tasks = [asyncio.create_task(srv.connection(client, client)) for client in clients]
        await asyncio.sleep(0.02)
        gc.collect()
        used.append((before - gc.mem_free()) // len(clients))
        for client in clients:
            client.feed(close_frame())
        for task in tasks:
            await task

    asyncio.run(go())
    print("heap per open channel:", used[0])
    assert 0 < used[0] < 5 * 1024, used  # 4.4 KB measured (MicroPython 1.29 unix), the fake stream included
