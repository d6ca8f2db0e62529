"""Jumper wires on the simulated board: a pin reads what its peer drives (GPIO, open drain, a PWM waveform,
a UART's idle TX), time_pulse_us measures a PWM through the wire, and Pin.irq sees the peer's edges
through the port's 8-deep scheduler queue."""

import machine
from fwtest import MICROPYTHON, raises
from machine import PWM, UART, Pin
from simboard import board


def setup_function():
    board.reset("ESP32")
    board.jumper(4, 5)


def _pwm_50hz_quarter():
    # 50 Hz on the ESP32: a divider of exactly 6250 at 16 bits, so 25 % is 5000 us high, 15000 us low
    return PWM(Pin(4), freq=50, duty_u16=16384)


def test_a_pin_reads_its_peers_output_open_drain_and_pulls():
    out = Pin(4, Pin.OUT, value=1)
    inp = Pin(5, Pin.IN)
    assert inp.value() == 1
    out.value(0)
    assert inp.value() == 0
    out.init(Pin.OPEN_DRAIN, value=1)  # released: nothing drives the wire
    assert inp.value() == 0
    inp.init(Pin.IN, Pin.PULL_UP)
    assert inp.value() == 1 and out.value() == 1  # one pull-up pulls the whole wire
    out.value(0)
    assert inp.value() == 0
    assert Pin(12, Pin.IN).value() == 0  # an unwired pin is unaffected


def test_a_pin_reads_a_pwm_waveform_through_the_wire():
    _pwm_50hz_quarter()
    inp = Pin(5, Pin.IN)
    seen = []
    for t in (0, 4999, 5000, 19_999, 20_000, 24_999, 25_000):
        board.advance_us(t - board.now_us)
        seen.append(inp.value())
    assert seen == [1, 1, 0, 0, 1, 1, 0]


def test_a_pin_reads_a_uarts_tx_line_through_the_wire():
    inp = Pin(5, Pin.IN)
    assert inp.value() == 0  # nothing drives the wire
    uart = UART(1, 9600, tx=4, rx=18)
    assert inp.value() == 1  # a UART's TX idles high
    uart.write(b"\x00")
    board.advance_us(50)
    assert inp.value() == 0  # the start bit
    uart.deinit()
    assert inp.value() == 0  # the driver is gone: nothing drives it


def test_time_pulse_us_measures_a_pwm_exactly_through_the_wire():
    _pwm_50hz_quarter()
    inp = Pin(5, Pin.IN)
    board.advance_us(1000)
    assert machine.time_pulse_us(inp, 1) == 4000  # already high: the rest of the pulse
    assert board.now_us == 5000  # the call returns at the end of the pulse
    assert machine.time_pulse_us(inp, 1) == 5000
    assert board.now_us == 25_000
    assert machine.time_pulse_us(inp, 0) == 15_000
    assert board.now_us == 40_000


def test_time_pulse_us_times_out_on_a_constant_output_as_upstream():
    pwm = PWM(Pin(4), freq=1000, duty_u16=0)
    inp = Pin(5, Pin.IN)
    assert machine.time_pulse_us(inp, 1, 3000) == -2  # never starts
    assert board.now_us == 3000
    pwm.duty_u16(65535)
    board.advance_ms(2)
    assert inp.value() == 1
    assert machine.time_pulse_us(inp, 1, 3000) == -1  # starts at once, never ends
    assert board.now_us == 8000
    assert machine.time_pulse_us(inp, 0, 1000) == -2


def test_time_pulse_us_follows_a_duty_change_at_the_period_boundary():
    pwm = _pwm_50hz_quarter()
    inp = Pin(5, Pin.IN)
    board.advance_us(2000)
    pwm.duty_u16(32768)  # 50 %, from the next period on
    assert machine.time_pulse_us(inp, 1) == 3000
    assert machine.time_pulse_us(inp, 1) == 10_000


def test_irq_on_a_pin_sees_its_peers_output_edges_after_they_happen():
    seen = []
    out = Pin(4, Pin.OUT, value=0)
    inp = Pin(5, Pin.IN)
    inp.irq(lambda p: seen.append((p.value(), board.now_us)), Pin.IRQ_RISING)
    board.advance_us(100)
    out.value(1)
    assert seen == []  # scheduled: it runs when the main flow next waits
    board.advance_us(10)
    assert seen == [(1, 100)]
    out.value(0)
    board.advance_us(10)
    assert len(seen) == 1  # falling edges were not asked for


def test_irq_sees_a_pwm_waveforms_edges_at_their_times_while_a_handler_listens():
    seen = []
    _pwm_50hz_quarter()
    inp = Pin(5, Pin.IN)
    assert not board._events  # nobody listens: nothing queued
    inp.irq(lambda p: seen.append((p.value(), board.now_us)))
    board.advance_ms(44)
    assert seen == [(0, 5000), (1, 20_000), (0, 25_000), (1, 40_000)]
    inp.irq(None)
    board.advance_ms(45)
    assert len(seen) == 4
    assert not board._events  # the waveform is no longer followed


def test_irq_object_has_trigger_and_can_be_called_but_no_flags():
    seen = []
    inp = Pin(5, Pin.IN)
    irq = inp.irq(seen.append, Pin.IRQ_FALLING)
    assert irq.trigger() == Pin.IRQ_FALLING
    assert irq.trigger(Pin.IRQ_RISING) == Pin.IRQ_FALLING
    assert inp.irq().trigger() == Pin.IRQ_RISING  # irq() without arguments changes nothing
    assert not hasattr(irq, "flags")
    irq()  # runs the handler as an edge would: scheduled
    board.advance_us(0)
    assert seen == [inp]


def test_a_ninth_pin_interrupt_waiting_in_the_scheduler_queue_is_dropped():
    seen = []
    out = Pin(4, Pin.OUT, value=0)
    Pin(5, Pin.IN).irq(lambda p: seen.append(p.value()))
    for _ in range(9):
        out.toggle()  # nine edges before the main flow lets the scheduler run
    board.advance_us(0)
    assert len(seen) == 8
    assert board.sched_dropped == 1


def test_micropython_schedule_shares_the_queue_and_raises_when_full():
    if MICROPYTHON:
        return  # MicroPython's own micropython.schedule() runs there, on its own queue
    import micropython

    ran = []
    for i in range(8):
        micropython.schedule(ran.append, i)
    with raises(RuntimeError, "schedule queue full"):
        micropython.schedule(ran.append, 8)
    out = Pin(4, Pin.OUT, value=0)
    Pin(5, Pin.IN).irq(ran.append)
    out.value(1)  # the pin's handler finds the queue full: dropped, no error
    board.advance_us(0)
    assert ran == list(range(8))
    assert board.sched_dropped == 1


def test_a_handler_that_raises_is_reported_and_the_board_carries_on():
    calls = []

    def broken(pin):
        calls.append(pin)
        raise ValueError("handler bug")

    out = Pin(4, Pin.OUT, value=0)
    Pin(5, Pin.IN).irq(broken)
    out.value(1)
    board.advance_us(10)  # printed, as mp_call_function_1_protected() does, and the flow goes on
    out.value(0)
    board.advance_us(10)
    assert len(calls) == 2 and board.now_us == 20
