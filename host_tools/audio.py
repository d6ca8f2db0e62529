"""Listening to a recording: reading a 16-bit mono WAV and measuring what a listener would notice.

A recording is what the board's I2S amplifier played (`gullwing sim --audio FILE.wav`), sample 0 at
power-on. Samples are floats in full-scale units (-1.0 to just under 1.0, an int16 count / 32768), so
loudness, jumps and thresholds read the same at any sample rate. Every measure takes a stretch of
samples (`Recording.between`) and its rate, and is written with numpy for whole arrays: a 30 s
recording is measured in well under a second.

The engine's sound repeats at its firing frequency (rpm / 40 Hz for a four-stroke triple); its pulses
may be clicks, shaped waves or bursts of noise, and a triple's cylinders differ a little, so the exact
repetition is one engine cycle of three firings. `repetition_hz` measures the beat of the pulses from
the autocorrelation of the loudness envelope and takes the shortest strong period, which is the firing
period; `fundamental_hz` cross-checks it on the spectrum of the waveform itself.
"""

import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from host_tools import errors

FULL_SCALE = 32768  # an int16 sample of this size is 1.0
UNWRITTEN_SIZES = (0, 0xFFFF_FFFF)  # a recorder stopped before it rewrote its header leaves one of these
PULSE_LOW_HZ, PULSE_HIGH_HZ = 20, 250  # the firing frequencies of an engine from cranking to beyond the limiter
CYCLE = 3  # periods of the lowest frequency searched for the most exact repetition: a triple's engine cycle
SPREAD = 0.05  # a firing within 5 % of a period of its even place in the cycle still counts as one of its beats
STRONG_PEAK = 0.5  # a division of that repetition is heard as the beat when each of its steps reaches this share
PERIODIC = 0.2  # below this autocorrelation (1 = repeats exactly) a stretch has no repetition
HARMONICS_UP_TO_HZ = 1500  # the spectrum's harmonics counted for a fundamental: clear of a turbo whistle above
STEADY = 1e-3  # an envelope varying less than this share of its mean is steady (a pure tone): it has no beat
QUIETEST_WHISTLE = 1e-8  # -80 dBFS of spectral power per window: nothing to hear
NARROW_BAND = 10.0  # a whistle's spectral peak stands this many times above the median of its band


class BadWavFile(errors.GullwingError):
    hint = "give a 16-bit mono PCM WAV, such as `gullwing sim --audio FILE.wav` writes"


@dataclass(frozen=True)
class Recording:
    rate: int  # samples per second
    samples: np.ndarray  # float64, full scale 1.0

    @property
    def duration_s(self):
        return len(self.samples) / self.rate

    def between(self, start_s, end_s=None):
        """The samples from `start_s` to `end_s` seconds (default: the end), cut to the recording."""
        start = max(0, round(start_s * self.rate))
        end = len(self.samples) if end_s is None else max(start, round(end_s * self.rate))
        return self.samples[start:end]


class Jump(NamedTuple):
    size: float  # full-scale units: 2.0 is a swing from one rail to the other in one sample
    at_s: float  # time of the sample after the jump, from the stretch's start


# -- reading and writing ---------------------------------------------------------------------------------------


def read_wav(path):
    """The recording in a 16-bit mono PCM WAV. A header whose RIFF or data sizes were never rewritten (0 or
    0xFFFFFFFF, or larger than the file: a recorder that was stopped) is read to the file's end."""
    path = Path(path)
    data = path.read_bytes()
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise BadWavFile(str(path) + " is not a WAV file: it does not start with RIFF....WAVE")
    rate = None
    at = 12
    while at + 8 <= len(data):
        chunk, size = data[at:at + 4], struct.unpack_from("<I", data, at + 4)[0]
        body = at + 8
        if chunk == b"fmt ":
            rate = _format(path, data[body:body + size])
        elif chunk == b"data":
            if rate is None:
                raise BadWavFile(str(path) + " has its samples before its format (no fmt chunk first)")
            end = len(data) if size in UNWRITTEN_SIZES or body + size > len(data) else body + size
            end -= (end - body) % 2  # a sample cut in half by a stopped recorder is dropped
            counts = np.frombuffer(data, dtype="<i2", count=(end - body) // 2, offset=body)
            return Recording(rate, counts.astype(np.float64) / FULL_SCALE)
        at = body + size + size % 2  # chunks are padded to even sizes
    raise BadWavFile(str(path) + " has no " + ("data" if rate else "fmt") + " chunk")


def _format(path, fmt):
    if len(fmt) < 16:
        raise BadWavFile(str(path) + " has a fmt chunk of " + str(len(fmt)) + " bytes, not 16 or more")
    tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", fmt)
    if tag == 0xFFFE and len(fmt) >= 26:  # WAVE_FORMAT_EXTENSIBLE: the real tag opens the sub-format GUID
        tag = struct.unpack_from("<H", fmt, 24)[0]
    if tag != 1 or bits != 16 or channels != 1 or not rate:
        raise BadWavFile(str(path) + " holds " + str(channels) + " channel(s) of " + str(bits) + "-bit samples"
                         + ("" if tag == 1 else " in format " + str(tag)) + " at " + str(rate) + " Hz, not 16-bit"
                         " mono PCM")
    return rate


def write_wav(path, samples, rate):
    """Write full-scale float samples (clipped to the int16 range) as a 16-bit mono PCM WAV."""
    counts = np.clip(np.round(np.asarray(samples, dtype=np.float64) * FULL_SCALE), -FULL_SCALE, FULL_SCALE - 1)
    body = counts.astype("<i2").tobytes()
    header = struct.pack("<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + len(body), b"WAVE", b"fmt ", 16, 1, 1, rate,
                         rate * 2, 2, 16, b"data", len(body))
    Path(path).write_bytes(header + body)
    return Path(path)


# -- loudness --------------------------------------------------------------------------------------------------


def rms(samples):
    """Root-mean-square level in full-scale units (0 for no samples)."""
    samples = np.asarray(samples, dtype=np.float64)
    return float(np.sqrt(np.mean(samples * samples))) if len(samples) else 0.0


def dbfs(level):
    """A level in dB relative to full scale (-inf for silence)."""
    return 20 * math.log10(level) if level > 0 else -math.inf


def envelope(samples, rate, resolution_s):
    """The RMS level of each consecutive block of `resolution_s` (a last partial block is left out)."""
    block = max(1, round(resolution_s * rate))
    n = len(samples) // block
    blocks = np.asarray(samples[:n * block], dtype=np.float64).reshape(n, block)
    return np.sqrt(np.mean(blocks * blocks, axis=1))


def high_pass(samples, rate, hz):
    """The part of the samples above `hz` (an ideal filter on the spectrum)."""
    spectrum = np.fft.rfft(samples)
    spectrum[np.fft.rfftfreq(len(samples), 1 / rate) < hz] = 0
    return np.fft.irfft(spectrum, len(samples))


def energy_above(samples, rate, hz):
    """The mean power (mean square, full-scale units) of the part above `hz`: 0 for a stretch with nothing there."""
    if not len(samples):
        return 0.0
    spectrum = np.fft.rfft(samples)
    power = np.abs(spectrum) ** 2
    power[1:(len(samples) + 1) // 2] *= 2  # the negative frequencies' share (not DC, nor Nyquist of an even length)
    return float(np.sum(power[np.fft.rfftfreq(len(samples), 1 / rate) >= hz]) / len(samples) ** 2)


# -- repetition ------------------------------------------------------------------------------------------------


def loudness_envelope(samples):
    """The sound's amplitude at every sample (the magnitude of its analytic signal): one smooth bump per
    pulse, whatever the pulse is made of, with no ripple at the pulse's own pitch."""
    n = len(samples)
    spectrum = np.fft.fft(samples - np.mean(samples))
    gain = np.zeros(n)
    gain[0] = 1
    gain[1:(n + 1) // 2] = 2
    if n % 2 == 0:
        gain[n // 2] = 1
    amplitude = np.abs(np.fft.ifft(spectrum * gain))
    return amplitude if np.std(amplitude) > STEADY * np.mean(amplitude) else np.zeros(n)


def _autocorrelation(values):
    """Normalised autocorrelation (1 at lag 0) of the mean-removed values, every lag below len // 2, each lag
    scaled by the overlap it has, so later periods are not weaker for being later."""
    values = values - np.mean(values)
    n = len(values)
    spectrum = np.fft.rfft(values, 2 * n)
    full = np.fft.irfft(spectrum * np.conj(spectrum))[:n // 2]
    if full[0] <= 0:
        return np.zeros(n // 2)
    return full / full[0] * n / (n - np.arange(n // 2))


def repetition_hz(samples, rate, low_hz=PULSE_LOW_HZ, high_hz=PULSE_HIGH_HZ):
    """How often a stretch's loudness repeats, in Hz between `low_hz` and `high_hz`: nan when nothing repeats
    (silence, a steady tone, noise). The stretch must hold a few periods of `low_hz` (ValueError if it is shorter
    than CYCLE + 1 of them).

    The envelope's autocorrelation is best at the period that repeats most exactly, searched up to CYCLE periods
    of `low_hz`: for a triple whose cylinders differ, one engine cycle of three firings. When a whole fraction of
    that lag has every one of its steps (within SPREAD) at STRONG_PEAK of the best, the finest such is the beat a
    listener hears: the firing frequency, measured on the long lag, i.e. averaged over the cycle's uneven firings."""
    corr = _autocorrelation(loudness_envelope(np.asarray(samples, dtype=np.float64)))
    shortest, longest = max(1, math.floor(rate / high_hz)), math.ceil(CYCLE * rate / low_hz)
    if longest + 1 >= len(corr):
        raise ValueError("a stretch of " + str(len(samples)) + " samples is too short to find periods up to "
                         + str(longest) + " samples: give at least " + str(2 * longest + 4))
    lags = np.arange(shortest, longest + 1)
    best = int(lags[np.argmax(corr[lags])])
    if corr[best] < PERIODIC:
        return math.nan
    period = best + _vertex(corr[best - 1], corr[best], corr[best + 1])
    for parts in range(math.floor(period / (shortest * (1 - SPREAD))), 1, -1):  # the finest division first
        hz = parts * rate / period
        if low_hz * (1 - SPREAD) <= hz <= high_hz * (1 + SPREAD) and all(
                _near(corr, j * period / parts, period / parts) >= STRONG_PEAK * corr[best] for j in range(1, parts)):
            return hz
    return rate / period if low_hz * (1 - SPREAD) <= rate / period <= high_hz * (1 + SPREAD) else math.nan


def _near(corr, lag, beat):
    """The highest autocorrelation within SPREAD of a `beat` from `lag`."""
    return float(corr[math.floor(lag - SPREAD * beat):math.ceil(lag + SPREAD * beat) + 1].max())


def _vertex(before, at, after):
    """Offset (-0.5..0.5) of the top of the parabola through three equally spaced values."""
    bend = before - 2 * at + after
    return 0.0 if bend >= 0 else 0.5 * (before - after) / bend


def fundamental_hz(samples, rate, low_hz=PULSE_LOW_HZ, high_hz=PULSE_HIGH_HZ, up_to_hz=HARMONICS_UP_TO_HZ):
    """The fundamental of a stretch's spectrum between `low_hz` and `high_hz`: the frequency whose harmonics up
    to `up_to_hz`, the k-th weighted 1/k, hold the most magnitude (0.25 % steps); nan for silence."""
    samples = np.asarray(samples, dtype=np.float64)
    if not np.any(samples):
        return math.nan
    size = 1 << (max(2 * len(samples), 4 * rate) - 1).bit_length()  # zero-padded to 0.25 Hz steps or finer
    magnitude = np.abs(np.fft.rfft((samples - np.mean(samples)) * np.hanning(len(samples)), size))
    step_hz = rate / size
    candidates = low_hz * 1.0025 ** np.arange(math.floor(math.log(high_hz / low_hz) / math.log(1.0025)) + 1)
    k = np.arange(1, max(1, math.floor(up_to_hz / low_hz)) + 1)
    at = candidates[:, None] * k[None, :]
    counted = at <= min(up_to_hz, rate / 2)
    score = np.sum(np.interp(at / step_hz, np.arange(len(magnitude)), magnitude) * counted / k, axis=1)
    return float(candidates[np.argmax(score)])


# -- the limiter's cuts ----------------------------------------------------------------------------------------


def dips(samples, rate, resolution_s, depth=0.5):
    """Start times (s from the stretch's start) of each dip of the envelope at `resolution_s` below `depth` times
    its median; a dip ends when the level is back above the midpoint of `depth` and the median."""
    level = envelope(samples, rate, resolution_s)
    if not len(level):
        return []
    typical = float(np.median(level))
    starts, dipped = [], False
    for i, value in enumerate(level):
        if not dipped and value < depth * typical:
            starts.append(i * resolution_s)
            dipped = True
        elif dipped and value > (1 + depth) / 2 * typical:
            dipped = False
    return starts


def dip_rate_hz(samples, rate, resolution_s, depth=0.5):
    """How often the envelope dips (see `dips`), per second, from the median time between dips; 0 for fewer
    than two dips."""
    starts = dips(samples, rate, resolution_s, depth)
    return 1 / float(np.median(np.diff(starts))) if len(starts) >= 2 else 0.0


# -- whistle, clicks, silence ----------------------------------------------------------------------------------


def whistle_hz(samples, rate, low_hz, high_hz):
    """The pitch of a narrow-band tone between `low_hz` and `high_hz`: the highest peak of the stretch's
    averaged spectrum (refined between bins), nan when no peak stands NARROW_BAND times above the band's
    median (no whistle there, or only noise)."""
    size = min(len(samples), 1 << round(math.log2(max(2, rate * 0.064))))  # ~64 ms segments: ~16 Hz bins
    frames = _frames(np.asarray(samples, dtype=np.float64), size, size // 2)
    if not len(frames):
        return math.nan
    power = np.mean(np.abs(np.fft.rfft(frames * np.hanning(size), axis=1)) ** 2, axis=0)
    freqs = np.fft.rfftfreq(size, 1 / rate)
    band = np.flatnonzero((freqs >= low_hz) & (freqs <= high_hz))
    if len(band) < 3:
        raise ValueError("the band " + str(low_hz) + "-" + str(high_hz) + " Hz is narrower than 3 bins of "
                         + str(round(rate / size, 1)) + " Hz")
    peak = band[np.argmax(power[band])]
    if (power[peak] <= NARROW_BAND * np.median(power[band]) or power[peak] < QUIETEST_WHISTLE
            or peak in (band[0], band[-1])):  # a slope into the band from a sound outside it
        return math.nan
    before, at, after = np.log(power[peak - 1:peak + 2] + 1e-30)
    return float(freqs[peak] + _vertex(before, at, after) * rate / size)


def largest_jump(samples, rate):
    """The largest step from one sample to the next (a click) and when it happens."""
    if len(samples) < 2:
        return Jump(0.0, 0.0)
    steps = np.abs(np.diff(np.asarray(samples, dtype=np.float64)))
    i = int(np.argmax(steps))
    return Jump(float(steps[i]), (i + 1) / rate)


def silent(samples, threshold=1 / FULL_SCALE):
    """True when no sample of the stretch reaches `threshold` (default: one least significant bit)."""
    return not len(samples) or float(np.max(np.abs(samples))) < threshold


def silences(samples, rate, resolution_s=0.01, threshold=1 / FULL_SCALE):
    """The (start_s, end_s) stretches, in whole blocks of `resolution_s`, where no sample reaches `threshold`."""
    block = max(1, round(resolution_s * rate))
    n = len(samples) // block
    quiet = np.max(np.abs(np.asarray(samples[:n * block]).reshape(n, block)), axis=1) < threshold
    edges = np.flatnonzero(np.diff(np.concatenate(([0], quiet.astype(np.int8), [0]))))
    return [(start * block / rate, end * block / rate) for start, end in zip(edges[::2], edges[1::2], strict=True)]


# -- looking ---------------------------------------------------------------------------------------------------


def _frames(samples, size, hop):
    """The overlapping frames of `size` samples every `hop` (a view, no copy)."""
    if len(samples) < size or size < 1:
        return np.empty((0, max(size, 1)))
    return np.lib.stride_tricks.sliding_window_view(samples, size)[::hop]


def spectrogram(samples, rate, window_s=0.1, max_frames=2000):
    """(times_s, freqs_hz, dB relative to full scale) of the stretch, Hann windows of about `window_s` (a power of
    two, so ~6 Hz bins at 0.1 s: fine enough for an idle's 24 Hz firing), a quarter apart, or further apart so that
    there are at most `max_frames`. Times are the windows' centres from the stretch's start."""
    size = 1 << max(6, round(math.log2(window_s * rate)))
    samples = np.asarray(samples, dtype=np.float64)
    hop = max(size // 4, math.ceil((len(samples) - size) / max_frames) if len(samples) > size else 1)
    frames = _frames(samples, size, hop)
    window = np.hanning(size)
    power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2 * 4 / np.sum(window) ** 2  # a full-scale sine: 0 dB
    times = (np.arange(len(frames)) * hop + size / 2) / rate
    return times, np.fft.rfftfreq(size, 1 / rate), 10 * np.log10(power.T + 1e-12)
