"""The move planner: positions from elapsed time, smooth re-planning, soft close, stop, ticks wrap."""

import random
import time

from gullwing import easing, motion
from simboard import TICKS_PERIOD

FRAME = 20
ACCEL = 60_000  # cdeg/s^2 (600 deg/s^2)
STRUT = easing.lookup("strut")
SINE = easing.lookup("sine_in_out")
CREEP = easing.lookup("sine_out")


def _frames(m, start, end, plan=None):
    """Positions at every 20 ms frame from start to end; plan(m, t) may re-plan at a frame."""
    out = []
    for t in range(start, end + 1, FRAME):
        if plan is not None:
            plan(m, t)
        out.append(m.position(t))
    return out


def _diffs(values):
    return [values[i] - values[i - 1] for i in range(1, len(values))]


def _open_close_reference():
    """Largest per-frame change of speed in an uninterrupted open and an uninterrupted soft close."""
    m = motion.Motion(0, 0, 9000)
    m.move(0, 9000, 1500, STRUT, ACCEL)
    opening = _diffs(_diffs(_frames(m, 0, 1600)))
    m.move(2000, 0, 2500, SINE, ACCEL, 400, 800, CREEP)
    closing = _diffs(_diffs(_frames(m, 2000, 4600)))
    return max(abs(a) for a in opening + closing)


def test_position_depends_on_elapsed_time_only_not_on_how_often_it_is_read():
    jittery = motion.Motion(0, 0, 9000)
    jittery.move(1000, 9000, 1500, STRUT, ACCEL)
    random.seed(4)
    t = 1000
    while t < 2600:
        t += random.randint(1, 45)  # late, irregular ticks
        fresh = motion.Motion(0, 0, 9000)  # read for the first time at t
        fresh.move(1000, 9000, 1500, STRUT, ACCEL)
        assert jittery.position(t) == fresh.position(t), t
    assert jittery.position(2600) == 9000


def test_a_move_arrives_exactly_on_time_and_then_rests():
    m = motion.Motion(1234, 0, 9000)
    m.move(0, 6789, 1000, SINE, ACCEL)
    assert m.position(0) == 1234
    assert m.position(500) in (4011, 4012)  # sine_in_out: half way (4011.5) at half time
    assert m.position(950) < 6789 and m.position(999) <= 6789 and m.phases
    assert m.position(1000) == 6789 and not m.phases
    assert m.position(5000) == 6789 and m.speed(5000) == 0


def test_an_out_curve_from_rest_starts_without_a_jump_in_speed():
    # quad_out would start at twice the average speed; the planner eases into it instead
    m = motion.Motion(0, 0, 9000)
    m.move(0, 9000, 1000, easing.lookup("quad_out"), ACCEL)
    assert m.speed(0) == 0
    steps = _diffs(_frames(m, 0, 1000))
    assert steps[0] < 50  # a raw quad_out would jump 20 ms x 18000 cdeg/s = 360 cdeg at once
    assert m.position(1000) == 9000


def test_reversing_mid_travel_keeps_position_and_speed_continuous():
    worst = _open_close_reference()
    for reverse_at in range(100, 1500, 140):
        m = motion.Motion(0, 0, 9000)
        m.move(0, 9000, 1500, STRUT, ACCEL)
        before_pos, before_speed = m.at(reverse_at), m.speed(reverse_at)
        m.move(reverse_at, 0, 2500, SINE, ACCEL, 400, 800, CREEP)
        assert m.at(reverse_at) == before_pos, reverse_at  # no jump in position...
        assert abs(m.speed(reverse_at) - before_speed) <= 1 + abs(before_speed) // 100, reverse_at  # ...nor speed
        m2 = motion.Motion(0, 0, 9000)
        m2.move(0, 9000, 1500, STRUT, ACCEL)
        frames = _frames(m2, 0, 5000, lambda mm, t, r=reverse_at: t == r and mm.move(
            r, 0, 2500, SINE, ACCEL, 400, 800, CREEP))
        i = reverse_at // FRAME
        around = _diffs(_diffs(frames))[i - 3:i + 6]
        # the frames around the reversal change speed about as fast as an ordinary open or close
        # does, no more (a jump in speed would change a frame's step by hundreds of cdeg)
        assert max(abs(c) for c in around) <= worst * 5 // 4, (reverse_at, around, worst)
        assert frames[-1] == 0


def test_reversing_a_closing_door_near_the_bottom_never_goes_below_closed():
    random.seed(11)
    for _ in range(40):
        m = motion.Motion(9000, 0, 9000)
        m.move(0, 0, 2500, SINE, ACCEL, 400, 800, CREEP)
        turn = random.randint(1500, 2499)
        m.move(turn, 9000, random.randint(300, 2000), STRUT, ACCEL)
        frames = _frames(m, turn, turn + 2100)
        assert min(frames) >= 0 and frames[-1] == 9000


def test_soft_close_approaches_the_stop_from_above_slowly_and_settles_exactly():
    m = motion.Motion(9000, 0, 9000)
    m.move(0, 0, 2500, SINE, ACCEL, 400, 800, CREEP)
    ms = list(range(0, 2501))
    positions = [m.position(t) for t in ms]
    assert max(_diffs(positions)) <= 0  # never backs up
    assert positions[-1] == 0 and min(positions) == 0
    creeping = [t for t in ms if 0 < positions[t] <= 400]
    assert creeping[-1] - creeping[0] > 400  # the last 4 degrees take most of a second
    for t in creeping[1:]:
        assert abs(m.speed(t)) <= 800 + 8, t  # no faster than the creep speed (8 deg/s)


def test_a_slow_close_needs_no_creep_and_is_still_gentle():
    m = motion.Motion(1000, 0, 9000)
    m.move(0, 0, 5000, SINE, ACCEL, 400, 800, CREEP)  # 2 deg/s on average: below the creep speed
    assert m.phases == 1
    positions = _frames(m, 0, 5000)
    assert max(_diffs(positions)) <= 0 and positions[-1] == 0


def test_stop_eases_to_rest_ahead_without_backing_up():
    m = motion.Motion(0, 0, 9000)
    m.move(0, 9000, 1500, STRUT, ACCEL)
    speed = m.speed(500)
    m.stop(500, ACCEL)
    assert abs(m.speed(500) - speed) <= 1 + speed // 100
    frames = _frames(m, 500, 1500)
    assert min(_diffs(frames)) >= 0  # keeps its direction while slowing
    rest = frames[-1]
    assert rest < 9000 and not m.phases
    assert m.total <= 2000 * speed // ACCEL  # about as quick as the deceleration allows
    m.stop(1600, ACCEL)  # stopping at rest changes nothing
    assert m.position(2000) == rest


def test_a_delayed_start_holds_still_then_moves():
    m = motion.Motion(500, 0, 9000)
    m.move(1000, 3000, 1000, SINE, ACCEL, delay=300)
    assert m.position(1100) == 500 and m.waiting and m.speed(1100) == 0
    assert m.position(1300) == 500 and not m.waiting
    assert 500 < m.position(1400) < 3000
    assert m.position(2300) == 3000 and not m.phases


def test_time_runs_on_across_the_ticks_wrap():
    start = TICKS_PERIOD - 700
    wrapped = motion.Motion(0, 0, 9000)
    wrapped.move(start, 9000, 1500, STRUT, ACCEL)
    plain = motion.Motion(0, 0, 9000)
    plain.move(0, 9000, 1500, STRUT, ACCEL)
    for t in range(0, 1600, FRAME):
        assert wrapped.position(time.ticks_add(start, t)) == plain.position(t), t


def test_a_move_keeps_time_on_a_clock_that_wraps_wider_than_the_esp32():
    # the unix port's ticks wrap at 2**62: a move started past 2**31 runs its full time
    start = 2**31 + 12345
    late = motion.Motion(0, 0, 9000)
    late.move(start, 9000, 1500, STRUT, ACCEL)
    plain = motion.Motion(0, 0, 9000)
    plain.move(0, 9000, 1500, STRUT, ACCEL)
    for t in range(0, 1600, FRAME):
        assert late.position(start + t) == plain.position(t), t


def test_targets_outside_the_range_stop_at_its_ends():
    m = motion.Motion(100, 0, 9000)
    m.move(0, 12000, 1000, easing.lookup("back_out"), ACCEL)  # back_out overshoots: clipped at open
    frames = _frames(m, 0, 1000)
    assert max(frames) == 9000 and frames[-1] == 9000
    m.move(2000, -50, 1000, easing.lookup("back_in_out"), ACCEL)
    frames = _frames(m, 2000, 3000)
    assert min(frames) == 0 and frames[-1] == 0
