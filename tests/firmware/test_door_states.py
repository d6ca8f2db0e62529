"""A door's state is read from its motion and never disagrees with it: the repeated commands that used
to leave a wrong state, and random command sequences checked after every step."""

import random
import time

import fwtest
from doorrig import FRAME, LEFT, RIGHT, control_loop, door_pair, now_ms, pwm_rows
from gullwing import doors
from simboard import board


def setup_function():
    board.reset("ESP32")


def _pulses(pin):
    return [row.duty_ns for row in pwm_rows(pin)]


def _opened(side="both"):
    pair = door_pair()
    pair.open(now_ms(), side)
    control_loop(pair, 3000)
    return pair


def _closed():
    pair = door_pair()
    pair.close(now_ms())  # the first command after boot drives the closed position: known from here on
    control_loop(pair, 2000)
    return pair


# -- the repeated commands -------------------------------------------------------------------------

def test_opening_an_open_door_in_a_given_time_moves_nothing_and_answers_open():
    pair = _opened("left")
    arrived, pulses = pair.left.arrived, len(_pulses(LEFT))
    pair.command(now_ms(), "left", "open", None, 5000)
    assert pair.status()["left"] == {"state": "open", "angle": 90}  # the reply: no target, not closing
    control_loop(pair, 2500)
    assert pair.left.state == doors.OPEN and not pair.left.moving
    assert len(_pulses(LEFT)) == pulses and pair.left.arrived == arrived  # nothing driven, no arrival


def test_toggle_after_a_repeated_open_closes_the_open_door():
    pair = _opened("left")
    pair.command(now_ms(), "left", "open", None, 5000)
    control_loop(pair, 1000)
    pair.command(now_ms(), "left", "toggle")
    assert pair.left.state == doors.CLOSING
    control_loop(pair, 4000)
    assert pair.left.state == doors.CLOSED and pair.left.status()["angle"] == 0


def test_stop_and_estop_after_a_repeated_open_leave_the_door_open():
    for ms in (None, 20):  # door left stop; the app's estop
        board.reset("ESP32")
        pair = _opened("left")
        pair.command(now_ms(), "left", "open", None, 5000)
        control_loop(pair, 1000)
        pair.command(now_ms(), "both" if ms else "left", "stop", None, ms)
        assert pair.left.state == doors.OPEN, ms
        control_loop(pair, 200)
        assert pair.status()["left"] == {"state": "open", "angle": 90}


def test_closing_closed_doors_in_a_given_time_moves_nothing_and_answers_closed():
    pair = _closed()
    held = {pin: set(_pulses(pin)) for pin in (LEFT, RIGHT)}  # the closed pulse, then 0 (released)
    board.trace.clear()
    pair.command(now_ms(), "both", "close", None, 3000)
    assert pair.left.state == pair.right.state == doors.CLOSED
    control_loop(pair, 1000)
    pair.command(now_ms(), "both", "toggle")
    assert pair.left.state == pair.right.state == doors.OPENING  # toggle opens closed doors
    pair.command(now_ms(), "both", "stop", None, 20)
    assert pair.left.state == pair.right.state == doors.CLOSED  # stopped before leaving
    control_loop(pair, 2000)
    for pin in (LEFT, RIGHT):
        assert set(_pulses(pin)) <= held[pin]  # never a pulse off the closed one


def test_moving_doors_to_where_they_are_moves_nothing_and_answers_stopped():
    pair = door_pair()
    pair.to(now_ms(), 85)
    control_loop(pair, 3000)
    pair.to(now_ms(), 85)
    assert pair.left.state == pair.right.state == doors.STOPPED and not pair.moving
    pair.to(now_ms(), 85, ms=4000)
    assert pair.status()["right"] == {"state": "stopped", "angle": 85}
    control_loop(pair, 200)
    pair.toggle(now_ms())  # the last move went up: toggle takes them back down
    assert pair.left.state == pair.right.state == doors.CLOSING


def test_the_first_command_after_boot_still_drives_the_position_assumed():
    pair = door_pair()
    pair.command(now_ms(), "both", "close", None, 3000)
    assert _pulses(LEFT) and _pulses(RIGHT)  # the closed pulse, driven at once
    assert pair.left.arrived == pair.right.arrived == 1 and pair.left.state == doors.CLOSED
    pair.command(now_ms(), "both", "close", None, 3000)
    assert pair.left.arrived == 1  # known now: nothing more


def test_a_staggered_door_waiting_to_start_reports_the_move_it_has_begun():
    pair = door_pair(together=False, stagger_ms=300)
    pair.open(now_ms())
    control_loop(pair, 100)
    right = pair.right
    assert right.motion.waiting and right.status() == {"state": "opening", "angle": 0, "target": 90}
    pair.close(now_ms(), "right")  # back to where it is before it started: the start is dropped
    assert right.state == doors.CLOSED and not right.moving
    control_loop(pair, 2000)
    assert right.status()["angle"] == 0 and pair.left.state == doors.OPEN


# -- random sequences ------------------------------------------------------------------------------

def _rest_state(pos, limit):
    return doors.CLOSED if pos == 0 else doors.OPEN if pos == limit else doors.STOPPED


def _truth(door, now):
    """What the door is doing, from its motion alone: None when either heading is true (passing
    through its target mid-way, as when returning from an overshoot)."""
    m = door.motion
    pos, limit = m.pos, door.limit
    if not m.phases:
        return _rest_state(pos, limit)
    end = m.at(time.ticks_add(m.t0, m.total))  # where the move leaves it, read off the planner
    if end != pos:
        return doors.OPENING if end > pos else doors.CLOSING
    return _rest_state(pos, limit) if pos in (0, limit) else None


def _check(pair, now, where):
    for door in (pair.left, pair.right):
        m = door.motion
        state = door.state
        want = _truth(door, now)
        assert want is None or state == want, (where, door.name, state, want, m.pos, m.target, m.phases)
        assert want is not None or state in (doors.OPENING, doors.CLOSING), (where, door.name, state)
        status = door.status()
        assert status["state"] == state and ("target" in status) == door.moving, (where, door.name, status)
        assert 0 <= m.pos <= door.limit
        # the angle reported is the one the servo holds
        assert door.servo.pulse == door.servo.cal.pulse_ns(m.pos) or not door.known, (where, door.name)
        if m.phases and time.ticks_diff(now, m.t0) < 0:
            assert m.at(now) == m.pos, (where, door.name)  # a staggered door holds still until its start
        if not m.phases:
            assert m.at(time.ticks_add(now, 5000)) == m.pos, (where, door.name)  # at rest it stays


def _angle(pair):
    rng = random
    pick = rng.randint(0, 4)
    if pick == 0:
        return rng.choice((0, 90))
    if pick == 1:  # exactly where a door is: the repeated command
        return rng.choice((pair.left, pair.right)).motion.pos / 100
    return rng.randint(0, 90)


def _sequence(seed, steps):
    random.seed(seed)  # MicroPython's random has no Random class: the module's one generator
    rng = random
    pair = door_pair(together=rng.randint(0, 2) > 0, stagger_ms=rng.choice((0, 40, 40, 300, 1200)),
                 hold_ms=rng.choice((None, 0, 300, 1000)))
    log = []
    for step in range(steps):
        side = rng.choice(doors.SIDES)
        verb = rng.choice(doors.VERBS + ("stop", "toggle"))
        deg = _angle(pair) if verb == "to" else None
        ms = rng.choice((None, None, 20, rng.randint(20, 6000)))
        gap = rng.choice((0, 0, rng.randint(1, 19_999), rng.randint(1, 3_000_000)))
        board.advance_us(gap)  # the same instant, within a frame, or seconds on (mid-move or at rest)
        log.append((step, gap, side, verb, deg, ms))
        where = (seed, log[-6:])
        now = now_ms()
        pair.command(now, side, verb, deg, ms)
        _check(pair, now, where)
        for _ in range(rng.choice((0, 0, 1, 3, rng.randint(1, 150)))):
            board.advance_ms(FRAME)
            pair.tick(now_ms())
            _check(pair, now_ms(), where)
        board.trace.clear()  # (keeps the test's memory small under MicroPython)


def test_random_commands_never_leave_a_state_that_disagrees_with_the_motion():
    base = 1201 + (7 if fwtest.MICROPYTHON else 0)  # each interpreter its own seeds
    for seed in range(base, base + 40):
        board.reset("ESP32")
        _sequence(seed, 80)
