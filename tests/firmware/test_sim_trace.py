"""The output trace: one CSV row per output change, in time order, with the columns tools expect."""

import allocprobe
import fwtest
from machine import PWM, Pin
from simboard import board
from simtrace import HEADER, OFF, ROW_BYTES, Trace, csv_text
from simtrace import PWM as PWM_ROW


class _Lines:
    def __init__(self):
        self.text = []

    def write(self, s):
        self.text.append(s)

    def flush(self):
        pass


def setup_function():
    board.reset("ESP32")


def test_header_has_the_columns_every_tool_reads():
    assert HEADER.split(",")[:4] == ["t_us", "pin", "freq_hz", "duty_ns"]


def test_rows_record_each_change_with_its_time():
    servo = PWM(Pin(13), freq=50, duty_u16=3277)  # 1 ms: duty_ns only once the PWM runs
    board.advance_ms(20)
    servo.duty_ns(1_000_000)  # no change, no row
    servo.duty_ns(2_000_000)
    board.advance_ms(20)
    servo.deinit()
    out = _Lines()
    board.trace.write_csv(out)
    lines = "".join(out.text).splitlines()
    assert lines == [
        HEADER,
        "0,13,50,1000061,pwm,1",
        "20000,13,50,2000122,pwm,1",
        "40000,13,0,0,off,0",
    ]


def test_a_sink_receives_rows_as_the_buffer_fills_and_nothing_is_lost():
    out = _Lines()
    trace = Trace(capacity=4, sink=out)
    for i in range(10):
        trace.record(i * 20_000, 13, 50, 1_000_000 + i, 0, 1)
    trace.flush()
    lines = "".join(out.text).splitlines()
    assert lines[0] == HEADER
    assert len(lines) == 11
    assert lines[10] == "180000,13,50,1000009,pwm,1"
    assert len(trace) == 10


class _Stream:
    """A live stream: keeps the bytes of every write, and counts the writes."""

    def __init__(self):
        self.data = b""
        self.writes = 0

    def write(self, b):
        self.data += bytes(b)
        self.writes += 1


def teardown_function():
    fwtest.remove_temp()


def test_a_live_stream_gets_each_row_at_once_and_the_host_reads_them_as_csv():
    live = _Stream()
    trace = Trace(capacity=4, live=live)  # fewer rows than written: memory keeps the latest only
    for i in range(6):
        trace.record(i * 20_000, 18, 50, 1_000_000 + i, PWM_ROW, 1)
        assert live.writes == i + 1  # out with the change, not when a buffer fills
    trace.record(120_000, 18, 0, 0, OFF, 0)
    lines = csv_text(live.data).splitlines()
    assert len(live.data) == 7 * ROW_BYTES and len(trace) == 7
    assert lines[0] == "0,18,50,1000000,pwm,1"
    assert lines[5] == "100000,18,50,1000005,pwm,1"
    assert lines[6] == "120000,18,0,0,off,0"
    assert trace.last(18).kind == "off"


def test_a_servo_write_with_a_live_trace_allocates_nothing():
    if not fwtest.MICROPYTHON:
        import pytest

        pytest.skip("heap allocation is measured under MicroPython")
    path = fwtest.temp_store_path("live-trace")
    live = open(path, "wb")
    board.reset("ESP32", trace=Trace(capacity=64, live=live))
    servo = PWM(Pin(13), freq=50, duty_u16=4915)  # 1.5 ms: duty_ns only once the PWM runs
    widths = (1_000_000, 2_000_000)
    state = [0]

    def write():
        state[0] ^= 1
        servo.duty_ns(widths[state[0]])
        board.advance_us(20_000)

    assert allocprobe.bytes_per_call(write) == 0
    live.close()
    with open(path, "rb") as f:
        rows = csv_text(f.read()).splitlines()
    assert len(rows) == len(board.trace) > 200
    assert rows[-1].endswith(",13,50,1000061,pwm,1") or rows[-1].endswith(",13,50,2000122,pwm,1")


def test_without_a_trace_file_the_virtual_board_keeps_only_the_latest_rows():
    trace = Trace(capacity=4, keep_all=False)  # memory that never grows: nothing allocated, ever
    for i in range(10):
        trace.record(i * 20_000, 18, 50, 1_000_000 + i, PWM_ROW, 1)
    assert len(trace) == 10
    assert 0 < len(trace.rows()) <= 4
    assert trace.last(18).duty_ns == 1_000_009
