"""The simulated ESP32 board: its chip, clock, pending events, pins, LEDC state and output trace.

`machine` and `time` of the simulator are thin views over the one `board` here. Tests drive it:
`board.reset(chip="ESP32-S3")` gives a fresh board, `board.advance_ms(20)` moves the clock by hand
(firing timers, watchdog and input edges at their exact times), `board.drive(pin, 1)` sets an input,
and `board.trace` holds every output change. The virtual board runs the same code on real time
(`board.use_real_time()`): the clock follows the host and due events fire whenever time is read.

`board.jumper(4, 5)` wires two pins: a pin that drives nothing reads what its peer drives (GPIO, open
drain, a PWM waveform, a UART's TX line). Pin.irq handlers and micropython.schedule() share one 8-deep
scheduler queue, as on the chip: an edge finding it full is lost.
"""

import heapq

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
WAVE_EVENT = 3  # the next edge of a PWM waveform on a pin whose Pin.irq listens (see _notice)
PENDING_EVENT = 4  # run the scheduler queue from the main flow

# MICROPY_SCHEDULER_DEPTH of ports/esp32/mpconfigport.h: pin handlers and micropython.schedule() share it
SCHEDULER_DEPTH = 8


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


def _chip_facts():
    """host_tools/chips.py, the chip tables the board check reads too, from the folder above this one: the
    simulator's folder alone is on the module path (of the virtual board's interpreter, of the tests)."""
    import sys

    saved = sys.path
    sys.path = [(__file__.rpartition("/")[0] or ".") + "/.."]
    try:
        import chips
    finally:
        sys.path = saved
    return chips


chips = _chip_facts()


def _asyncio_on(clock):
    """Put asyncio's Python core on the interpreter's own ticks, leaving `time` to the board.

    asyncio's C core (extmod/modasyncio.c: ticks) stamps a task queued without a key with the
    interpreter's mp_hal_ticks_ms(), which the simulator cannot move; asyncio/core.py compares those stamps
    with the `time.ticks_ms` it imported. Both must be one clock, or tasks sleep for ever. Sleeps still
    last their real time, so the firmware's tasks run on time whatever the board's ticks read."""
    from asyncio import core

    interpreter_ms = clock.ticks_ms

    def ticks():
        # each turn of the event loop reads the board's clock too: events that fell due meanwhile (an I2S
        # buffer sent, a pin edge) fire and schedule their handlers, which on the chip run at once
        board.now()
        return interpreter_ms()

    core.ticks = ticks
    core.ticks_diff = clock.ticks_diff
    core.ticks_add = clock.ticks_add
    _poll_room(core)


POLL_ROOM = 32  # file descriptors asyncio's poller has room for from its start


def _poll_room(core):
    """asyncio's poller, made with room for POLL_ROOM file descriptors before anything is registered.

    The unix port's select.poll keeps the objects that have a file descriptor (the console, sockets) in an
    array it grows 4 at a time; when it cannot grow it in place it moves it and re-points every entry, the
    entries of objects without one (the simulated UART and I2S, polled through their ioctl) too, whose
    NULL pointer becomes garbage that the next poll dereferences (extmod/modselect.c: poll_set_add_fd,
    MICROPY_PY_SELECT_POSIX_OPTIMISATIONS). The chip's select has no such array. On the virtual board the
    fifth socket beside a UART crashed the interpreter; an array that never grows never moves."""
    made = core.IOQueue.__init__

    def roomy(queue):
        made(queue)
        for fd in range(POLL_ROOM):  # plain numbers: nothing is polled until they are gone again
            queue.poller.register(1000 + fd, 0)
        for fd in range(POLL_ROOM):
            queue.poller.unregister(1000 + fd)

    core.IOQueue.__init__ = roomy
    core._io_queue = core.IOQueue()  # the one made at import (nothing is registered yet)


# -- WiFi: the radio's state as ESP-IDF's esp_wifi and esp_netif keep it, and the networks around the board --

def _env(name):
    import os

    return (os.getenv(name) or "") if hasattr(os, "getenv") else ""


# read once, before the virtual board's flash takes the place of `os` (which has no getenv on the chip)
WEB_PORT = int(_env("GULLWING_SIM_WEB_PORT") or "0")  # the host's loopback port of the board's port 80
WIFI_IN_RANGE = _env("GW_WIFI")  # home networks in range: hex(ssid):hex(password),... (gullwing sim --wifi)


class WifiState:
    """The two WLAN interfaces (network.py drives them) and the world around them: `in_range()` puts a
    network within the station's reach, `join_ap()` a phone on the board's own access point."""

    def __init__(self, chip_name, base_mac):
        self.networks = {}  # ssid -> [key, authmode, channel, rssi, bssid, hidden]
        self.hostname = "mpy-" + chip_name.lower().replace("-", "")  # MICROPY_PY_NETWORK_HOSTNAME_DEFAULT
        self.country = "XX"
        self.dns = "0.0.0.0"
        self.started = False
        self.mode = 0  # WIFI_MODE_STA 1 | WIFI_MODE_AP 2
        self.ifaces = [None, None]  # the one WLAN object of each interface
        # ESP-IDF esp_mac.c: the station has the base MAC, the soft-AP the base MAC + 1
        mac = int.from_bytes(base_mac, "big")
        self.sta_mac = bytes(base_mac)
        self.ap_mac = ((mac + 1) & 0xFFFFFFFFFFFF).to_bytes(6, "big")
        # the station (network_wlan.c: wifi_sta_connect_requested, wifi_sta_connected, wifi_sta_disconn_reason)
        self.sta_ssid = ""
        self.sta_key = ""
        self.connect_requested = False
        self.connected = False
        self.reason = 0
        self.attempt_us = -1  # when the attempt under way started, -1 when none is
        self.attempts = 0
        self.reconnects = 0  # conf_wifi_sta_reconnects: 0 retries for ever
        self.sta_static = None  # (ip, mask, gw, dns) set by ifconfig/ipconfig, None: DHCP
        self.sta_ip = None  # (ip, mask, gw, dns) while connected
        # the access point (esp_wifi's defaults: an open network named after its MAC, channel 1)
        self.ap_ssid = "ESP_" + "".join("%02X" % b for b in self.ap_mac[3:])
        self.ap_key = ""
        self.ap_authmode = 0
        self.ap_channel = 1
        self.ap_hidden = False
        self.ap_max = 4
        self.ap_ip = ["192.168.4.1", "255.255.255.0", "192.168.4.1", "0.0.0.0"]
        self.stations = []  # [mac, ip] of each phone on the access point
        self.txpower = 20.0
        self.pm = 1  # WIFI_PS_MIN_MODEM
        self.protocol = [7, 7]
        for pair in WIFI_IN_RANGE.split(","):
            if ":" in pair:
                ssid, key = pair.split(":")
                self.in_range(bytes.fromhex(ssid).decode(), bytes.fromhex(key).decode())

    def in_range(self, ssid, key="", authmode=None, channel=6, rssi=-55, hidden=False):
        """A network the station can reach: WPA2 with `key`, open without one; `hidden`: its beacons carry no SSID."""
        if authmode is None:
            authmode = 3 if key else 0
        bssid = bytes((0x02, 0x47, 0x57, len(self.networks), len(ssid) & 255, sum(ssid.encode()) & 255))
        self.networks[ssid] = [key, authmode, channel, rssi, bssid, hidden]

    def out_of_range(self, ssid):
        self.networks.pop(ssid, None)

    def join_ap(self, mac=b"\x02\x50\x48\x4f\x4e\x01"):
        """A phone joins the access point: it gets the next address the soft-AP's DHCP server hands out."""
        if not self.mode & 2 or len(self.stations) >= self.ap_max:
            return None
        ip = "192.168.4." + str(2 + len(self.stations))
        self.stations.append([mac, ip])
        return ip

    def reachable(self):
        """Whether anybody could reach the board's sockets: its access point is up or its station has an address."""
        return bool(self.mode & 2) or self.connected

    def addresses(self):
        """The IPv4 addresses of the interfaces that are up."""
        found = []
        if self.mode & 2:
            found.append(self.ap_ip[0])
        if self.connected and self.sta_ip:
            found.append(self.sta_ip[0])
        return found


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
        self.irq_seen = 0  # the level the pin's interrupt last saw (edges are changes of it)
        self.wave_gen = 0  # bumped to cancel a queued WAVE_EVENT
        self.ledc = -1  # the LEDC channel the GPIO matrix routes to this pin, -1 for none
        self.ledc_invert = 0  # 1: the GPIO matrix inverts that channel's signal
        self.uart = None  # the simuart.UartState whose TX line the GPIO matrix routes to this pin


class Board:
    def __init__(self):
        self._host_us = None
        self._host_sleep_us = None
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
        # the duty register value each channel's last trace row shows, -1 for none: a row cut off by a Ctrl-C
        # raised between the register write and the row (sim code runs as bytecode; the chip's C does not
        # stop there) is written at the channel's next write
        self.chan_traced = [-1] * n_ch
        self.chan_timer = [-1] * n_ch  # timer index of each channel
        self.timers = [None] * n_tm  # simledc.LedcTimer of each LEDC timer, None when free
        self.timer_start_us = [0] * n_tm  # when each timer's counter last restarted (pulse phase)
        # the LEDC channels themselves (ESP-IDF ledc.c over the hardware), indexed like chan_pin:
        self.ledc_timer = [-1] * n_ch  # the timer the channel counts on (ledc_bind_channel_timer)
        self.ledc_raw = [0] * n_ch  # duty register as last written
        self.ledc_prev_raw = [0] * n_ch  # what the output runs on until the write latches ...
        self.ledc_latch_us = [0] * n_ch  # ... at the start of the timer's next period
        self.ledc_idle = [-1] * n_ch  # level of a channel ledc_stop() stopped, -1 while it runs
        self.cut_pulses = []  # (t_us, gpio) of each PWM output stopped in the middle of a pulse
        # py/scheduler.c: one ring of SCHEDULER_DEPTH (function, argument); full means dropped
        self._sched_func = [None] * SCHEDULER_DEPTH
        self._sched_arg = [None] * SCHEDULER_DEPTH
        self._sched_idx = 0
        self._sched_len = 0
        self._sched_running = False
        self._sched_wake = False  # a PENDING_EVENT is queued
        self._fired = 0  # events dispatched so far
        self.sched_dropped = 0  # pin interrupts lost to a full queue
        self.hw_timers = {}
        self.uarts = {}  # machine.UART id -> simuart.UartState, once constructed
        self.i2s = {}  # machine.I2S id -> simi2s.I2sState, once constructed
        self.i2s_underruns = 0  # DMA buffers an I2S writer came too late for (played as silence), all peripherals
        self.audio = None  # where TX I2S buffers go as the DMA sends them: block(start_us, rate, 16-bit mono)
        self.wdt_timeout_us = 0
        self.wdt_deadline_us = -1  # -1 until a WDT is started; it cannot be stopped
        self.reset_cause = cause
        self.wake_cause = 4 if cause == DEEPSLEEP_RESET else 0  # machine.wake_reason(): TIMER_WAKE
        self.uid = uid if uid is not None else b"\x24\x0a\xc4\x00\x00\x01"  # a MAC address
        self.cpu_freq = 160_000_000
        self.irq_state = 1
        self.jumpers = {}  # gpio -> gpio wired to it (both directions), see jumper()
        self.service = None  # devices wired from outside (simdevices), run by now() on real time ...
        self.service_at = 0  # ... once this time has come
        self.wifi = WifiState(chip, self.uid)  # the radio off, the networks in range those the host gave

    # -- clock -----------------------------------------------------------------------------------

    def use_real_time(self):
        """Follow the host's monotonic clock from now on (the virtual board)."""
        if self._host_us is None:
            self._host_us, self._host_sleep_us, interpreter_time = _host_clock()
            if interpreter_time is not None:
                _asyncio_on(interpreter_time)
        self._real_src = self._host_us
        self._real_base = self.now_us - self._host_us()

    def now(self):
        """Microseconds since power-up (not wrapped). On real time, fires events that fell due."""
        if self._real_src is not None:
            if self._dispatching:
                return self.now_us  # inside a due event: the clock stands at its time (see _run_due)
            now = self.now_us = self._real_base + self._real_src()
            if (self._events and self._events[0][0] <= now) or 0 <= self.wdt_deadline_us <= now:
                self._run_due(now)
            if self.service is not None and now >= self.service_at:
                self.service(now)
        return self.now_us

    # The ticks always come from the board's clock, wrapped at 2^30 as on the chip (extmod/modtime.c:
    # time_ticks_ms masks with MICROPY_PY_TIME_TICKS_PERIOD, 2^30 with the esp32 port's 31-bit small ints).

    def ticks_us(self):
        return self.now() & TICKS_MAX

    def ticks_ms(self):
        return (self.now() // 1000) & TICKS_MAX

    def ticks_cpu(self):
        return (self.now() * (self.cpu_freq // 1_000_000)) & TICKS_MAX

    def ticks_diff(self, end, start):
        return ticks_diff(end, start)

    def ticks_add(self, ticks, delta):
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
        if self._dispatching:  # a handler sleeping: the event's clock moves on with it
            if t_us > self.now_us:
                self._host_sleep_us(t_us - self.now_us)
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
            if self._sched_len:
                self._run_scheduled()  # what the main flow scheduled runs once it waits
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
                # On real time events fire when the time is next read, late: while one is handled the
                # clock stands at its own time, so a handler reads the time of its edge (on the chip a
                # scheduled Pin handler runs within microseconds of it), as on virtual time.
                if t > self.now_us or self._real_src is not None:
                    self.now_us = t
                self._fired += 1
                self._dispatch(kind, a, b)
                if self._sched_len:
                    self._run_scheduled()  # what the event scheduled runs right after it
        finally:
            self._dispatching = False
            if self._real_src is not None and t_us > self.now_us:
                self.now_us = t_us

    def _dispatch(self, kind, a, b):
        if kind == EDGE_EVENT:
            self.set_input(a, b)
        elif kind == TIMER_EVENT:
            a.fire(b)
        elif kind == CALL_EVENT:
            a[0](a[1])
        elif kind == WAVE_EVENT:
            if self.pin(a).wave_gen == b:
                self._notice(a)
        elif kind == PENDING_EVENT:
            self._sched_wake = False

    # -- the scheduler (py/scheduler.c) -------------------------------------------------------------

    def sched(self, func, arg):
        """mp_sched_schedule(): queue `func(arg)` to run from the main flow; False (and nothing queued)
        when the queue already holds SCHEDULER_DEPTH calls. Handlers queued by an event run right after
        it; those queued by the main flow run when it next waits (sleep, advance)."""
        if self._sched_len >= SCHEDULER_DEPTH:
            return False
        slot = (self._sched_idx + self._sched_len) % SCHEDULER_DEPTH
        self._sched_func[slot] = func
        self._sched_arg[slot] = arg
        self._sched_len += 1
        if self._real_src is not None and not self._dispatching and not self._sched_wake:
            self._sched_wake = True  # on real time, the next reading of the clock runs it
            self.at(self.now_us, PENDING_EVENT, None)
        return True

    def schedule(self, func, arg):
        """micropython.schedule() (py/modmicropython.c): raises when the queue is full."""
        if not self.sched(func, arg):
            raise RuntimeError("schedule queue full")

    def _run_scheduled(self):
        # py/scheduler.c: mp_sched_run_pending(): locked while a call runs (no nesting); the calls queued
        # by then run, one after another; an exception is printed, as mp_call_function_1_protected() does.
        if self._sched_running:
            return
        self._sched_running = True
        try:
            for _ in range(self._sched_len):
                idx = self._sched_idx
                func = self._sched_func[idx]
                arg = self._sched_arg[idx]
                self._sched_func[idx] = self._sched_arg[idx] = None
                self._sched_idx = (idx + 1) % SCHEDULER_DEPTH
                self._sched_len -= 1
                try:
                    func(arg)
                except Exception as exc:  # noqa: BLE001 (the scheduler reports and carries on)
                    _print_exception(exc)
        finally:
            self._sched_running = False

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
        """Drive `gpio` from outside now (-1 lets it float): its Pin.irq and its peer's see the edge."""
        state = self.pin(gpio)  # (chained, `self.pin(gpio).ext_level = ...` allocates under MicroPython)
        state.ext_level = level
        self.wire_changed(gpio)

    # -- levels on the wires -----------------------------------------------------------------------

    def driven(self, gpio, t_us):
        """The level `gpio` itself drives at `t_us`, or -1 when it drives nothing."""
        state = self.pins.get(gpio)
        if state is None:
            return -1
        if state.ledc >= 0:
            return self.ledc_level(state.ledc, t_us) ^ state.ledc_invert
        if state.uart is not None:
            level = state.uart.line_level(gpio, t_us)  # idles high once its driver is installed
            if level >= 0:
                return level
        if state.mode == 3:  # Pin.OUT
            return state.out_level
        if state.mode == 7 and state.out_level == 0:  # Pin.OPEN_DRAIN pulls low, else lets go
            return 0
        return -1

    def level_at(self, gpio, t_us):
        """The level on the wire of `gpio` at `t_us`, what Pin.value() reads: what the pin drives, else
        what its jumpered peer drives, else a level driven from outside, else a pull-up on either (an
        ESP32 pin reads its own output: Pin.OUT is GPIO_MODE_INPUT_OUTPUT in ports/esp32/machine_pin.c)."""
        level = self.driven(gpio, t_us)
        if level >= 0:
            return level
        peer = self.jumpers.get(gpio, -1)
        if peer >= 0:
            level = self.driven(peer, t_us)
            if level >= 0:
                return level
        state = self.pin(gpio)
        level = state.ext_level
        pull = state.pull
        if peer >= 0:
            other = self.pin(peer)
            if level < 0:
                level = other.ext_level
            if other.pull == 2:
                pull = 2
        if level >= 0:
            return level
        return 1 if pull == 2 else 0  # PULL_UP, else pulled down or floating (reads 0)

    def level(self, gpio):
        return self.level_at(gpio, self.now_us)

    def next_change_us(self, gpio, t_us):
        """The first time after `t_us` at which the level of `gpio` may change, or -1 for never: the
        next edge of a PWM waveform on its wire, or the next queued event (which may change anything)."""
        ch = self.ledc_source(gpio)
        best = self.ledc_next_change_us(ch, t_us) if ch >= 0 else -1
        if self._events:
            event = self._events[0][0]
            if event > t_us and (best < 0 or event < best):
                best = event
        return best

    def wait_edge(self, t_us):
        """wait_until(t_us) for time_pulse_us(), which samples a pin in a tight loop on the chip. On real
        time it ends at `t_us` exactly: it spins the last stretch, and time the host overshot by (its
        sleep granularity, a preemption) is taken off the board's clock unless an event fired in it,
        so a measurement made right after starts where the chip's would."""
        if self._real_src is None or self._dispatching:
            self.wait_until(t_us)
            return
        fired = self._fired
        while self.now() < t_us:
            if t_us - self.now_us > 300:
                self._host_sleep_us(t_us - 200 - self.now_us)
        if self._fired == fired and self.now_us > t_us:
            self._real_base -= self.now_us - t_us
            self.now_us = t_us

    # -- edges seen by Pin.irq ---------------------------------------------------------------------

    def wire_changed(self, gpio):
        """What `gpio` drives or reads changed: the Pin.irq on it and on its peer see an edge."""
        self._notice(gpio)
        peer = self.jumpers.get(gpio, -1)
        if peer >= 0:
            self._notice(peer)

    def _notice(self, gpio):
        # ports/esp32/machine_pin.c: machine_pin_isr_handler() hands the handler to mp_sched_schedule()
        # on each edge the trigger selects; a full queue drops it.
        state = self.pins.get(gpio)
        if state is None:
            return
        state.wave_gen += 1  # cancels a WAVE_EVENT already queued
        if state.irq_handler is None:
            return
        level = self.level_at(gpio, self.now_us)
        if level != state.irq_seen:
            state.irq_seen = level
            if state.irq_trigger & (1 if level else 2):  # IRQ_RISING, IRQ_FALLING
                if not self.sched(state.irq_handler, state.irq_pin):
                    self.sched_dropped += 1
        # the next edge of a PWM waveform is queued only while somebody listens, one at a time
        ch = self.ledc_source(gpio)
        if ch >= 0:
            t = self.ledc_next_change_us(ch, self.now_us)
            if t >= 0:
                self.at(t, WAVE_EVENT, gpio, state.wave_gen)

    # -- the LEDC channels' outputs (ESP-IDF ledc.c over the hardware) -----------------------------

    def ledc_source(self, gpio):
        """The LEDC channel whose waveform `gpio` reads (its own, else its peer's), or -1."""
        state = self.pins.get(gpio)
        if state is not None and state.ledc >= 0:
            return state.ledc
        if self.driven(gpio, self.now_us) >= 0:
            return -1
        other = self.pins.get(self.jumpers.get(gpio, -1))
        if other is not None and other.ledc >= 0:
            return other.ledc
        return -1

    def ledc_channel_config(self, ch, timer, raw, gpio, invert):
        """ledc_channel_config(): the channel counts on `timer` with duty `raw` at once, and the GPIO
        matrix routes it to `gpio` (inverted or not)."""
        self.ledc_timer[ch] = timer
        self.ledc_raw[ch] = self.ledc_prev_raw[ch] = raw
        self.ledc_latch_us[ch] = self.now_us
        self.ledc_idle[ch] = -1
        state = self.pin(gpio)
        state.ledc = ch
        state.ledc_invert = 1 if invert else 0

    def ledc_set_duty(self, ch, raw):
        """ledc_set_duty() + ledc_update_duty(): the output takes `raw` at the start of the timer's next
        period; the pulse in progress keeps its width. False when nothing changes."""
        if raw == self.ledc_raw[ch] and self.ledc_idle[ch] < 0:
            return False
        now = self.now_us
        self.ledc_prev_raw[ch] = self.ledc_raw_at(ch, now)
        self.ledc_raw[ch] = raw
        self.ledc_latch_us[ch] = self.next_period_us(self.ledc_timer[ch], now)
        self.ledc_idle[ch] = -1
        return True

    def ledc_stop(self, ch, level):
        """ledc_stop(): the channel's signal holds `level`; pins routed to it keep showing it."""
        self.ledc_idle[ch] = level

    def ledc_raw_at(self, ch, t_us):
        """The duty register the channel's output runs on at `t_us` (what ledc_get_duty() reads)."""
        return self.ledc_raw[ch] if t_us >= self.ledc_latch_us[ch] else self.ledc_prev_raw[ch]

    def ledc_level(self, ch, t_us):
        """The channel's signal at `t_us`: high from each start of its timer's period for the duty."""
        if self.ledc_idle[ch] >= 0:
            return self.ledc_idle[ch]
        idx = self.ledc_timer[ch]
        timer = self.timers[idx]
        if timer is None:
            return 0  # a timer deconfigured under the channel stops its counter
        phase_ns = ((t_us - self.timer_start_us[idx]) * 1000) % timer.period_ns()
        return 1 if phase_ns < timer.high_ns(self.ledc_raw_at(ch, t_us)) else 0

    def ledc_next_change_us(self, ch, t_us):
        """The first whole us after `t_us` at which the channel's signal may change, -1 for never."""
        idx = self.ledc_timer[ch]
        timer = self.timers[idx]
        if self.ledc_idle[ch] >= 0 or timer is None:
            return -1
        period = timer.period_ns()
        start = self.timer_start_us[idx]
        elapsed = (t_us - start) * 1000
        boundary = elapsed - elapsed % period
        high = timer.high_ns(self.ledc_raw_at(ch, t_us))
        if elapsed - boundary < high < period:
            return start - (-(boundary + high) // 1000)  # the pulse ends
        raw = self.ledc_raw[ch]
        if t_us >= self.ledc_latch_us[ch] and (raw == 0 or timer.high_ns(raw) >= period):
            return -1  # 0 % or 100 %: a constant level from now on
        return start - (-(boundary + period) // 1000)  # the next period starts

    def pwm_high_at(self, gpio, t_us):
        """Whether the PWM output routed to `gpio` is high at `t_us`."""
        state = self.pins.get(gpio)
        return state is not None and state.ledc >= 0 and self.driven(gpio, t_us) == 1

    def next_period_us(self, timer_index, t_us):
        """When the LEDC timer next starts a period (where written duties latch), at or after `t_us`."""
        period = self.timers[timer_index].period_ns()
        elapsed = (t_us - self.timer_start_us[timer_index]) * 1000
        boundary = -(-elapsed // period) * period
        return self.timer_start_us[timer_index] + -(-boundary // 1000)

    # -- outputs ---------------------------------------------------------------------------------

    def record(self, gpio, freq_hz, duty_ns, kind, level):
        self.trace.record(self.now(), gpio, freq_hz, duty_ns, kind, level)

    def power_down(self):
        """Outputs stop (reset or power off): every driven pin is released and the trace flushed."""
        self.wdt_deadline_us = -1  # the reset stops the watchdog too: it must not fire again on the way
        for gpio, state in self.pins.items():
            if state.ledc >= 0 or state.mode in (3, 7):
                state.ledc = -1
                state.mode = -1
                self.record(gpio, 0, 0, simtrace.OFF, 0)
        self.trace.flush()

    # -- UARTs: bytes from and to what is wired to them (a Bluetooth serial module) ----------------

    def uart_feed(self, uart_id, data):
        """Bytes arriving on a UART's RX pin, all now; what its receive buffer cannot hold is lost, as on the chip."""
        state = self.uarts.get(uart_id)
        if state is not None:
            state.feed(data)

    def uart_sent(self, uart_id):
        """Everything the firmware wrote to a UART since the last call (sent or still on its way)."""
        state = self.uarts.get(uart_id)
        if state is None:
            return b""
        out = bytes(state.sent)
        state.sent = bytearray()
        return out

    # -- watchdog --------------------------------------------------------------------------------

    def feed_wdt(self):
        # A deadline rather than a queued event: feeding from the control tick must not allocate.
        self.wdt_deadline_us = self.now() + self.wdt_timeout_us


def _print_exception(exc):
    import sys

    if hasattr(sys, "print_exception"):
        sys.print_exception(exc)
    else:
        import traceback

        traceback.print_exception(type(exc), exc, exc.__traceback__)


board = Board()
