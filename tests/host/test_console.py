"""`gullwing console`: requests and replies, events, the live status line, calibration keys."""

import json
import os
import select
import signal
import subprocess
import time

from host_tools import console
from tests.host.virtual import BIN, run_in_pty


def test_a_session_routes_replies_to_their_requests_and_events_to_the_callback(deployed):
    events = []
    session = console.Session(deployed.port, on_event=events.append)
    try:
        assert session.request("ping") == "ok"
        assert session.request("events on") == "ok"
        assert session.request("door left open 400").startswith("ok {")
        assert session.request("bogus").startswith("err unknown_verb")
        time.sleep(0.8)
        doors = [json.loads(e[len("evt door "):]) for e in events if e.startswith("evt door ")]
        assert doors == [{"side": "left", "state": "open", "angle": 90}]
        line = console.status_line(session.request("status"))
        assert line.startswith("left open 90°  |  right closed 0°  |  engine off 0 rpm 0 kPa")
    finally:
        session.close()


def test_the_status_line_names_problems_and_missing_doors():
    line = console.status_line('ok {"doors": null, "engine": {"state": "off", "rpm": 0, "boost": 0, "throttle": 0},'
                               ' "problems": ["doors: min_us must be 100..2900"]}')
    assert line.startswith("doors not set up")
    assert line.endswith("problems: doors: min_us must be 100..2900")


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
        assert session.request("ping") == "ok"
    finally:
        session.close()
