"""The RC receiver on simulated input pins: servo pulse trains in, throttle, door and engine switch
commands and the failsafe out, polled every 20 ms like the app's control tick."""

import random
import time

import fwtest
from fwtest import raises
from gullwing import rcin
from gullwing.rcin import (
    CONTROL,
    EV_DOOR_TOGGLE,
    EV_ENGINE_START,
    EV_ENGINE_STOP,
    EV_FAILSAFE,
    EV_SIGNAL_BACK,
    FAILSAFE,
    WAITING,
    Receiver,
)
from simboard import TICKS_PERIOD, board

THROTTLE, DOOR, ENGINE = 34, 35, 36  # the board file's rc_* pins, input only
FRAME_US = 20_000
TICK_MS = 20
NEUTRAL, FULL, BRAKE = 1500, 2000, 1000


def setup_function():
    board.reset("ESP32")


class Transmitter:
    """Schedules a receiver's pulse trains: each channel's next frame follows on from its last one."""

    def __init__(self, phase_us=1000):
        self.phase_us = phase_us
        self.next_us = {}

    def _at(self, gpio):
        t = self.next_us.get(gpio, board.now_us + self.phase_us)
        while t < board.now_us:  # a channel left idle resumes in its own phase
            t += FRAME_US
        self.next_us[gpio] = t
        return t

    def send(self, gpio, width_us, frames=1):
        self.next_us[gpio] = board.pulse_train(gpio, [width_us] * frames, FRAME_US, self._at(gpio))

    def send_all(self, throttle=NEUTRAL, door=BRAKE, engine=BRAKE, frames=1):
        self.send(THROTTLE, throttle, frames)
        self.send(DOOR, door, frames)
        self.send(ENGINE, engine, frames)

    def pause(self, gpio, us):
        """No pulses on this channel for `us` after its last scheduled frame (a signal lost)."""
        self.next_us[gpio] = self._at(gpio) + us

    def last_end_us(self, gpio, width_us):
        """End of the last pulse scheduled on `gpio`, if it was `width_us` wide."""
        return self.next_us[gpio] - FRAME_US + width_us


def _run(rx, ms, events=None):
    """Poll every 20 ms for `ms`; collect the events raised into the list `events`."""
    for _ in range(ms // TICK_MS):
        board.advance_ms(TICK_MS)
        rx.poll(time.ticks_us())
        if events is not None and rx.events:
            events.append(rx.take_events())


def _bits(events):
    out = 0
    for e in events:
        out |= e
    return out


def _count(events, bit):
    return len([e for e in events if e & bit])


def _in_control(**kw):
    """A receiver already in control, its transmitter at neutral with both switches low."""
    rx = Receiver(THROTTLE, DOOR, ENGINE, **kw)
    tx = Transmitter()
    tx.send_all(throttle=rx.neutral_us, frames=8)
    _run(rx, 8 * TICK_MS)
    assert rx.state == CONTROL, rx.status()
    rx.take_events()
    return rx, tx


def _throttle_at(rx, tx, width_us, frames=3):
    tx.send_all(throttle=width_us, frames=frames)
    _run(rx, frames * TICK_MS)
    return rx.throttle_pct


# -- throttle ----------------------------------------------------------------------------------

def test_the_trigger_opens_the_throttle_past_a_deadband_to_full_at_the_endpoint():
    rx, tx = _in_control()
    deadband = rx.deadband_us
    assert _throttle_at(rx, tx, NEUTRAL) == 0
    assert _throttle_at(rx, tx, NEUTRAL + deadband) == 0  # stick jitter at rest does nothing
    assert _throttle_at(rx, tx, NEUTRAL - deadband) == 0
    assert _throttle_at(rx, tx, NEUTRAL + deadband + 10) > 0
    assert _throttle_at(rx, tx, FULL) == 100
    assert _throttle_at(rx, tx, FULL + 150) == 100  # past the endpoint: still full, no more
    middle = NEUTRAL + deadband + (FULL - NEUTRAL - deadband) // 2
    assert 49 <= _throttle_at(rx, tx, middle) <= 51
    sweep = [_throttle_at(rx, tx, w) for w in range(NEUTRAL, FULL + 1, 25)]
    assert sweep == sorted(sweep) and sweep[0] == 0 and sweep[-1] == 100
    assert max(sweep[i] - sweep[i - 1] for i in range(1, len(sweep))) <= 6  # no jumps: 25 us is ~5 %


def test_brake_and_reverse_below_neutral_keep_the_throttle_closed():
    rx, tx = _in_control()
    assert _throttle_at(rx, tx, 1800) > 0
    for width in (1400, 1200, BRAKE, 900):
        assert _throttle_at(rx, tx, width) == 0, width


def test_calibrated_endpoints_and_a_reversed_throttle_channel():
    rx, tx = _in_control(min_us=1100, neutral_us=1520, max_us=1900, deadband_us=20)
    assert _throttle_at(rx, tx, 1540) == 0
    assert _throttle_at(rx, tx, 1900) == 100
    assert 45 <= _throttle_at(rx, tx, 1720) <= 55
    board.reset("ESP32")
    rx, tx = _in_control(reversed=True)
    assert _throttle_at(rx, tx, BRAKE) == 100  # this transmitter's pulses get shorter when pulled
    assert _throttle_at(rx, tx, FULL) == 0
    assert _throttle_at(rx, tx, NEUTRAL) == 0


def test_a_stick_transmitter_without_a_brake_side():
    rx, tx = _in_control(neutral_us=1000, deadband_us=30)
    assert _throttle_at(rx, tx, 1000) == 0
    assert 45 <= _throttle_at(rx, tx, 1500) <= 55
    assert _throttle_at(rx, tx, 2000) == 100


def test_one_mismeasured_frame_does_not_move_the_throttle():
    # a pin handler run late (the ESP32 schedules them) reads one pulse long or short
    rx, tx = _in_control()
    steady = _throttle_at(rx, tx, 1600, frames=5)
    assert 0 < steady < 100
    for odd in (2100, 1000, 1900):
        tx.send_all(throttle=odd)
        tx.send_all(throttle=1600, frames=3)
        seen = []
        for _ in range(4):
            _run(rx, TICK_MS)
            seen.append(rx.throttle_pct)
        assert seen == [steady] * 4, (odd, seen)
    assert _throttle_at(rx, tx, 1900, frames=2) > steady  # a real change follows a frame later


# -- failsafe ----------------------------------------------------------------------------------

def _time_to_failsafe(rx, tx, width, noise=None):
    """Stop the throttle pulses (others carry on); the time from the end of the last good pulse to
    the first poll that reports the failsafe, in us. `noise(t_first_missing_frame)` schedules
    noise on the throttle line meanwhile."""
    last_end = tx.last_end_us(THROTTLE, width)
    if noise is not None:
        noise(tx.next_us[THROTTLE])
    tx.send(DOOR, BRAKE, 20)
    events = []
    for _ in range(20):
        board.advance_ms(TICK_MS)
        rx.poll(time.ticks_us())
        if rx.events:
            events.append(rx.take_events())
        if rx.failsafe:
            assert rx.throttle_pct == 0 and rx.state == FAILSAFE
            assert events and events[-1] & EV_FAILSAFE
            return board.now_us - last_end
    raise AssertionError("no failsafe within 400 ms")


def test_failsafe_within_100_ms_of_losing_the_throttle_signal_at_any_phase():
    # the frames against the tick at every 250 us of phase, the last pulse short or long: the throttle
    # closes within 100 ms of its end (one tick after the loss at most), never before the loss
    for phase_us in range(0, FRAME_US, 250):
        for width in (1200, 2200):
            board.reset("ESP32")
            rx = Receiver(THROTTLE, DOOR)
            tx = Transmitter(phase_us)
            tx.send(THROTTLE, NEUTRAL, 6)
            tx.send(THROTTLE, width, 4)
            tx.send(DOOR, BRAKE, 10)
            _run(rx, 10 * TICK_MS)
            assert rx.state == CONTROL
            waited = _time_to_failsafe(rx, tx, width)
            assert rcin.LOSS_US <= waited <= rcin.LOSS_US + TICK_MS * 1000 <= 100_000 - rcin.LATE_TICK_US, \
                (phase_us, width, waited)


def _dropout(phase_us, frame_us, missing, before, after):
    """A receiver in control on `frame_us` frames (`phase_us` after a tick) skips `missing` frames, the
    pulse before them `before` us wide, those after `after`; polled every 20 ms. The events raised."""
    board.reset("ESP32")
    rx = Receiver(THROTTLE)
    start = board.now_us + phase_us
    t = board.pulse_train(THROTTLE, [NEUTRAL] * 9 + [before], frame_us, start)
    board.pulse_train(THROTTLE, [after] * 10, frame_us, t + missing * frame_us)
    events = []
    _run(rx, 10 * TICK_MS, events)
    assert rx.state == CONTROL and events == [], (phase_us, frame_us)
    _run(rx, (missing + 12) * frame_us // 1000 // TICK_MS * TICK_MS, events)
    return events


def test_a_dropout_of_one_or_two_frames_never_fails_safe():
    # a receiver skipping frames (interference, a weak link), at any phase of its frames against the tick,
    # at 20 and 22 ms frames, the pulse after the gap shorter or longer than the one before
    for phase_us in range(0, 22_000, 500):
        for frame_us in (FRAME_US, 22_000):
            for missing in (1, rcin.DROPOUT_FRAMES):
                for before, after in ((2200, 800), (800, 2200)):
                    events = _dropout(phase_us, frame_us, missing, before, after)
                    assert events == [], (phase_us, frame_us, missing, before, after, events)


def test_a_dropout_of_three_frames_fails_safe_whatever_the_tick_saw():
    # 80 ms without a pulse is a loss even when the pulses are back before a tick looks: the failsafe
    # does not depend on the phase of the frames against the tick
    for phase_us in range(0, FRAME_US, 500):
        events = _dropout(phase_us, FRAME_US, 3, NEUTRAL, NEUTRAL)
        assert _count(events, EV_FAILSAFE) == 1 and _count(events, EV_SIGNAL_BACK) == 1, (phase_us, events)


def test_failsafe_holds_while_the_signal_stays_away_and_is_reported_once():
    rx, tx = _in_control()
    _throttle_at(rx, tx, FULL)
    events = []
    _run(rx, 2000, events)
    assert rx.failsafe and rx.throttle_pct == 0
    assert _count(events, EV_FAILSAFE) == 1 and not _bits(events) & EV_SIGNAL_BACK
    assert rx.status()["state"] == "failsafe" and rx.status()["pulses"]["throttle"] is None
    assert rx.status()["failsafes"] == 1


def test_failsafe_timing_across_the_ticks_wrap():
    board.reset("ESP32", start_us=TICKS_PERIOD - 150_000)  # ticks_us wraps just after the last pulse
    rx, tx = _in_control()
    waited = _time_to_failsafe(rx, tx, NEUTRAL)
    assert rcin.LOSS_US <= waited <= 100_000


def _noise(kinds):
    def schedule(t):
        for i in range(12):  # 120 ms of garbage where the frames should be
            base = t + i * 10_000
            for width in kinds:
                board.drive_at(THROTTLE, base, 1)
                board.drive_at(THROTTLE, base + width, 0)
                base += width + 600
    return schedule


def test_noise_pulses_do_not_keep_a_lost_signal_alive():
    for kinds in ((300,), (2500,), (40, 60, 20), (300, 2500, 700, 2300), (5000,)):
        board.reset("ESP32")
        rx, tx = _in_control()
        _throttle_at(rx, tx, 1700)
        before = rx.status()["rejected"]
        waited = _time_to_failsafe(rx, tx, 1700, _noise(kinds))
        assert rcin.LOSS_US <= waited <= 100_000, (kinds, waited)
        assert rx.status()["rejected"] > before


def test_noise_between_frames_is_ignored_while_in_control():
    rx, tx = _in_control()
    steady = _throttle_at(rx, tx, 1700, frames=4)
    start = tx.next_us[THROTTLE]
    tx.send_all(throttle=1700, frames=25)
    random.seed(6)
    for frame in range(25):
        base = start + frame * FRAME_US + 1700 + 400  # after each good pulse
        # a runt, a 300 us glitch, a full-size pulse far too soon after the frame, an over-long one
        for width in (random.randint(5, 200), 300, random.randint(1000, 2000), 2500):
            board.drive_at(THROTTLE, base, 1)
            board.drive_at(THROTTLE, base + width, 0)
            base += width + 500
    events = []
    seen = set()
    for _ in range(25):
        _run(rx, TICK_MS, events)
        seen.add(rx.throttle_pct)
    assert seen == {steady} and rx.state == CONTROL and events == []


# -- coming back -------------------------------------------------------------------------------

def test_signal_back_with_the_trigger_held_resumes_only_after_neutral():
    rx, tx = _in_control()
    _throttle_at(rx, tx, 1800)
    tx.pause(THROTTLE, 300_000)
    events = []
    _run(rx, 300, events)
    assert rx.failsafe and _count(events, EV_FAILSAFE) == 1
    tx.send_all(throttle=FULL, frames=50)  # the receiver reconnects with the trigger pulled
    _run(rx, 1000, events)
    assert rx.failsafe and rx.throttle_pct == 0 and rx.status()["pulses"]["throttle"] == FULL
    tx.send_all(throttle=NEUTRAL, frames=rx.neutral_frames - 1)  # not long enough at neutral ...
    tx.send_all(throttle=FULL, frames=5)
    _run(rx, (rx.neutral_frames + 4) * TICK_MS, events)
    assert rx.failsafe and rx.throttle_pct == 0 and not _bits(events) & EV_SIGNAL_BACK
    tx.send_all(throttle=NEUTRAL, frames=rx.neutral_frames)
    _run(rx, rx.neutral_frames * TICK_MS, events)
    assert not rx.failsafe and rx.state == CONTROL and rx.throttle_pct == 0
    assert _count(events, EV_SIGNAL_BACK) == 1 and _count(events, EV_FAILSAFE) == 1
    assert _throttle_at(rx, tx, FULL) == 100


def test_neutral_frames_must_run_without_a_loss_between_them():
    rx, tx = _in_control()
    tx.pause(THROTTLE, 300_000)
    _run(rx, 300)
    assert rx.failsafe
    tx.send(THROTTLE, NEUTRAL, rx.neutral_frames - 2)
    tx.pause(THROTTLE, 120_000)  # the signal drops again between neutral frames
    tx.send(THROTTLE, NEUTRAL, 2)
    tx.send(THROTTLE, FULL, 10)
    _run(rx, (rx.neutral_frames + 20) * TICK_MS)
    assert rx.failsafe and rx.throttle_pct == 0


def test_a_brief_dropout_changes_nothing():
    rx, tx = _in_control()
    held = _throttle_at(rx, tx, 1800)
    tx.pause(THROTTLE, 40_000)  # two frames missing
    tx.send_all(throttle=1800, frames=10)
    events = []
    for _ in range(10):
        _run(rx, TICK_MS, events)
        assert rx.throttle_pct == held
    assert rx.state == CONTROL and events == []


def test_the_signal_comes_back_after_minutes_away():
    # ticks_us wraps every 18 minutes: a gap past half of that must not look like a too-short period
    rx, tx = _in_control()
    for _ in range(660):
        board.advance_ms(1000)
        rx.poll(time.ticks_us())
    assert rx.failsafe
    tx.send_all(frames=10)
    _run(rx, 200)
    assert rx.state == CONTROL
    assert _throttle_at(rx, tx, FULL) == 100


def test_power_up_with_the_trigger_held_waits_for_neutral_without_a_failsafe():
    rx = Receiver(THROTTLE, DOOR, ENGINE)
    tx = Transmitter()
    events = []
    _run(rx, 500, events)  # no receiver signal at all yet
    assert rx.state == WAITING and not rx.failsafe and rx.throttle_pct == 0 and events == []
    tx.send_all(throttle=FULL, door=FULL, engine=FULL, frames=30)
    _run(rx, 600, events)
    assert rx.state == WAITING and rx.throttle_pct == 0 and events == []
    tx.send_all(throttle=NEUTRAL, door=FULL, engine=FULL, frames=10)
    _run(rx, 200, events)
    # in control now; the switches' power-up positions are not flips, and this was no failsafe
    assert rx.state == CONTROL and events == []
    assert rx.status()["door_switch"] == "high" and rx.status()["engine_switch"] == "high"


def test_counts_past_2_30_wrap_as_small_ints_and_every_flip_and_failsafe_still_counts():
    # weeks of flipping on a chip: the counts wrap within its small ints, nothing is lost
    rx, tx = _in_control()
    near = (1 << 30) - 1
    rx.door_toggles = rx.failsafes = rx.throttle_channel.frames = rx.throttle_channel.rejected = near
    events = []
    tx.send_all(door=FULL, frames=20)
    tx.send_all(door=BRAKE, frames=20)
    _run(rx, 800, events)
    assert _count(events, EV_DOOR_TOGGLE) == 2 and rx.door_toggles == 1
    tx.pause(THROTTLE, 200_000)
    _run(rx, 400, events)
    assert _count(events, EV_FAILSAFE) == 1 and rx.failsafes == 0 and rx.throttle_channel.frames < 1000
    for value in (rx.door_toggles, rx.failsafes, rx.throttle_channel.frames, rx.throttle_channel.rejected):
        assert -(1 << 30) <= value < (1 << 30)


# -- switches ----------------------------------------------------------------------------------

def test_each_flip_of_the_door_switch_toggles_once():
    rx, tx = _in_control()
    events = []
    tx.send_all(door=FULL, frames=50)
    _run(rx, 1000, events)
    assert _count(events, EV_DOOR_TOGGLE) == 1 and rx.door_toggles == 1
    tx.send_all(door=BRAKE, frames=20)
    tx.send_all(door=FULL, frames=20)
    tx.send_all(door=BRAKE, frames=20)
    _run(rx, 1200, events)
    assert _count(events, EV_DOOR_TOGGLE) == 4 and rx.door_toggles == 4
    assert not _bits(events) & (EV_ENGINE_START | EV_ENGINE_STOP)


def test_door_switch_jitter_around_the_middle_and_single_spikes_are_ignored():
    rx, tx = _in_control()
    random.seed(35)
    events = []
    for _ in range(100):  # a worn switch or a three-position switch in its middle
        tx.send_all(door=random.randint(1320, 1680))
    _run(rx, 2000, events)
    assert events == []
    for _ in range(10):  # one frame of full deflection within low ones
        tx.send_all(door=FULL)
        tx.send_all(door=BRAKE, frames=4)
    _run(rx, 1000, events)
    assert events == []
    tx.send_all(door=1750, frames=5)  # past the upper threshold: a flip
    for _ in range(50):  # then hovering just around it does not flip it back
        tx.send_all(door=random.randint(1350, 1800))
    _run(rx, 1100, events)
    assert _count(events, EV_DOOR_TOGGLE) == 1


def test_engine_switch_up_starts_down_stops():
    rx, tx = _in_control()
    events = []
    tx.send_all(engine=FULL, frames=10)
    _run(rx, 200, events)
    assert _bits(events) == EV_ENGINE_START
    events = []
    tx.send_all(engine=BRAKE, frames=10)
    _run(rx, 200, events)
    assert _bits(events) == EV_ENGINE_STOP


def test_switches_flipped_during_a_failsafe_do_nothing_when_control_returns():
    rx, tx = _in_control()
    tx.pause(THROTTLE, 400_000)
    tx.send(DOOR, BRAKE, 8)
    tx.send(ENGINE, BRAKE, 8)
    events = []
    _run(rx, 160, events)
    assert rx.failsafe
    tx.send(DOOR, FULL, 10)
    tx.send(ENGINE, FULL, 10)
    _run(rx, 200, events)
    assert rx.failsafe and _bits(events) == EV_FAILSAFE  # doors and engine hold
    tx.send_all(throttle=NEUTRAL, door=FULL, engine=FULL, frames=10)
    _run(rx, 200, events)
    assert rx.state == CONTROL and _bits(events) == EV_FAILSAFE | EV_SIGNAL_BACK
    tx.send_all(door=BRAKE, engine=BRAKE, frames=5)
    _run(rx, 100, events)
    assert _count(events, EV_DOOR_TOGGLE) == 1 and _bits(events) & EV_ENGINE_STOP


def test_a_lost_switch_channel_coming_back_in_another_position_is_no_flip():
    rx, tx = _in_control()
    tx.send(THROTTLE, NEUTRAL, 30)
    tx.send(ENGINE, BRAKE, 30)
    tx.pause(DOOR, 200_000)  # door lead unplugged, the throttle carries on
    tx.send(DOOR, FULL, 20)
    events = []
    _run(rx, 600, events)
    assert rx.state == CONTROL and events == []


def test_a_line_already_high_at_start_up_is_no_pulse():
    board.drive(THROTTLE, 1)  # power-up in the middle of a pulse: its start was never seen
    board.advance_us(700)
    rx = Receiver(THROTTLE)
    board.advance_us(900)
    board.drive(THROTTLE, 0)
    assert rx.throttle_channel.frames == 0 and rx.status()["pulses"]["throttle"] is None


def test_a_receiver_with_the_throttle_only():
    rx = Receiver(THROTTLE)
    tx = Transmitter()
    tx.send(THROTTLE, NEUTRAL, 6)
    tx.send(THROTTLE, FULL, 3)
    _run(rx, 9 * TICK_MS)
    status = rx.status()
    assert rx.throttle_pct == 100 and status["door_switch"] is None and status["pulses"]["door"] is None


# -- setup -------------------------------------------------------------------------------------

def test_bad_calibration_and_pins_are_refused_by_name():
    with raises(ValueError, "neutral_us must be 1000..1860 us (from min_us 1000 to max_us 2000, leaving deadband_us"
                            " + 100 us of travel), got 2100"):
        Receiver(THROTTLE, neutral_us=2100)
    with raises(ValueError, "deadband_us"):
        Receiver(THROTTLE, deadband_us=-1)
    with raises(ValueError, "min_us"):
        Receiver(THROTTLE, min_us="1000")
    with raises(ValueError, "deadband_us + 100"):
        Receiver(THROTTLE, neutral_us=1900, max_us=1950)
    with raises(ValueError, "different pins, got 34 twice"):
        Receiver(THROTTLE, DOOR, THROTTLE)
    with raises(ValueError, "SPI flash"):
        Receiver(7)


def test_release_stops_listening():
    rx, tx = _in_control()
    rx.release()
    tx.send_all(throttle=FULL, frames=10)
    _run(rx, 300)
    assert rx.failsafe


# -- allocation ----------------------------------------------------------------------------------

def _skip_on_cpython():
    if not fwtest.MICROPYTHON:
        import pytest

        pytest.skip("heap allocation is measured under MicroPython")


def _by_hand(widths):
    """One 20 ms frame on the three channels driven edge by edge (scheduling a pulse train would
    allocate in the simulator's event queue, hiding the firmware's own figure)."""
    used = 0
    for i in range(3):
        gpio = THROTTLE + i
        width = widths[i]
        if width:
            board.drive(gpio, 1)
            board.advance_us(width)
            board.drive(gpio, 0)
            used += width
        board.advance_us(3000)
        used += 3000
    board.advance_us(FRAME_US - used)


def test_poll_and_the_pin_handlers_allocate_nothing():
    _skip_on_cpython()
    import allocprobe

    rx = Receiver(THROTTLE, DOOR, ENGINE)
    # 40 frames a cycle: neutral (arming), trigger pulled, door and engine flips, signal lost
    # (failsafe), back at neutral (resume): every path of poll() and of the handlers
    script = []
    for f in range(40):
        throttle = NEUTRAL if f < 6 or f >= 30 else 1000 + f * 40 if f < 22 else 0
        door = FULL if 10 <= f < 16 else BRAKE
        engine = FULL if 12 <= f < 30 else BRAKE
        script.append((throttle, door, engine))
    script = tuple(script)
    clock = [0]

    def frame():
        f = clock[0]
        clock[0] = (f + 1) % 40
        _by_hand(script[f])
        rx.poll(time.ticks_us())
        rx.take_events()

    assert allocprobe.bytes_per_call(frame, calls=400) == 0
    assert rx.failsafes >= 10 and rx.door_toggles >= 20  # the cycle really went through it all

    level = [0]

    def edge():
        level[0] ^= 1
        board.advance_us(1500 if level[0] else 18_500)
        board.drive(THROTTLE, level[0])

    assert allocprobe.bytes_per_call(edge, calls=400) == 0
    assert rx.throttle_channel.frames > 0 and rx.throttle_channel.width == 1500


def test_status_reports_the_receiver():
    rx, tx = _in_control()
    _throttle_at(rx, tx, FULL)
    status = rx.status()
    assert status["state"] == "control" and status["throttle"] == 100
    assert status["pulses"] == {"throttle": FULL, "door": BRAKE, "engine": BRAKE}
    assert status["door_switch"] == "low" and status["engine_switch"] == "low"
    assert rcin.STATE_NAMES[rx.state] == "control"
