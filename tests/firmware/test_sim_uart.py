"""Simulated UARTs: which ones each chip has, the pins they accept, bytes in and out, and waiting on
one with asyncio as the firmware does."""

import asyncio

import fwtest
from fwtest import raises
from machine import UART
from simboard import board


def setup_function():
    board.reset("ESP32")


def test_each_chip_has_its_own_uarts_and_uart0_belongs_to_the_repl():
    for chip, count in (("ESP32", 3), ("ESP32-S3", 3), ("ESP32-C3", 2), ("ESP32-S2", 2)):
        board.reset(chip)
        with raises(ValueError, "dedicated to REPL"):
            UART(0)
        for uart_id in range(1, count):
            UART(uart_id, 9600).deinit()
        with raises(ValueError, "UART(" + str(count) + ") does not exist"):
            UART(count)


def test_tx_needs_an_output_pin_rx_any_pin_the_chip_has():
    with raises(ValueError, "can only be input"):
        UART(2, 9600, tx=34, rx=16)
    with raises(ValueError, "SPI flash"):
        UART(2, 9600, tx=17, rx=6)
    with raises(ValueError, "has no GPIO20"):
        UART(2, 9600, tx=17, rx=20)
    UART(2, 9600, tx=17, rx=35)  # an input-only pin receives well
    with raises(ValueError, "baudrate"):
        UART(1, 0, tx=17, rx=16)


def test_bytes_fed_in_are_read_back_in_order_and_lines_split_at_newlines():
    uart = UART(1, 115200, tx=17, rx=16)
    assert uart.any() == 0 and uart.read() is None and uart.readline() is None
    board.uart_feed(1, b"ping\r\nstat")
    assert uart.any() == 10
    assert uart.readline() == b"ping\r\n"
    assert uart.readline() == b"stat"  # a line not yet ended: what there is
    board.uart_feed(1, b"us\nabc")
    assert uart.read(2) == b"us"
    buf = bytearray(8)
    assert uart.readinto(buf) == 4 and bytes(buf[:4]) == b"\nabc"


def test_what_is_written_reaches_the_wire_once():
    uart = UART(1, 9600, tx=17, rx=16)
    assert uart.write(b"ok\n") == 3
    uart.write("evt x {}\n")
    assert board.uart_sent(1) == b"ok\nevt x {}\n"
    assert board.uart_sent(1) == b""


def test_a_full_receive_buffer_loses_the_overflow_and_a_closed_uart_refuses():
    uart = UART(1, 9600, tx=17, rx=16, rxbuf=300)
    board.uart_feed(1, bytes(400))
    assert uart.any() == 300
    uart.deinit()
    with raises(OSError):
        uart.read()
    board.uart_feed(1, b"nobody listens\n")  # harmless


def test_asyncio_waits_for_a_line_on_the_uart():
    if not fwtest.MICROPYTHON:
        import pytest

        pytest.skip("asyncio.StreamReader over a stream object is MicroPython's")
    uart = UART(1, 115200, tx=17, rx=16)
    board.use_real_time()
    got = []

    async def reader():
        stream = asyncio.StreamReader(uart)
        got.append(await stream.readline())

    async def sender():
        await asyncio.sleep_ms(30)
        board.uart_feed(1, b"ping\n")

    async def both():
        asyncio.create_task(sender())
        await asyncio.wait_for_ms(reader(), 2000)

    asyncio.run(both())
    assert got == [b"ping\n"]
