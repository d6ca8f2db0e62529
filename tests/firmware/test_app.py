"""The app on the simulated ESP32, as a user at the serial port sees it: one reply per request line,
bad input refused without effect, the doors and the engine judged by the pulses in the trace, events,
the emergency stop, a broken configuration, a restart, and a control tick that allocates nothing."""

import asyncio
import json
import time

import fwtest
from gullwing import VERSION, app, config, runner
from gullwing.lines import LineWriter
from gullwing.servo import Calibration
from simboard import board

LEFT, RIGHT, MOTOR, BUZZER, LED = 18, 19, 25, 23, 4  # boards/esp32-devkitc.toml
PINS = {"door_left": LEFT, "door_right": RIGHT, "motor": MOTOR, "buzzer": BUZZER, "led": LED}
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
    asyncio.run(runner.serial(a, Console(), written.append))
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


def test_status_outputs_show_the_motor_duty_rising_with_the_revs_and_the_buzzer_sounding():
    a = _app()
    assert "outputs" not in _status(a)  # nothing driven yet
    _ok(a, "engine start")
    _run(a, 2500)
    idle = _status(a)["outputs"]
    assert 0 < idle["motor"] < 50 and idle["buzzer_hz"] == board.trace.last(BUZZER).freq_hz > 0
    _ok(a, "throttle 100")
    _run(a, 3000)
    full = _status(a)["outputs"]
    assert full["motor"] > idle["motor"] + 30 and full["buzzer_hz"] > idle["buzzer_hz"]
    period_ns = 1_000_000_000 // board.trace.last(MOTOR).freq_hz
    assert abs(full["motor"] - _motor_duty() * 100 // period_ns) <= 1  # what the pin really does
    _ok(a, "throttle 0")
    _ok(a, "engine stop")
    _run(a, 4000)
    assert "outputs" not in _status(a)  # nothing driven after the stop


def test_status_outputs_name_a_shaker_only_where_one_is_built_and_are_left_out_with_no_output():
    a = _app({"pins": dict(PINS, shaker=22)})
    assert "outputs" not in _status(a)
    _ok(a, "engine start")
    _run(a, 2500)
    assert _status(a)["outputs"]["shaker_hz"] == board.trace.last(22).freq_hz > 0
    board.reset("ESP32")
    assert "outputs" not in _status(_app({"pins": {"door_left": LEFT, "door_right": RIGHT}}))


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
    assert a.saver.poll(_now())  # the saver's task looks: the rest is written, beside the tick
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


def test_doors_stopped_mid_move_by_ctrl_c_resume_where_they_stopped():
    state = _state_dir()
    a = _app(state_dir=state)
    _ok(a, "door both open 3000")
    _run(a, 1200)
    a.stop(_now())  # Ctrl-C: what runner.run does
    held = {pin: _pulses(pin)[-1].duty_ns for pin in (LEFT, RIGHT)}
    board.reset("ESP32")
    a = _app(state_dir=state)
    assert [door["state"] for door in _status(a)["doors"].values()] == ["stopped", "stopped"]
    _ok(a, "door both open")
    _run(a, 100)
    for pin in (LEFT, RIGHT):
        assert _pulses(pin)[0].duty_ns == held[pin], pin  # no jump back to closed




def test_in_safe_mode_the_doors_and_calibration_say_why_they_are_not_ready():
    problems = []
    cfg = config.merge(config.DEFAULTS, {"pins": PINS}, "", problems)
    a = app.App(cfg, _now(), _state_dir(), problems, safe_mode="3 crashes within 60 s of boot: watchdog reset")
    for line in ("door both open", "calibrate left jog 10", "calibrate right closed"):
        reply = _say(a, line)
        assert reply.startswith("err not_ready ") and "safe mode, 3 crashes" in reply, reply

# -- the status LED --------------------------------------------------------------------------------

def _led_changes(a, ms):
    """(ms into the run, level) of each change of the LED pin while the app runs `ms`."""
    start = board.now_us
    _run(a, ms)
    return [((row.t_us - start) // 1000, row.level) for row in board.trace.rows(LED) if row.t_us >= start]


def _lit_ms(changes, level=1):
    """How long the LED stayed at `level` (1: lit) each time, but the last."""
    return [changes[i + 1][0] - changes[i][0] for i in range(len(changes) - 1) if changes[i][1] == level]


def test_the_status_led_beats_a_heartbeat_while_all_is_well_and_blinks_fast_on_a_fault():
    a = _app({"pins": dict(PINS, door_left=34)})  # input only: the first pulse faults
    _run(a, 100)
    well = _led_changes(a, 3000)
    assert len(_lit_ms(well)) >= 3 and set(_lit_ms(well)) == {100}  # double flashes, 1.5 s apart
    assert max(_lit_ms(well, 0)) == 1200  # dark between them
    _ok(a, "door both open")
    _run(a, 100)
    assert _status(a)["problems"]
    fault = _led_changes(a, 2000)
    assert len(_lit_ms(fault)) >= 9  # 5 flashes a second


def test_the_status_led_shows_the_rc_failsafe_slow_and_even():
    a = _rc_app()
    _stick(a, 1500, 1000)
    _run(a, 300)  # the signal is gone
    assert _status(a)["rc"] == "failsafe"
    _run(a, 200)
    changes = _led_changes(a, 3000)
    assert set(_lit_ms(changes)) == {500}


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



def _err_text(a, line):
    reply = _say(a, line)
    assert reply.startswith("err "), (line, reply)
    return reply


def _stick(a, width_us, ms):
    """The throttle channel at `width_us` for `ms`, the app ticking (the pulses end with the time)."""
    _frames(RC_THROTTLE, width_us, ms // FRAME)
    return _run(a, ms)


def test_the_throttle_has_one_owner_the_stick_off_idle_takes_it_and_idle_hands_it_back():
    a = _rc_app()
    _ok(a, "engine start")
    _stick(a, 1500, 2000)  # at neutral: the transmitter is in control but leaves the throttle alone
    assert _status(a)["rc"] == "control" and "owner" not in _status(a)["engine"]  # the host's
    assert _ok(a, "throttle 80") is None
    _stick(a, 1500, 400)
    assert _status(a)["engine"]["throttle"] == 80  # not replaced by the idle stick
    _stick(a, 1750, 400)  # the stick off idle: the transmitter takes the throttle
    status = _status(a)
    held = status["engine"]["throttle"]
    assert status["engine"]["owner"] == "rc" and held == _ok(a, "rc")["throttle"] and 40 < held < 60
    reply = _err_text(a, "throttle 20")
    assert reply.startswith("err busy ") and "transmitter" in reply
    assert _err_text(a, "blip").startswith("err busy ")
    assert _status(a)["engine"]["throttle"] == held  # the refused requests changed nothing
    _stick(a, 1500, 400)  # back at idle: closed, and handed back
    status = _status(a)
    assert "owner" not in status["engine"] and status["engine"]["throttle"] == 0
    assert _ok(a, "throttle 30") is None and _status(a)["engine"]["throttle"] == 30


def test_while_the_failsafe_holds_the_host_cannot_open_the_throttle():
    a = _rc_app()
    _ok(a, "engine start")
    _stick(a, 1500, 2000)
    _stick(a, 1800, 200)
    _run(a, 400)  # the signal is gone: failsafe
    assert _status(a)["rc"] == "failsafe"
    reply = _err_text(a, "throttle 60")
    assert reply.startswith("err busy ") and "failsafe" in reply
    assert _status(a)["engine"]["throttle"] == 0
    _stick(a, 1500, 600)  # the signal back at neutral: control, and the host may again
    assert _status(a)["rc"] == "control" and _ok(a, "throttle 60") is None


def test_without_a_receiver_the_host_owns_the_throttle_and_status_stays_short():
    a = _app()
    assert "owner" not in _status(a)["engine"] and "rc" not in _status(a)
    assert _err_text(a, "rc").startswith("err not_ready ")


def test_the_rc_verb_shows_the_live_pulse_widths_for_setting_up_a_transmitter():
    a = _rc_app()
    _frames(RC_THROTTLE, 1620, 50)
    _frames(RC_DOOR, 1100, 50)
    _run(a, 600)
    rc = _ok(a, "rc")
    assert abs(rc["pulses"]["throttle"] - 1620) <= 2 and abs(rc["pulses"]["door"] - 1100) <= 2
    assert rc["state"] in ("waiting", "control")


# -- what the chip refuses at boot -------------------------------------------------------------------

def test_an_engine_output_on_a_pin_the_chip_refuses_is_reported_and_the_others_work():
    # ESP-IDF refuses a PWM channel on an input-only pin (OSError from ledc_channel_config)
    a = _app({"pins": dict(PINS, buzzer=34)})
    assert _say(a, "ping") == "ok"
    assert any(p.startswith("buzzer: ") and "GPIO34" in p for p in _status(a)["problems"])
    _ok(a, "engine start")
    _run(a, 2500)
    assert _motor_duty() > 0 and board.trace.rows(34) == []
    _ok(a, "door both open")
    _settle(a)
    assert [door["state"] for door in _status(a)["doors"].values()] == ["open", "open"]


def test_ledc_timers_taken_before_boot_cost_only_the_outputs_that_find_none():
    board.reset("ESP32-S3")  # four LEDC timers
    from machine import PWM, Pin

    left_over = [PWM(Pin(pin), freq=hz, duty_u16=0) for pin, hz in ((11, 1500), (12, 2500), (13, 3500))]
    a = _app({"pins": {"door_left": 4, "door_right": 5, "motor": 6, "buzzer": 16, "shaker": 17}})
    # the motor took the last timer; the port then finds no channel for a new frequency (machine_pwm.c:
    # find_channel wants a free timer too): RuntimeError("out of PWM channels") for the tones
    problems = _status(a)["problems"]
    for name in ("buzzer: ", "shaker: "):
        assert any(p.startswith(name) and "out of PWM" in p for p in problems), problems
    _ok(a, "engine start")
    _run(a, 2500)
    assert board.trace.last(6).duty_ns > 0 and board.trace.rows(16) == [] and board.trace.rows(17) == []
    assert len(left_over) == 3 and _say(a, "ping") == "ok"


def test_the_largest_board_runs_everything_within_the_ledc_plan_on_every_chip():
    # two doors on one 50 Hz timer, the H-bridge on a 20 kHz one, buzzer and shaker on one each
    for chip, (left, right, in1, in2, buzzer, shaker) in (("ESP32", (18, 19, 26, 27, 23, 22)),
                                                          ("ESP32-S3", (4, 5, 7, 15, 16, 6)),
                                                          ("ESP32-C3", (4, 5, 7, 10, 3, 6))):
        board.reset(chip)
        pins = {"door_left": left, "door_right": right, "motor_in1": in1, "motor_in2": in2, "buzzer": buzzer,
                "shaker": shaker}
        a = _app({"pins": pins, "motor": "hbridge", "doors": {"hold_ms": 200}})
        _ok(a, "events on")
        events = []
        most = 0
        for request, ms in (("engine start", 2500), ("door both open", 1000), ("throttle 100", 3000),
                            ("throttle 0", 3000), ("door both close", 3000), ("blip 500", 2000),
                            ("door both open", 3000), ("engine stop", 3000)):
            _ok(a, request)
            for _ in range(ms // 100):
                events += _run(a, 100)
                most = max(most, sum(1 for t in board.timers if t is not None))
        assert [e for e in events if e[1] == "fault"] == [] and "problems" not in _status(a), chip
        assert most == 4, chip
        shaker_hz = set(row.freq_hz for row in board.trace.rows(shaker) if row.kind == "pwm")
        assert min(shaker_hz) < 50 < max(shaker_hz), (chip, shaker_hz)  # it crossed the doors' frequency
        assert [door["state"] for door in _status(a)["doors"].values()] == ["open", "open"], chip


def _firmware_bytes(tick):
    """Heap bytes per call the firmware allocates, freed or kept (micropython.mem_total), the
    simulator's own calls taken off: a frame over 11 words comes from the heap at every call."""
    import allocprobe

    meter = allocprobe.simulator_meter().install()
    try:
        total, sim = allocprobe.transient_per_call(tick, meter=meter)
    finally:
        meter.remove()
    return total - sim


def test_no_frame_of_the_tick_comes_from_the_heap_doors_engine_and_the_whole_app():
    _skip_on_cpython()
    from gullwing.engine import Engine

    a = _app()
    _ok(a, "events on")
    _ok(a, "engine start")
    _run(a, 2500)
    _ok(a, "throttle 40")
    _ok(a, "door both open 60000")
    tick = _ticker(a)
    for _ in range(5):
        tick()
    assert _firmware_bytes(tick) == 0
    doors = a.doors
    assert _firmware_bytes(lambda: doors.tick(_now())) == 0
    engine = Engine()
    engine.start()
    engine.throttle(100)  # onto the limiter: every part of the model runs
    for _ in range(200):
        engine.tick(FRAME)
    assert _firmware_bytes(lambda: engine.tick(FRAME)) == 0
    assert doors.left.moving and engine.limiter_hits > 0


def _small_ints_only(a):
    import allocprobe

    big = allocprobe.big_ints(a) if fwtest.MICROPYTHON else _big_ints_cpython(a, set())
    assert big == [], big


def _big_ints_cpython(obj, seen, path=""):
    found = []
    if id(obj) in seen or not hasattr(obj, "__dict__") or type(obj).__module__ in ("simpwm", "simpin", "machine"):
        return found
    seen.add(id(obj))
    for name, value in vars(obj).items():
        if isinstance(value, int) and not isinstance(value, bool):
            if not -2**30 <= value < 2**30:
                found.append(path + name + "=" + str(value))
        elif hasattr(value, "__dict__") and not isinstance(value, type):
            found += _big_ints_cpython(value, seen, path + name + ".")
    return found


def test_counts_past_2_30_wrap_as_small_ints_and_every_arrival_is_still_told():
    # a chip running for weeks: arrivals, limiter hits and blow-offs counted past 2**30, across
    # the ticks wrap; every value the tick leaves stays a small int and no event is lost
    board.reset("ESP32", start_us=((1 << 30) - 3000) * 1000)
    a = _app()
    near = (1 << 30) - 2
    a.doors.left.arrived = a.doors.right.arrived = near
    a.engine.limiter_hits = a.engine.blowoffs = near
    _run(a, FRAME)  # the app takes the counts as they are (events are off)
    _ok(a, "events on")
    _ok(a, "engine start")
    _run(a, 2000)
    _ok(a, "throttle 100")
    arrivals = 0
    for deg in (20, 0, 20, 0, 20):
        _ok(a, "door both to " + str(deg) + " 200")
        events = _run(a, 600)
        arrivals += len([e for e in events if e[1] == "door"])
        _small_ints_only(a)
    assert arrivals == 10  # both doors, five moves each, across the wrap of their counts
    assert a.doors.left.arrived == 3 and a.engine.limiter_hits < 1000
    assert _status(a)["doors"]["left"] == {"state": "stopped", "angle": 20}


def test_uptime_is_counted_past_the_ticks_wrap():
    board.reset("ESP32", start_us=((1 << 30) - 1000) * 1000)
    a = _app()
    _run(a, 3000)  # ticks_ms wrapped a second in
    assert abs(_status(a)["up_ms"] - 3000) <= FRAME
    step = (1 << 28) - 1  # three days a step: the longest a ticks_diff measures is 2**29 ms
    for _ in range(4):
        board.advance_ms(step)
        a.tick(_now())
    # twelve days up: the ms count is past 2**30, where a ticks_diff from boot comes out wrong
    assert abs(_status(a)["up_ms"] - (3000 + 4 * step)) <= FRAME


# -- output that never blocks the tick --------------------------------------------------------------

class _SlowUart:
    """A UART at 115200 baud on real time, as the esp32 port's: write() waits while its 256-byte
    buffer and 128-byte FIFO are full (uart_write_bytes), txdone() is True once all is sent."""

    def __init__(self):
        self.level = 0  # bytes not yet on the wire
        self.at = time.ticks_us()
        self.sent = []
        self.blocked_us = 0  # the longest a write waited

    def _drain(self):
        now = time.ticks_us()
        self.level = max(0, self.level - time.ticks_diff(now, self.at) * 11520 // 1_000_000)
        self.at = now

    def write(self, text):
        self._drain()
        over = self.level + len(text) - 384
        if over > 0:  # blocks until the wire has taken the excess
            wait_us = over * 1_000_000 // 11520
            time.sleep_us(wait_us)
            self.blocked_us = max(self.blocked_us, wait_us)
            self._drain()
        self.level += len(text)
        self.sent.append(text)
        return len(text)

    def txdone(self):
        self._drain()
        return self.level == 0


def test_a_flood_of_events_never_blocks_the_tick_and_what_does_not_fit_is_dropped_and_counted():
    _skip_on_cpython()  # the control task's asyncio.sleep_ms is MicroPython's
    a = _app()
    _ok(a, "events on")
    uart = _SlowUart()
    real_tick = a.tick
    ticks = []

    def chatty_tick(now):  # five 100-byte events a frame: 25 kB/s, twice what the wire carries
        real_tick(now)
        ticks.append(now)
        for _ in range(5):
            a.outbox.append("evt flood " + "x" * 89)

    a.tick = chatty_tick
    board.use_real_time()

    async def go():
        task = asyncio.create_task(runner.control(a, [LineWriter(uart)]))
        await asyncio.sleep_ms(1000)
        task.cancel()

    asyncio.run(go())
    assert uart.blocked_us == 0, uart.blocked_us  # no write ever waited
    gaps = [time.ticks_diff(ticks[i], ticks[i - 1]) for i in range(1, len(ticks))]
    assert len(ticks) >= 40 and sum(gaps) // len(gaps) <= FRAME + 2, gaps  # the ticks kept their pace
    sent = "".join(uart.sent)
    assert 6000 <= len(sent) <= 11520 + 384, len(sent)  # the wire was kept busy, never beyond its rate
    assert all(line == "evt flood " + "x" * 89 for line in sent.split("\n")[:-1])  # whole lines
    a.writers = [LineWriter(uart)]
    a.writers[0].dropped = 100
    assert _status(a)["dropped"] == 100


def test_replies_wait_for_the_console_and_are_never_dropped():
    _skip_on_cpython()  # asyncio.sleep_ms is MicroPython's
    from gullwing.lines import LineWriter

    class Console:  # the console at 115200 baud: a write must never outrun the wire
        def __init__(self):
            self.start = time.ticks_us()
            self.bytes = 0
            self.ahead = 0

        def write(self, text):
            self.bytes += len(text)
            wire = time.ticks_diff(time.ticks_us(), self.start) * 11520 // 1_000_000
            self.ahead = max(self.ahead, self.bytes - wire)

    console = Console()
    writer = LineWriter(console)
    for _ in range(40):  # more events than the queue holds: the rest dropped, counted
        writer("evt door " + "y" * 50)
    assert writer.dropped == 40 - 16
    board.use_real_time()
    lines = [b"#%d ping\n" % i for i in range(10)]

    class Requests:
        async def readline(self):
            return lines.pop(0) if lines else b""

    a = _app()
    console.start = time.ticks_us()
    asyncio.run(runner.serial(a, Requests(), writer))
    assert writer.dropped == 24 and writer.pump(), writer.dropped
    assert console.bytes == 16 * 60 + sum(len("#%d ok\n" % i) for i in range(10)), console.bytes  # every reply
    assert console.ahead <= 128  # never more than the FIFO ahead of the wire


# -- the page's channel ----------------------------------------------------------------------------

def test_the_page_cannot_change_what_could_lock_the_owner_out_and_nothing_changes():
    a = _app()
    for line in ("config set wifi.mode off", "config set wifi.ap_password newkey123", "config set web.pin 1111",
                 "#7 config set web.pin 1111", "config reset", "wifi password", "WIFI password"):
        reply = a.handle(line, _now(), web=True)
        words = reply.split(" ", 3)[1:] if reply.startswith("#") else reply.split(" ", 2)
        assert words[0] == "err" and words[1] == "denied" and "over USB" in reply, (line, reply)
        assert reply.startswith("#7 ") == line.startswith("#7"), reply
    assert _ok(a, "config get") == {"settings": {}, "saved": True}
    # the rest works from the page as over USB, and the same requests over USB are served
    assert a.handle("config set doors.stagger_ms 100", _now(), web=True) == 'ok {"doors.stagger_ms":100}'
    assert a.handle("door both open", _now(), web=True).startswith("ok {")
    assert a.handle("wifi", _now(), web=True).startswith("ok {")
    assert _ok(a, "config set web.pin 1111") == {"web.pin": "***", "restart": True}
    assert _ok(a, "config reset") == {"restart": True}


def test_heap_reports_the_most_a_tick_allocated_since_the_last_heap_and_starts_again():
    a = _app()
    assert _ok(a, "heap")["tick_bytes"] == 0
    a.tick_bytes = 48  # the runner's measure
    assert _ok(a, "heap")["tick_bytes"] == 48
    assert _ok(a, "heap")["tick_bytes"] == 0
