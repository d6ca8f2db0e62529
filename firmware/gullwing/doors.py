"""The gullwing doors: each door's state machine over the move planner, and the pair that moves both.

Angles in this API are degrees of door opening: 0 is closed, the calibration's `open_deg` fully open.
Commands take `now` (time.ticks_ms()) and validate everything before changing anything: a bad value
raises ValueError naming it, and the doors carry on as they were. `tick(now)`, every servo frame,
advances the moves and writes the servos without allocating. Like motion, it takes only ticks_diff
from `time` (arithmetic on the port's wrap; the clock is never read here). Arrivals are counted in `arrived`
(the app compares it with the count it last saw); `state`, one of the constants below, is read from
the motion itself (where the door is and where its move takes it), so it cannot disagree with it.
"""

from time import ticks_diff

from gullwing import easing, motion, schema

CLOSED = "closed"
OPENING = "opening"
OPEN = "open"
CLOSING = "closing"
STOPPED = "stopped"
SIDES = ("left", "right", "both")
VERBS = ("open", "close", "toggle", "stop", "to")
MIN_MS = 20  # one servo frame
MAX_MS = motion.MAX_MS
RELEASE_GAP_MS = 21  # duty 0 latches within one 20 ms frame; +1 for the tick's ms rounding
COUNT_MASK = 0x3FFFFFFF  # counters wrap within the ESP32's small ints: compare them with !=, never add

# the servo's release after a door settles
_KEEP = 0  # nothing to do: holding for good, or released
_COUNTDOWN = 1  # holding, released after hold_ms
_QUIET = 2  # duty 0 written, output stopped a frame later


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _range_error(what, value, lo, hi, unit):
    return ValueError(what + " must be " + schema.span(lo, hi, unit) + ", got " + repr(value)[:24])


def _scaled(what, value, lo, hi, unit, scale):
    """`value` (a number, fractions allowed) checked, times `scale`, as an integer (the tick must see no
    floats)."""
    if not _number(value) or not lo <= value <= hi:
        raise _range_error(what, value, lo, hi, unit)
    return int(round(value * scale))


def _check_no_angle(verb, deg):
    if deg is not None:
        raise ValueError("door " + str(verb) + " takes no angle, got " + repr(deg))


def check_ms(ms):
    """A move time in ms, or None for the profile's own speed."""
    if ms is None:
        return None
    return schema.whole("move time", ms, MIN_MS, MAX_MS, "ms")


class Profile:
    """How a door travels one way: an easing curve at an average `speed` (deg/s); with `creep_deg`,
    the last degrees before the closed stop are covered slowly, at about `creep_speed` (deg/s),
    easing to rest along `creep_curve`."""

    def __init__(self, curve="sine_in_out", speed=45, creep_deg=0, creep_speed=8, creep_curve="sine_out"):
        self.curve = easing.lookup(curve)
        self.creep_curve = easing.lookup(creep_curve)
        self.speed = _scaled("profile speed", speed, 1, 600, "deg/s", 100)
        self.creep = _scaled("creep distance", creep_deg, 0, 30, "deg", 100)
        self.creep_speed = _scaled("creep speed", creep_speed, 1, 90, "deg/s", 100)

    def duration_ms(self, distance, soft):
        """Time to cover `distance` cdeg at this profile's speeds (with the creep when `soft`)."""
        creep = min(distance, self.creep) if soft else 0
        creep_ms = 0
        if creep:
            table, mode = self.creep_curve
            creep_ms = creep * easing.slope(table, mode, 0) * 1000 // (easing.ONE * self.creep_speed)
        return (distance - creep) * 1000 // self.speed + creep_ms


# Opening lifts quickly and slows gently before fully open, like the car's gas struts; the servo
# works hardest at the start, against gravity. Closing runs with gravity: the servo brakes the door,
# slows it to a creep a few degrees above the stop and lets it settle there without overshoot.
OPENING_PROFILE = Profile("strut", speed=60)
CLOSING_PROFILE = Profile("sine_in_out", speed=45, creep_deg=4, creep_speed=8)


class Door:
    """One door. `servo` is a servo.Servo (or anything with its methods)."""

    def __init__(self, name, servo, opening=OPENING_PROFILE, closing=CLOSING_PROFILE, hold_ms=1000,
                 hold_open=True, accel=600):
        self.name = name
        self.servo = servo
        self.opening = opening
        self.closing = closing
        self.hold_ms = None if hold_ms is None else schema.check(schema.DOORS, "hold_ms", hold_ms, "doors.")
        self.hold_open = bool(hold_open)  # a door resting open keeps its servo driving (against gravity)
        self.accel = _scaled("acceleration", accel, 50, 10_000, "deg/s^2", 100)
        self.limit = servo.cal.open_cdeg
        self.motion = motion.Motion(0, 0, self.limit)
        self.arrived = 0  # moves finished so far (wrapping at COUNT_MASK): the app's arrival events
        self.known = False  # position known (restored or driven since boot)
        self._heading = -1  # direction of the last move: toggle from "stopped" reverses it
        self._release = _KEEP
        self._since = 0

    # -- commands --------------------------------------------------------------------------------

    def target_of(self, verb, deg=None):
        """Target (cdeg) a command would move to; validates and changes nothing."""
        if verb not in VERBS or verb == "stop":
            raise ValueError("unknown door command " + repr(verb) + "; use open, close, toggle, stop or to")
        if verb == "to":
            top = self.limit // 100
            if isinstance(deg, (int, float)) and not isinstance(deg, bool) and 0 <= deg <= top:
                return round(deg * 100)
            raise _range_error("door angle", deg, 0, top, "deg")
        _check_no_angle(verb, deg)
        if verb == "open":
            return self.limit
        if verb == "close":
            return 0
        return 0 if self.heads_up() else self.limit

    def heads_up(self):
        """Whether the door is open or on its way up (what toggle reverses)."""
        if self.state in (OPEN, OPENING):
            return True
        return self.state == STOPPED and self._heading > 0

    def command(self, now, verb, deg=None, ms=None):
        """open | close | toggle | stop | to (deg), taking `ms` or the profile's speed."""
        check_ms(ms)
        if verb == "stop":
            _check_no_angle(verb, deg)
            self.stop(now, ms)
            return
        self.go(now, self.target_of(verb, deg), ms)

    def default_ms(self, now, target):
        """Move time at the profile's speed from where the door is at `now`, with time to turn."""
        pos = self.motion.at(now)
        profile = self.opening if target > pos else self.closing
        turn = motion.blend_ms(self.motion.speed(now), self.accel)
        return min(MAX_MS, max(MIN_MS, profile.duration_ms(abs(target - pos), target == 0), 2 * turn))

    def go(self, now, target, ms=None, delay=0):
        """Move to `target` (cdeg, already checked) in `ms` (None: profile speed), starting `delay`
        ms from now. A door already there and not moving moves nothing, whatever the time asked."""
        self.tick(now)  # a move due to end by now ends first (and counts as arrived)
        m = self.motion
        pos = m.at(now)
        if target == pos and (m.waiting or not m.phases):
            if m.phases:  # a staggered start not yet begun, to elsewhere: dropped
                m.halt(now)
                self._rest(now)
            if not self.known:  # first command after boot: drive the position assumed
                self.servo.write(pos)
                self._settle(now)
            return
        if target == m.target and m.phases and ms is None:
            return  # on the way: carry on undisturbed
        if ms is None:
            ms = self.default_ms(now, target)
        profile = self.opening if target > pos else self.closing
        creep = profile.creep if target == 0 else 0
        m.move(now, target, ms, profile.curve, self.accel, creep, profile.creep_speed, profile.creep_curve,
               delay)
        self._heading = 1 if target > pos else -1
        self._release = _KEEP

    def stop(self, now, ms=None):
        """Come to rest with a smooth deceleration (in `ms`, else as `accel` allows); a staggered
        start not yet begun is dropped, and a door not moving at this instant rests where it is."""
        self.tick(now)
        m = self.motion
        if not m.phases:
            return
        if m.waiting:
            m.halt(now)
        else:
            m.stop(now, self.accel, ms)  # halts at once when the door has no speed to lose
        if not m.phases:
            self._rest(now)

    def restore(self, pulse_ns):
        """At boot: the servo holds `pulse_ns` (the rest last saved, restsave). Nothing is driven
        until the first command, whose first pulse is exactly this one."""
        self._rest_at(pulse_ns)
        self.known = True

    def recalibrate(self, cal):
        """A new servo.Calibration, taken at rest: the door keeps the pulse it holds (within the new
        range) and reads its angle from it."""
        if self.moving:
            raise RuntimeError("door " + self.name + " is moving")
        self.servo.cal = cal
        self.limit = cal.open_cdeg
        if self.servo.driving:  # a pulse outside the new range is brought inside at once
            self.servo.drive(self.servo.pulse)
        self._rest_at(self.servo.pulse)

    def jog(self, ns):
        """Calibration: drive the servo straight to pulse `ns` (kept within the calibrated range)
        and hold it there, not released, until the next command."""
        if self.moving:
            raise RuntimeError("door " + self.name + " is moving")
        self.servo.drive(ns)
        self._rest_at(self.servo.pulse)
        self._release = _KEEP
        self.known = True

    def _rest_at(self, ns):
        self.servo.hold(ns)
        pos = self.servo.cal.angle_cdeg(self.servo.pulse)
        self.motion = motion.Motion(pos, 0, self.limit)

    # -- the tick --------------------------------------------------------------------------------

    def tick(self, now):
        """Advance the move and drive the servo; release it once settled. No allocation while moving."""
        m = self.motion
        if m.phases:
            pos = m.position(now)
            if not m.waiting:
                self.servo.write(pos)
            if not m.phases:
                self._settle(now)
        elif self._release:
            self._release_step(now)

    def _settle(self, now):
        self.arrived = (self.arrived + 1) & COUNT_MASK
        self.known = True
        self._rest(now)

    def _rest(self, now):
        # at rest: the release countdown starts
        self._since = now
        self._release = _COUNTDOWN if self._releases(self.motion.pos) else _KEEP

    def _releases(self, pos):
        return self.hold_ms is not None and (pos == 0 or not self.hold_open)

    def _release_step(self, now):
        wait = RELEASE_GAP_MS if self._release != _COUNTDOWN or self.hold_ms is None else self.hold_ms
        if ticks_diff(now, self._since) < wait:
            return
        if self._release == _COUNTDOWN:
            self.servo.quiet()  # the pulse in flight completes; none follows
            self._release = _QUIET
            self._since = now
        else:
            self.servo.detach()
            self._release = _KEEP

    # -- reports ---------------------------------------------------------------------------------

    @property
    def state(self):
        """What the motion says: heading up (opening) or down (closing) while a move takes the door
        elsewhere, waiting out a staggered start included; at rest, closed at 0, open at the limit,
        stopped between. A door held at a stop until its move's time is up (a clipped overshoot)
        is closed or open; one passing through its target (returning from an overshoot) keeps the
        move's heading."""
        m = self.motion
        pos = m.pos
        if m.phases:
            if m.target != pos:
                return OPENING if m.target > pos else CLOSING
            if 0 < pos < self.limit:
                return OPENING if self._heading > 0 else CLOSING
        return CLOSED if pos <= 0 else OPEN if pos >= self.limit else STOPPED

    @property
    def moving(self):
        return self.motion.phases != 0

    @property
    def cal(self):
        """The servo.Calibration in force."""
        return self.servo.cal

    @property
    def pulse(self):
        """The pulse (ns) the servo holds: the door's rest position when it is not moving."""
        return self.servo.pulse

    def status(self):
        """State and angle (deg); the target too while the door moves towards it."""
        out = {"state": self.state, "angle": (self.motion.pos + 50) // 100}
        if self.moving:
            out["target"] = (self.motion.target + 50) // 100
        return out


class DoorPair:
    """Both doors. Together (default): the right door starts `stagger_ms` after the left, so two
    servos never start at the same instant, and both finish in the same tick. Staggered
    (`together=False`): the right door follows `stagger_ms` behind. With a `store` (store.Store),
    the rest pulses saved there are restored at construction; the pair never writes it (restsave
    does, off the tick)."""

    def __init__(self, left, right, store=None, together=True, stagger_ms=40):
        self.left = left
        self.right = right
        self.together = bool(together)
        self.stagger_ms = schema.check(schema.DOORS, "stagger_ms", stagger_ms, "doors.")
        if store is not None:
            self.restore(store.load_dict() or {})

    def side(self, name):
        """The door on side `name` ("left" or "right")."""
        if name == "both":
            raise ValueError("one door: left or right")
        return self._doors(name)[0]

    def retime(self, together, stagger_ms, hold_ms):
        """New timings (the doors' settings), checked first: nothing changes on a bad one."""
        stagger_ms = schema.check(schema.DOORS, "stagger_ms", stagger_ms, "doors.")
        hold_ms = schema.check(schema.DOORS, "hold_ms", hold_ms, "doors.")
        self.together = bool(together)
        self.stagger_ms = stagger_ms
        self.left.hold_ms = self.right.hold_ms = hold_ms

    def _doors(self, side):
        if side == "left":
            return (self.left,)
        if side == "right":
            return (self.right,)
        if side == "both":
            return (self.left, self.right)
        raise ValueError("unknown door " + repr(side) + "; use left, right or both")

    def command(self, now, side, verb, deg=None, ms=None):
        """`door <side> <verb> [deg] [ms]`: validates all of it before moving anything."""
        doors = self._doors(side)
        check_ms(ms)
        if verb == "stop":
            _check_no_angle(verb, deg)
            for door in doors:
                door.stop(now, ms)
            return
        targets = [door.target_of(verb, deg) for door in doors]
        if verb == "toggle" and len(doors) == 2:  # both go the same way: the way that closes any open one
            up = self.left.heads_up() or self.right.heads_up()
            targets = [0 if up else door.limit for door in doors]
        if len(doors) == 1:
            doors[0].go(now, targets[0], ms)
            return
        left, right = self.left, self.right
        delay = 0 if right.moving and not right.motion.waiting else self.stagger_ms
        if not self.together:
            left.go(now, targets[0], ms)
            right.go(now, targets[1], ms, delay)
            return
        if ms is None:
            ms = max(left.default_ms(now, targets[0]), right.default_ms(now, targets[1]) + delay)
        delay = min(delay, ms // 2)
        left.go(now, targets[0], min(ms, MAX_MS))
        right.go(now, targets[1], max(MIN_MS, ms - delay), delay)

    def open(self, now, side="both", ms=None):
        self.command(now, side, "open", None, ms)

    def close(self, now, side="both", ms=None):
        self.command(now, side, "close", None, ms)

    def toggle(self, now, side="both", ms=None):
        self.command(now, side, "toggle", None, ms)

    def stop(self, now, side="both", ms=None):
        self.command(now, side, "stop", None, ms)

    def to(self, now, deg, side="both", ms=None):
        self.command(now, side, "to", deg, ms)

    def tick(self, now):
        """Every servo frame: both doors. Nothing else (no flash write): no allocation, moving or not."""
        self.left.tick(now)
        self.right.tick(now)

    @property
    def moving(self):
        return self.left.motion.phases != 0 or self.right.motion.phases != 0

    def rest(self):
        """The record to keep for a power cut: each door's name and the pulse its servo holds."""
        return {self.left.name: self.left.pulse, self.right.name: self.right.pulse}

    def restore(self, saved):
        """At boot, from `rest()` as saved: each door whose pulse fits its calibration takes it."""
        for door in (self.left, self.right):
            pulse = saved.get(door.name)
            cal = door.cal
            if isinstance(pulse, int) and not isinstance(pulse, bool) and cal.min_ns <= pulse <= cal.max_ns:
                door.restore(pulse)

    def status(self):
        return {"left": self.left.status(), "right": self.right.status()}
