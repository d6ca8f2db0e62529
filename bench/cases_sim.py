"""Benchmark cases for the simulator itself: what the firmware's tick calls must allocate nothing,
so that a firmware allocation figure measured on top of the simulator is the firmware's own."""

import time

import machine
from simboard import board


def _empty():
    def empty():
        pass

    return empty


def _list():
    def grow():
        return [1, 2, 3, 4]

    return grow


def _servo_write():
    board.reset("ESP32")
    pwm = machine.PWM(machine.Pin(13), freq=50, duty_u16=0)  # duty_ns needs a running timer first
    pwm.duty_ns(1_500_000)
    widths = (1_000_000, 2_000_000)
    state = [0]

    def write():
        state[0] ^= 1
        pwm.duty_ns(widths[state[0]])
        board.advance_us(20_000)

    return write


def _tone_change():
    board.reset("ESP32")
    buzzer = machine.PWM(machine.Pin(23), freq=2000, duty_u16=32768)
    state = [0]

    def retune():
        state[0] = (state[0] + 1) & 1023
        buzzer.freq(2000 + state[0])

    return retune


def _ticks():
    board.reset("ESP32")
    start = time.ticks_ms()

    def ticks():
        return time.ticks_diff(time.ticks_ms(), start)

    return ticks


def _pin_and_watchdog():
    board.reset("ESP32")
    led = machine.Pin(2, machine.Pin.OUT)
    wdt = machine.WDT(timeout=1000)

    def toggle_and_feed():
        led.toggle()
        wdt.feed()

    return toggle_and_feed


CASES = [
    ("probe: empty function", 0, _empty),
    ("probe: builds a 4-item list", -1, _list),
    ("sim: PWM.duty_ns + 20 ms frame", 0, _servo_write),
    ("sim: PWM.freq change (a buzzer's tone)", 0, _tone_change),
    ("sim: ticks_ms + ticks_diff", 0, _ticks),
    ("sim: Pin.toggle + WDT.feed", 0, _pin_and_watchdog),
]
