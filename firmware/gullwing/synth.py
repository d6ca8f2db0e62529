"""The sound's sample kernel: one block of 16-bit samples from the voice's state words (see sound.py).

Viper on MicroPython (machine words, no heap), the same source as plain Python under CPython (the
simulator's `micropython` module provides the decorator and the ptr casts), producing the same samples:
every intermediate stays within +-2**31 (the chip's 32-bit word; a 64-bit host would not wrap), every
word loaded from `st` is kept in 0..2**31-1 (a 64-bit host zero-extends a ptr32 load, the chip does not),
and no division by a negative (viper and Python both floor, but a ramp must not overshoot).

Layout: `st` is an array('i') of the state words below; `tab` an array('H') of the tables, each entry
biased by +32768; `out` a bytearray of 2 * n bytes, little-endian signed samples as I2S takes them.
"""

import micropython
from micropython import const

# state words (indices into st); "_T" words are targets the voice sets per block, reached by the end of it
PH = const(0)  # crank phase in the 720-degree cycle, FIRE per 240 degrees
NXT = const(1)  # phase of the next firing
CYL = const(2)  # the cylinder that fires next, 0-2
INC = const(3)  # crank phase per sample
INC_T = const(4)
P0 = const(5)  # sample index into each cylinder's pulse (PULSE_LEN: done)
P1 = const(6)
P2 = const(7)
A0 = const(8)  # each cylinder's pulse amplitude, q13
A1 = const(9)
A2 = const(10)
AF = const(11)  # amplitude of a firing that burns fuel, q13
AG = const(12)  # ... of one that does not (cranking, cut, spin-down): the gas pumped out
FMASK = const(13)  # fuel per engine step across this block (bit j: step j), see sound.py
FOFF = const(14)  # samples of the block's first step already played before the block
LP = const(15)  # exhaust low-pass state + BIAS
KLP = const(16)  # its coefficient, q12 (brightness)
WPH = const(17)  # whistle phase, 24 bits
WINC = const(18)
WINC_T = const(19)
WG = const(20)  # whistle gain, q15
WG_T = const(21)
SPH = const(22)  # starter phase, 24 bits
SINC = const(23)
SINC_T = const(24)
SG = const(25)  # starter gain, q15
SG_T = const(26)
NZ = const(27)  # blow-off noise generator (16-bit Galois LFSR), never 0
BL = const(28)  # blow-off noise low-pass state + BIAS (its high-pass is noise - BL)
BG = const(29)  # blow-off gain, q14
BG_T = const(30)
WORDS = const(31)

BIAS = const(1 << 29)  # signed states are stored as value + BIAS (|value| < 2**29)
FIRE = const(1 << 20)  # crank phase per 240 degrees: one firing interval
CYCLE = const(3 << 20)  # 720 degrees, the whole cycle of a four-stroke triple
STEP_SAMPLES = const(80)  # samples per engine step (5 ms at 16 kHz)
# the triple's unevenness: firings 0, 0.5 and 1 degree late of their 240 (parts of FIRE) and strengths (q8)
LATE1 = const(2185)  # half a degree
LATE2 = const(4369)  # a degree
STRENGTH0 = const(256)
STRENGTH1 = const(244)
STRENGTH2 = const(250)

# tables (offsets into tab)
SINE = const(0)  # 256 entries, one cycle
BUZZ = const(256)  # 256 entries, the starter motor's waveform
PULSE = const(512)  # each cylinder's exhaust pulse, PULSE_LEN entries apiece
PULSE_LEN = const(144)  # 9 ms: ends before the cylinder fires again below 13,000 rpm
TABLE_LEN = const(944)
PEAK = const(32767)


@micropython.viper
def _ramp(cur: int, target: int, n: int) -> int:
    # the per-sample step from cur towards target over n samples, rounded towards zero (no overshoot)
    if target >= cur:
        return (target - cur) // n
    return 0 - (cur - target) // n


@micropython.viper
def fill(out, st, tab, n: int):
    """Write n samples to out, advancing the state words in st."""
    o = ptr16(out)  # noqa: F821 (viper built-in)
    s = ptr32(st)  # noqa: F821 (viper built-in)
    t = ptr16(tab)  # noqa: F821 (viper built-in)
    ph = int(s[PH])
    nxt = int(s[NXT])
    cyl = int(s[CYL])
    inc = int(s[INC])
    dinc = int(_ramp(inc, int(s[INC_T]), n))
    p0 = int(s[P0])
    p1 = int(s[P1])
    p2 = int(s[P2])
    a0 = int(s[A0])
    a1 = int(s[A1])
    a2 = int(s[A2])
    af = int(s[AF])
    ag = int(s[AG])
    fmask = int(s[FMASK])
    foff = int(s[FOFF])
    lp = int(s[LP]) - BIAS
    klp = int(s[KLP])
    wph = int(s[WPH])
    winc = int(s[WINC])
    dwinc = int(_ramp(winc, int(s[WINC_T]), n))
    wg = int(s[WG])
    dwg = int(_ramp(wg, int(s[WG_T]), n))
    sph = int(s[SPH])
    sinc = int(s[SINC])
    dsinc = int(_ramp(sinc, int(s[SINC_T]), n))
    sg = int(s[SG])
    dsg = int(_ramp(sg, int(s[SG_T]), n))
    nz = int(s[NZ])
    bl = int(s[BL]) - BIAS
    bg = int(s[BG])
    dbg = int(_ramp(bg, int(s[BG_T]), n))
    for i in range(n):
        # the crank: a firing every 240 degrees, each cylinder a little late or weak in its own way
        ph += inc
        inc += dinc
        if ph >= nxt:
            amp = ag
            if (fmask >> ((i + foff) // STEP_SAMPLES)) & 1:
                amp = af
            if cyl == 0:  # at the end of the cycle: the phase starts the next
                a0 = (amp * STRENGTH0) >> 8
                p0 = 0
                ph -= CYCLE
                nxt = FIRE + LATE1
                cyl = 1
            elif cyl == 1:
                a1 = (amp * STRENGTH1) >> 8
                p1 = 0
                nxt = 2 * FIRE + LATE2
                cyl = 2
            else:
                a2 = (amp * STRENGTH2) >> 8
                p2 = 0
                nxt = CYCLE
                cyl = 0
        # the exhaust: each cylinder's pulse, through a low-pass that opens with load
        x = 0
        if p0 < PULSE_LEN:
            x += (int(t[PULSE + p0]) - 32768) * a0
            p0 += 1
        if p1 < PULSE_LEN:
            x += (int(t[PULSE + PULSE_LEN + p1]) - 32768) * a1
            p1 += 1
        if p2 < PULSE_LEN:
            x += (int(t[PULSE + 2 * PULSE_LEN + p2]) - 32768) * a2
            p2 += 1
        x >>= 13
        lp += ((x - lp) * klp) >> 12
        v = lp
        # the turbo's whistle
        if wg != 0 or dwg != 0:
            wph = (wph + winc) & 0xFFFFFF
            v += ((int(t[SINE + (wph >> 16)]) - 32768) * wg) >> 15
            wg += dwg
            winc += dwinc
        # the starter, slowed by each compression
        if sg != 0 or dsg != 0:
            m = int(t[SINE + ((ph >> 12) & 255)]) - 32768
            sph = (sph + sinc + (sinc >> 8) * (m >> 11)) & 0xFFFFFF
            v += ((int(t[BUZZ + (sph >> 16)]) - 32768) * sg) >> 15
            sg += dsg
            sinc += dsinc
        # the blow-off valve: high-passed noise
        if bg != 0 or dbg != 0:
            if nz & 1:
                nz = (nz >> 1) ^ 0xB400
            else:
                nz >>= 1
            w = nz - 32768
            bl += (w - bl) >> 2
            v += ((w - bl) * bg) >> 14
            bg += dbg
        if v > PEAK:
            v = PEAK
        elif v < 0 - PEAK:
            v = 0 - PEAK
        o[i] = v & 0xFFFF
    s[PH] = ph
    s[NXT] = nxt
    s[CYL] = cyl
    s[INC] = int(s[INC_T])
    s[P0] = p0
    s[P1] = p1
    s[P2] = p2
    s[A0] = a0
    s[A1] = a1
    s[A2] = a2
    s[LP] = lp + BIAS
    s[WPH] = wph
    s[WINC] = int(s[WINC_T])
    s[WG] = int(s[WG_T])
    s[SPH] = sph
    s[SINC] = int(s[SINC_T])
    s[SG] = int(s[SG_T])
    s[NZ] = nz
    s[BL] = bl + BIAS
    s[BG] = int(s[BG_T])


@micropython.viper
def silence(out, n: int):
    """Write n zero samples."""
    o = ptr16(out)  # noqa: F821 (viper built-in)
    for i in range(n):
        o[i] = 0
