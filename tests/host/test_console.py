"""`gullwing console`: requests and replies, events, the live status line, calibration keys."""

import fcntl
import json
import os
import select
import signal
import struct
import subprocess
import termios
import time

import pytest

from host_tools import console, errors
from host_tools.link import Link, _reply
from tests.host.test_cli_failures import FakeDevice, request_id
from tests.host.virtual import BIN, run_in_pty


def test_a_session_routes_replies_to_their_requests_and_events_to_the_callback(deployed):
    events = []
    session = console.Session(deployed.port, on_event=events.append)
    try:
        assert session.request("ping").line == "ok"
        assert session.request("events on").ok
        assert session.request("door left open 400").data["left"]["state"] == "opening"
        assert session.request("bogus").code == "unknown_verb"
        time.sleep(0.8)  # no request waits: the listener hands the event on
        doors = [json.loads(e[len("evt door "):]) for e in events if e.startswith("evt door ")]
        assert doors == [{"side": "left", "state": "open", "angle": 90}]
        line = console.status_line(session.request("status"))
        assert line.startswith("left open 90°  |  right closed 0°  |  engine off 0 rpm 0 kPa")
    finally:
        session.close()


def test_the_status_line_names_problems_and_missing_doors():
    line = console.status_line(parse('ok {"doors": null, "engine": {"state": "off", "rpm": 0, "boost": 0, '
                                     '"throttle": 0}, "problems": ["doors: min_us must be 100..2900"]}'))
    assert line.startswith("doors not set up")
    assert line.endswith("problems: doors: min_us must be 100..2900")


def parse(text):
    return _reply(text, [])


STATUS = parse('ok {"doors": {"left": {"state": "opening", "angle": 135}, "right": {"state": "closed", "angle": 0}}, '
               '"engine": {"state": "running", "rpm": 10250, "boost": 180, "throttle": 100}, '
               '"problems": ["led_active_low: unknown key", "buzzer: GPIO 25 is taken by door_left"]}')
HELP = parse('ok {"verbs": ["ping", "help", "door", "throttle", "calibrate"], '
             '"door": "door left|right|both open|close|toggle|stop [ms] | to <deg> [ms]", "throttle": "throttle 0-100",'
             ' "calibrate": "calibrate left|right jog <-50..50> | closed | open; calibrate save"}')


def test_every_line_the_console_draws_fits_an_80_column_terminal():
    bottom = console.toolbar_lines(console.status_parts(STATUS), 80, calibrating_side="right")
    drawn = {
        "calibrating": bottom,
        "greeting": console.greeting("/dev/serial/by-id/usb-Silicon_Labs_CP2102_USB_to_UART_0001-if00-port0", 80),
        "help": console.reply_lines("help", HELP, 80),
        "reply": console.reply_lines("status", STATUS, 80),
    }
    for what, lines in drawn.items():
        assert all(len(line) <= 80 for line in lines), (what, lines)
    shown = " ".join(bottom)
    for words in ("CALIBRATING right", "c closed", "o open", "s save", "F2 leave", "left opening 135°",
                  "10250 rpm 180 kPa", "GPIO 25 is taken by door_left"):
        assert words in shown
    assert "10250" in " ".join(drawn["reply"])  # the reply is all there, on more lines


def test_help_is_a_list_of_verbs_with_their_usage():
    lines = [line.strip() for line in console.reply_lines("help", HELP, 80)]
    assert "{" not in " ".join(lines)
    assert lines[1:] == ["ping", "help", "door left|right|both open|close|toggle|stop [ms] | to <deg> [ms]",
                         "throttle 0-100", "calibrate left|right jog <-50..50> | closed | open", "calibrate save"]


def test_the_greeting_says_how_to_leave_and_calibrate():
    text = " ".join(line.strip() for line in console.greeting("/dev/ttyUSB0", 80))
    for words in ("`quit`", "`exit`", "Ctrl-D", "F2", "c and o set the closed and open ends", "s saves", "help"):
        assert words in text


def test_calibration_keys_make_requests():
    mode = console.Calibration()
    assert mode.key("up") == "calibrate left jog 1"
    assert mode.key("down", shift=True) == "calibrate left jog -10"
    assert mode.key("right") is None and mode.side == "right"
    assert mode.key("c") == "calibrate right closed"
    assert mode.key("o") == "calibrate right open"
    assert mode.key("s") == "calibrate save"
    assert mode.key("x") is None


def test_the_console_on_a_terminal(deployed):
    seen = run_in_pty([str(BIN / "gullwing"), "console", "--port", deployed.port],
                      [b"pin", b"\t", b"\r", b"version\r"], expect='"version":"0.1.0"')
    assert b"ok" in seen
    assert b"Leave with `quit`" in seen


@pytest.mark.parametrize("leave", [b"quit\r", b"exit\r", b"\x04"])
def test_the_ways_out_the_greeting_names_end_the_console(leave):
    board = FakeDevice(answer=lambda line: request_id(line) + b" ok\r\n")
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    proc = subprocess.Popen([str(BIN / "gullwing"), "console", "--port", board.port], stdin=slave, stdout=slave,
                            stderr=slave, close_fds=True)
    os.close(slave)
    seen = b""
    try:
        deadline = time.monotonic() + 20
        while b"gullwing>" not in seen and time.monotonic() < deadline:
            if select.select([master], [], [], 0.2)[0]:
                seen += os.read(master, 4096)
        assert b"gullwing>" in seen, seen[-400:]
        os.write(master, leave)
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()
        proc.wait()
        os.close(master)
        board.unplug()


def test_a_board_unplugged_during_the_console_ends_it_with_one_error(deployed):
    master, slave = os.openpty()
    proc = subprocess.Popen([str(BIN / "gullwing"), "console", "--port", deployed.port], stdin=slave, stdout=slave,
                            stderr=slave, close_fds=True)
    os.close(slave)
    seen = b""

    def read_until(done, timeout):
        nonlocal seen
        deadline = time.monotonic() + timeout
        while not done() and time.monotonic() < deadline:
            if select.select([master], [], [], 0.2)[0]:
                try:
                    seen += os.read(master, 4096)
                except OSError:
                    return

    try:
        read_until(lambda: b"gullwing>" in seen, 20)
        deployed.stop(signal.SIGKILL)  # the cable pulled: the port disappears
        read_until(lambda: proc.poll() is not None, 20)
        assert proc.wait(timeout=5) == 2
    finally:
        proc.kill()
        proc.wait()
        os.close(master)
    text = seen.decode(errors="replace")
    assert "Traceback" not in text
    assert "error: the board's serial port " + deployed.port + " went away" in text
    assert "hint: the board was unplugged" in text


def test_the_console_restarts_a_board_left_at_the_prompt(deployed):
    deployed.mpremote("exec", "print(1)")
    session = console.Session(deployed.port, on_event=lambda text: None)
    try:
        assert session.request("ping").ok
    finally:
        session.close()


# -- one exchange, one policy: the command line's Link and the console's Session -------------------------

def _link_client(port, heard):
    link = Link(port, timeout=1.0, on_line=heard.append)
    return link.request, link.close


def _console_client(port, heard):
    session = console.Session(port, on_event=heard.append, timeout=1.0)
    return session.request, session.close


CLIENTS = pytest.mark.parametrize("client", [_link_client, _console_client], ids=["link", "console"])


def _board(status_answer):
    """A board that answers `ping`, and `status` with status_answer(request_id, how many status requests)."""
    asked = []

    def answer(line):
        if line.endswith(b" ping"):
            return request_id(line) + b" ok\r\n"
        asked.append(line)
        return status_answer(request_id(line), len(asked))

    return FakeDevice(answer=answer)


@CLIENTS
def test_events_garbage_and_other_replies_before_the_reply_are_skipped_and_handed_on(client):
    board = _board(lambda rid, n: b'evt door {"side":"left"}\r\n\xff\xfe noise\r\n#999 ok\r\n'
                   + rid + b' ok {"up_ms":5}\r\n')
    heard = []
    request, close = client(board.port, heard)
    try:
        assert request("status").data == {"up_ms": 5}
        assert heard[:3] == ['evt door {"side":"left"}', "\ufffd\ufffd noise", "#999 ok"]
    finally:
        close()
        board.unplug()


@CLIENTS
def test_a_board_that_resets_mid_request_gets_it_again_once_up(client):
    board = _board(lambda rid, n: b"rst:0xc (SW_CPU_RESET)\r\ngullwing 0.1.0\r\n" if n == 1
                   else rid + b' ok {"up_ms":5}\r\n')
    request, close = client(board.port, [])
    try:
        assert request("status").data == {"up_ms": 5}
    finally:
        close()
        board.unplug()


@CLIENTS
def test_a_garbled_reply_is_an_error(client):
    board = _board(lambda rid, n: rid + b' ok {"doors": \xff{{\r\n')
    request, close = client(board.port, [])
    try:
        with pytest.raises(errors.GarbledReply):
            request("status")
    finally:
        close()
        board.unplug()


@CLIENTS
def test_silence_is_an_error_after_the_timeout(client):
    board = _board(lambda rid, n: None)
    request, close = client(board.port, [])
    try:
        started = time.monotonic()
        with pytest.raises(errors.BoardNotAnswering):
            request("status")
        assert time.monotonic() - started < 5
    finally:
        close()
        board.unplug()
