"""The simulated ESP32 board: its chip, clock, pending events, pins, LEDC state and output trace.

`machine` and `time` of the simulator are thin views over the one `board` here. Tests drive it:
`board.reset(chip="ESP32-S3")` gives a fresh board, `board.advance_ms(20)` moves the clock by hand
(firing timers, watchdog and input edges at their exact times), `board.drive(pin, 1)` sets an input,
and `board.trace` holds every output change. The virtual board runs the same code on real time
(`board.use_real_time()`): the clock follows the host and due events fire whenever time is read.
"""

import heapq

import chips
import simtrace

# time.ticks_*() wrap like the ESP32 port's (a 30-bit small int), so wrap bugs show up here too.
TICKS_PERIOD = 1 << 30
TICKS_MAX = TICKS_PERIOD - 1
TICKS_HALF = TICKS_PERIOD // 2

# machine.reset_cause() values of the ESP32 port
PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5

# event kinds in the queue
EDGE_EVENT = 0
TIMER_EVENT = 1
CALL_EVENT = 2


def ticks_diff(end, start):
    """Signed difference of two ticks values, correct across one wrap (as MicroPython's)."""
    return ((end - start + TICKS_HALF) & TICKS_MAX) - TICKS_HALF


def ticks_add(ticks, delta):
    if not -TICKS_HALF <= delta < TICKS_HALF:
        raise OverflowError("ticks interval overflow")
    return (ticks + delta) & TICKS_MAX


class HardReset(SystemExit):
    """The board resets (machine.reset(), watchdog). Like SystemExit, `except Exception` cannot eat it."""


def _host_clock():
    """(microsecond counter, sleep in us, the interpreter's time module), never the simulator's."""
    import sys

    saved = sys.path
    sys.path = []  # MicroPython then imports its built-in time, not the simulator's time.py
    try:
        import time
    finally:
        sys.path = saved
    if sys.implementation.name == "micropython":
        return time.ticks_us, time.sleep_us, time
    return (lambda: time.monotonic_ns() // 1000), (lambda us: time.sleep(us / 1_000_000)), None


class PinState:
    def __init__(self, gpio):
        self.gpio = gpio
        self.mode = -1  # -1: not configured, else a machine.Pin mode
        self.pull = -1
        self.out_level = 0
        self.ext_level = -1  # level driven from outside, -1 when floating
        self.irq_handler = None
        self.irq_trigger = 0
        self.irq_pin = None
        self.pwm = None  # the machine.PWM routed to this pin, if any


class UartState:
    def __init__(self, rxbuf):
        self.rxbuf = rxbuf
        self.rx = bytearray()  # received, not yet read
        self.tx = bytearray()  # written, not yet collected by uart_sent()
        self.lost = 0  # bytes dropped because the receive buffer was full


class Board:
    def __init__(self):
        self._host_us = None
        self._host_sleep_us = None
        self._host_ticks = None  # the interpreter's own ticks functions, on real time under MicroPython
        self.reset()

    def reset(self, chip="ESP32", start_us=0, uid=None, trace=None, cause=PWRON_RESET):
        """Power up a fresh board: everything released, the clock at `start_us`."""
        self.chip = chips.chip(chip)
        self.now_us = start_us
        self._real_src = None
        self._real_base = 0
        self._events = []
        self._seq = 0
        self._dispatching = False
        self.trace = trace if trace is not None else simtrace.Trace()
        self.pins = {}
        n_ch = self.chip.ledc_modes * self.chip.ledc_channels
        n_tm = self.chip.ledc_modes * self.chip.ledc_timers
        self.chan_pin = [-1] * n_ch  # gpio of each LEDC channel, -1 when free
        self.chan_timer = [-1] * n_ch  # timer index of each channel
        self.timers = [None] * n_tm  # chips.LedcTimer of each LEDC timer, None when free
        self.timer_start_us = [0] * n_tm  # when each timer's counter last restarted (pulse phase)
        self.cut_pulses = []  # (t_us, gpio) of each PWM output stopped in the middle of a pulse
        self.hw_timers = {}
        self.uarts = {}  # machine.UART id -> UartState, while configured
        self.wdt_timeout_us = 0
        self.wdt_deadline_us = -1  # -1 until a WDT is started; it cannot be stopped
        self.reset_cause = cause
        self.uid = uid if uid is not None else b"\x24\x0a\xc4\x00\x00\x01"  # a MAC address
        self.cpu_freq = 160_000_000
        self.irq_state = 1
        self.jumpers = {}  # gpio -> gpio wired to it (both directions), see jumper()

    # -- clock -----------------------------------------------------------------------------------

    def use_real_time(self):
        """Follow the host's monotonic clock from now on (the virtual board)."""
        if self._host_us is None:
            self._host_us, self._host_sleep_us, self._host_ticks = _host_clock()
        self._real_src = self._host_us
        self._real_base = self.now_us - self._host_us()

    def now(self):
        """Microseconds since power-up (not wrapped). On real time, fires events that fell due."""
        if self._real_src is not None:
            now = self.now_us = self._real_base + self._real_src()
            if (self._events and self._events[0][0] <= now) or 0 <= self.wdt_deadline_us <= now:
                self._run_due(now)
        return self.now_us

    # On real time under MicroPython the ticks are the interpreter's own: asyncio's C core stamps its
    # tasks with those, and a second clock beside it would leave tasks asleep for ever. The board's
    # clock still advances (and fires timers and the watchdog) whenever they are read.

    def ticks_us(self):
        now = self.now()
        return self._host_ticks.ticks_us() if self._host_ticks and self._real_src else now & TICKS_MAX

    def ticks_ms(self):
        now = self.now()
        return self._host_ticks.ticks_ms() if self._host_ticks and self._real_src else (now // 1000) & TICKS_MAX

    def ticks_cpu(self):
        return (self.now() * (self.cpu_freq // 1_000_000)) & TICKS_MAX

    def ticks_diff(self, end, start):
        if self._host_ticks and self._real_src:
            return self._host_ticks.ticks_diff(end, start)
        return ticks_diff(end, start)

    def ticks_add(self, ticks, delta):
        if self._host_ticks and self._real_src:
            return self._host_ticks.ticks_add(ticks, delta)
        return ticks_add(ticks, delta)

    def sleep_us(self, us):
        self.wait_until(self.now() + us)

    def sleep_ms(self, ms):
        self.wait_until(self.now() + ms * 1000)

    def sleep(self, seconds):
        self.wait_until(self.now() + int(seconds * 1_000_000))

    def advance_us(self, us):
        """Move the clock by hand, firing every event on the way at its own time."""
        if us < 0:
            raise ValueError("time only moves forward")
        self.wait_until(self.now_us + us)

    def advance_ms(self, ms):
        self.advance_us(ms * 1000)

    def wait_until(self, t_us):
        if self._real_src is None:
            self._run_due(t_us)
            if t_us > self.now_us:
                self.now_us = t_us
            return
        while self.now() < t_us:
            nxt = self._events[0][0] if self._events else t_us
            gap = min(nxt, t_us) - self.now_us
            if gap > 0:
                self._host_sleep_us(gap)

    # -- events ----------------------------------------------------------------------------------

    def at(self, t_us, kind, a, b=0):
        self._seq += 1
        heapq.heappush(self._events, (t_us, self._seq, kind, a, b))

    def _run_due(self, t_us):
        if self._dispatching:
            return
        self._dispatching = True
        try:
            events = self._events
            while True:
                nxt = events[0][0] if events else t_us + 1
                wdt = self.wdt_deadline_us
                if 0 <= wdt <= t_us and wdt < nxt:
                    self.now_us = max(self.now_us, wdt)
                    self.reset_cause = WDT_RESET
                    raise HardReset("watchdog: not fed for " + str(self.wdt_timeout_us // 1000) + " ms")
                if nxt > t_us:
                    break
                t, _, kind, a, b = heapq.heappop(events)
                if t > self.now_us:
                    self.now_us = t
                self._dispatch(kind, a, b)
        finally:
            self._dispatching = False

    def _dispatch(self, kind, a, b):
        if kind == EDGE_EVENT:
            self.set_input(a, b)
        elif kind == TIMER_EVENT:
            a.fire(b)
        elif kind == CALL_EVENT:
            a[0](a[1])

    def schedule(self, func, arg):
        """micropython.schedule(): run soon, from the main flow rather than inside the caller."""
        self.at(self.now_us, CALL_EVENT, (func, arg))

    def next_edge_us(self, gpio):
        best = -1
        for t, _, kind, a, _ in self._events:
            if kind == EDGE_EVENT and a == gpio and (best < 0 or t < best):
                best = t
        return best

    # -- jumper wires between two pins of the board ------------------------------------------------

    def jumper(self, a, b):
        """Wire GPIO `a` to GPIO `b`: what one drives, the other reads (levels, PWM, UART bytes, edges)."""
        for gpio in (a, b):
            problem = self.chip.pin_problem(gpio, False)
            if problem:
                raise ValueError(problem)
        if a == b or a in self.jumpers or b in self.jumpers:
            raise ValueError("GPIO" + str(a) + " and GPIO" + str(b) + ": a pin takes one jumper, to another pin")
        self.jumpers[a] = b
        self.jumpers[b] = a

    def peer(self, gpio):
        """The GPIO jumpered to `gpio`, or -1."""
        return self.jumpers.get(gpio, -1)

    # -- inputs driven from outside --------------------------------------------------------------

    def pin(self, gpio):
        state = self.pins.get(gpio)
        if state is None:
            state = self.pins[gpio] = PinState(gpio)
        return state

    def drive(self, gpio, level):
        """Drive an input from outside, now (a switch, a receiver); -1 lets it float."""
        problem = self.chip.pin_problem(gpio, False)
        if problem:
            raise ValueError(problem)
        self.set_input(gpio, level)

    def drive_at(self, gpio, t_us, level):
        self.at(t_us, EDGE_EVENT, gpio, level)

    def pulse_train(self, gpio, widths_us, period_us=20_000, start_us=None):
        """Schedule high pulses of the given widths, one per period (an RC receiver channel)."""
        t = self.now_us if start_us is None else start_us
        for width in widths_us:
            self.drive_at(gpio, t, 1)
            self.drive_at(gpio, t + width, 0)
            t += period_us
        return t

    def set_input(self, gpio, level):
        state = self.pin(gpio)
        before = self.level(gpio)
        state.ext_level = level
        after = self.level(gpio)
        if before != after and state.irq_handler is not None:
            edge = 1 if after else 2  # machine.Pin.IRQ_RISING / IRQ_FALLING
            if state.irq_trigger & edge:
                state.irq_handler(state.irq_pin)

    def level(self, gpio):
        """The level on the wire: what Pin.value() reads."""
        state = self.pin(gpio)
        if state.pwm is not None:
            return 1 if self.pwm_high_at(gpio, self.now_us) else 0
        if state.mode == 3:  # Pin.OUT drives the wire
            return state.out_level
        if state.mode == 7 and state.out_level == 0:  # OPEN_DRAIN pulls low
            return 0
        if state.ext_level >= 0:
            return state.ext_level
        return 1 if state.pull == 2 else 0  # PULL_UP, else pulled down or floating (reads 0)

    # -- outputs ---------------------------------------------------------------------------------

    def record(self, gpio, freq_hz, duty_ns, kind, level):
        self.trace.record(self.now(), gpio, freq_hz, duty_ns, kind, level)

    def pwm_high_at(self, gpio, t_us):
        """Whether the PWM output on `gpio` is inside a pulse at `t_us` (pulses start each period)."""
        pwm = self.pin(gpio).pwm
        if pwm is None:
            return False
        timer = self.timers[pwm.timer]
        period = timer.period_ns()
        phase_ns = ((t_us - self.timer_start_us[pwm.timer]) * 1000) % period
        return phase_ns < timer.high_ns(pwm.effective_raw(t_us))

    def next_period_us(self, timer_index, t_us):
        """When the LEDC timer next starts a period (where written duties latch), at or after `t_us`."""
        period = self.timers[timer_index].period_ns()
        elapsed = (t_us - self.timer_start_us[timer_index]) * 1000
        boundary = -(-elapsed // period) * period
        return self.timer_start_us[timer_index] + -(-boundary // 1000)

    def power_down(self):
        """Outputs stop (reset or power off): every driven pin is released and the trace flushed."""
        self.wdt_deadline_us = -1  # the reset stops the watchdog too: it must not fire again on the way
        for gpio, state in self.pins.items():
            if state.pwm is not None or state.mode in (3, 7):
                state.pwm = None
                state.mode = -1
                self.record(gpio, 0, 0, simtrace.OFF, 0)
        self.trace.flush()

    # -- UARTs: bytes from and to what is wired to them (a Bluetooth serial module) ----------------

    def uart_feed(self, uart_id, data):
        """Bytes arriving on a UART's RX pin; what its receive buffer cannot hold is lost, as on the chip."""
        state = self.uarts.get(uart_id)
        if state is None:
            return  # nobody listens: the bytes go nowhere
        room = state.rxbuf - len(state.rx)
        state.rx.extend(data[:room])
        state.lost += max(0, len(data) - room)

    def uart_sent(self, uart_id):
        """Everything the firmware wrote to a UART since the last call."""
        state = self.uarts.get(uart_id)
        if state is None:
            return b""
        out = bytes(state.tx)
        state.tx = bytearray()
        return out

    # -- watchdog --------------------------------------------------------------------------------

    def feed_wdt(self):
        # A deadline rather than a queued event: feeding from the control tick must not allocate.
        self.wdt_deadline_us = self.now() + self.wdt_timeout_us


board = Board()
