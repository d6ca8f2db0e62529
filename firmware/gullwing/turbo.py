"""The turbocharger and its blow-off valve (pure, integer fixed point; see docs/engine.md).

Boost heads for a target set by exhaust flow: nothing below SPOOL_FROM_RPM, all of it by
SPOOL_FULL_RPM (the AZ-1's sudden "dokkan" from about 3,000 rpm), and only with load (throttle).
It gets there as a first-order lag, slower spooling up than bleeding down. The recirculating
blow-off valve opens when the throttle snaps shut on boost, at most once per BOV_GAP_MS.
"""

SPOOL_FROM_RPM = 3000  # no useful exhaust energy below
SPOOL_FULL_RPM = 4000  # the wastegate holds full boost from here up
LOAD_FROM_PCT = 30  # throttle below this asks for no boost
LOAD_FULL_PCT = 90  # throttle from this asks for full boost
TAU_UP_MS = 700  # spool-up time constant
TAU_DOWN_MS = 200  # bleed-down time constant
BOV_MIN_PA = 30_000  # below this boost a lift makes no blow-off
BOV_LIFT_Q8 = 50 << 8  # a "fast lift": the throttle falls this many points below its recent peak
LIFT_DECAY_Q8_PER_MS = 51  # the remembered peak sags at 0.2 %/ms, so only lifts within ~0.25 s count
BOV_GAP_MS = 1000  # at most one blow-off per second


class Turbo:
    def __init__(self, full_boost_kpa=85):
        self.full_pa = full_boost_kpa * 1000
        self.boost_pa = 0
        span = LOAD_FULL_PCT - LOAD_FROM_PCT
        # share of full boost (q8) each throttle position asks for
        self._demand = tuple(min(256, max(0, (pct - LOAD_FROM_PCT) * 256 // span)) for pct in range(101))
        self._peak_q8 = 0  # recent throttle peak, points << 8
        self._since_bov_ms = BOV_GAP_MS

    def reset(self):
        self.boost_pa = 0
        self._peak_q8 = 0
        self._since_bov_ms = BOV_GAP_MS

    def target_pa(self, rpm, throttle):
        """The boost the turbo settles at for this rpm and throttle."""
        spool = (rpm - SPOOL_FROM_RPM) * 256 // (SPOOL_FULL_RPM - SPOOL_FROM_RPM)
        if spool <= 0:
            return 0
        if spool > 256:
            spool = 256
        return (self.full_pa * spool >> 8) * self._demand[throttle] >> 8

    def step(self, rpm, throttle, dt_ms):
        """Advance by dt_ms at this rpm and throttle (0-100); returns 1 when the blow-off valve fires."""
        target = self.target_pa(rpm, throttle)
        tau = TAU_UP_MS if target > self.boost_pa else TAU_DOWN_MS
        self.boost_pa += (target - self.boost_pa) * dt_ms // tau
        return self._blowoff(throttle, dt_ms)

    def _blowoff(self, throttle, dt_ms):
        # apart from step(): a MicroPython frame over 11 words (locals + stack) comes from the heap
        now_q8 = throttle << 8
        peak = self._peak_q8 - LIFT_DECAY_Q8_PER_MS * dt_ms
        if peak < now_q8:
            peak = now_q8
        if self._since_bov_ms < BOV_GAP_MS:
            self._since_bov_ms += dt_ms
        fired = 0
        if peak - now_q8 >= BOV_LIFT_Q8 and self.boost_pa >= BOV_MIN_PA and self._since_bov_ms >= BOV_GAP_MS:
            fired = 1
            self._since_bov_ms = 0
            peak = now_q8
        self._peak_q8 = peak
        return fired
