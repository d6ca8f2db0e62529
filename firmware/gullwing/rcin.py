"""RC receiver input: servo pulses -> throttle, a door switch, an engine switch, with a failsafe.

Pulses are timed by pin interrupts on both edges and `time.ticks_us()`, never by
`machine.time_pulse_us`, which blocks the loop for up to a frame. The ESP32 port runs Pin handlers
soft (scheduled between bytecodes, there is no `hard=True` for pins), so an edge handled late can
mis-measure one pulse. Hence three filters: a pulse counts only if its width (800-2200 us) and the
time since the last good pulse are possible; the throttle is the median of the last three frames;
a switch moves only when two frames running agree.

Split of work: the handlers store ints into fields made at construction; `poll(now_us)`, called by
the control tick, turns them into throttle, switch flips and the failsafe. Neither allocates. The
failsafe's deadline is kept by the tick, not by a machine.Timer re-armed per pulse: on the ESP32 a
Timer's callback is scheduled like a Pin handler (machine_timer.c: machine_timer_handler), and the
throttle and the motor are the tick's to close, so LOSS_US leaves room for one tick instead.
docs/rc.md covers wiring, transmitter setup and the failsafe.
"""

import time

from machine import Pin

from gullwing import schema

PULSE_MIN_US = schema.RC["min_us"][1]  # shorter or longer "pulses" (800, 2200) are noise, whatever the receiver
PULSE_MAX_US = schema.RC["max_us"][2]
MIN_PERIOD_US = 8000  # good pulses closer than this (above 125 frames/s) are not a receiver's frames
# The failsafe's budget: throttle closed within FAILSAFE_US of the end of the last good pulse (SBUS's and ESC
# firmware's 100 ms). poll() runs on the control tick, so a loss is seen up to one TICK_US after LOSS_US has
# passed: LOSS_US leaves that tick and LATE_TICK_US (a tick run late) inside the budget. At 72 ms it still
# outlasts a dropout of DROPOUT_FRAMES: three frames between good pulses are 66 ms at the slowest common
# frame (22 ms), plus 1.4 ms when the next pulse is wider, so a receiver skipping two frames never fails safe.
FAILSAFE_US = 100_000
TICK_US = 20_000  # the app's control tick: one servo frame
LATE_TICK_US = 8_000
DROPOUT_FRAMES = 2
LOSS_US = FAILSAFE_US - TICK_US - LATE_TICK_US  # no good pulse (from its falling edge) this long: the channel is lost
MIN_SPAN_US = 200  # max_us at least this far above min_us
MIN_TRAVEL_US = 100  # throttle travel beyond the deadband
SWITCH_FRAMES = 2  # a switch position must read the same on this many frames running
_COUNT_MASK = 0x3FFFFFFF  # counters wrap within the ESP32's small ints: never a big int in an IRQ

# Receiver.state
WAITING = 0  # since power-up: no signal yet, or the throttle not yet seen at neutral
CONTROL = 1  # the transmitter is in control
FAILSAFE = 2  # the throttle signal was lost; left only after the throttle is seen at neutral again
STATE_NAMES = ("waiting", "control", "failsafe")

# events, a bitmask the app polls with take_events() (as engine.py's)
EV_FAILSAFE = 1  # throttle signal lost: throttle closed, switches ignored
EV_SIGNAL_BACK = 2  # control resumed after a failsafe (signal back and throttle seen at neutral)
EV_DOOR_TOGGLE = 4  # the door switch was flipped (either way)
EV_ENGINE_START = 8  # the engine switch was flipped on (high)
EV_ENGINE_STOP = 16  # the engine switch was flipped off (low)


def check(s, where=""):
    """The receiver's settings (a dict of schema.RC's keys) checked as a whole: min_us below max_us, the
    throttle's travel from neutral_us past the deadband, the switch point within the pulse range.
    ValueError naming the key (`where` + key), its range as the other keys narrow it, and them."""
    schema.section(schema.RC, s, where, ("max_us", "deadband_us", "neutral_us", "switch_mid_us"))
    low = s["min_us"]
    high = schema.check(schema.RC, "max_us", s["max_us"], where, low + MIN_SPAN_US,
                        why=" (" + str(MIN_SPAN_US) + " us above " + where + "min_us " + str(low) + ")")
    deadband = schema.check(schema.RC, "deadband_us", s["deadband_us"], where, high=high - low - MIN_TRAVEL_US,
                            why=" (" + where + "min_us to max_us less " + str(MIN_TRAVEL_US) + " us)")
    room = deadband + MIN_TRAVEL_US
    why = " (from " + where + "min_us " + str(low) + " to max_us " + str(high) + ", leaving deadband_us + " \
        + str(MIN_TRAVEL_US) + " us of travel)"
    if s["reversed"]:
        schema.check(schema.RC, "neutral_us", s["neutral_us"], where, low + room, high, why)
    else:
        schema.check(schema.RC, "neutral_us", s["neutral_us"], where, low, high - room, why)
    hysteresis = s["hysteresis_us"]
    schema.check(schema.RC, "switch_mid_us", s["switch_mid_us"], where, PULSE_MIN_US + hysteresis,
                 PULSE_MAX_US - hysteresis, " (" + where + "hysteresis_us " + str(hysteresis) + " inside "
                 + schema.span(PULSE_MIN_US, PULSE_MAX_US, "us") + ")")


def _median3(a, b, c):
    if a <= b:
        if b <= c:
            return b
        return c if a <= c else a
    if a <= c:
        return a
    return c if b <= c else b


class Channel:
    """One receiver channel on one input pin. The interrupt handler keeps the last good pulse:
    `width` (us), `stamp` (ticks_us at its falling edge) and `frames`, a count of good pulses that
    poll() compares to see a new one; `lapses` counts good pulses that ended LOSS_US or more after the
    one before (a loss over before a tick could see it); `rejected` counts pulses refused as noise."""

    def __init__(self, pin):
        self.pin = pin
        self.width = 0
        self.stamp = 0
        self.frames = 0
        self.lapses = 0
        self.rejected = 0
        self._rise = 0  # ticks_us of the rising edge of the pulse in progress
        self._high = 0  # 1 between a rising edge and its falling edge
        self._last_rise = 0  # rising edge of the last good pulse ...
        self._has_last = 0  # ... once there is one
        self._handler = self._edge  # one bound method, made here: binding it per edge would allocate
        self.pin.irq(self._handler, Pin.IRQ_RISING | Pin.IRQ_FALLING)

    def _edge(self, pin):
        # Interrupt handler: ints into existing fields only.
        now = time.ticks_us()
        if pin.value():
            self._rise = now
            self._high = 1
            return
        if not self._high:
            return  # a falling edge whose rise was missed (or handled after the fall): no pulse
        self._high = 0
        width = time.ticks_diff(now, self._rise)
        if width < PULSE_MIN_US or width > PULSE_MAX_US or (
                self._has_last and 0 <= time.ticks_diff(self._rise, self._last_rise) < MIN_PERIOD_US):
            self.rejected = (self.rejected + 1) & _COUNT_MASK
            return
        if self._has_last and time.ticks_diff(now, self.stamp) >= LOSS_US:
            self.lapses = (self.lapses + 1) & _COUNT_MASK
        self._last_rise = self._rise
        self._has_last = 1
        self.width = width
        self.stamp = now
        self.frames = (self.frames + 1) & _COUNT_MASK

    def release(self):
        """Stop listening (the pin's handler removed)."""
        self.pin.irq(None)


class _Fresh:
    """What poll() has seen of one channel: whether a new good pulse arrived since the last poll,
    and whether the channel is lost (no good pulse for LOSS_US)."""

    def __init__(self, channel):
        self.channel = channel
        self.frames = 0
        self.lapses = 0
        self.stamp = 0
        self.seen = 0  # 1 once a pulse arrived; 0 again while lost
        self.lapsed = 0  # 1 when the new pulse ends a loss that fell between two polls

    def update(self, now_us):
        """1 if a new pulse arrived since the last call, else 0 (and `seen` cleared when lost). A loss
        is a gap of LOSS_US between good pulses whatever the tick's phase: one that ended between two
        polls (a dropout of three frames) sets `lapsed` with the pulse that ended it."""
        ch = self.channel
        frames = ch.frames
        if frames != self.frames:
            self.frames = frames
            self.stamp = ch.stamp
            lapses = ch.lapses
            self.lapsed = 1 if lapses != self.lapses and self.seen else 0
            self.lapses = lapses
            self.seen = 1
            return 1
        self.lapsed = 0
        if self.seen and time.ticks_diff(now_us, self.stamp) >= LOSS_US:
            self.seen = 0
        return 0


class _Switch:
    """A two-position switch channel with hysteresis: high above mid + hysteresis, low below
    mid - hysteresis, in between (jitter, a three-position switch's middle) nothing changes. A new
    position needs SWITCH_FRAMES frames running; the first one known after power-up or a loss is
    taken as where the switch is, not as a flip."""

    def __init__(self, channel, mid_us, hysteresis_us):
        self.fresh = _Fresh(channel)
        self.high_us = mid_us + hysteresis_us
        self.low_us = mid_us - hysteresis_us
        self.position = -1  # 0 low, 1 high, -1 unknown
        self._candidate = -1
        self._count = 0

    def update(self, now_us):
        """-1 if nothing changed; else the new position (0 or 1) the switch was flipped to."""
        fresh = self.fresh
        if not fresh.update(now_us):
            if not fresh.seen:
                self.position = -1  # lost: where it comes back is not a flip
                self._count = 0
            return -1
        if fresh.lapsed:
            self.position = -1  # lost meanwhile: as above
            self._count = 0
        width = fresh.channel.width
        level = 1 if width > self.high_us else 0 if width < self.low_us else -1
        if level < 0 or level == self.position:
            self._count = 0
            return -1
        if level != self._candidate:
            self._candidate = level
            self._count = 0
        self._count += 1
        if self._count < SWITCH_FRAMES:
            return -1
        self._count = 0
        known = self.position >= 0
        self.position = level
        return level if known else -1


class Receiver:
    """The receiver: a throttle channel, optionally a door and an engine switch channel.

    Throttle calibration, in us of pulse: `neutral_us` is the trigger at rest, `max_us` the trigger
    pulled fully (forward), `min_us` pushed fully (brake/reverse). From neutral + `deadband_us` to
    max_us the throttle opens 0..100 %; anything towards min_us is a closed throttle. `reversed`
    swaps the sides for a transmitter whose throttle pulses go down when pulled. A stick transmitter
    with no brake side sets neutral_us to min_us. Switches flip at `switch_mid_us` +-
    `hysteresis_us`. After power-up or a failsafe, control starts only when the throttle has been
    seen closed (at neutral or braking) on `neutral_frames` frames running.

    Every control tick: `poll(now_us)`, then read `throttle_pct`, `state`/`failsafe`, and
    `take_events()` for the EV_* bits. Pins are GPIO numbers or machine.Pin objects."""

    def __init__(self, throttle_pin, door_pin=None, engine_pin=None, min_us=1000, neutral_us=1500,
                 max_us=2000, deadband_us=40, reversed=False, switch_mid_us=1500, hysteresis_us=200,
                 neutral_frames=5):
        reversed = bool(reversed)
        check({"min_us": min_us, "neutral_us": neutral_us, "max_us": max_us, "deadband_us": deadband_us,
               "reversed": reversed, "switch_mid_us": switch_mid_us, "hysteresis_us": hysteresis_us,
               "neutral_frames": neutral_frames})
        travel = (neutral_us - min_us) if reversed else (max_us - neutral_us)
        given = [p for p in (throttle_pin, door_pin, engine_pin) if p is not None]
        for p in given:
            if given.count(p) > 1:
                raise ValueError("rc channels must be on different pins, got " + str(p) + " twice")
        pins = [_input(p) for p in (throttle_pin, door_pin, engine_pin)]  # all checked before any is used
        self.neutral_us = neutral_us
        self.deadband_us = deadband_us
        self.reversed = reversed
        self._span = travel - deadband_us  # pulse travel that opens the throttle fully
        self.neutral_frames = neutral_frames
        self.throttle_channel = Channel(pins[0])
        self._throttle = _Fresh(self.throttle_channel)
        self.door_channel = Channel(pins[1]) if pins[1] is not None else None
        self.engine_channel = Channel(pins[2]) if pins[2] is not None else None
        self._door = _switch(self.door_channel, switch_mid_us, hysteresis_us)
        self._engine = _switch(self.engine_channel, switch_mid_us, hysteresis_us)
        self.state = WAITING
        self.failsafe = False
        self.throttle_pct = 0  # the throttle the transmitter asks for; 0 unless in CONTROL
        self.events = 0
        self.door_toggles = 0  # flips of the door switch acted on since power-up
        self.failsafes = 0  # failsafes since power-up
        self._w0 = self._w1 = self._w2 = neutral_us  # the last three throttle frames, newest last
        self._closed_run = 0  # throttle frames running seen closed, while not in control

    def pct_of(self, width_us):
        """Throttle for a pulse width: 0 inside the deadband or on the brake side, else up to 100."""
        travel = (self.neutral_us - width_us) if self.reversed else (width_us - self.neutral_us)
        travel -= self.deadband_us
        if travel <= 0:
            return 0
        if travel >= self._span:
            return 100
        return (travel * 100 + self._span // 2) // self._span

    def poll(self, now_us):
        """Advance from the pulses received since the last call (`now_us` from time.ticks_us()).
        Allocates nothing."""
        fresh = self._throttle
        new = fresh.update(now_us)
        if new:
            self._w0 = self._w1
            self._w1 = self._w2
            self._w2 = self.throttle_channel.width
        if fresh.lapsed:
            self._closed_run = 0  # a loss came between two polls: the frames before it do not count
        if self.state == CONTROL:
            if fresh.lapsed or not fresh.seen:
                self._lose()
            elif new:
                self.throttle_pct = self.pct_of(_median3(self._w0, self._w1, self._w2))
        elif new:
            if self.pct_of(self._w2) == 0:
                self._closed_run += 1
                if self._closed_run >= self.neutral_frames:
                    self._resume()
            else:
                self._closed_run = 0
        elif not fresh.seen:
            self._closed_run = 0
        self._switches(now_us)

    def _lose(self):
        self.state = FAILSAFE
        self.failsafe = True
        self.throttle_pct = 0
        self.failsafes = (self.failsafes + 1) & _COUNT_MASK
        self.events |= EV_FAILSAFE

    def _resume(self):
        if self.state == FAILSAFE:
            self.events |= EV_SIGNAL_BACK
        self.state = CONTROL
        self.failsafe = False
        self._closed_run = 0
        self.throttle_pct = 0

    def _switches(self, now_us):
        # Positions are tracked in every state; only flips made in control become commands, so
        # nothing flipped during a failsafe acts when control comes back.
        control = self.state == CONTROL
        door = self._door
        if door is not None and door.update(now_us) >= 0 and control:
            self.door_toggles = (self.door_toggles + 1) & _COUNT_MASK
            self.events |= EV_DOOR_TOGGLE
        engine = self._engine
        if engine is not None:
            flip = engine.update(now_us)
            if flip >= 0 and control:
                self.events |= EV_ENGINE_START if flip else EV_ENGINE_STOP

    def take_events(self):
        """The EV_* bits raised since the last call, cleared."""
        events = self.events
        self.events = 0
        return events

    def status(self):
        """For the protocol's status (allocates): state, throttle, the last pulse of each channel
        (None while lost), switch positions and counters."""
        return {"state": STATE_NAMES[self.state], "throttle": self.throttle_pct,
                "pulses": {"throttle": _last_pulse(self._throttle), "door": _last_pulse(_fresh_of(self._door)),
                           "engine": _last_pulse(_fresh_of(self._engine))},
                "door_switch": _position(self._door), "engine_switch": _position(self._engine),
                "door_toggles": self.door_toggles, "failsafes": self.failsafes,
                "rejected": sum(ch.rejected for ch in self._channels())}

    def _channels(self):
        return [ch for ch in (self.throttle_channel, self.door_channel, self.engine_channel) if ch is not None]

    def release(self):
        """Stop listening on every pin."""
        for ch in self._channels():
            ch.release()


def _input(pin):
    if pin is None or isinstance(pin, Pin):
        return pin
    return Pin(pin, Pin.IN)  # no pulls: the receiver drives the line (GPIO34-39 have none anyway)


def _switch(channel, mid_us, hysteresis_us):
    return None if channel is None else _Switch(channel, mid_us, hysteresis_us)


def _fresh_of(switch):
    return None if switch is None else switch.fresh


def _last_pulse(fresh):
    return fresh.channel.width if fresh is not None and fresh.seen else None


def _position(switch):
    if switch is None or switch.position < 0:
        return None
    return "high" if switch.position else "low"
