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


class _PinIRQ:
    def __init__(self, state):
        self._state = state

    def trigger(self):
        return self._state.irq_trigger

    def flags(self):
        return self._state.irq_trigger


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
            if state.pwm is not None:
                state.pwm._route(False)  # the GPIO matrix now connects the pin to the GPIO block
            state.mode = mode
        self._trace(state, before)

    def _driven(self, state):
        # (is the pin driving the wire, level) as seen by the trace
        if state.pwm is not None:
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
        return None

    def __call__(self, x=None):
        return self.value(x)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def toggle(self):
        self.value(1 - board.pin(self._id).out_level)

    def irq(self, handler=None, trigger=IRQ_FALLING | IRQ_RISING, *, wake=None):
        # The esp32 port takes no `hard` or `priority`: its handlers always run from the scheduler.
        state = board.pin(self._id)
        if trigger & ~(Pin.IRQ_RISING | Pin.IRQ_FALLING):
            raise ValueError("bad trigger")
        state.irq_handler = handler
        state.irq_trigger = trigger if handler is not None else 0
        state.irq_pin = self
        return _PinIRQ(state)
