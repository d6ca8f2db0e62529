"""Simulated GPIOs: which pins each chip has, what they refuse, inputs, edges and pulse timing."""

import machine
from fwtest import raises
from machine import Pin
from simboard import board


def setup_function():
    board.reset("ESP32")


def test_esp32_pins_that_do_not_exist_or_belong_to_the_flash_are_refused():
    for gpio in (20, 24, 28, 31, 40):
        with raises(ValueError, "has no GPIO" + str(gpio)):
            Pin(gpio)
    for gpio in range(6, 12):
        with raises(ValueError, "SPI flash"):
            Pin(gpio, Pin.IN)
    Pin(21, Pin.OUT)
    Pin(39, Pin.IN)


def test_esp32_input_only_pins_refuse_output_and_pulls():
    for gpio in range(34, 40):
        with raises(ValueError, "can only be input"):
            Pin(gpio, Pin.OUT)
        with raises(ValueError, "no pull resistors"):
            Pin(gpio, Pin.IN, Pin.PULL_UP)
        Pin(gpio, Pin.IN)


def test_s3_and_c3_pin_maps():
    board.reset("ESP32-S3")
    Pin(48, Pin.OUT)
    for gpio in (22, 25):
        with raises(ValueError, "has no GPIO"):
            Pin(gpio)
    with raises(ValueError, "SPI flash"):
        Pin(29)
    board.reset("ESP32-C3")
    Pin(21, Pin.OUT)
    with raises(ValueError, "has no GPIO22"):
        Pin(22)
    for gpio in range(12, 18):
        with raises(ValueError, "SPI flash"):
            Pin(gpio)


def test_outputs_are_traced_only_when_the_level_changes():
    led = Pin(2, Pin.OUT, value=0)
    led.value(0)
    board.advance_ms(5)
    led.on()
    led.on()
    rows = board.trace.rows(2)
    assert [(r.t_us, r.kind, r.level) for r in rows] == [(0, "gpio", 0), (5000, "gpio", 1)]
    led.init(Pin.IN)
    assert board.trace.last(2).kind == "off"


def test_inputs_read_pulls_and_driven_levels():
    up = Pin(4, Pin.IN, Pin.PULL_UP)
    down = Pin(5, Pin.IN, Pin.PULL_DOWN)
    assert up.value() == 1 and down.value() == 0
    board.drive(4, 0)
    board.drive(5, 1)
    assert up() == 0 and down() == 1


def test_irq_fires_on_the_selected_edges_at_the_edge_time():
    seen = []
    pin = Pin(4, Pin.IN)
    pin.irq(lambda p: seen.append((p.value(), board.now_us)), Pin.IRQ_RISING)
    board.pulse_train(4, (1000, 1500), period_us=20_000, start_us=100)
    board.advance_ms(50)
    assert seen == [(1, 100), (1, 20_100)]
    pin.irq(None)
    board.drive(4, 1)
    board.drive(4, 0)
    assert len(seen) == 2


def test_time_pulse_us_measures_a_receiver_pulse_and_times_out():
    pin = Pin(4, Pin.IN)
    board.pulse_train(4, (1500,), start_us=3000)
    assert machine.time_pulse_us(pin, 1, 10_000) == 1500
    assert board.now_us == 4500
    assert machine.time_pulse_us(pin, 1, 10_000) == -2  # no further pulse
    assert board.now_us == 14_500
    board.drive_at(4, board.now_us + 10, 1)
    assert machine.time_pulse_us(pin, 1, 1000) == -1  # starts but never ends


# -- GPIOs the chip has but stock MicroPython has no Pin for (ports/esp32/machine_pin.h) ----------------

def _invalid_pin(refused):
    # machine_pin.c: machine_pin_find() raises ValueError("invalid pin"); the simulator says why after it
    assert str(refused.value).startswith("invalid pin: ")
    return str(refused.value)


def test_c3_has_no_pin_18_or_19_its_usb_console_owns_them():
    board.reset("ESP32-C3")
    for gpio in (18, 19):
        for mode in (Pin.IN, Pin.OUT):
            with raises(ValueError) as refused:
                Pin(gpio, mode)
            assert "USB-Serial/JTAG" in _invalid_pin(refused)
        with raises(ValueError) as refused:
            machine.PWM(Pin(gpio), freq=50, duty_u16=0)
        _invalid_pin(refused)
    for tx, rx in ((18, 19), (7, 19)):
        with raises(ValueError) as refused:
            machine.UART(1, 9600, tx=tx, rx=rx)
        _invalid_pin(refused)
    machine.UART(1, 9600, tx=7, rx=10)  # the chip's clean pins carry the second UART
    Pin(20, Pin.IN)
    Pin(21, Pin.OUT)


def test_s2_and_s3_have_no_pin_26_the_stock_psram_takes_it_but_keep_19_and_20():
    for chip in ("ESP32-S2", "ESP32-S3"):
        board.reset(chip)
        with raises(ValueError) as refused:
            Pin(26, Pin.OUT)
        assert "PSRAM" in _invalid_pin(refused)
        # the pin table's USB exception hangs on a setting ESP-IDF 5 never sets: these stay usable
        Pin(19, Pin.OUT)
        Pin(20, Pin.IN)
        Pin(33, Pin.OUT)  # the stock build's PSRAM is quad: GPIO33-37 stay usable


def test_esp32_stock_build_keeps_16_and_17():
    board.reset("ESP32")
    Pin(16, Pin.OUT)
    Pin(17, Pin.IN)
    machine.UART(2, 9600, tx=17, rx=16)
