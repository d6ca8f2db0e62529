"""The engine's sound as a listener would measure it: the synthesizer's samples (gullwing/sound.py, rendered on
CPython with the engine as the app drives them, tests/firmware/soundrig.py) analysed with host_tools/audio.py."""

import sys
from pathlib import Path

import numpy as np
import pytest

from host_tools import audio

sys.path[:0] = [str(Path(__file__).resolve().parents[2] / d) for d in ("firmware", "host_tools/sim", "tests/firmware")]
import soundrig  # noqa: E402
from gullwing.engine import EV_BLOWOFF  # noqa: E402
from gullwing.sound import RATE  # noqa: E402


def _run(script, ms):
    """(engine, the samples in full-scale units, the engine's rpm and counters at each 20 ms tick)."""
    log = []

    def logged(e, t):
        script(e, t)
        log.append((t, e.rpm, e.boost_kpa, e.limiter_hits, e.take_events()))

    e, _, samples, _ = soundrig.drive(logged, ms)
    return e, np.asarray(samples, dtype=np.float64) / audio.FULL_SCALE, log


def _between(samples, start_ms, end_ms):
    return samples[start_ms * RATE // 1000:end_ms * RATE // 1000]


def _rpm_over(log, start_ms, end_ms):
    return np.mean([rpm for t, rpm, *_ in log if start_ms <= t < end_ms])


@pytest.mark.parametrize("throttle, near_rpm", [(0, 950), (25, 3000), (55, 6000), (85, 8900)],
                         ids=["idle", "3000", "6000", "below the limiter"])
def test_the_sound_repeats_at_the_firing_frequency(throttle, near_rpm):
    _, samples, log = _run(soundrig.hold(throttle, 1000), 9000)
    rpm = _rpm_over(log, 8000, 9000)
    assert abs(rpm - near_rpm) < 0.05 * near_rpm, rpm  # steady where the case says
    stretch = _between(samples, 8000, 9000)
    for measured in (audio.repetition_hz(stretch, RATE), audio.fundamental_hz(stretch, RATE)):
        assert abs(measured - rpm / 40) <= 0.03 * rpm / 40, (measured, rpm / 40)


def _cuts(samples, resolution_s=0.005):
    # the stretches where the loudness falls below half of its loud level (its 90th percentile)
    level = audio.envelope(samples, RATE, resolution_s)
    quiet = level < 0.5 * np.percentile(level, 90)
    return int(np.count_nonzero(quiet[1:] & ~quiet[:-1]))


def test_held_on_the_limiter_the_sound_stutters_at_the_limiters_rate():
    _, samples, log = _run(soundrig.hold(100, 1000), 5000)
    hits = [h for t, _, _, h, _ in log if t in (3000, 5000 - 20)]
    cut_hz = (hits[1] - hits[0]) / 1.98  # the engine's fuel cuts per second (13-14: docs/engine.md)
    stretch = _between(samples, 3000, 5000)
    assert 10 <= cut_hz <= 25
    # the envelope: loud while it fires, quiet through each cut, as often as the engine cuts
    assert abs(audio.repetition_hz(stretch, RATE, low_hz=5, high_hz=40) - cut_hz) <= 0.03 * cut_hz
    assert abs(_cuts(stretch) - (hits[1] - hits[0])) <= 1, (_cuts(stretch), hits)
    assert audio.dip_rate_hz(stretch, RATE, 0.025) == pytest.approx(cut_hz, rel=0.1)


def test_the_whistle_rises_with_boost():
    _, samples, log = _run(soundrig.hold(100, 1000), 3000)
    pitches = []
    for at in (1400, 1600, 1900, 2900):  # spooling up: boost lags the revs
        boost = [b for t, _, b, _, _ in log if t == at + 40][0]
        pitches.append((boost, audio.whistle_hz(_between(samples, at, at + 100), RATE, 1500, 6000)))
    boosts = [b for b, _ in pitches]
    assert boosts == sorted(boosts) and boosts[0] < 15 and boosts[-1] > 70, pitches
    hz = [p for _, p in pitches]
    assert all(later > earlier + 100 for earlier, later in zip(hz, hz[1:], strict=False)), pitches


def test_a_blow_off_raises_the_energy_above_2_khz_within_50_ms():
    def lift(e, t):
        soundrig.hold(100, 1000)(e, t)
        if t == 4000:
            e.throttle(0)

    _, samples, log = _run(lift, 4400)
    vented = [t for t, _, _, _, events in log if events & EV_BLOWOFF]
    assert vented, "no blow-off"
    at = vented[0] + 20  # the event is reported at the end of the tick the valve opened in
    before = audio.energy_above(_between(samples, at - 100, at - 50), RATE, 2000)  # full load on the limiter
    after = audio.energy_above(_between(samples, at, at + 50), RATE, 2000)
    assert after > 2 * before, (before, after)


def test_full_load_is_louder_than_idle():
    _, idle, _ = _run(soundrig.hold(0), 3000)
    _, full, _ = _run(soundrig.hold(100, 1000), 3000)
    assert audio.rms(full[-RATE:]) > 2 * audio.rms(idle[-RATE:])
