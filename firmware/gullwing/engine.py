"""The engine: a Suzuki F6A 657 cc turbo triple, free-revving, as a small physical model (pure).

Crank speed follows net torque over inertia: combustion torque (a full-boost torque curve scaled by
the air charge) minus friction and pumping, plus the starter while cranking. An idle-air controller
holds idle with the throttle closed, the turbo adds boost (and so torque) above 3,000 rpm, and the rev
limiter cuts fuel for cut_ms whenever the crank reaches limit_rpm, so the engine bounces off it.

Everything per tick is integer fixed point (MicroPython boxes floats) and allocates nothing: the
model advances in fixed STEP_MS steps, so it behaves the same at any tick period. Units: rpm << 8,
torque in 1/256 N·m, air charge ("load") in 1/256 of a wide-open throttle at atmospheric pressure,
boost in Pa, time in ms. docs/engine.md gives the equations and where each figure comes from.
"""

from gullwing import schema
from gullwing.turbo import Turbo

OFF = 0
CRANKING = 1
RUNNING = 2
STOPPING = 3
STATE_NAMES = ("off", "cranking", "running", "stopping")

# events, a bitmask the app polls with take_events()
EV_STATE = 1
EV_BLOWOFF = 2
EV_LIMITER = 4

STEP_MS = 5
MAX_TICK_MS = 250  # a late tick advances at most this much; the model does not replay a stall
TABLE_STEP_RPM = 250
TABLE_TOP_RPM = 12_000

# Brake torque at wide-open throttle and full boost (rpm, 0.1 N·m): through the published 85 N·m at
# 4,000 rpm and 64 PS (47 kW, 69.1 N·m) at 6,500 rpm, power falling off past the peak.
FULL_BOOST_TORQUE = ((0, 400), (1000, 550), (2000, 660), (3000, 780), (4000, 850), (5000, 800),
                     (6000, 725), (6500, 691), (7000, 620), (8000, 540), (9000, 460), (10_000, 360),
                     (11_000, 240), (12_000, 120))
# Air the throttle passes per position, as a "flow" in rpm: the engine speed at which the cylinders
# would pull the manifold down to half an atmosphere (charge = flow / (flow + rpm)). Wide open, the
# throttle no longer restricts (full charge). Progressive, so that part throttle holds part revs.
THROTTLE_FLOW = ((0, 0), (10, 500), (25, 1000), (50, 1800), (75, 3200), (90, 6000), (99, 60_000))
WIDE_OPEN_PCT = 100

DISPLACEMENT_CC = 657
INERTIA_GM2 = 45  # crank, flywheel and clutch, g·m²
P_ATM_PA = 101_325
# friction mean effective pressure, Pa: 97 kPa + 10 Pa/rpm + rpm²/400 (Heywood's form, speed terms eased)
FMEP_PA = (97_000, 10, 400)

STARTER_STALL_Q8 = 32 << 8  # starter torque at the crank when stalled
STARTER_FREE_RPM = 360  # ... falling to nothing here: cranks at ~250 rpm against friction
CRANK_MS = 700  # cranking time before the engine catches
CATCH_MIN_RPM = 150
STALL_RPM = 300  # running below this, the engine dies
FLARE_RPM = 450  # idle target right after the catch, above idle ...
FLARE_MS = 900  # ... easing back to idle over this time

IDLE_KP = 2  # idle-air flow per rpm of error
IDLE_KI = 4  # idle-air flow per rpm of error per second
IDLE_WINDOW_RPM = 300  # the integrator works only this close to the target
IDLE_FLOW_MAX = 1500  # the idle-air valve's full opening
IDLE_I_MAX = IDLE_FLOW_MAX * 1000  # the integrator counts flow / 1000
COUNT_MASK = 0x3FFFFFFF  # event counters wrap within the ESP32's small ints (compare them with !=)
FUEL_LOG_MASK = (1 << 24) - 1  # the sound's fuel history keeps 24 steps; (log << 1) stays a small int


def _table(points, scale_num, scale_den):
    """Values of piecewise-linear `points` every TABLE_STEP_RPM up to TABLE_TOP_RPM, times num/den."""
    out = []
    for rpm in range(0, TABLE_TOP_RPM + TABLE_STEP_RPM, TABLE_STEP_RPM):
        out.append(_interp(points, rpm) * scale_num // scale_den)
    return tuple(out)


def _interp(points, x):
    for i in range(1, len(points)):
        x1, y1 = points[i]
        if x <= x1:
            x0, y0 = points[i - 1]
            return y0 + (y1 - y0) * (x - x0) // (x1 - x0)
    return points[-1][1]


def _lerp(table, rpm):
    # a TABLE_STEP_RPM table at rpm, linear between entries, held flat past the top
    i = rpm // TABLE_STEP_RPM
    if i >= len(table) - 1:
        return table[len(table) - 1]
    return table[i] + (table[i + 1] - table[i]) * (rpm - i * TABLE_STEP_RPM) // TABLE_STEP_RPM


def _fmep_torque_q8(pa, cc):
    # torque of a mean effective pressure over a four-stroke cycle: p * Vd / (4 pi)
    return pa * cc * 256 // 12_566_371  # 4 pi * 1e6 (cc -> m³)


class Engine:
    def __init__(self, idle_rpm=950, limit_rpm=9000, cut_ms=50, full_boost_kpa=85):
        schema.section(schema.ENGINE, {"idle_rpm": idle_rpm, "limit_rpm": limit_rpm, "cut_ms": cut_ms,
                                       "full_boost_kpa": full_boost_kpa})
        self.idle_rpm = idle_rpm
        self.limit_rpm = limit_rpm
        self.cut_ms = cut_ms
        self.turbo = Turbo(full_boost_kpa)
        self._full_map_hpa = (P_ATM_PA + full_boost_kpa * 1000) // 100
        a, b, c = FMEP_PA
        friction = tuple(_fmep_torque_q8(a + b * rpm + rpm * rpm // c, DISPLACEMENT_CC)
                         for rpm in range(0, TABLE_TOP_RPM + TABLE_STEP_RPM, TABLE_STEP_RPM))
        brake = _table(FULL_BOOST_TORQUE, 256, 10)
        self._friction = friction
        # indicated torque at full charge: what the brake curve is measured on top of friction
        self._indicated = tuple(brake[i] + friction[i] for i in range(len(brake)))
        self._pumping_q8 = _fmep_torque_q8(P_ATM_PA, DISPLACEMENT_CC)  # throttle shut: a vacuum to pump against
        self._flow = tuple(_interp(THROTTLE_FLOW, pct) for pct in range(WIDE_OPEN_PCT))
        # rpm << 8 gained per ms per 1/256 N·m, times 1000: 60 / (2 pi J)
        self._accel = 60_000_000 // (6283 * INERTIA_GM2)
        self._idle_base = self._idle_flow(idle_rpm)
        self.state = OFF
        self.rpm = 0
        self.boost_kpa = 0
        self.load = 0  # air charge of the last step, q8
        self.firing = 0  # 1 while fuel burns (not off, cranking, stopping or in a fuel cut)
        # read by the sound: which of the last 24 steps burned fuel (bit 0 the latest), and the
        # steps taken so far (wrapping at COUNT_MASK), so a synthesizer replays each cut at its step
        self.fuel_log = 0
        self.steps = 0
        self.throttle_pct = 0
        self.events = 0
        self.blowoffs = 0
        self.limiter_hits = 0
        self._rpm_q8 = 0
        self._carry_ms = 0
        self._blip_ms = 0
        self._cut_left_ms = 0
        self._crank_ms = 0
        self._flare_ms = 0
        self._idle_i = 0

    # -- commands ----------------------------------------------------------------------------------

    def start(self):
        """Crank the engine; True if it was off or spinning down, False if already cranking or running."""
        if self.state == CRANKING or self.state == RUNNING:
            return False
        self._crank_ms = 0
        self._set_state(CRANKING)
        return True

    def stop(self):
        """Cut the fuel: the engine spins down to rest. False if it was already off or stopping."""
        if self.state == OFF or self.state == STOPPING:
            return False
        self._blip_ms = 0
        self._set_state(STOPPING)
        return True

    def throttle(self, pct):
        """Set the throttle (pedal) position, 0 closed to 100 wide open."""
        if type(pct) is not int or not 0 <= pct <= 100:  # the check's call only for a bad value: its frame
            schema.whole("throttle", pct, 0, 100, "%")  # is too big for the C stack, and this runs each tick
        self.throttle_pct = pct

    def blip(self, ms=250):
        """Open the throttle fully for `ms`, then return to the set throttle. False unless running."""
        schema.whole("blip", ms, 10, 2000, "ms")
        if self.state != RUNNING:
            return False
        self._blip_ms = ms
        return True

    def take_events(self):
        """The EV_* bits raised since the last call, cleared."""
        events = self.events
        self.events = 0
        return events

    # -- the model ---------------------------------------------------------------------------------

    def tick(self, dt_ms):
        """Advance the model by dt_ms (the measured time since the last tick)."""
        if dt_ms > MAX_TICK_MS:
            dt_ms = MAX_TICK_MS
        if dt_ms > 0:
            self._carry_ms += dt_ms
        while self._carry_ms >= STEP_MS:
            self._carry_ms -= STEP_MS
            self._step(STEP_MS)
        self.rpm = self._rpm_q8 >> 8
        self.boost_kpa = self.turbo.boost_pa // 1000

    def gross_q8(self, rpm, load_q8, boost_pa):
        """Combustion torque (1/256 N·m): the full-charge indicated torque scaled by the air charge,
        itself the throttle's share of the manifold pressure that boost raises."""
        ind = _lerp(self._indicated, rpm)
        return (ind * load_q8 >> 8) * ((P_ATM_PA + boost_pa) // 100) // self._full_map_hpa

    def loss_q8(self, rpm, load_q8):
        """Friction plus pumping against the vacuum behind a part-closed throttle (1/256 N·m)."""
        return _lerp(self._friction, rpm) + (self._pumping_q8 * (256 - load_q8) >> 8)

    # One STEP_MS step, in parts: a MicroPython frame over 11 words (locals + value stack) comes
    # from the heap on every call, so each part keeps few locals.
    def _step(self, dt):
        rpm = self._rpm_q8 >> 8
        pedal = self._pedal(dt)
        self.firing = 1 if self.state == RUNNING else 0  # until the limiter cuts the fuel
        self.load = self._charge(rpm, pedal, dt)
        if self.turbo.step(rpm if self.firing else 0, pedal, dt):
            self.blowoffs = (self.blowoffs + 1) & COUNT_MASK
            self.events |= EV_BLOWOFF
        self._limiter(rpm, dt)
        self.fuel_log = ((self.fuel_log << 1) | self.firing) & FUEL_LOG_MASK
        self.steps = (self.steps + 1) & COUNT_MASK
        self._spin(rpm, dt)
        self._advance_state(self.state, self._rpm_q8 >> 8, dt)

    def _pedal(self, dt):
        # the throttle the engine sees: wide open during a blip
        if self._blip_ms > 0:
            self._blip_ms -= dt
            return 100
        return self.throttle_pct

    def _charge(self, rpm, pedal, dt):
        # air charge (q8): the throttle's and the idle-air valve's flow against what the crank pulls
        flow = self._idle_air(rpm, pedal, dt) if self.firing else 0
        if pedal >= WIDE_OPEN_PCT:
            return 256
        flow += self._flow[pedal]
        return (flow << 8) // (flow + rpm) if flow else 0

    def _limiter(self, rpm, dt):
        # the rev limiter: no fuel for cut_ms whenever the crank reaches limit_rpm
        if self._cut_left_ms > 0:
            self._cut_left_ms -= dt
            self.firing = 0
        elif self.firing and rpm >= self.limit_rpm:
            self._cut_left_ms = self.cut_ms - dt
            self.limiter_hits = (self.limiter_hits + 1) & COUNT_MASK
            self.events |= EV_LIMITER
            self.firing = 0

    def _spin(self, rpm, dt):
        # crank speed follows net torque over inertia
        net = -self.loss_q8(rpm, self.load)
        if self.firing:
            net += self.gross_q8(rpm, self.load, self.turbo.boost_pa)
        if self.state == CRANKING and rpm < STARTER_FREE_RPM:
            net += STARTER_STALL_Q8 * (STARTER_FREE_RPM - rpm) // STARTER_FREE_RPM
        rpm_q8 = self._rpm_q8 + net * self._accel * dt // 1000
        self._rpm_q8 = rpm_q8 if rpm_q8 > 0 else 0  # friction stops the crank; it never turns it backwards

    def _advance_state(self, state, rpm, dt):
        if state == CRANKING:
            if self._crank_ms < CRANK_MS:  # a crank that never catches counts no further
                self._crank_ms += dt
            if self._crank_ms >= CRANK_MS and rpm >= CATCH_MIN_RPM:
                self._flare_ms = FLARE_MS
                self._idle_i = 0
                self._set_state(RUNNING)
        elif state == RUNNING:
            if rpm < STALL_RPM and self._flare_ms <= 0:
                self._set_state(STOPPING)
        elif state == STOPPING:
            if rpm == 0 and self._rpm_q8 == 0:
                self._set_state(OFF)

    def _idle_air(self, rpm, pedal, dt):
        """The idle-air valve's flow: PI on rpm towards idle (raised by the start flare) on top of the
        flow idle needs; it shuts as revs rise above the target, so a closed throttle brakes."""
        target = self.idle_rpm
        if self._flare_ms > 0:
            target += FLARE_RPM * self._flare_ms // FLARE_MS
            self._flare_ms -= dt
        err = target - rpm
        integ = self._idle_i  # flow / 1000: no dead band from rounding small errors away
        if pedal == 0 and -IDLE_WINDOW_RPM < err < IDLE_WINDOW_RPM:
            integ += err * IDLE_KI * dt
            if integ > IDLE_I_MAX:
                integ = IDLE_I_MAX
            elif integ < -IDLE_I_MAX:
                integ = -IDLE_I_MAX
            self._idle_i = integ
        flow = self._idle_base + integ // 1000 + IDLE_KP * err
        if flow < 0:
            return 0
        if flow > IDLE_FLOW_MAX:
            return IDLE_FLOW_MAX
        return flow

    def _idle_flow(self, rpm):
        # the flow whose air charge burns just enough to balance friction and pumping at this rpm
        load = (self.loss_q8(rpm, 0) << 8) // (self.gross_q8(rpm, 256, 0) + self._pumping_q8)
        return load * rpm // (256 - load)

    def _set_state(self, state):
        if state != self.state:
            self.state = state
            self.events |= EV_STATE
            if state == CRANKING:
                self._cut_left_ms = 0

