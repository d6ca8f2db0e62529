"""Easing curves as integer tables: fraction of a move done (0..ONE) for fraction of its time (0..ONE).

The vocabulary is ServoEasing's: linear, sine, quad, cubic, quart, back and bounce, each as `_in`
(starts slowly), `_out` (ends slowly) and `_in_out`, plus `strut`, the door's own opening curve. Only
the `_in` shape of each curve is tabulated (257 points scaled to ONE, built once on first use, with
floats); `_out` and `_in_out` are read from it by mirroring, so a curve costs 514 bytes. Reading a
curve is integer-only and allocates nothing, so the control tick can call `value` and `slope`.
"""

import math
from array import array

SHIFT = 14
ONE = 1 << SHIFT  # a whole move, in fraction of time and of distance
HALF = ONE >> 1
_SEGS = 256  # table intervals
_STEP_SHIFT = SHIFT - 8  # fraction bits within one interval (ONE / _SEGS = 64)
_STEP_MASK = (1 << _STEP_SHIFT) - 1

IN = 0
OUT = 1
IN_OUT = 2
_MODES = {"in": IN, "out": OUT, "in_out": IN_OUT}

_BACK = 1.70158  # ServoEasing's and Penner's overshoot constant (about 10 %)
STRUT_ARRIVAL = 0.1  # the strut's speed at the end of travel, as a share of its average speed


def _bounce_out(s):
    if s < 1 / 2.75:
        return 7.5625 * s * s
    if s < 2 / 2.75:
        s -= 1.5 / 2.75
        return 7.5625 * s * s + 0.75
    if s < 2.5 / 2.75:
        s -= 2.25 / 2.75
        return 7.5625 * s * s + 0.9375
    s -= 2.625 / 2.75
    return 7.5625 * s * s + 0.984375


def _shape(name, s):
    """The `_in` form of each curve in floats: 0 at s=0, 1 at s=1."""
    if name == "linear":
        return s
    if name == "sine":
        return 1 - math.cos(s * math.pi / 2)
    if name == "quad":
        return s * s
    if name == "cubic":
        return s * s * s
    if name == "quart":
        return s * s * s * s
    if name == "back":
        return (_BACK + 1) * s * s * s - _BACK * s * s
    if name == "bounce":
        return 1 - _bounce_out(1 - s)
    # strut: like the car's KYB gas struts, a quick lift (top speed a quarter of the way in) that
    # slows gently until the strut reaches its end of travel, arriving at a tenth of the average
    # speed rather than creeping (the s^2 share adds that, and nothing at the start): the door
    # settles when the move says, not frames before it
    return (1 - STRUT_ARRIVAL / 2) * (1 - (1 - s) ** 4 * (1 + 4 * s)) + STRUT_ARRIVAL / 2 * s * s


CURVES = ("linear", "sine", "quad", "cubic", "quart", "back", "bounce")
MONOTONIC = ("linear", "sine", "quad", "cubic", "quart", "strut")  # back overshoots, bounce bounces
_tables = {}


def _table(curve):
    table = _tables.get(curve)
    if table is None:
        table = array("h", [round(_shape(curve, i / _SEGS) * ONE) for i in range(_SEGS + 1)])
        table[0] = 0  # exact endpoints whatever the float rounding
        table[_SEGS] = ONE
        table.append(ONE)  # pad: reading at s == ONE needs no special case
        _tables[curve] = table
    return table


def names():
    """Every curve name `lookup` accepts."""
    out = ["linear", "strut"]
    for curve in CURVES[1:]:
        for mode in ("in", "out", "in_out"):
            out.append(curve + "_" + mode)
    return out


def lookup(name):
    """(table, mode) of a curve name such as "cubic_in_out"; ValueError names an unknown one."""
    if name in ("linear", "strut"):
        return _table(name), IN
    if isinstance(name, str):
        for mode in ("in_out", "in", "out"):  # in_out first: "x_in_out" also ends in "_out"
            curve = name[:-len(mode) - 1]
            if name.endswith("_" + mode) and curve in CURVES[1:]:
                return _table(curve), _MODES[mode]
    raise ValueError("unknown easing curve " + repr(name) + "; use linear, strut or a curve "
                     "(" + ", ".join(CURVES[1:]) + ") with _in, _out or _in_out")


def _read(table, s):
    i = s >> _STEP_SHIFT
    a = table[i]
    return a + (((table[i + 1] - a) * (s & _STEP_MASK)) >> _STEP_SHIFT)


def value(table, mode, s):
    """Fraction of the distance (ONE = all) at fraction `s` of the time, 0 <= s <= ONE."""
    if mode == IN:
        return _read(table, s)
    if mode == OUT:
        return ONE - _read(table, ONE - s)
    if s < HALF:
        return _read(table, s << 1) >> 1
    return ONE - (_read(table, (ONE - s) << 1) >> 1)


def _slope(table, s):
    # three-point difference at the nearest table point (one-sided at the ends): exact for
    # quadratics, so a curve that starts at rest reads as starting at rest
    i = (s + (1 << (_STEP_SHIFT - 1))) >> _STEP_SHIFT
    if i == 0:
        d = 4 * table[1] - table[2] - 3 * table[0]
    elif i >= _SEGS:
        d = 3 * table[_SEGS] - 4 * table[_SEGS - 1] + table[_SEGS - 2]
    else:
        d = table[i + 1] - table[i - 1]
    return d << (SHIFT - _STEP_SHIFT - 1)  # per two intervals -> per unit of s


def slope(table, mode, s):
    """d value / d s at `s`, scaled so that ONE is the average speed of the move."""
    if mode == IN:
        return _slope(table, s)
    if mode == OUT:
        return _slope(table, ONE - s)
    if s < HALF:
        return _slope(table, s << 1)
    return _slope(table, (ONE - s) << 1)


def ease(name, s):
    """value() by name: for tests and tools, not for the tick."""
    table, mode = lookup(name)
    return value(table, mode, s)
