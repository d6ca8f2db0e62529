"""The app on the simulated ESP32, as a user at the serial port sees it: one reply per request line,
bad input refused without effect, the doors and the engine judged by the pulses in the trace, events,
the emergency stop, a broken configuration, a restart, and a control tick that allocates nothing."""

import asyncio
import json
import time

import fwtest
from gullwing import VERSION, app, config
from gullwing.servo import Calibration
from simboard import board

LEFT, RIGHT, MOTOR, BUZZER = 18, 19, 25, 23  # boards/esp32-devkitc.toml
PINS = {"door_left": LEFT, "door_right": RIGHT, "motor": MOTOR, "buzzer": BUZZER}
FRAME = 20
STEP_NS = 306  # one LEDC duty step at 50 Hz on the ESP32 (305.2 ns), as the trace shows pulses


def setup_function():
    board.reset("ESP32")


def teardown_function():
    fwtest.remove_temp()


def _state_dir():
    return fwtest.temp_dir("state")


def _app(given=None, state_dir=None):
    problems = []
    cfg = config.merge(config.DEFAULTS, {"pins": PINS} if given is None else given, "", problems)
    return app.App(cfg, _now(), state_dir or _state_dir(), problems)


def _now():
    return time.ticks_ms()


def _say(a, line):
    """The reply to one request line: always exactly one line."""
    reply = a.handle(line, _now())
    assert isinstance(reply, str) and reply and "\n" not in reply and "\r" not in reply, (line, reply)
    return reply


def _ok(a, line):
    """The payload of an `ok` reply (None for a bare ok)."""
    reply = _say(a, line)
    assert reply == "ok" or reply.startswith("ok {"), (line, reply)
    return json.loads(reply[3:]) if len(reply) > 2 else None


def _err(a, line):
    """The code of an `err` reply."""
    reply = _say(a, line)
    assert reply.startswith("err "), (line, reply)
    code, message = reply[4:].split(" ", 1)
    assert message, reply
    return code


def _status(a):
    return _ok(a, "status")


def _run(a, ms):
    """The control task for `ms`: a tick every frame, event lines collected as [(t_ms, name, payload)]."""
    events = []
    for _ in range(ms // FRAME):
        now = _now()
        a.tick(now)
        for line in a.outbox:
            word, name, payload = line.split(" ", 2)
            assert word == "evt", line
            events.append((now, name, json.loads(payload)))
        a.outbox.clear()
        board.advance_ms(FRAME)
    return events


def _settle(a, limit_ms=10_000):
    """Ticks until neither door moves (at most limit_ms); the events on the way."""
    events = []
    for _ in range(limit_ms // FRAME):
        if not (a.doors.left.moving or a.doors.right.moving):
            break
        events += _run(a, FRAME)
    events += _run(a, FRAME)  # the frame that saves the rest position
    return events


def _pulses(pin):
    return [row for row in board.trace.rows(pin) if row.kind == "pwm"]


def _pulse_at(pin, t_ms):
    """The pulse (ns) in force on a door pin at t_ms; None before the first."""
    current = None
    for row in _pulses(pin):
        if row.t_us > t_ms * 1000:
            break
        current = row.duty_ns
    return current


def _door_pulses():
    cal = config.DEFAULTS["doors"]
    left, right = Calibration(**cal["left"]), Calibration(**cal["right"])
    return {LEFT: (left.pulse_ns(0), left.pulse_ns(left.open_cdeg)),
            RIGHT: (right.pulse_ns(0), right.pulse_ns(right.open_cdeg))}


def _near(traced, ns):
    return traced is not None and abs(traced - ns) <= STEP_NS


def _diffs(values):
    return [values[i] - values[i - 1] for i in range(1, len(values))]


def _motor_duty():
    rows = board.trace.rows(MOTOR)
    return rows[-1].duty_ns if rows else 0


# -- framing ---------------------------------------------------------------------------------------

def test_an_id_is_echoed_on_ok_and_on_err():
    a = _app()
    assert _say(a, "#7 ping") == "#7 ok"
    assert _say(a, "#a.b-c_9 status").startswith("#a.b-c_9 ok {")
    assert _say(a, "#" + "x" * 16 + " ping") == "#" + "x" * 16 + " ok"
    assert _say(a, "#q1 door middle open").startswith("#q1 err bad_arg ")
    assert _say(a, "#q2 fly").startswith("#q2 err unknown_verb ")
    assert _say(a, "#q3").startswith("#q3 err unknown_verb ")
    assert _say(a, "#q4 blip").startswith("#q4 err not_ready ")


def test_a_bad_id_is_refused_and_not_echoed():
    a = _app()
    for line in ("# ping", "#" + "x" * 17 + " ping", "#a/b ping", "#a:b door both open"):
        reply = _say(a, line)
        assert reply.startswith("err bad_arg "), (line, reply)


def test_both_line_endings_and_bytes_or_text_get_the_same_reply():
    a = _app()
    for line in (b"ping\n", b"ping\r\n", b"ping", "ping\r\n", "PING"):
        assert _say(a, line) == "ok"
    assert _say(a, b"#5 status\r\n") == _say(a, "#5 status")


def test_a_line_over_128_bytes_is_too_long_and_does_nothing():
    a = _app()
    before = _status(a)
    padded = "door both open" + " " * (128 - len("door both open"))
    assert _ok(a, padded + "\r\n") is not None  # 128 bytes: read
    a = _app()
    for line in (padded + " \r\n", (padded + " \n").encode(), "#1 " + padded, "x" * 1000):
        assert _err(a, line) == "too_long"
    assert _status(a) == before
    _run(a, 500)
    assert board.trace.rows(LEFT) == [] and board.trace.rows(RIGHT) == []


def test_control_bytes_and_non_ascii_are_bad_args():
    a = _app()
    for line in (b"door both open\x00", b"door both open\x1b", b"door both \xc3\xa9", "door left to 4\uff15",
                 b"ping\x7f\n"):
        assert _err(a, line) == "bad_arg", line
    _run(a, 500)
    assert board.trace.rows(LEFT) == [] and board.trace.rows(RIGHT) == []


def test_an_empty_line_and_an_unknown_verb_are_unknown_verbs():
    a = _app()
    for line in ("", "\r\n", "   ", "fly", "d", "open", "configure", "demo", "_do_ping",
                 "safe_state", "tick"):
        assert _err(a, line) == "unknown_verb", line
    assert _say(a, "fly away").startswith("err unknown_verb 'fly' ")


def test_the_serial_task_answers_each_request_once_and_skips_blank_lines():
    a = _app()
    lines = [b"ping\n", b"\r\n", b"#1 fly\r\n", b"  \n", b"#2 status\n", b"x" * 300 + b"\n", b"version\n"]

    class Console:
        async def readline(self):
            return lines.pop(0) if lines else b""  # b"": the console closed

    written = []
    board.use_real_time()  # as on the virtual board: asyncio's C core keeps the interpreter's time
    asyncio.run(app.serial(a, Console(), written.append))
    assert len(written) == 5
    assert written[0] == "ok"
    assert written[1].startswith("#1 err unknown_verb ")
    assert written[2].startswith("#2 ok {")
    assert written[3].startswith("err too_long ")
    assert written[4].startswith("ok {")


# -- bad input changes nothing ---------------------------------------------------------------------

BAD = (
    ("door", "bad_arg"), ("door left", "bad_arg"), ("door middle open", "bad_arg"),
    ("door LEFT open", "bad_arg"), ("door left fly", "bad_arg"), ("door left open 19", "bad_arg"),
    ("door left open 60001", "bad_arg"), ("door left open 1.5", "bad_arg"), ("door left open fast", "bad_arg"),
    ("door both close 1500 9", "bad_arg"), ("door left to", "bad_arg"), ("door left to 91", "bad_arg"),
    ("door right to 181", "bad_arg"), ("door both to -1", "bad_arg"), ("door both to 45.5", "bad_arg"),
    ("door both to 45 1500 x", "bad_arg"), ("door left stop 10", "bad_arg"), ("door left stop now", "bad_arg"),
    ("door left toggle 0", "bad_arg"), ("door left open -1500", "bad_arg"),
    ("engine", "bad_arg"), ("engine go", "bad_arg"), ("engine stop now", "bad_arg"), ("engine START", "bad_arg"),
    ("throttle", "bad_arg"), ("throttle 101", "bad_arg"), ("throttle -1", "bad_arg"), ("throttle 50%", "bad_arg"),
    ("throttle 5 5", "bad_arg"), ("throttle 1e2", "bad_arg"), ("throttle 0x10", "bad_arg"),
    ("blip 9", "bad_arg"), ("blip 2001", "bad_arg"), ("blip 100 100", "bad_arg"), ("blip x", "bad_arg"),
    ("events", "bad_arg"), ("events maybe", "bad_arg"), ("events off please", "bad_arg"),
    ("estop now", "bad_arg"), ("ping pong", "bad_arg"), ("status all", "bad_arg"), ("version 2", "bad_arg"),
    ("help me", "bad_arg"), ("fly", "unknown_verb"), ("#bad! estop", "bad_arg"), (b"estop\xff", "bad_arg"),
    ("estop" + " " * 124 + "x", "too_long"),
)


def test_every_bad_request_gets_an_err_and_changes_nothing():
    a = _app()
    _ok(a, "events on")
    _ok(a, "engine start")
    _run(a, 2000)
    _ok(a, "throttle 30")
    _ok(a, "door both open 3000")
    events = _run(a, 1000)  # doors half-way, engine revving
    before, rows, waiting = _status(a), len(board.trace), list(a.outbox)
    assert before["engine"]["state"] == "running" and before["doors"]["left"]["state"] == "opening"
    for line, code in BAD:
        assert _err(a, line) == code, line
        assert _status(a) == before, line
        assert len(board.trace) == rows and a.outbox == waiting, line
    # and the doors arrive as first asked
    events = _settle(a)
    assert [(e[1], e[2]["side"], e[2]["angle"]) for e in events if e[1] == "door"] == [
        ("door", "left", 90), ("door", "right", 90)]


# -- ping, help, version, status -------------------------------------------------------------------

def test_ping_help_version_and_status():
    a = _app()
    assert _say(a, "ping") == "ok"
    verbs = _ok(a, "help")["verbs"]
    for verb in ("ping", "help", "version", "status", "door", "engine", "throttle", "blip", "events", "estop"):
        assert verb in verbs
    assert _ok(a, "version")["version"] == VERSION
    status = _status(a)
    assert status["version"] == VERSION
    assert status["doors"] == {"left": {"angle": 0, "state": "closed"}, "right": {"angle": 0, "state": "closed"}}
    assert status["engine"]["state"] == "off" and status["engine"]["rpm"] == 0
    assert status["engine"]["throttle"] == 0
    # what is off or empty is left out of the reply
    assert "events" not in status and "halted" not in status and "problems" not in status
    _ok(a, "events on")
    assert _status(a)["events"] is True
    for verb in verbs:  # every verb help lists is one the board knows
        assert not _say(a, verb).startswith("err unknown_verb"), verb


# -- doors -----------------------------------------------------------------------------------------

def _sides(side):
    return ("left", "right") if side == "both" else (side,)


def _check_doors(a, side, state, angle=None):
    """The doors `side` names are in `state` (at `angle`); the other one never left closed."""
    doors = _status(a)["doors"]
    for name in ("left", "right"):
        if name in _sides(side):
            assert doors[name]["state"] == state, (side, doors)
            assert angle is None or doors[name]["angle"] == angle, (side, doors)
        else:
            assert doors[name] == {"angle": 0, "state": "closed"}, (side, doors)
    return [doors[name]["angle"] for name in _sides(side)]


def test_every_side_and_action_moves_those_doors_and_no_other():
    for side in ("left", "right", "both"):
        board.reset("ESP32")
        a = _app()
        reply = _ok(a, "door " + side + " open")
        assert [reply[name]["target"] for name in _sides(side)] == [90] * len(_sides(side))
        _settle(a)
        _check_doors(a, side, "open", 90)
        _ok(a, "door " + side + " toggle")
        _settle(a)
        _check_doors(a, side, "closed", 0)
        _ok(a, "door " + side + " toggle")
        _run(a, 500)
        _ok(a, "door " + side + " stop")
        _settle(a)
        assert all(0 < angle < 90 for angle in _check_doors(a, side, "stopped"))
        _ok(a, "door " + side + " toggle")  # a door stopped half-way goes back the way it came
        _settle(a)
        _check_doors(a, side, "closed", 0)
        _ok(a, "door " + side + " to 30 1000")
        _run(a, 980)
        _check_doors(a, side, "opening")
        _run(a, 40)
        _check_doors(a, side, "stopped", 30)
        _ok(a, "door " + side + " close 800")
        _settle(a)
        _check_doors(a, side, "closed", 0)
        for pin, name in ((LEFT, "left"), (RIGHT, "right")):
            assert (len(_pulses(pin)) > 0) == (name in _sides(side)), (side, pin)


def test_door_both_open_1500_drives_both_servos_from_closed_to_open_in_1_5_s():
    a = _app()
    _ok(a, "events on")
    _run(a, 100)
    start = _now()
    _ok(a, "door both open 1500")
    events = _run(a, 2000)
    for pin, (closed, opened) in _door_pulses().items():
        first = _pulses(pin)[0]
        assert _near(first.duty_ns, closed), (pin, first)  # starts where the door is: no jump
        assert first.t_us <= (start + 40 + FRAME) * 1000  # at once (the right door 40 ms later)
        assert _near(_pulse_at(pin, start + 1500 + FRAME), opened), pin
        assert not _near(_pulse_at(pin, start + 1200), opened), pin  # not there before its time
        half = _pulse_at(pin, start + 750)
        assert min(closed, opened) + 100 * STEP_NS < half < max(closed, opened) - 100 * STEP_NS
        steps = _diffs([row.duty_ns for row in _pulses(pin)])
        assert all(step * (opened - closed) >= 0 for step in steps), pin  # one way only
    arrivals = [e for e in events if e[1] == "door"]
    assert [e[2] for e in arrivals] == [{"side": "left", "state": "open", "angle": 90},
                                        {"side": "right", "state": "open", "angle": 90}]
    for t, _, _ in arrivals:
        assert abs(time.ticks_diff(t, start) - 1500) <= FRAME


def test_door_events_come_only_after_events_on():
    a = _app()
    _ok(a, "door left open")
    assert [e for e in _settle(a) if e[1] == "door"] == []
    _ok(a, "events on")
    _ok(a, "door both to 45 1000")
    events = _settle(a)
    assert sorted((e[2]["side"], e[2]["state"], e[2]["angle"]) for e in events if e[1] == "door") == [
        ("left", "stopped", 45), ("right", "stopped", 45)]
    _ok(a, "events off")
    _ok(a, "door both close")
    assert _settle(a) == []


def test_bad_door_requests_move_nothing():
    a = _app()
    for line, code in BAD:
        if isinstance(line, str) and line.startswith("door"):
            assert _err(a, line) == code, line
    _run(a, 1000)
    assert board.trace.rows(LEFT) == [] and board.trace.rows(RIGHT) == []


# -- engine ----------------------------------------------------------------------------------------

def test_engine_start_runs_the_motor_and_stop_spins_it_down_with_events():
    a = _app()
    _ok(a, "events on")
    assert _ok(a, "engine start") == {"state": "cranking"}
    events = _run(a, 2500)
    engine = _status(a)["engine"]
    assert engine["state"] == "running" and 800 < engine["rpm"] < 1100  # idle: 950 rpm
    assert _motor_duty() > 0
    assert _ok(a, "engine stop") == {"state": "stopping"}
    events += _run(a, 4000)
    assert _status(a)["engine"]["state"] == "off" and _motor_duty() == 0
    assert [e[2]["state"] for e in events if e[1] == "engine"] == ["cranking", "running", "stopping", "off"]


def test_throttle_sets_0_to_100_and_raises_the_revs():
    a = _app()
    for pct in (0, 1, 55, 100, 0):
        assert _ok(a, "throttle " + str(pct)) is None
        assert _status(a)["engine"]["throttle"] == pct
    _ok(a, "engine start")
    _run(a, 2500)
    idle, duty = _status(a)["engine"]["rpm"], _motor_duty()
    _ok(a, "throttle 40")
    _run(a, 2000)
    assert _status(a)["engine"]["rpm"] > idle + 1000 and _motor_duty() > duty


def test_blip_only_while_running():
    a = _app()
    assert _err(a, "blip") == "not_ready"
    _ok(a, "engine start")
    _run(a, 200)
    assert _err(a, "blip 300") == "not_ready"  # still cranking
    _run(a, 2300)
    idle = _status(a)["engine"]["rpm"]
    assert _ok(a, "blip 300") is None
    _run(a, 300)
    assert _status(a)["engine"]["rpm"] > idle + 1000
    _run(a, 3000)
    assert abs(_status(a)["engine"]["rpm"] - idle) < 150  # back to idle
    _ok(a, "engine stop")
    assert _err(a, "blip") == "not_ready"


def test_a_fast_lift_with_boost_blows_off_and_the_limiter_reports_once_a_second():
    a = _app()
    _ok(a, "events on")
    _ok(a, "engine start")
    _run(a, 2500)
    _ok(a, "throttle 100")
    events = _run(a, 5000)
    boost = _status(a)["engine"]["boost"]
    assert boost > 20
    limiter = [e for e in events if e[1] == "limiter"]
    assert 2 <= len(limiter) <= 5
    assert min(_diffs([e[0] for e in limiter])) >= 1000
    assert limiter[-1][2]["hits"] > 2 * len(limiter)  # it bounced far more often than it said
    assert all(e[2]["rpm"] > 8000 for e in limiter)
    assert [e for e in events if e[1] == "bov"] == []
    _ok(a, "throttle 0")
    events = _run(a, 500)
    bov = [e[2] for e in events if e[1] == "bov"]
    assert len(bov) == 1 and bov[0]["boost"] > 20 and bov[0]["rpm"] > 5000


# -- estop -----------------------------------------------------------------------------------------

def test_estop_cuts_the_motor_at_once_and_holds_the_doors_where_they_are():
    a = _app()
    _ok(a, "engine start")
    _run(a, 2500)
    _ok(a, "throttle 60")
    _ok(a, "door both open 3000")
    _run(a, 1000)
    assert _motor_duty() > 0 and board.trace.rows(BUZZER)[-1].duty_ns > 0
    biggest = max(abs(step) for step in _diffs([row.duty_ns for row in _pulses(LEFT)]))
    stop = _now()
    assert _ok(a, "estop") is None
    assert _motor_duty() == 0 and board.trace.rows(MOTOR)[-1].t_us <= stop * 1000 + 1000  # at once
    assert board.trace.rows(BUZZER)[-1].duty_ns == 0
    _run(a, 3000)
    assert all(row.duty_ns == 0 for row in board.trace.rows(MOTOR) if row.t_us >= stop * 1000)
    for pin in (LEFT, RIGHT):
        after = [row.duty_ns for row in _pulses(pin) if row.t_us >= stop * 1000]
        assert len(after) <= 2, (pin, after)  # one frame to ease out, then still
        steps = _diffs([_pulse_at(pin, stop - 1)] + after)
        assert all(abs(step) <= biggest for step in steps), (pin, steps)  # no jump
    status = _status(a)
    assert status["halted"] is True and status["engine"]["state"] == "off" and status["engine"]["throttle"] == 0
    assert [door["state"] for door in status["doors"].values()] == ["stopped", "stopped"]
    # the engine starts again, the doors obey again
    assert _ok(a, "engine start") == {"state": "cranking"}
    _run(a, 2500)
    assert _status(a)["engine"]["state"] == "running" and "halted" not in _status(a)
    assert _motor_duty() > 0
    _ok(a, "door both close")
    _settle(a)
    assert [door["state"] for door in _status(a)["doors"].values()] == ["closed", "closed"]


# -- a broken configuration ------------------------------------------------------------------------

def test_bad_door_calibration_leaves_the_doors_not_ready_and_the_rest_working():
    a = _app({"pins": PINS, "doors": {"left": {"min_us": 2950}}})
    assert _say(a, "ping") == "ok"
    assert _err(a, "door both open") == "not_ready"
    problems = _status(a)["problems"]
    assert any(p.startswith("doors: ") and "min_us" in p and "2950" in p for p in problems), problems
    assert _status(a)["doors"] is None
    _ok(a, "engine start")
    _run(a, 2500)
    assert _motor_duty() > 0
    assert board.trace.rows(LEFT) == [] and board.trace.rows(RIGHT) == []


def test_missing_pins_are_named_and_nothing_is_driven():
    a = _app({"pins": {"motor": MOTOR}})
    assert _err(a, "door left open") == "not_ready"
    assert _say(a, "door left open").split(" ", 2)[2].find("pins.door_left") >= 0  # the message says why
    assert any("pins.door_left" in p for p in _status(a)["problems"])
    board.reset("ESP32")
    a = _app({"pins": {}})
    assert _err(a, "door both close") == "not_ready"
    assert any("pins.motor" in p for p in _status(a)["problems"])
    _ok(a, "engine start")
    _run(a, 2500)
    assert _status(a)["engine"]["state"] == "running"  # the model runs, nothing to drive
    assert len(board.trace) == 0


def test_a_configuration_file_with_mistakes_is_used_for_what_it_says_right():
    path = _state_dir() + "/config.json"
    with open(path, "w") as f:
        json.dump({"board": "esp32-devkitc", "pins": PINS, "doorz": {}, "engine": {"idle_rpm": "900"},
                   "doors": {"hold_ms": 500, "stagger_ms": 10_000}}, f)
    cfg, problems = config.load(path)
    a = app.App(cfg, _now(), _state_dir(), problems)
    problems = _status(a)["problems"]
    assert "doorz: unknown key" in problems
    assert "engine.idle_rpm: expected int, got str" in problems
    assert any(p.startswith("doors: ") and "stagger" in p for p in problems), problems
    assert _err(a, "door both open") == "not_ready"
    _ok(a, "engine start")
    _run(a, 2500)
    assert 800 < _status(a)["engine"]["rpm"] < 1100


def test_engine_settings_out_of_range_fall_back_to_the_car_s_own():
    a = _app({"pins": PINS, "engine": {"idle_rpm": 5, "limit_rpm": 9000}})
    assert any(p.startswith("engine: ") and "idle_rpm" in p for p in _status(a)["problems"])
    _ok(a, "engine start")
    _run(a, 2500)
    assert 800 < _status(a)["engine"]["rpm"] < 1100


def test_two_roles_on_one_pin_drive_neither():
    a = _app({"pins": {"door_left": LEFT, "door_right": RIGHT, "motor": LEFT}})
    assert any("door_left" in p and "motor" in p and "GPIO18" in p for p in _status(a)["problems"])
    assert _err(a, "door both open") == "not_ready"
    _ok(a, "engine start")
    _run(a, 2500)
    assert board.trace.rows(LEFT) == []


def test_a_door_servo_on_an_input_only_pin_is_a_fault_not_a_crash():
    a = _app({"pins": {"door_left": 34, "door_right": RIGHT, "motor": MOTOR}})
    _ok(a, "events on")
    _ok(a, "engine start")
    _run(a, 2500)
    _ok(a, "door both open")
    events = _run(a, 100)  # the first tick drives the servos: GPIO34 cannot
    faults = [e[2] for e in events if e[1] == "fault"]
    assert len(faults) == 1 and "GPIO34" in faults[0]["error"]
    status = _status(a)
    assert status["halted"] is True and status["doors"] is None
    assert any("GPIO34" in p for p in status["problems"])
    assert _motor_duty() == 0
    assert _err(a, "door both close") == "not_ready"
    assert _say(a, "ping") == "ok"
    _run(a, 500)  # and the control tick carries on
    _ok(a, "engine start")
    _run(a, 2500)
    assert _motor_duty() > 0


# -- restart ---------------------------------------------------------------------------------------

def test_after_a_restart_the_doors_resume_where_they_rested_without_a_lurch():
    state = _state_dir()
    a = _app(state_dir=state)
    _ok(a, "door both open")
    _settle(a)
    _run(a, 200)
    rested = {pin: _pulses(pin)[-1].duty_ns for pin in (LEFT, RIGHT)}
    for pin, pulses in _door_pulses().items():
        assert _near(rested[pin], pulses[1])  # open
    board.reset("ESP32")  # power off and on
    a = _app(state_dir=state)
    assert [door["state"] for door in _status(a)["doors"].values()] == ["open", "open"]
    _run(a, 1000)
    assert board.trace.rows(LEFT) == [] and board.trace.rows(RIGHT) == []  # nothing before a command
    assert all(row.duty_ns == 0 for row in board.trace.rows(MOTOR) + board.trace.rows(BUZZER))
    _ok(a, "door both close")
    _settle(a)
    for pin in (LEFT, RIGHT):
        pulses = _pulses(pin)
        assert pulses[0].duty_ns == rested[pin], pin  # the first pulse is the one it rested at
        assert abs(pulses[1].duty_ns - pulses[0].duty_ns) < 20 * STEP_NS, pin
    assert [door["state"] for door in _status(a)["doors"].values()] == ["closed", "closed"]


# -- allocation ------------------------------------------------------------------------------------

def _skip_on_cpython():
    if not fwtest.MICROPYTHON:
        import pytest

        pytest.skip("heap allocation is measured under MicroPython")


def _ticker(a):
    def tick():
        a.tick(_now())
        board.advance_ms(FRAME)
        board.trace.clear()  # the simulator's in-memory trace would otherwise grow

    return tick


def test_the_control_tick_allocates_nothing_with_doors_moving_and_the_engine_running():
    _skip_on_cpython()
    import allocprobe

    a = _app()
    _ok(a, "events on")
    _ok(a, "engine start")
    _run(a, 2500)
    _ok(a, "door both open 60000")
    tick = _ticker(a)
    for _ in range(5):
        tick()
    assert allocprobe.bytes_per_call(tick) == 0
    _ok(a, "throttle 40")
    for _ in range(100):
        tick()
    assert allocprobe.bytes_per_call(tick) == 0
    _ok(a, "events off")  # on the limiter, events off: nothing said, nothing allocated
    _ok(a, "throttle 100")
    for _ in range(150):
        tick()
    assert allocprobe.bytes_per_call(tick) == 0
    assert a.doors.left.moving and a.doors.right.moving
    assert a.engine.limiter_hits > 10 and a.outbox == []


# -- the RC receiver ------------------------------------------------------------------------------

RC_THROTTLE, RC_DOOR = 34, 35


def _rc_app():
    a = _app({"pins": dict(PINS, rc_throttle=RC_THROTTLE, rc_door=RC_DOOR)})
    _ok(a, "events on")
    return a


def _frames(gpio, width_us, count):
    board.pulse_train(gpio, [width_us] * count, start_us=board.now_us + 100)


def test_the_transmitter_drives_the_throttle_and_a_lost_signal_closes_it():
    a = _rc_app()
    _ok(a, "engine start")
    _frames(RC_THROTTLE, 1500, 150)  # neutral: control starts
    _frames(RC_DOOR, 1000, 150)
    _run(a, 3000)
    assert _status(a)["rc"] == "control"
    _frames(RC_THROTTLE, 2000, 30)  # trigger pulled fully
    _frames(RC_DOOR, 1000, 30)
    _run(a, 600)
    assert _status(a)["engine"]["throttle"] == 100
    events = _run(a, 400)  # the receiver is switched off
    assert [p for _, n, p in events if n == "failsafe"] == [{"state": "failsafe"}]
    status = _status(a)
    assert status["engine"]["throttle"] == 0 and status["rc"] == "failsafe"


def test_the_door_switch_toggles_the_doors():
    a = _rc_app()
    _frames(RC_THROTTLE, 1500, 50)
    _frames(RC_DOOR, 1000, 50)
    _run(a, 1000)
    board.pulse_train(RC_DOOR, [2000] * 100, start_us=board.now_us + 100)  # flipped
    _frames(RC_THROTTLE, 1500, 100)
    events = _run(a, 2000)
    assert _status(a)["doors"]["left"]["state"] in ("opening", "open")
    assert not [n for _, n, _ in events if n == "failsafe"]
