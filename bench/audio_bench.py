"""Listening to a recording: a 30 s WAV read and measured by every measure of host_tools.audio (what the sound's
tests and `make demo` do to each recording), against the target of well under a second. Best of RUNS, on the
same synthetic recording as tests/host/test_audio.py's (a 100 Hz train of noise bursts under a faint whistle)."""

import tempfile
import time
from pathlib import Path

from host_tools import audio

SECONDS = 30
TARGET_S = 0.8
RUNS = 3


def measure_once(path):
    started = time.perf_counter()
    recording = audio.read_wav(path)
    sound, rate = recording.samples, recording.rate
    audio.repetition_hz(sound, rate)
    audio.fundamental_hz(sound, rate)
    audio.whistle_hz(sound, rate, 2000, 7000)
    audio.energy_above(sound, rate, 2000)
    audio.dip_rate_hz(sound, rate, 0.005)
    audio.largest_jump(sound, rate)
    audio.silences(sound, rate)
    audio.spectrogram(sound, rate)
    return time.perf_counter() - started


def run():
    """Seconds to read and measure the recording, the best of RUNS."""
    from tests.host.test_audio import RATE, firings, tone

    with tempfile.TemporaryDirectory() as folder:
        path = audio.write_wav(Path(folder) / "long.wav", firings(100, SECONDS, "noise") + tone(3000, SECONDS, 0.05),
                               RATE)
        return min(measure_once(path) for _ in range(RUNS))


def verdicts(seconds):
    return [(f"a {SECONDS} s recording read and measured in {seconds:.2f} s (< {TARGET_S} s)", seconds < TARGET_S)]
