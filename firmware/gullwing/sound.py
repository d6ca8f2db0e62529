"""The engine's sound: 16-bit mono samples at 16 kHz synthesized from the engine model, block by block.

- Exhaust: a pulse per cylinder every 240 degrees of crank (rpm / 40 Hz), the crank angle integrated per
  sample so the phase runs on across blocks and rpm changes; the three cylinders differ a little in
  strength, timing and pulse shape (a triple's off-beat thrum). A firing that burns fuel is loud in
  proportion to its charge (load and boost) and bright with it; one that does not (cranking, a limiter
  cut, spin-down, overrun) only pushes out gas, quietly. The limiter's cuts come from the engine's fuel
  log, step by step, so each missing firing is missing in the sound.
- Turbo: a whistle whose pitch and loudness follow boost (and so the turbo's lag).
- Blow-off valve: high-passed noise while the valve vents, as loud as the boost it vents.
- Starter: a motor's buzz while cranking, slowed by each compression; silence when off.

16 kHz: what is voiced ends below its 8 kHz Nyquist (whistle up to 5.4 kHz, the valve's hiss, exhaust
harmonics), a small speaker plays little above that, and the cost per second of audio is half of 32 kHz.
No clicks: gains and pitches move linearly across a block, pulses start and end at 0 (see MAX_STEP).
The per-sample work is synth.fill (viper); a block here allocates nothing.
"""

from array import array

from gullwing import schema, synth
from gullwing.engine import COUNT_MASK, CRANKING, OFF

RATE = 16_000  # samples per second
BLOCK = 256  # samples per block the audio task should render (16 ms, 512 bytes)
MAX_BLOCK = 1024  # the most samples one render takes (the fuel mask's steps stay within 14 bits)
P_ATM_PA = 101_325

FIRE_FULL = 5600  # pulse amplitude (q13) of a firing at full charge and limiter revs
GAS_MIN = 160  # ... of a firing without fuel at rest ...
GAS_RPM = 800  # ... growing by this at the limiter
KLP_DARK = 600  # exhaust low-pass (q12) with no charge: about 400 Hz
KLP_BRIGHT = 3600  # ... at full charge: wide open
WHISTLE_FROM_HZ = 1800  # whistle pitch at no boost ...
WHISTLE_SPAN_HZ = 3600  # ... rising by this at full boost
WHISTLE_FULL = 1600  # whistle gain (q15) at full boost
STARTER_LEVEL = 5000  # starter gain (q15)
STARTER_HZ = 120  # the starter's buzz at a standstill, rising 1.5 Hz per crank rpm
BOV_FULL = 4000  # blow-off gain (q14) at full boost
BOV_MS = 400  # the valve vents this long
QUIET_SAMPLES = RATE // 4  # off this long: the output is exactly silent
# the fuel log is replayed this many engine steps behind the engine (it lands there within a tick and a
# block) and re-aligned when the gap leaves LAG_MIN..LAG_MAX (a stall, a late block)
LAG = 8
LAG_MIN = 2
LAG_MAX = 20
# No clicks: the most the output moves between two samples, from the parts' amplitudes (docs/engine.md, "The
# sound"; tests/firmware/test_sound.py checks the table figures). Exhaust: the pulse tables' steepest step (the
# rise, 6,253) plus the two pulses still ringing at the limiter's 71-sample spacing (1,182 and 126), at the
# loudest firing (gas and full charge, q13); a one-pole low-pass never steps further than its input. Whistle: a
# sine at its top pitch moves 2 sin(pi 5,400 / 16,000) of its peak (57,334 of the table's 65,534). Gains move
# at most 1/BLOCK of their range a sample (RAMP_STEP). The starter (only while cranking, when the exhaust is
# gas and the whistle silent) stays below the whistle. While the valve vents, its high-passed noise adds
# BOV_STEP: the steepest step of the noise over the generator's whole period (38,075) at full gain (q14).
PULSE_STEEPEST = 6253 + 1182 + 126
SINE_STEEPEST = 57_334
NOISE_STEEPEST = 38_075
NOISE_PEAK = 36_405  # the high-passed noise's largest magnitude
RAMP_STEP = 8  # WHISTLE_FULL / BLOCK of a full-scale sine, rounded up
MAX_STEP = (PULSE_STEEPEST * (GAS_MIN + GAS_RPM + FIRE_FULL) >> 13) + (SINE_STEEPEST * WHISTLE_FULL >> 15) + RAMP_STEP
BOV_STEP = (NOISE_STEEPEST * BOV_FULL >> 14) + ((BOV_FULL // BLOCK + 1) * NOISE_PEAK >> 14)  # 9,295 + its ramp


def _sine_table():
    # one cycle in 256 entries, q15, by Bhaskara's rational approximation (integers: the same on every port)
    out = []
    for k in range(256):
        half = k & 127
        v = half * (128 - half)
        s = 32767 * 16 * v // (81_920 - 4 * v)
        out.append(s if k < 128 else -s)
    return out


def _buzz_table(sine):
    # the starter motor: four harmonics of a sawtooth
    out = [sum(sine[(h * k) & 255] // h for h in (1, 2, 3, 4)) for k in range(256)]
    return _normalized(out)


def _pulse_table(sine, ring_hz, tail):
    """One cylinder's exhaust pulse: a thump and a ring at ring_hz under a fast rise and a decay that
    ends at 0, made zero-mean (no DC) by a half-sine bump."""
    n = synth.PULSE_LEN
    env = 0
    out = []
    for k in range(n):
        env = k * 4096 if k < 8 else env * tail >> 15  # q15 rise, then decay
        taper = min(n - k, 32)
        low = sine[(k * 170 * 256 // RATE) & 255]
        ring = sine[(k * ring_hz * 256 // RATE) & 255]
        out.append((low * 3 // 5 + ring) * env // 32768 * taper // 32)
    bump = [sine[k * 128 // n] for k in range(n)]
    mean_num = sum(out)
    bump_sum = sum(bump)
    return _normalized([out[k] - mean_num * bump[k] // bump_sum for k in range(n)])


def _normalized(values):
    peak = max(max(values), -min(values))
    return [v * 30_000 // peak for v in values]


def tables():
    """Every table the kernel reads, biased by +32768, in synth's layout. Made in place, one table at a time:
    the app builds it at its start, when the heap is at its fullest, and a 944-entry list (or two) of
    temporaries may find no room there."""
    tab = array("H", range(synth.TABLE_LEN))  # one allocation, of its final size
    sine = _sine_table()
    _put(tab, synth.SINE, sine)
    _put(tab, synth.BUZZ, _buzz_table(sine))
    at = synth.PULSE
    for ring_hz, tail in ((520, 32_100), (528, 32_060), (514, 32_120)):  # each cylinder a little different
        _put(tab, at, _pulse_table(sine, ring_hz, tail))
        at += synth.PULSE_LEN
    assert at == synth.TABLE_LEN
    return tab


def _put(tab, at, values):
    for k in range(len(values)):
        tab[at + k] = values[k] + 32768


class Sound:
    def __init__(self, volume=100):
        schema.whole("volume", volume, 0, 100, "%")
        self._volume_q8 = volume * 256 // 100
        self._tab = tables()
        self._st = array("i", [0] * synth.WORDS)
        self._blowoffs = -1  # the engine's count, taken at the first block
        self._bov_left = 0
        self._step = 0  # the engine step whose fuel the next sample plays
        self._frac = 0  # ... and how far into it, in samples
        self._off_samples = 0
        self._full_charge = 0
        self._reset()

    def _reset(self):
        st = self._st
        for i in range(synth.WORDS):
            st[i] = 0
        st[synth.NXT] = synth.FIRE + synth.LATE1  # cylinder 0 has just fired
        st[synth.CYL] = 1
        st[synth.P0] = st[synth.P1] = st[synth.P2] = synth.PULSE_LEN
        st[synth.LP] = st[synth.BL] = synth.BIAS
        st[synth.NZ] = 0xACE1

    def render(self, engine, buf):
        """Fill buf (a bytearray of 2 x samples, at most MAX_BLOCK) with the sound of the engine as it is,
        following on from the last block."""
        n = len(buf) >> 1
        if self._quiet(engine, n):
            synth.silence(buf, n)
            return
        self._exhaust(engine, self._st)
        self._turbo(engine, self._st, n)
        self._starter(engine, self._st)
        self._fuel(engine, n)
        synth.fill(buf, self._st, self._tab, n)

    def _quiet(self, engine, n):
        # off and at rest long enough for every ramp and pulse to end: exact silence, the state reset
        if engine.state != OFF or engine.rpm != 0:
            self._off_samples = 0
            return False
        if self._off_samples < QUIET_SAMPLES:
            self._off_samples += n
            return False
        if self._st[synth.NZ] != 0xACE1:
            self._reset()
        return True

    def _level(self, q):
        return q * self._volume_q8 >> 8

    def _exhaust(self, engine, st):
        rpm = engine.rpm
        st[synth.INC_T] = rpm * 16_384 // 10_000  # FIRE per firing interval: rpm / 40 Hz at RATE
        charge = self._charge(engine)
        self._firings(st, rpm, engine.limit_rpm, charge)
        st[synth.KLP] = KLP_DARK + ((KLP_BRIGHT - KLP_DARK) * charge >> 8)

    # apart from _exhaust: a MicroPython frame over 11 words (locals + stack) comes from the heap every block
    def _firings(self, st, rpm, limit, charge):
        # a firing's pulse amplitude without fuel (the gas pumped out) and with it
        if rpm > limit:
            rpm = limit
        gas = GAS_MIN + GAS_RPM * rpm // limit
        st[synth.AG] = self._level(gas)
        fire = (FIRE_FULL * charge >> 8) * (128 + 128 * rpm // limit) >> 8
        st[synth.AF] = self._level(gas + fire)

    def _charge(self, engine):
        # the cylinders' charge (load and boost) as a share of the most there is, q8, eased so that
        # small charges are heard
        full = self._full_charge
        if not full:
            full = self._full_charge = 256 * (P_ATM_PA + engine.turbo.full_pa) // P_ATM_PA
        c = engine.load * (P_ATM_PA + engine.turbo.boost_pa) // P_ATM_PA
        if c > full:
            c = full
        return (c * (2 * full - c) // full << 8) // full

    def _boost_q8(self, engine):
        full = engine.turbo.full_pa
        if not full or engine.state == OFF:
            return 0
        b = (engine.turbo.boost_pa >> 4) * 256 // (full >> 4)
        return b if b < 256 else 256

    def _turbo(self, engine, st, n):
        b = self._boost_q8(engine)
        st[synth.WINC_T] = (WHISTLE_FROM_HZ + (WHISTLE_SPAN_HZ * b >> 8)) * 131_072 // 125  # 2**24 / RATE
        st[synth.WG_T] = self._level(WHISTLE_FULL) * b >> 8
        if engine.blowoffs != self._blowoffs:
            if self._blowoffs >= 0:
                self._bov_left = BOV_MS * RATE // 1000
            self._blowoffs = engine.blowoffs
        if self._bov_left > 0:
            self._bov_left -= n
            st[synth.BG_T] = self._level(BOV_FULL) * b >> 8
        else:
            st[synth.BG_T] = 0

    def _starter(self, engine, st):
        if engine.state == CRANKING:
            st[synth.SINC_T] = (STARTER_HZ + engine.rpm * 3 // 2) * 131_072 // 125
            st[synth.SG_T] = self._level(STARTER_LEVEL)
        else:
            st[synth.SG_T] = 0

    def _fuel(self, engine, n):
        # which engine steps burn fuel across this block, replayed LAG steps behind the engine
        lag = (engine.steps - self._step) & COUNT_MASK
        if lag < LAG_MIN or lag > LAG_MAX:
            lag = LAG
            self._step = (engine.steps - LAG) & COUNT_MASK
        self._st[synth.FMASK] = _fuel_mask(engine.fuel_log, lag, self._frac + n)
        self._st[synth.FOFF] = self._frac
        frac = self._frac + n
        self._step = (self._step + frac // synth.STEP_SAMPLES) & COUNT_MASK
        self._frac = frac % synth.STEP_SAMPLES


def _fuel_mask(log, lag, span):
    # bit j: whether the j-th step from the block's first burned fuel (the latest known, past the log's end)
    mask = 0
    j = 0
    while j * synth.STEP_SAMPLES < span:
        k = lag - 1 - j
        mask |= ((log >> k if k > 0 else log) & 1) << j
        j += 1
    return mask
