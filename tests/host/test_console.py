"""`gullwing console`: requests and replies, events, the live status line, calibration keys."""

import json
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
