"""A virtual board serves what its firmware listens on at port 80 on the host's loopback, at the `web:` address."""

import urllib.request

from tests.host.virtual import SimProcess

# served as the firmware serves: asyncio polls the listening socket (a simulator socket that was a Python
# subclass of the interpreter's own crashed the interpreter at the second connection)
SERVER = b"""import asyncio, network
ap = network.WLAN(network.AP_IF)
ap.active(True)
ap.config(essid='AZ-1-TEST', authmode=network.AUTH_WPA2_PSK, password='password123')

async def answer(reader, writer):
    await reader.read(512)
    writer.write(b'HTTP/1.0 200 OK\\r\\n\\r\\nhello from ' + ap.config('essid').encode())
    await writer.drain()
    writer.close()
    await writer.wait_closed()

async def main():
    await asyncio.start_server(answer, '0.0.0.0', 80)
    while True:
        await asyncio.sleep(1)

asyncio.run(main())
"""


def test_the_firmware_s_port_80_is_served_at_the_printed_address(tmp_path):
    boards = []
    try:
        for name in ("one", "two"):
            flash = tmp_path / name
            flash.mkdir()
            (flash / "main.py").write_bytes(SERVER)
            boards.append(SimProcess(flash, wifi=[("Home", "secret123")]))
        urls = [board.web_url for board in boards]
        assert all(url and url.startswith("http://127.0.0.1:") for url in urls)
        assert urls[0] != urls[1]  # each board its own port
        for url in urls * 3:
            with urllib.request.urlopen(url, timeout=5) as reply:
                assert reply.read() == b"hello from AZ-1-TEST"
    finally:
        for board in boards:
            board.stop()


def test_no_web_line_while_the_firmware_does_not_listen(tmp_path):
    board = SimProcess(tmp_path)
    try:
        assert board.wait_web_url(3) is None
    finally:
        board.stop()
