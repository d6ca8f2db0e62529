"""The output trace: one CSV row per output change, in time order, with the columns tools expect."""

from machine import PWM, Pin
from simboard import board
from simtrace import HEADER, Trace


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
    servo = PWM(Pin(13), freq=50, duty_ns=1_000_000)
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
