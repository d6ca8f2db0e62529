"""Move planner: where a door is at any instant of a move, computed from the elapsed time alone.

Pure and integer-only. Positions are centidegrees (cdeg, 1/100 degree: finer than the servo's 0.3 us
duty step), speeds cdeg per second, times milliseconds. A move is one segment, or two when it ends
in a creep (the soft close). Each segment is

    p(t) = p0 + span * E(s) + drift * s + amp * h(t / blend)        s = t / duration

where E is an easing curve, `drift` leaves the segment at a set speed (the creep speed) and the last
term is a blend h(u) = u (1 - u)^3 that starts with slope 1 and fades out with no slope and no
curvature left: it makes the segment start at the door's current speed, so a new target mid-travel
(even a reversal) bends the motion without a jump in position or speed. docs/doors.md explains it.

Every product in `position()` stays below 2**30 (MicroPython's small-int limit on the ESP32), so the
control tick allocates nothing: travel <= 180 deg, durations <= MAX_MS, blends <= MAX_BLEND_MS and
speeds clamped to MAX_SPEED.

Times are time.ticks_ms() values, compared with time.ticks_diff and advanced with time.ticks_add:
pure arithmetic on the port's own wrap (2**30 on the ESP32, wider elsewhere), which is the only
thing this module takes from `time`; it never reads the clock.
"""

from time import ticks_add, ticks_diff

from gullwing import easing

ONE = easing.ONE
SHIFT = easing.SHIFT
MAX_MS = 60_000  # longest segment: MAX_MS * ONE < 2**30
MAX_BLEND_MS = 1_000
MIN_BLEND_MS = 200  # ten servo frames: even a small change of speed is eased in
MAX_SPEED = 100_000  # cdeg/s: beyond any hobby servo (600 deg/s at most)
_LINEAR = easing.lookup("linear")
_STOP_CURVE = easing.lookup("cubic_out")


def _blend(u):
    """h(u) = u (1 - u)^3 in fixed point (0 <= u <= ONE), at most 27/256 ONE. A function of its own
    keeps the tick's frames small: a MicroPython frame over 11 words is allocated on the heap."""
    rest = ONE - u
    h = (u * rest) >> SHIFT
    h = (h * rest) >> SHIFT
    return (h * rest) >> SHIFT


def _clamp(x, lo, hi):
    return lo if x < lo else hi if x > hi else x


def blend_ms(speed_change, accel):
    """How long to take to absorb `speed_change` (cdeg/s) at about `accel` (cdeg/s^2) at peak."""
    return _clamp(6000 * abs(speed_change) // accel, MIN_BLEND_MS, MAX_BLEND_MS)  # h''(0) = -6


def _room_ms(speed, room):
    # a door moving at `speed` carries on for up to 27/256 x speed x blend time before it turns
    # (the peak of h): a door heading for a limit must turn within `room`
    if speed == 0:
        return MAX_BLEND_MS
    return max(1, room * 256_000 // (27 * abs(speed)))


class Segment:
    """One eased stretch of a move. Fields are set by `plan` and read by the tick."""

    def __init__(self):
        self.dur = 1
        self.p0 = 0
        self.span = 0
        self.drift = 0
        self.table, self.mode = _LINEAR
        self.blend = 1
        self.amp = 0  # blend height: start speed correction x blend / 1000, cdeg
        self.kick = 0  # start speed correction, cdeg/s

    def plan(self, p0, v0, p1, dur, curve, v1, accel, lo, hi):
        """From p0 at speed v0 to p1 in `dur` ms along `curve` ((table, mode)), leaving at about v1."""
        self.dur = dur
        self.p0 = p0
        self.drift = v1 * dur // 1000
        self.span = p1 - p0 - self.drift
        self.table, self.mode = curve
        self.kick = kick = _clamp(v0 - self._base_speed(0), -MAX_SPEED, MAX_SPEED)
        room = (hi - p0) if v0 > 0 else (p0 - lo)
        self.blend = min(dur, blend_ms(kick, accel), _room_ms(v0, room))
        self.amp = kick * self.blend // 1000

    def _base_speed(self, t):
        s = t * ONE // self.dur
        return (self.span * easing.slope(self.table, self.mode, s) // ONE + self.drift) * 1000 // self.dur

    def position(self, t):
        """cdeg at `t` ms into the segment, 0 <= t <= dur. The tick calls this: integers only."""
        s = t * ONE // self.dur
        # one sum, one rounding: |span*E + drift*s| <= 18000 x 1.1 ONE, |amp x h| <= 100000 x 27/256 ONE
        q = self.span * easing.value(self.table, self.mode, s) + self.drift * s
        if t < self.blend:
            q += self.amp * _blend(t * ONE // self.blend)
        return self.p0 + ((q + (ONE >> 1)) >> SHIFT)

    def speed(self, t):
        """cdeg/s at `t` ms into the segment."""
        v = self._base_speed(t)
        if t < self.blend:
            u = t * ONE // self.blend
            rest = ONE - u
            v += self.kick * rest * rest * (ONE - 4 * u) // (ONE * ONE * ONE)  # h'(u) = (1 - u)^2 (1 - 4u)
        return v


class Motion:
    """A door's motion: at rest at `pos`, or on a planned move of one or two segments."""

    def __init__(self, pos, lo, hi):
        self.lo = lo
        self.hi = hi
        self.pos = pos
        self.target = pos
        self.phases = 0  # segments in the current move; 0 at rest
        self.waiting = False  # the move starts later (a staggered door)
        self.t0 = 0  # ticks_ms at which the move starts
        self.total = 0  # ms the move takes
        self.first = Segment()
        self.second = Segment()

    # -- the tick --------------------------------------------------------------------------------

    def position(self, now):
        """Position at ticks_ms `now`, for the tick: also ends the move once its time is up."""
        if self.phases:
            t = ticks_diff(now, self.t0)
            self.waiting = t < 0
            self.pos = self.at(now)
            if t >= self.total:
                self.phases = 0
        return self.pos

    def at(self, now):
        """Position at ticks_ms `now`, changing nothing."""
        if not self.phases:
            return self.pos
        t = ticks_diff(now, self.t0)
        if t < 0:
            t = 0
        seg = self.first
        if t >= seg.dur:
            t -= seg.dur
            seg = self.second
            if self.phases == 1 or t >= seg.dur:
                return self.target
        pos = seg.position(t)
        return self.lo if pos < self.lo else self.hi if pos > self.hi else pos

    # -- planning (commands: may allocate) -------------------------------------------------------

    def speed(self, now):
        """cdeg/s at ticks_ms `now` (0 at rest or before a staggered start)."""
        if not self.phases:
            return 0
        t = ticks_diff(now, self.t0)
        if t < 0:
            return 0
        if t < self.first.dur:
            return self.first.speed(t)
        t -= self.first.dur
        if self.phases == 2 and t < self.second.dur:
            return self.second.speed(t)
        return 0

    def halt(self, now):
        """Rest where the door is now (cancels a move that has not started yet)."""
        self.pos = self.target = self.at(now)
        self.phases = 0
        self.waiting = False

    def move(self, now, target, dur, curve, accel, creep=0, creep_speed=0, creep_curve=_LINEAR, delay=0):
        """Plan a move to `target` taking `dur` ms, from the position and speed at `now`. With `creep`,
        the last `creep` cdeg are covered slowly (at about `creep_speed`) along `creep_curve`."""
        p0 = self.at(now)
        v0 = self.speed(now)
        target = _clamp(target, self.lo, self.hi)
        dur = _clamp(dur, 1, MAX_MS)
        self.t0 = ticks_add(now, delay)
        self.target = target
        self.waiting = delay > 0
        direction = 1 if target > p0 else -1
        travel = abs(target - p0) - creep  # what is left before the creep
        creep_ms = v_creep = 0
        if creep and travel <= 0:
            curve = creep_curve  # already in the creep zone: all of it slowly
        elif creep and dur >= 2:
            creep_ms = _creep_ms(creep, creep_speed, creep_curve, dur)
            v_creep = creep * easing.slope(creep_curve[0], creep_curve[1], 0) * 1000 // (ONE * creep_ms)
            if v_creep * (dur - creep_ms) >= travel * 1000:
                creep_ms = 0  # a move slower than the creep: one eased segment is gentle enough
        first = self.first
        if creep_ms:
            # to the creep point arriving at creep speed, then the creep: each one-directional
            middle = target - direction * creep
            first.plan(p0, v0, middle, dur - creep_ms, curve, direction * v_creep, accel, self.lo, self.hi)
            self.second.plan(middle, first.speed(first.dur), target, creep_ms, creep_curve, 0, accel,
                             self.lo, self.hi)
            self.phases = 2
        else:
            first.plan(p0, v0, target, dur, curve, 0, accel, self.lo, self.hi)
            self.phases = 1
        self.total = dur

    def stop(self, now, accel, dur=None):
        """Come to rest smoothly: in `dur` ms, or as soon as about `accel` cdeg/s^2 allows."""
        v0 = self.speed(now)
        if v0 == 0:
            self.halt(now)
            return
        if dur is None:
            dur = _clamp(2000 * abs(v0) // accel, MIN_BLEND_MS, MAX_BLEND_MS)
        # cubic_out starts at three times its average speed and eases to rest
        self.move(now, self.at(now) + v0 * dur // 3000, dur, _STOP_CURVE, accel)


def _creep_ms(creep, creep_speed, curve, dur):
    """Time for the creep: the creep curve starts at `creep_speed`, but takes at most half the move."""
    ms = creep * easing.slope(curve[0], curve[1], 0) * 1000 // (ONE * creep_speed)
    return max(1, min(ms, dur // 2))
