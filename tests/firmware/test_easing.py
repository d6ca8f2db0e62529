"""Easing curves: exact endpoints, the right shapes, monotonic where they should be, symmetric in-out."""

import math

from fwtest import raises
from gullwing import easing

ONE = easing.ONE


def _reference(name, s):
    """The curves as ServoEasing / Penner define them, in floats."""
    curve, _, mode = name.partition("_")
    if curve in ("linear", "strut"):
        return easing._shape(curve, s)
    if mode == "in":
        return easing._shape(curve, s)
    if mode == "out":
        return 1 - easing._shape(curve, 1 - s)
    if s < 0.5:
        return easing._shape(curve, 2 * s) / 2
    return 1 - easing._shape(curve, 2 - 2 * s) / 2


def test_every_curve_starts_at_0_and_ends_at_one_exactly():
    assert len(easing.names()) == 2 + 6 * 3
    for name in easing.names():
        assert easing.ease(name, 0) == 0, name
        assert easing.ease(name, ONE) == ONE, name


def test_curves_follow_their_formulas_closely():
    # known values: quad_in at half time is a quarter of the way; cubic_out at half, 7/8
    assert easing.ease("quad_in", ONE // 2) == ONE // 4
    assert easing.ease("cubic_out", ONE // 2) == ONE * 7 // 8
    assert abs(easing.ease("sine_in_out", ONE // 4) - round(ONE * (1 - math.cos(math.pi / 4)) / 2)) <= 2
    for name in easing.names():
        worst = 0
        for s in range(0, ONE + 1, 13):
            expected = _reference(name, s / ONE) * ONE
            worst = max(worst, abs(easing.ease(name, s) - expected))
        # within 2 / 16384 of a move; bounce's sharp touches are rounded off by 0.3 % at most
        assert worst <= (48 if name.startswith("bounce") else 2), (name, worst)


def test_back_overshoots_and_bounce_bounces():
    back_in = [easing.ease("back_in", s) for s in range(0, ONE + 1, 64)]
    assert min(back_in) < -ONE // 12  # pulls back about 10 % before it goes
    back_out = [easing.ease("back_out", s) for s in range(0, ONE + 1, 64)]
    assert max(back_out) > ONE + ONE // 12
    bounce = [easing.ease("bounce_out", s) for s in range(0, ONE + 1, 16)]
    falls = sum(1 for i in range(1, len(bounce)) if bounce[i] < bounce[i - 1] - 8)
    assert falls >= 3  # three bounces after the first touch
    assert max(bounce) == ONE


def test_curves_are_monotonic_except_back_and_bounce():
    for name in easing.names():
        if name.partition("_")[0] not in easing.MONOTONIC:
            continue
        previous = -1
        for s in range(ONE + 1):
            value = easing.ease(name, s)
            assert value >= previous, (name, s)
            previous = value


def test_in_out_is_symmetric_about_half_time():
    for curve in easing.CURVES[1:]:
        name = curve + "_in_out"
        assert easing.ease(name, ONE // 2) == ONE // 2, name
        for s in range(0, ONE + 1, 7):
            assert easing.ease(name, s) + easing.ease(name, ONE - s) == ONE, (name, s)


def test_out_mirrors_in():
    for curve in easing.CURVES[1:]:
        for s in range(0, ONE + 1, 41):
            assert easing.ease(curve + "_out", s) == ONE - easing.ease(curve + "_in", ONE - s), (curve, s)


def test_slope_is_the_speed_of_the_curve():
    for name in ("linear", "quad_in", "cubic_out", "sine_in_out", "strut", "back_out"):
        table, mode = easing.lookup(name)
        for s in range(200, ONE - 200, 997):
            numeric = (easing.value(table, mode, s + 64) - easing.value(table, mode, s - 64)) * ONE // 128
            assert abs(easing.slope(table, mode, s) - numeric) <= ONE // 20, (name, s)
    table, mode = easing.lookup("quad_out")
    assert abs(easing.slope(table, mode, 0) - 2 * ONE) <= ONE // 100  # quad_out starts at twice the average


def test_strut_lifts_quickly_and_slows_gently():
    # a quarter of the time in, the door is already more than a third of the way (quad_in_out: 1/8)
    assert easing.ease("strut", ONE // 4) > ONE // 3
    # the last fifth of the time covers about 2 % of the way: a gentle arrival
    assert ONE - easing.ease("strut", ONE * 4 // 5) < ONE * 3 // 100
    table, mode = easing.lookup("strut")
    assert easing.slope(table, mode, 0) < ONE // 8  # starts from rest
    assert 0 < easing.slope(table, mode, ONE) <= ONE // 8  # arrives slowly, but arrives on time


def test_unknown_curves_are_refused_by_name():
    for bad in ("cubic", "cubic_sideways", "elastic_in", "", None, "in_out"):
        with raises(ValueError, "unknown easing curve " + repr(bad)):
            easing.lookup(bad)
