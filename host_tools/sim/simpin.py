"""`machine.Pin` of the simulated ESP32, and the pin checks every peripheral shares."""

import simtrace
from simboard import board


def gpio_of(pin):
    if isinstance(pin, Pin):
        return pin._id
    if isinstance(pin, int) and not isinstance(pin, bool):
        return pin
    raise TypeError("expecting a pin, got " + type(pin).__name__)


def check_pin(gpio, output):
    problem = board.chip.pin_problem(gpio, output)
    if problem:
        raise ValueError(problem)


_UNSET = object()


class _PinIRQ:
    """The object Pin.irq() returns (ports/esp32/machine_pin.c: machine_pin_irq_type): trigger() and a
    call that runs the handler as an edge would. It has no flags()."""

    def __init__(self, state):
        self._state = state

    def trigger(self, value=None):
        # machine_pin_irq_trigger(): returns the trigger as it was, sets the new one if given
        before = self._state.irq_trigger
        if value is not None:
            self._state.irq_trigger = value
        return before

    def __call__(self):
        # machine_pin_irq_call(): machine_pin_isr_handler(), the handler scheduled (dropped when full)
        state = self._state
        if state.irq_handler is not None and not board.sched(state.irq_handler, state.irq_pin):
            board.sched_dropped += 1


class Pin:
    IN = 1
    OUT = 3
    OPEN_DRAIN = 7
    PULL_DOWN = 1
    PULL_UP = 2
    PULL_HOLD = 4
    IRQ_RISING = 1
    IRQ_FALLING = 2
    WAKE_LOW = 4
    WAKE_HIGH = 5
    DRIVE_0 = 0
    DRIVE_1 = 1
    DRIVE_2 = 2
    DRIVE_3 = 3

    def __init__(self, id, mode=-1, pull=-1, *, value=None, drive=None, hold=None):
        gpio = gpio_of(id)
        check_pin(gpio, False)
        self._id = gpio
        self.init(mode, pull, value=value, drive=drive, hold=hold)

    def __repr__(self):
        return "Pin(" + str(self._id) + ")"

    def init(self, mode=-1, pull=-1, *, value=None, drive=None, hold=None):
        state = board.pin(self._id)
        if mode not in (-1, None, Pin.IN, Pin.OUT, Pin.OPEN_DRAIN):
            raise ValueError("invalid pin mode " + str(mode))
        if mode in (Pin.OUT, Pin.OPEN_DRAIN):
            check_pin(self._id, True)
        if pull not in (-1, None, Pin.PULL_UP, Pin.PULL_DOWN):
            raise ValueError("invalid pull " + str(pull))
        if pull not in (-1, None) and self._id in board.chip.input_only:
            raise ValueError("GPIO" + str(self._id) + " has no pull resistors; fit an external one")
        if drive is not None and drive not in (0, 1, 2, 3):
            raise ValueError("invalid drive strength " + str(drive))
        before = self._driven(state)
        if value is not None:
            state.out_level = 1 if value else 0
        if pull != -1:
            state.pull = -1 if pull is None else pull
        if mode not in (-1, None):
            state.ledc = -1  # the GPIO matrix now connects the pin to the GPIO block, not to a PWM
            state.mode = mode
        self._trace(state, before)
        board.wire_changed(self._id)

    def _driven(self, state):
        # (is the pin driving the wire, level) as seen by the trace
        if state.ledc >= 0:
            return -2
        if state.mode == Pin.OUT or (state.mode == Pin.OPEN_DRAIN and state.out_level == 0):
            return state.out_level
        return -1

    def _trace(self, state, before):
        after = self._driven(state)
        if after == before or after == -2:
            return
        if after == -1:
            board.record(self._id, 0, 0, simtrace.OFF, board.level(self._id))
        else:
            board.record(self._id, 0, 0, simtrace.GPIO, after)

    def value(self, x=None):
        state = board.pin(self._id)
        if x is None:
            return board.level(self._id)
        before = self._driven(state)
        state.out_level = 1 if x else 0
        self._trace(state, before)
        board.wire_changed(self._id)
        return None

    def __call__(self, x=None):
        return self.value(x)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def toggle(self):
        self.value(1 - board.pin(self._id).out_level)

    def irq(self, handler=_UNSET, trigger=_UNSET, *, wake=_UNSET):
        # ports/esp32/machine_pin.c: machine_pin_irq(). The port takes no `hard` or `priority`: its
        # handlers always go through the scheduler (mp_sched_schedule), 8 deep, dropped when full.
        state = board.pin(self._id)
        if handler is _UNSET and trigger is _UNSET and wake is _UNSET:
            return _PinIRQ(state)  # no arguments: the irq object, nothing changed
        handler = None if handler is _UNSET else handler
        trigger = Pin.IRQ_FALLING | Pin.IRQ_RISING if trigger is _UNSET else trigger
        wake = None if wake is _UNSET else wake
        if trigger in (Pin.WAKE_LOW, Pin.WAKE_HIGH) and wake is not None:
            if not isinstance(wake, int) or wake < 2 or wake > 7:
                raise ValueError("bad wake value")
            return _PinIRQ(state)  # a deep-sleep wake source (ext0): the handler is left as it was
        if trigger & ~(Pin.IRQ_RISING | Pin.IRQ_FALLING):
            # Stricter than upstream, which would set a level interrupt (it fires again and again while
            # the level holds, starving the main flow) or pass an invalid type to gpio_set_intr_type.
            raise ValueError("trigger must be IRQ_RISING and/or IRQ_FALLING (level interrupts flood the board)")
        if handler is None:
            trigger = 0
        state.irq_handler = handler
        state.irq_trigger = trigger
        state.irq_pin = self
        state.irq_seen = board.level(self._id)
        board.wire_changed(self._id)  # a PWM on the wire queues its next edge (only while listened to)
        return _PinIRQ(state)
