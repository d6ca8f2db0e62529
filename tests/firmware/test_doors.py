"""The doors on the simulated ESP32, judged by the servo pulses in the trace: profiles, reversal,
smoothness at the LEDC's resolution, limits under random commands, stagger, release, power-up."""

import random
import time

import fwtest
from doorrig import FRAME, LEFT, RIGHT, control_loop, door_pair, now_ms, pwm_rows
from fwtest import raises
from gullwing import doors, easing
from gullwing.doors import Door
from gullwing.restsave import RestSaver
from gullwing.servo import Calibration, Servo
from gullwing.store import Store, parse
from simboard import TICKS_PERIOD, board

STEP_NS = 20_000_000 / 65536  # the ESP32's duty step at 50 Hz: 305 ns


def setup_function():
    board.reset("ESP32")


def teardown_function():
    fwtest.remove_temp()


def _store_path():
    return fwtest.temp_store_path("doors")


def _per_frame(pin, start_ms, end_ms):
    """The pulse in force at each frame tick from start_ms to end_ms (None before the first)."""
    rows = pwm_rows(pin)
    out, i, current = [], 0, None
    for t in range(start_ms, end_ms + 1, FRAME):
        while i < len(rows) and rows[i].t_us <= t * 1000:
            current = rows[i].duty_ns
            i += 1
        out.append(current)
    return out


def _diffs(values):
    return [values[i] - values[i - 1] for i in range(1, len(values))]


# -- door-aware profiles -------------------------------------------------------------------------

def test_opening_lifts_quickly_and_slows_gently_like_the_gas_struts():
    pair = door_pair()
    pair.open(now_ms(), "left")
    control_loop(pair, 1600)
    pulses = _per_frame(LEFT, 0, 1500)
    closed, opened = pulses[0], pulses[-1]
    assert abs(closed - 1_000_000) < 400 and abs(opened - 2_000_000) < 400
    assert min(_diffs(pulses)) >= 0  # never a step back
    half = [i for i, p in enumerate(pulses) if p >= (closed + opened) // 2][0]
    assert half * FRAME < 0.4 * 1500  # half way in well under half the time
    last_fifth = pulses[-1] - pulses[len(pulses) * 4 // 5]
    assert last_fifth < (opened - closed) * 3 // 100  # and the last fifth of the time barely moves
    assert pair.left.state == doors.OPEN and pair.left.arrived == 1
    assert pair.left.status() == {"angle": 90, "state": "open"}


def test_closing_creeps_onto_the_stop_from_above_without_overshoot():
    pair = door_pair()
    pair.open(now_ms(), "left")
    control_loop(pair, 1600)
    start = now_ms()
    pair.close(start, "left")
    control_loop(pair, 3500)
    pulses = _per_frame(LEFT, start, start + 3400)
    closed = Calibration().pulse_ns(0)
    assert max(_diffs(pulses)) <= 0  # one way only
    assert min(pulses) >= closed - STEP_NS  # never past closed (the LEDC grid aside)
    four_deg = closed + 4 * (2_000_000 - 1_000_000) // 90
    creep = [p for p in pulses if p <= four_deg and p > closed + STEP_NS]
    assert len(creep) * FRAME >= 400  # the last 4 degrees take half a second or more
    assert max(-d for d in _diffs(creep)) <= 11_111 * 8 * FRAME // 1000 + 400  # at creep speed (8 deg/s)
    assert pair.left.state == doors.CLOSED and pair.left.arrived == 2


def test_a_move_takes_the_time_asked_or_goes_at_the_profile_speed():
    pair = door_pair()
    pair.to(now_ms(), 45, "left", ms=3000)
    control_loop(pair, 2980)
    assert pair.left.moving
    control_loop(pair, 40)
    assert not pair.left.moving and pair.left.status()["angle"] == 45
    start = now_ms()
    pair.open(start, "left")  # 45 degrees at 60 deg/s
    while pair.left.moving:
        board.advance_ms(FRAME)
        pair.tick(now_ms())
    assert 750 <= time.ticks_diff(now_ms(), start) < 750 + FRAME  # arrived in the first frame after


# -- smoothness, judged on the pulses --------------------------------------------------------------

def test_pulses_follow_the_curve_within_one_ledc_step_and_step_at_most_one_where_it_is_flat():
    # the default opening (strut) throughout; an ease-out (quart_out, whose fast start the door's
    # acceleration limit softens) where it ends flat: there the servo moves one LEDC step at a time
    for curve in ("strut", "quart_out"):
        board.reset("ESP32")
        pair = door_pair(opening=doors.Profile(curve, speed=60))
        pair.open(now_ms(), "left")
        control_loop(pair, 1600)
        cal = Calibration()
        closed, opened = cal.pulse_ns(0), cal.pulse_ns(9000)
        pulses = _per_frame(LEFT, 0, 1500)
        ideal = [closed + (opened - closed) * easing.ease(curve, t * easing.ONE // 1500) / easing.ONE
                 for t in range(0, 1501, FRAME)]
        if curve == "strut":
            for i, want in enumerate(ideal):
                assert abs(pulses[i] - want) <= STEP_NS + 50, (curve, i, pulses[i], want)
        flat = [i for i in range(1, len(ideal)) if ideal[i] - ideal[i - 1] < STEP_NS]
        if curve == "quart_out":
            assert len(flat) >= 5
        for i in flat:
            assert 0 <= pulses[i] - pulses[i - 1] <= STEP_NS + 1, (curve, i, pulses[i - 1], pulses[i])


def test_reversing_mid_travel_bends_the_motion_without_a_jerk():
    pair = door_pair()
    pair.open(now_ms(), "left")
    control_loop(pair, 1600)
    ordinary = max(abs(c) for c in _diffs(_diffs(_per_frame(LEFT, 0, 1600))))
    for reverse_at in (300, 600, 900, 1200):
        board.reset("ESP32")
        pair = door_pair()
        pair.open(now_ms(), "left")
        control_loop(pair, reverse_at)
        pair.close(now_ms(), "left")
        control_loop(pair, 4000)
        pulses = _per_frame(LEFT, 0, reverse_at + 3800)
        i = reverse_at // FRAME
        around = _diffs(_diffs(pulses))[i - 3:i + 6]
        # speed changes per frame around the reversal are no larger than at an ordinary start
        assert max(abs(c) for c in around) <= ordinary + 2 * STEP_NS, (reverse_at, around, ordinary)
        assert pair.left.state == doors.CLOSED


def test_repeating_the_command_of_a_move_in_progress_does_not_disturb_it():
    pair = door_pair()
    pair.open(now_ms(), "left")
    control_loop(pair, 1600)
    reference = _per_frame(LEFT, 0, 1500)
    board.reset("ESP32")
    pair = door_pair()
    pair.open(now_ms(), "left")
    for _ in range(5):
        control_loop(pair, 200)
        pair.open(now_ms(), "left")  # a remote's button pressed again
    control_loop(pair, 600)
    assert _per_frame(LEFT, 0, 1500) == reference


# -- limits under anything -------------------------------------------------------------------------

_BAD = (
    ("middle", "open", None, None),
    ("left", "fly", None, None),
    ("both", "to", -5, None),
    ("both", "to", 191, None),
    ("left", "to", "45", None),
    ("right", "to", None, None),
    ("left", "open", 30, None),
    ("left", "stop", 10, None),
    ("both", "open", None, 0),
    ("both", "close", None, 60_001),
    ("right", "to", 10, 1.5),
    ("left", "toggle", None, "fast"),
)


class _PulseCheck:
    """Reads one pin's trace as it grows: every pulse within the calibration, and every start of
    the output at the pulse last held (never a lurch)."""

    def __init__(self, pin, cal):
        self.pin, self.cal = pin, cal
        self.held = cal.pulse_ns(0)
        self.previous = None
        self.pulses = self.starts = 0

    def read(self, rows):
        for row in rows:
            if row.kind == "pwm" and row.duty_ns:
                assert self.cal.min_us * 1000 <= row.duty_ns <= self.cal.max_us * 1000, (self.pin, row)
                if self.previous in (None, "off"):
                    assert abs(row.duty_ns - self.held) < STEP_NS, (self.pin, row, self.held)
                    self.starts += 1
                self.held = row.duty_ns
                self.pulses += 1
            self.previous = row.kind


def test_random_commands_never_drive_a_pulse_outside_the_calibration_nor_cut_one():
    random.seed(1992)
    # trimmed past their ends: the closed pulses would be 840 and 2350 us without the limits
    cals = (Calibration(min_us=900, max_us=2100, travel_deg=120, closed_deg=0, open_deg=120, trim_us=-60),
            Calibration(min_us=800, max_us=2200, closed_deg=0, open_deg=180, trim_us=150, reversed=True))
    pair = door_pair(hold_ms=120, left_cal=cals[0], right_cal=cals[1], hold_open=False)
    checks = (_PulseCheck(LEFT, cals[0]), _PulseCheck(RIGHT, cals[1]))
    refused = 0
    for _ in range(220):
        side = random.choice(doors.SIDES)
        verb = random.choice(doors.VERBS)
        deg = random.randint(-20, 130) if verb == "to" else None
        ms = random.choice((None, None, random.randint(20, 4000)))
        if random.randint(0, 5) == 0:
            side, verb, deg, ms = random.choice(_BAD)
        board.advance_us(random.randint(0, 19_999))  # commands and ticks at any instant
        before = pair.status()
        try:
            pair.command(now_ms(), side, verb, deg, ms)
        except ValueError:
            refused += 1
            assert pair.status() == before  # refused: nothing changed
        control_loop(pair, random.randint(0, 60) * FRAME)
        for check in checks:
            check.read(board.trace.rows(check.pin))
        board.trace.clear()  # (keeps the test's memory small under MicroPython)
    assert refused > 30
    assert board.cut_pulses == []
    for check in checks:
        assert check.pulses > 500 and check.starts > 20, (check.pulses, check.starts)  # released often


def test_bad_commands_say_what_is_wrong_and_change_nothing():
    pair = door_pair()
    pair.open(now_ms())
    control_loop(pair, 400)
    before = pair.status()
    for side, verb, deg, ms, text in (
            ("middle", "open", None, None, "unknown door 'middle'"),
            ("both", "fly", None, None, "unknown door command 'fly'"),
            ("left", "to", 95, None, "door angle must be 0..90 deg, got 95"),
            ("left", "to", None, None, "door angle must be 0..90 deg, got None"),
            ("both", "close", 10, None, "door close takes no angle, got 10"),
            ("both", "open", None, 10, "move time must be 20..60000 ms, got 10"),
            ("right", "stop", None, "5", "got '5'")):
        with raises(ValueError, text):
            pair.command(now_ms(), side, verb, deg, ms)
        assert pair.status() == before
    control_loop(pair, 3000)
    assert pair.status()["left"]["state"] == "open" and pair.status()["right"]["state"] == "open"


# -- the pair ------------------------------------------------------------------------------------

def _first_change_ms(pin, since_ms=0):
    """When the pulse on `pin` first changed from the one it had at `since_ms` (or first had)."""
    rows = pwm_rows(pin)
    before = [r.duty_ns for r in rows if r.t_us < since_ms * 1000]
    after = [r for r in rows if r.t_us >= since_ms * 1000]
    held = before[-1] if before else after[0].duty_ns
    return [r.t_us // 1000 for r in after if r.duty_ns != held][0]


def test_staggered_doors_start_the_stagger_apart():
    pair = door_pair(together=False, stagger_ms=300)
    pair.open(now_ms())
    control_loop(pair, 2200)
    assert _first_change_ms(RIGHT) - _first_change_ms(LEFT) >= 300
    assert pair.left.arrived == pair.right.arrived == 1


def test_doors_together_start_apart_and_arrive_in_the_same_tick():
    pair = door_pair()
    pair.to(now_ms(), 30, "right")  # the doors have different distances to go
    control_loop(pair, 1000)
    start = now_ms()
    counts = [pair.left.arrived, pair.right.arrived]
    pair.open(start)
    arrived_at = [None, None]
    for _ in range(200):
        pair.tick(now_ms())
        for i, door in enumerate((pair.left, pair.right)):
            if door.arrived > counts[i] and arrived_at[i] is None:
                arrived_at[i] = now_ms()
        board.advance_ms(FRAME)
    assert arrived_at[0] is not None and arrived_at[0] == arrived_at[1]
    assert pair.left.state == pair.right.state == doors.OPEN
    assert _first_change_ms(RIGHT, start) - _first_change_ms(LEFT, start) >= 40
    pair.close(now_ms())
    control_loop(pair, 4000)
    assert pair.status()["left"]["state"] == pair.status()["right"]["state"] == "closed"


def test_toggle_sends_both_doors_the_same_way():
    pair = door_pair()
    pair.toggle(now_ms())
    control_loop(pair, 300)
    assert pair.left.state == pair.right.state == doors.OPENING
    pair.toggle(now_ms())  # mid-way: both turn back
    assert pair.left.state == pair.right.state == doors.CLOSING
    control_loop(pair, 4000)
    assert pair.left.state == pair.right.state == doors.CLOSED
    pair.to(now_ms(), 50, "left")
    control_loop(pair, 2000)
    pair.toggle(now_ms())  # one door open: close both
    control_loop(pair, 4000)
    assert pair.left.state == pair.right.state == doors.CLOSED


def test_stop_comes_to_rest_between_and_toggle_then_reverses():
    pair = door_pair()
    pair.open(now_ms())
    control_loop(pair, 500)
    pair.stop(now_ms())
    control_loop(pair, 1000)
    status = pair.status()["left"]
    assert status["state"] == "stopped" and 20 < status["angle"] < 90
    assert "target" not in status  # at rest: no target to report
    arrived = pair.left.arrived
    pair.toggle(now_ms(), "left")
    assert pair.left.state == doors.CLOSING
    control_loop(pair, 4000)
    assert pair.left.state == doors.CLOSED and pair.left.arrived == arrived + 1


def test_an_arrival_is_counted_once_per_finished_move_and_not_for_one_cut_short():
    pair = door_pair()
    pair.open(now_ms(), "left")
    control_loop(pair, 600)
    pair.close(now_ms(), "left")  # the open never arrives
    control_loop(pair, 4000)
    assert pair.left.arrived == 1 and pair.left.state == doors.CLOSED
    control_loop(pair, 2000)
    assert pair.left.arrived == 1


def test_doors_work_across_the_ticks_wrap():
    board.reset("ESP32", start_us=(TICKS_PERIOD - 700) * 1000)
    pair = door_pair()
    pair.open(now_ms())
    control_loop(pair, 2000)
    assert pair.status()["left"] == {"angle": 90, "state": "open"}
    assert pair.status()["right"]["state"] == "open"


def _smooth_open(pair, clock):
    """Opens in 1500 ms with `clock()` as the tick's time: the left pulse every frame (ns)."""
    pair.open(clock(), ms=1500)
    pulses = []
    for _ in range(1600 // FRAME):
        pair.tick(clock())
        pulses.append(pair.left.servo.pulse)
        board.advance_ms(FRAME)
    return pulses


def _assert_smooth(pulses, plain):
    assert pulses == plain  # the same move as one started far from any wrap, frame by frame
    assert max(abs(d) for d in _diffs(pulses)) < 1000 * 1000 * 60 // 1500  # no jump to the end


def test_a_move_runs_smoothly_across_the_ticks_wrap_and_on_a_clock_that_wraps_wider():
    plain = _smooth_open(door_pair(), now_ms)
    assert plain[0] < plain[len(plain) // 2] < plain[-1]
    for start_ms in (TICKS_PERIOD - 300, 2**31 + 12345):  # the board's ticks: wrapping at 2**30
        board.reset("ESP32", start_us=start_ms * 1000)
        _assert_smooth(_smooth_open(door_pair(), now_ms), plain)
    # the unix port's ticks_ms wraps at 2**62: a move started past 2**31 takes its time there too
    board.reset("ESP32")
    _assert_smooth(_smooth_open(door_pair(), lambda: 2**31 + 12345 + now_ms()), plain)


# -- release and power-up ----------------------------------------------------------------------------

def test_a_settled_door_is_released_without_a_cut_pulse_and_reattached_where_it_was():
    pair = door_pair(hold_ms=500)
    pair.to(now_ms(), 20)
    control_loop(pair, 1000)
    assert pair.left.servo.attached  # holding while the hold time runs
    pair.close(now_ms())
    control_loop(pair, 4000)
    assert not pair.left.servo.attached and not pair.right.servo.attached
    assert board.cut_pulses == []
    for pin in (LEFT, RIGHT):
        rows = board.trace.rows(pin)
        assert rows[-1].kind == "off"
        assert rows[-2].duty_ns == 0  # duty 0 first: the last pulse was allowed to finish
        assert (rows[-1].t_us - rows[-2].t_us) >= 20_000
    held = [r.duty_ns for r in pwm_rows(LEFT) if r.duty_ns][-1]
    count = len(board.trace.rows(LEFT))
    control_loop(pair, 3000)
    assert len(board.trace.rows(LEFT)) == count  # silence while released
    pair.open(now_ms())
    control_loop(pair, 100)
    assert board.trace.rows(LEFT)[count].duty_ns == held  # back on exactly where it was


def test_open_doors_are_held_by_default_and_released_when_asked():
    pair = door_pair(hold_ms=300)
    pair.open(now_ms())
    control_loop(pair, 3000)
    assert pair.left.servo.attached and pair.left.servo.driving  # holding the door up against gravity
    left = Door("left", Servo(21, Calibration()), hold_ms=300, hold_open=False)
    left.go(now_ms(), 9000)
    for _ in range(150):
        left.tick(now_ms())
        board.advance_ms(FRAME)
    assert not left.servo.attached and board.cut_pulses == []


def test_without_saved_state_nothing_moves_until_the_first_command():
    pair = door_pair(store=Store(_store_path()))
    control_loop(pair, 2000)
    assert board.trace.rows(LEFT) == [] and board.trace.rows(RIGHT) == []
    assert pair.status()["left"]["state"] == "closed"  # assumed until known
    pair.close(now_ms())  # already "closed": drives the closed position, a no-op for a closed door
    control_loop(pair, 100)
    assert abs(pwm_rows(LEFT)[0].duty_ns - 1_000_000) < STEP_NS


def _saved_pair(path, **kw):
    """A pair restored from the store at `path`, and the saver that keeps it there."""
    store = Store(path)
    pair = door_pair(store=store, **kw)
    return pair, RestSaver(pair, store)


def _run_saving(pair, saver, ms):
    """The control loop and, apart from it, the saver's task looking once a second."""
    for _ in range(ms // FRAME):
        pair.tick(now_ms())
        if now_ms() % 1000 < FRAME:
            saver.poll(now_ms())
        board.advance_ms(FRAME)


def test_after_a_power_cycle_the_servo_starts_at_exactly_the_saved_pulse():
    path = _store_path()
    pair, saver = _saved_pair(path)
    pair.to(now_ms(), 63)
    _run_saving(pair, saver, 3000)
    last = {pin: pwm_rows(pin)[-1].duty_ns for pin in (LEFT, RIGHT)}
    board.reset("ESP32")  # power off and on
    pair, saver = _saved_pair(path)
    assert pair.status()["left"] == {"angle": 63, "state": "stopped"}
    _run_saving(pair, saver, 1000)
    assert board.trace.rows(LEFT) == []  # silent until commanded
    assert saver.writes == 0  # the restored rest is not written again
    pair.close(now_ms())
    _run_saving(pair, saver, 200)
    for pin in (LEFT, RIGHT):
        assert pwm_rows(pin)[0].duty_ns == last[pin]  # exactly the pulse it held before
        assert board.trace.rows(pin)[0].duty_ns != 10_000_000


def test_a_settle_inside_the_tick_writes_nothing_to_flash():
    path = _store_path()
    pair = door_pair(store=Store(path), together=False, stagger_ms=500)
    pair.open(now_ms())
    control_loop(pair, 1700)  # left has arrived, right still moving
    assert pair.left.arrived == 1 and pair.right.moving
    control_loop(pair, 3000)  # both settled, ticked on for seconds
    assert pair.right.arrived == 1 and not pair.right.moving
    assert Store(path).load_dict() is None  # the tick wrote nothing


def test_the_saver_writes_a_changed_rest_once_both_doors_rest_and_at_most_once_a_minute():
    path = _store_path()
    pair, saver = _saved_pair(path, together=False, stagger_ms=500)
    pair.open(now_ms())
    _run_saving(pair, saver, 1700)
    assert pair.left.arrived == 1 and pair.right.moving
    assert Store(path).load_dict() is None  # no flash write while a door moves
    _run_saving(pair, saver, 1300)
    assert Store(path).load_dict() == {"left": pair.left.servo.pulse, "right": pair.right.servo.pulse}
    assert saver.writes == 1
    first = now_ms()
    for _ in range(4):  # closed and opened again, four times in a minute: one write, at the minute
        pair.close(now_ms())
        _run_saving(pair, saver, 4000)
        pair.to(now_ms(), 30 + _ * 10)
        _run_saving(pair, saver, 3000)
    assert saver.writes == 1
    _run_saving(pair, saver, 60_000 - time.ticks_diff(now_ms(), first) - 1000)
    assert saver.writes == 1  # 59 s after the first
    _run_saving(pair, saver, 2000)
    assert saver.writes == 2 and Store(path).load_dict()["left"] == pair.left.servo.pulse
    _run_saving(pair, saver, 120_000)
    assert saver.writes == 2  # nothing changed: nothing written


def test_a_door_stopped_mid_move_is_saved_where_it_holds_before_a_planned_stop():
    path = _store_path()
    pair, saver = _saved_pair(path)
    pair.open(now_ms())
    _run_saving(pair, saver, 700)
    pair.command(now_ms(), "both", "stop", None, 20)  # Ctrl-C: the app's safe state, then no tick
    assert saver.save_now()
    held = {pin: pwm_rows(pin)[-1].duty_ns for pin in (LEFT, RIGHT)}
    assert not saver.save_now()  # unchanged: not written twice
    board.reset("ESP32")
    pair, saver = _saved_pair(path)
    assert 20 < pair.status()["left"]["angle"] < 70 and pair.left.state == doors.STOPPED
    pair.open(now_ms())
    control_loop(pair, 100)
    for pin in (LEFT, RIGHT):
        assert pwm_rows(pin)[0].duty_ns == held[pin]  # the first pulse is the one it held


def test_save_now_writes_at_once_whatever_the_interval():
    path = _store_path()
    pair, saver = _saved_pair(path)
    assert not saver.save_now() and saver.writes == 0  # nothing changed since boot
    pair.to(now_ms(), 40)
    _run_saving(pair, saver, 2500)
    pair.to(now_ms(), 70)
    _run_saving(pair, saver, 2500)
    assert saver.writes == 1  # 70 degrees waits for the interval
    assert saver.save_now()  # a deploy: written at once
    assert Store(path).load_dict()["left"] == pair.left.servo.pulse


class _FullFlash:
    def save_dict(self, data):
        raise OSError(28)  # ENOSPC

    def load_dict(self):
        return None


def test_a_failing_flash_is_recorded_not_raised_and_tried_again_after_the_interval():
    pair = door_pair()
    saver = RestSaver(pair, _FullFlash())
    pair.to(now_ms(), 40)
    _run_saving(pair, saver, 3000)
    assert isinstance(saver.store_error, OSError) and saver.writes == 0
    assert pair.status()["left"]["angle"] == 40  # the doors carry on
    saver.store = Store(_store_path())  # room again
    _run_saving(pair, saver, 61_000)
    assert saver.store_error is None and saver.writes == 1


def test_the_saver_task_writes_a_changed_rest_on_its_own():
    if not fwtest.MICROPYTHON:
        import pytest

        pytest.skip("the task's asyncio.sleep_ms is MicroPython's")
    import asyncio

    path = _store_path()
    store = Store(path)
    pair = door_pair(store=store)
    saver = RestSaver(pair, store, poll_ms=20)
    pair.to(now_ms(), 40)
    control_loop(pair, 2500)
    board.use_real_time()  # as on the virtual board: asyncio's sleeps take real time

    async def go():
        task = asyncio.create_task(saver.run())
        await asyncio.sleep_ms(200)
        task.cancel()

    asyncio.run(go())
    assert saver.writes == 1 and Store(path).load_dict()["left"] == pair.left.servo.pulse


def test_a_torn_save_falls_back_to_the_previous_rest_position():
    path = _store_path()
    pair, saver = _saved_pair(path)
    pair.to(now_ms(), 40)
    _run_saving(pair, saver, 2500)
    pair.to(now_ms(), 70)
    _run_saving(pair, saver, 2500)
    saver.save_now()
    # power lost while writing the 70 degree record: its slot, the newer one, is cut short
    slot = max((path + ".a", path + ".b"), key=lambda p: parse(_slot(p))[0])
    data = _slot(slot)
    with open(slot, "wb") as f:
        f.write(data[:len(data) // 2])
    board.reset("ESP32")
    pair = door_pair(store=Store(path))
    assert pair.status()["left"]["angle"] == 40


def _slot(path):
    with open(path, "rb") as f:
        return f.read()


def test_the_tick_allocates_nothing_with_both_doors_moving():
    if not fwtest.MICROPYTHON:
        import pytest

        pytest.skip("heap allocation is measured under MicroPython")
    import allocprobe

    pair = door_pair()
    pair.open(now_ms(), ms=20_000)
    control_loop(pair, 100)

    def tick():
        pair.tick(now_ms())
        board.advance_ms(FRAME)

    assert allocprobe.bytes_per_call(tick) == 0
    assert pair.left.moving and pair.right.moving and not pair.right.motion.waiting
    # turning back (the speed-matching blend) and the soft close's creep cost nothing either
    pair.open(now_ms(), ms=1000)
    control_loop(pair, 1100)
    pair.close(now_ms(), ms=1000)
    control_loop(pair, 400)
    pair.open(now_ms())
    assert pair.left.motion.first.blend > 25 * FRAME  # the 22 calls below stay inside the blend
    assert allocprobe.bytes_per_call(tick, calls=20) == 0
    pair.close(now_ms())
    while not (pair.left.motion.phases == 2 and pair.left.motion.pos < 300):
        tick()
    assert allocprobe.bytes_per_call(tick, calls=20) == 0
    assert pair.left.moving and pair.left.motion.pos > 0  # still creeping
