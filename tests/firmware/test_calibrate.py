"""Calibrating a door from the PC, as `gullwing console` does it: jog the servo in small steps, set
the closed and the open end where it stands, save; the door then travels between exactly those
pulses, also after a restart."""

import test_app
from gullwing import config
from simboard import board
from test_app import LEFT, PINS, RIGHT, _app, _err, _ok, _pulses, _run, _say, _settle, _state_dir, _status

setup_function = test_app.setup_function  # a fresh board; the state folders removed after each test
teardown_function = test_app.teardown_function


def _jog(a, side, total_us):
    """Jog by `total_us` in the largest steps allowed; the pulse (us) reported at the end."""
    while True:
        step = max(-50, min(50, total_us))
        reply = _ok(a, "calibrate " + side + " jog " + ("+" if step > 0 else "") + str(step))
        total_us -= step
        if not total_us:
            return reply["pulse_us"]


def _held(pin):
    return _pulses(pin)[-1].duty_ns


def test_a_jog_moves_the_pulse_by_whole_microseconds_and_holds_it():
    a = _app()
    start = _ok(a, "calibrate left jog 0")["pulse_us"]
    assert start == (config.DEFAULTS["doors"]["left"]["min_us"] + 500)  # 45 of 180 deg on 500..2500 us
    assert _ok(a, "calibrate left jog 10") == {"side": "left", "pulse_us": start + 10}
    assert _ok(a, "calibrate left jog -3") == {"side": "left", "pulse_us": start + 7}
    _run(a, 5000)  # held, not released after hold_ms
    pulses = [row.duty_ns for row in _pulses(LEFT)]
    assert abs(pulses[-1] - (start + 7) * 1000) < 306 and pulses[-1] > 0
    assert board.trace.rows(RIGHT) == []  # the other door is left alone


def test_a_jog_is_at_most_50_us_and_never_leaves_the_servo_s_range():
    a = _app()
    for line in ("calibrate left jog 51", "calibrate left jog -51", "calibrate left jog", "calibrate left jog 5.5",
                 "calibrate left jog ++5", "calibrate left jog 5 6", "calibrate middle jog 5",
                 "calibrate left wiggle"):
        assert _err(a, line) == "bad_arg", line
    assert board.trace.rows(LEFT) == []  # refused: nothing moved
    assert _jog(a, "left", 3000) == 2500  # max_us
    assert _jog(a, "left", -5000) == 500  # min_us
    traced = [row.duty_ns for row in _pulses(LEFT)]
    assert min(traced) >= 500_000 and max(traced) <= 2_500_000
    steps = [abs(traced[i] - traced[i - 1]) for i in range(1, len(traced))]
    assert max(steps) <= 50_000 + 306


def _calibrate(a, side, closed_us, open_us):
    """Jog to each end and set it there; the pulses traced while holding each end."""
    here = _ok(a, "calibrate " + side + " jog 0")["pulse_us"]
    _jog(a, side, closed_us - here)
    _run(a, 40)
    closed = _held(LEFT if side == "left" else RIGHT)
    _ok(a, "calibrate " + side + " closed")
    _jog(a, side, open_us - closed_us)
    _run(a, 40)
    opened = _held(LEFT if side == "left" else RIGHT)
    reply = _ok(a, "calibrate " + side + " open")
    assert reply == {"side": side, "closed_us": closed_us, "open_us": open_us}
    return closed, opened


def _travel(a, side, action):
    pin = LEFT if side == "left" else RIGHT
    already = len(_pulses(pin))
    _ok(a, "door " + side + " " + action)
    _settle(a)
    return [row.duty_ns for row in _pulses(pin)[already:]]


def test_a_door_travels_between_exactly_the_ends_set():
    a = _app()
    closed, opened = _calibrate(a, "left", 900, 1850)
    assert _status(a)["doors"]["left"] == {"state": "open", "angle": 90}  # it stands at the open end
    down = _travel(a, "left", "close")
    up = _travel(a, "left", "open")
    assert down[-1] == closed and min(down) == closed and max(down) <= opened
    assert up[-1] == opened and max(up) == opened and min(up) >= closed
    assert up == sorted(up) and down == sorted(down, reverse=True)
    assert _ok(a, "config get doors.left.closed_us") == {"doors.left.closed_us": 900}
    assert _ok(a, "config get") == {"settings": {"doors.left.closed_us": 900, "doors.left.open_us": 1850},
                                    "saved": False}


def test_the_mirrored_door_calibrates_the_other_way_round():
    a = _app()
    closed, opened = _calibrate(a, "right", 2100, 1200)  # opening lowers its pulse
    down = _travel(a, "right", "close")
    up = _travel(a, "right", "to 45")
    assert down[-1] == closed and max(down) == closed
    assert min(up) > opened and up == sorted(up, reverse=True)
    up = _travel(a, "right", "open")
    assert up[-1] == opened and min(up) == opened


def test_calibrate_save_keeps_the_ends_across_a_restart():
    state = _state_dir()
    a = _app(state_dir=state)
    closed, opened = _calibrate(a, "left", 1000, 1700)
    _travel(a, "left", "close")
    assert _ok(a, "calibrate save") == {"saved": 2}
    board.reset("ESP32")
    a = _app(state_dir=state)
    assert _status(a)["doors"]["left"]["state"] == "closed"
    up = _travel(a, "left", "open")
    assert up[0] == closed and up[-1] == opened and min(up) == closed and max(up) == opened


def test_ends_too_close_a_moving_door_or_no_doors_are_refused_and_change_nothing():
    a = _app()
    _ok(a, "calibrate left jog 0")
    _ok(a, "calibrate left closed")
    _jog(a, "left", 40)
    reply = _say(a, "calibrate left open")
    assert reply.startswith("err bad_arg ") and "open_us" in reply and "50" in reply, reply
    assert _ok(a, "config get doors.left.open_us") == {"doors.left.open_us": 2000}  # the end before
    _jog(a, "left", -40)
    _ok(a, "door left open")
    _run(a, 200)
    assert _err(a, "calibrate left jog 5") == "busy"
    assert _err(a, "calibrate left open") == "busy"
    assert _ok(a, "config get doors.left.open_us") == {"doors.left.open_us": 2000}
    board.reset("ESP32")
    broken = _app({"pins": {"motor": PINS["motor"]}})
    assert _err(broken, "calibrate left jog 5") == "not_ready"


def test_calibrated_ends_map_every_angle_inside_them_and_hit_them_exactly():
    from fwtest import raises
    from gullwing.servo import Calibration

    for closed_us, open_us in ((900, 1850), (2100, 1200), (500, 2500), (1500, 1550)):
        cal = Calibration(closed_us=closed_us, open_us=open_us, open_deg=90)
        lo, hi = min(closed_us, open_us) * 1000, max(closed_us, open_us) * 1000
        inside = (cal.min_ns, cal.max_ns)  # the servo's range, moved onto a duty every chip makes exactly
        assert cal.pulse_ns(0) == cal.pulse_ns(-300) == max(inside[0], min(inside[1], closed_us * 1000))
        assert cal.pulse_ns(9000) == cal.pulse_ns(20000) == max(inside[0], min(inside[1], open_us * 1000))
        pulses = [cal.pulse_ns(cdeg) for cdeg in range(-500, 9600, 7)]
        assert all(lo <= ns <= hi and cal.min_ns <= ns <= cal.max_ns for ns in pulses)
        assert pulses == sorted(pulses, reverse=open_us < closed_us)
        assert cal.angle_cdeg(cal.pulse_ns(4500)) == 4500
    with raises(ValueError, "closed_us"):
        Calibration(closed_us=400, open_us=1800)  # below min_us
    with raises(ValueError, "at least 50"):
        Calibration(closed_us=1500, open_us=1530)
