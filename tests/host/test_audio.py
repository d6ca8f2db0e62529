"""Listening to a recording: each measure of host_tools.audio proven on synthetic sounds whose answer is known."""

import math
import struct

import numpy as np
import pytest

from host_tools import audio

RATE = 16_000
rng = np.random.default_rng(14)


def seconds(duration_s):
    return np.arange(round(duration_s * RATE)) / RATE


def tone(hz, duration_s, level=0.5):
    return level * np.sin(2 * np.pi * hz * seconds(duration_s))


def firings(hz, duration_s, pulse="wave", uneven=0.0, level=0.5, skip=()):
    """An exhaust-like pulse train at `hz`: each firing a damped 180 Hz wave or a burst of noise; `uneven` makes a
    triple's cylinders differ in strength and timing (1.0: ±30 % and up to 3 %); firings numbered in `skip` are
    left out (a fuel cut)."""
    out = np.zeros(round(duration_s * RATE))
    t = np.arange(round(0.012 * RATE)) / RATE
    at_s, n = 0.0, 0
    while at_s < duration_s:
        if pulse == "wave":
            shape = np.exp(-t / 0.002) * np.sin(2 * np.pi * 180 * t)
        else:
            shape = 0.4 * np.exp(-t / 0.003) * rng.standard_normal(len(t))
        start = round(at_s * RATE)
        end = min(len(out), start + len(shape))
        if n not in skip:
            out[start:end] += level * (1 + uneven * (0.0, 0.3, -0.2)[n % 3]) * shape[:end - start]
        at_s += (1 + uneven * (0.03, -0.02, -0.01)[n % 3]) / hz
        n += 1
    return out


# -- reading ------------------------------------------------------------------------------------------------------


def test_a_written_wav_reads_back_sample_for_sample(tmp_path):
    sound = tone(440, 0.1)
    back = audio.read_wav(audio.write_wav(tmp_path / "a.wav", sound, RATE))
    assert back.rate == RATE and back.duration_s == pytest.approx(0.1)
    assert np.max(np.abs(back.samples - sound)) <= 0.5 / audio.FULL_SCALE


@pytest.mark.parametrize("riff_size, data_size", [(0, 0), (0xFFFF_FFFF, 0xFFFF_FFFF), (36, 0), (10**6, 10**6)])
def test_a_recording_whose_header_sizes_were_never_rewritten_is_read_to_the_files_end(tmp_path, riff_size,
                                                                                         data_size):
    path = audio.write_wav(tmp_path / "stopped.wav", tone(100, 0.05), RATE)
    whole = path.read_bytes()
    path.write_bytes(whole[:4] + struct.pack("<I", riff_size) + whole[8:40] + struct.pack("<I", data_size)
                     + whole[44:] + b"\x01")  # and cut off in the middle of a sample
    assert len(audio.read_wav(path).samples) == round(0.05 * RATE)


def test_a_recording_at_power_on_before_any_sample_is_empty(tmp_path):
    path = audio.write_wav(tmp_path / "empty.wav", [], 22_050)
    assert audio.read_wav(path).duration_s == 0


@pytest.mark.parametrize("make, words", [
    (lambda: b"not a wav at all", "does not start with RIFF"),
    (lambda: struct.pack("<4sI4s4sIHHIIHH", b"RIFF", 36, b"WAVE", b"fmt ", 16, 1, 2, RATE, RATE * 4, 4, 16),
     "2 channel(s) of 16-bit"),
    (lambda: struct.pack("<4sI4s4sIHHIIHH", b"RIFF", 36, b"WAVE", b"fmt ", 16, 3, 1, RATE, RATE * 4, 4, 32),
     "32-bit samples in format 3"),
    (lambda: struct.pack("<4sI4s", b"RIFF", 4, b"WAVE"), "no fmt chunk"),
])
def test_what_is_not_16_bit_mono_pcm_is_refused_with_what_it_is(tmp_path, make, words):
    path = tmp_path / "bad.wav"
    path.write_bytes(make())
    with pytest.raises(audio.BadWavFile, match=words.replace("(", r"\(").replace(")", r"\)")):
        audio.read_wav(path)


def test_between_cuts_a_stretch_by_time():
    recording = audio.Recording(RATE, seconds(2.0))
    assert recording.between(0.5, 0.75)[0] == pytest.approx(0.5)
    assert len(recording.between(0.5, 0.75)) == RATE // 4
    assert len(recording.between(1.5)) == RATE // 2 and len(recording.between(1.9, 5)) == RATE // 10


# -- repetition ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("hz", [20, 23.75, 50, 100, 150, 200, 225, 250])
@pytest.mark.parametrize("pulse", ["wave", "noise"])
def test_the_repetition_of_a_pulse_train_is_its_firing_frequency(hz, pulse):
    sound = firings(hz, 1.0, pulse) + tone(5000, 1.0, 0.02)  # a faint whistle above does not disturb it
    assert audio.repetition_hz(sound, RATE) == pytest.approx(hz, rel=0.01)


@pytest.mark.parametrize("hz", [23.75, 75, 150])
def test_a_triples_uneven_cylinders_still_repeat_at_the_firing_frequency_not_once_a_cycle(hz):
    sound = firings(hz, 1.0, "wave", uneven=1.0)
    assert audio.repetition_hz(sound, RATE) == pytest.approx(hz, rel=0.01)


@pytest.mark.parametrize("hz", [23.75, 100, 225])
def test_the_spectrums_fundamental_of_a_pulse_train_is_its_firing_frequency(hz):
    for uneven in (0.0, 1.0):
        assert audio.fundamental_hz(firings(hz, 1.0, "wave", uneven), RATE) == pytest.approx(hz, rel=0.01)


@pytest.mark.parametrize("sound", [np.zeros(RATE), tone(100, 1.0), 0.3 * rng.standard_normal(RATE)],
                         ids=["silence", "steady tone", "noise"])
def test_what_does_not_beat_has_no_repetition(sound):
    assert math.isnan(audio.repetition_hz(sound, RATE))


def test_a_stretch_too_short_for_the_lowest_period_is_refused():
    with pytest.raises(ValueError, match="too short"):
        audio.repetition_hz(firings(100, 0.1), RATE)


# -- loudness and spectrum -----------------------------------------------------------------------------------------


def test_rms_of_a_full_scale_sine_is_minus_3_dbfs():
    assert audio.dbfs(audio.rms(tone(1000, 0.5, 1.0))) == pytest.approx(-3.01, abs=0.01)
    assert audio.rms([]) == 0 and audio.dbfs(0) == -math.inf


def test_stronger_firings_are_louder():
    assert audio.rms(firings(100, 0.5, level=0.6)) > 1.9 * audio.rms(firings(100, 0.5, level=0.3))


def test_energy_above_counts_only_what_lies_above_the_frequency():
    low, high = tone(500, 0.5, 0.5), tone(4000, 0.5, 0.1)
    assert audio.energy_above(low + high, RATE, 2000) == pytest.approx(0.1 ** 2 / 2, rel=0.01)
    assert audio.energy_above(low, RATE, 2000) < 1e-6
    assert audio.energy_above(low + high, RATE, 0) == pytest.approx(audio.rms(low + high) ** 2, rel=1e-6)


def test_a_noise_burst_shows_in_the_energy_above_2_khz_within_its_first_block():
    sound = firings(50, 1.0)
    sound[RATE // 2:RATE // 2 + RATE // 5] += 0.2 * rng.standard_normal(RATE // 5)  # 0.5 s to 0.7 s
    hiss = audio.envelope(audio.high_pass(sound, RATE, 2000), RATE, 0.01)
    loud = np.flatnonzero(hiss > 10 * np.median(hiss[:40]))
    assert loud[0] * 0.01 == pytest.approx(0.5, abs=0.015) and loud[-1] * 0.01 == pytest.approx(0.69, abs=0.015)


def test_the_envelope_has_one_level_per_block():
    sound = np.concatenate([tone(200, 0.1, 0.5), np.zeros(RATE // 10), tone(200, 0.105, 0.25)])
    level = audio.envelope(sound, RATE, 0.01)
    assert len(level) == 30  # the last 5 ms do not fill a block
    assert level[:10] == pytest.approx([0.5 / math.sqrt(2)] * 10, rel=0.01)
    assert np.all(level[10:20] == 0) and level[25] == pytest.approx(0.25 / math.sqrt(2), rel=0.01)


# -- the limiter's cuts --------------------------------------------------------------------------------------------


def test_the_fuel_cuts_of_a_limiter_are_dips_at_the_limiters_rate():
    """225 Hz firings (9,000 rpm) with 6 firings cut every 45: a cut of 27 ms, 5 times a second."""
    cut = {n for n in range(2 * 225) if n % 45 < 6}
    sound = firings(225, 2.0, skip=cut)
    starts = audio.dips(sound, RATE, 0.005)
    assert len(starts) == 10 and starts[0] == pytest.approx(0.0, abs=0.006)
    assert audio.dip_rate_hz(sound, RATE, 0.005) == pytest.approx(5, rel=0.03)
    assert audio.dip_rate_hz(firings(225, 2.0), RATE, 0.005) == 0  # no cut, no dip


# -- whistle, clicks, silence --------------------------------------------------------------------------------------


def test_a_whistles_pitch_is_read_in_its_band_over_the_engine():
    for hz in (2500, 3217, 6000):
        sound = firings(150, 0.5) + tone(hz, 0.5, 0.05)
        assert audio.whistle_hz(sound, RATE, 2000, 7000) == pytest.approx(hz, abs=3)


def test_a_rising_whistle_reads_higher_later():
    chirp = 0.1 * np.sin(2 * np.pi * (2000 * seconds(2.0) + 1000 * seconds(2.0) ** 2))  # 2 kHz rising to 6 kHz
    early = audio.whistle_hz(chirp[:RATE // 16], RATE, 1500, 7000)  # 2000 to 2125 Hz
    late = audio.whistle_hz(chirp[-RATE // 16:], RATE, 1500, 7000)  # 5875 to 6000 Hz
    assert early == pytest.approx(2062, rel=0.03) and late == pytest.approx(5938, rel=0.03)


def test_noise_or_nothing_in_the_band_has_no_whistle():
    assert math.isnan(audio.whistle_hz(0.2 * rng.standard_normal(RATE), RATE, 2000, 7000))
    assert math.isnan(audio.whistle_hz(tone(1000, 1.0), RATE, 2000, 7000))


def test_the_largest_jump_is_found_with_its_time():
    sound = tone(50, 1.0, 0.3)
    sound[RATE // 4:] += 0.2  # a step: a click at 0.25 s
    jump = audio.largest_jump(sound, RATE)
    assert jump.size == pytest.approx(0.2, abs=0.02) and jump.at_s == 0.25
    assert audio.largest_jump(tone(50, 1.0, 0.3), RATE).size < 0.006  # 0.3 * 2 pi 50 / 16 kHz


def test_silence_is_found_before_the_sound_starts_and_after_it_stops():
    sound = np.concatenate([np.zeros(RATE // 2), tone(200, 1.0), np.zeros(RATE // 4)])
    assert audio.silent(sound[:RATE // 2]) and not audio.silent(sound)
    assert audio.silences(sound, RATE, 0.01) == [(0.0, 0.5), (1.5, 1.75)]
