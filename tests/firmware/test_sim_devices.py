"""Devices wired to the virtual board from outside (`gullwing sim --receiver`, `--uart`)."""

import time

import allocprobe
import fwtest
import simdevices
from machine import UART, Pin
from simboard import board


class _Edges:
    """A Pin.irq handler keeping (ticks_us, level) of every edge, as firmware/gullwing/rcin.py reads them."""

    def __init__(self, gpio):
        self.seen = []
        Pin(gpio, Pin.IN).irq(self._edge, Pin.IRQ_RISING | Pin.IRQ_FALLING)

    def _edge(self, pin):
        self.seen.append((time.ticks_us(), pin.value()))

    def widths(self):
        seen = self.seen
        return [time.ticks_diff(seen[i + 1][0], seen[i][0]) for i in range(len(seen) - 1) if seen[i][1] and not
                seen[i + 1][1]]

    def periods(self):
        rises = [t for t, level in self.seen if level]
        return [time.ticks_diff(rises[i + 1], rises[i]) for i in range(len(rises) - 1)]


def setup_function():
    board.reset("ESP32")


def teardown_function():
    board.reset("ESP32")  # back on the simulated clock
    fwtest.remove_temp()


def test_a_receiver_channel_pulses_every_20_ms_for_as_long_as_the_board_runs():
    edges = _Edges(34)
    simdevices.Receiver(34, 1300, board.now_us)
    board.advance_ms(10_000)
    assert edges.widths() == [1300] * 500
    assert edges.periods() == [20_000] * 500  # and the 501st pulse has begun


class _Pipe:
    """The host's end of a pipe as the board reads it: `pieces` arrive one per read, then nothing."""

    def __init__(self, *pieces):
        self.pieces = list(pieces)

    def readinto(self, buf):
        if not self.pieces:
            return None  # a non-blocking pipe with nothing in it
        piece = self.pieces.pop(0)
        buf[:len(piece)] = piece
        return len(piece)


def test_the_host_moves_a_stick_and_cuts_the_signal_from_the_next_frame_on():
    edges = _Edges(34)
    receiver = simdevices.Receiver(34, 1500, board.now_us)
    control = simdevices.ReceiverControl(_Pipe(b"34:1", b"200\n", b"34:0\n35:900\n", b"34:1800\n"), [receiver])
    board.advance_us(100_500)  # six frames begun, the sixth pulse under way
    control.pump()
    control.pump()  # a line that came in two reads counts once whole
    board.advance_ms(110)
    assert edges.widths() == [1500] * 6 + [1200] * 5  # the pulse under way ended as it began
    control.pump()  # signal lost (35 has no channel: nothing happens there)
    board.advance_ms(1000)
    assert len(edges.widths()) == 11 and board.level(34) == 0  # no pulses, the line low
    control.pump()
    board.advance_ms(100)
    assert edges.widths()[11:] == [1800] * 5
    assert set(edges.periods()) == {20_000, 20_000 * 51}  # still on the frame grid of the board's clock


def test_on_real_time_a_late_edge_is_handled_at_its_own_time():
    # The virtual board fires events when the time is next read (every control tick): an edge's handler
    # must still read the time of its edge, or every pulse measures about 0 us.
    board.use_real_time()
    edges = _Edges(34)
    simdevices.Receiver(34, 1500, board.now() + 1000)
    board._host_sleep_us(50_000)  # the firmware busy elsewhere: frames fall due meanwhile
    board.now()
    widths = edges.widths()
    assert len(widths) >= 2 and set(widths) == {1500}
    assert set(edges.periods()) == {20_000}


class _Sink:
    def __init__(self):
        self.data = b""

    def write(self, b):
        self.data += bytes(b)


def _incoming(data):
    path = fwtest.temp_store_path("uart-in")
    with open(path, "wb") as f:
        f.write(data)
    return open(path, "rb")


def test_a_uart_bridge_delivers_at_the_baud_rate_and_passes_what_the_firmware_writes():
    uart = UART(1, 9600, tx=17, rx=16)
    out = _Sink()
    bridge = simdevices.UartBridge(1, _incoming(b"x" * 100 + b"\n"), out)
    board.advance_ms(100)
    bridge.pump(board.now_us)
    assert uart.any() == simdevices.CHUNK  # what waited arrives at once, up to a chunk
    board.advance_ms(10)
    bridge.pump(board.now_us)
    assert uart.any() == simdevices.CHUNK + 9  # 10 ms at 9600 baud: 9 more bytes (1.04 ms each)
    board.advance_ms(100)
    bridge.pump(board.now_us)
    assert uart.read() == b"x" * 100 + b"\n"
    uart.write(b"ok\n")
    bridge.pump(board.now_us)
    assert out.data == b"ok\n"


def test_bytes_for_a_uart_nobody_opened_are_lost():
    bridge = simdevices.UartBridge(1, _incoming(b"early\n"), _Sink())
    bridge.pump(board.now_us)
    uart = UART(1, 9600, tx=17, rx=16)
    board.advance_ms(100)
    bridge.pump(board.now_us)
    assert uart.any() == 0


def test_a_quiet_uart_bridge_allocates_nothing():
    if not fwtest.MICROPYTHON:
        import pytest

        pytest.skip("heap allocation is measured under MicroPython")
    UART(1, 9600, tx=17, rx=16)
    devices = simdevices.Devices()
    devices.bridges.append(simdevices.UartBridge(1, _incoming(b""), _Sink()))

    def pump():  # what the board's clock runs every millisecond on the virtual board
        board.advance_us(1000)
        devices.service(board.now_us)

    assert allocprobe.bytes_per_call(pump) == 0


def test_a_quiet_receiver_control_allocates_nothing():
    if not fwtest.MICROPYTHON:
        import pytest

        pytest.skip("heap allocation is measured under MicroPython")
    devices = simdevices.Devices()
    devices.control = simdevices.ReceiverControl(_Pipe(), [])  # (each frame of a receiver queues its events)

    def pump():
        board.advance_us(1000)
        devices.service(board.now_us)

    assert allocprobe.bytes_per_call(pump) == 0
