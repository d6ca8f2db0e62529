"""The line reader under a flood: a bounded slice per turn, the other tasks running between turns, an
overlong line answered too long once by its byte count, and no more heap however long a line goes on."""

import asyncio
import io

from fwtest import MICROPYTHON, raises
from gullwing import protocol
from gullwing.lines import LIMIT, SLICE, LineReader
from simboard import board

_POLL = 3  # py/stream.h: MP_STREAM_POLL
_POLLIN = 1


class Wire(io.IOBase):
    """A console a host floods faster than the board reads (native USB): every byte already waiting."""

    def __init__(self, data):
        self.data = data
        self.pos = 0

    def any(self):
        return len(self.data) - self.pos

    def readinto(self, buf):
        if self.pos == len(self.data):
            return 0  # the host has hung up
        buf[0] = self.data[self.pos]
        self.pos += 1
        return 1

    def ioctl(self, request, arg):
        return arg & _POLLIN if request == _POLL else -22  # readable, the end included


def setup_function():
    board.reset("ESP32")


def _lines(reader):
    """Every line take() gives, and the bytes each call read."""
    lines, reads, wire = [], [], reader._stream
    while True:
        before = wire.pos
        line = reader.take()
        reads.append(wire.pos - before)
        if line == b"" or (line is None and not wire.any()):
            return lines, reads
        if line is not None:
            lines.append(line)


def test_a_flood_is_read_a_slice_at_a_time_and_an_overlong_line_is_too_long_once():
    flood = b"door both open " + b"A" * 100_000 + b"\r\nping\n"
    lines, reads = _lines(LineReader(Wire(flood)))
    assert max(reads) == SLICE  # never more than a slice before the other tasks get their turn
    assert len(lines) == 3  # the overlong line, the empty one between \r and \n, ping
    assert len(lines[0]) == LIMIT + 1 and lines[0].startswith(b"door both open AAA")
    with raises(protocol.ProtocolError) as caught:
        protocol.parse(lines[0])
    assert caught.value.code == protocol.TOO_LONG
    assert lines[1:] == [b"\n", b"ping\n"]


def test_an_overlong_line_is_too_long_whatever_its_bytes_are():
    for odd in (b"\xff", b"\x00", b"\xc3\xa9", b"\x03\x1b"):
        lines, _ = _lines(LineReader(Wire(b"ping " + odd * 200 + b"\n#7 ping\n")))
        with raises(protocol.ProtocolError) as caught:
            protocol.parse(lines[0])
        assert caught.value.code == protocol.TOO_LONG, odd
        assert lines[1] == b"#7 ping\n"


def test_a_line_going_on_and_on_takes_no_more_heap():
    if not MICROPYTHON:
        return  # the heap is MicroPython's to count
    import allocprobe

    reader = LineReader(Wire(b"A" * (SLICE * 300)))
    assert allocprobe.bytes_per_call(reader.take) == 0


def test_the_other_tasks_run_between_every_slice_of_a_flood():
    if not MICROPYTHON:
        return  # asyncio.StreamReader over a stream object is MicroPython's
    wire = Wire(b"A" * 20_000 + b"\n" + b"\n" * 2000 + b"ping\n")
    reader = LineReader(wire)
    turns = []  # where the reader was at each turn of the other task
    board.use_real_time()  # as on the virtual board: asyncio's C core keeps the interpreter's time
    got = []

    async def tick():
        while True:
            turns.append(wire.pos)
            await asyncio.sleep(0)

    async def serve():
        ticking = asyncio.create_task(tick())
        while True:
            line = await reader.readline()
            if not line:
                break
            got.append(line)
        ticking.cancel()

    asyncio.run(serve())
    assert len(got) == 2002 and got[-1] == b"ping\n"
    # a turn is the byte awaited and at most a slice more, blank lines included
    assert max(turns[i] - turns[i - 1] for i in range(1, len(turns))) <= SLICE + 1
    assert turns[-1] > 20_000
