"""Simulated UARTs as MicroPython 1.29's esp32 port has them: which ones each chip has, the pins they take,
buffers that fill and a wire that moves bytes at the baud rate, timeouts, IRQs through a jumper, and
waiting on one with asyncio as the firmware does."""

import asyncio

import fwtest
from fwtest import raises
from machine import UART, Pin
from simboard import board

BYTE_US_9600 = 10 * 1_000_000 // 9600  # start, 8 data bits, stop: 1.04 ms a byte


def setup_function():
    board.reset("ESP32")


def test_each_chip_has_its_own_uarts_and_the_esp32_s_uart0_belongs_to_the_repl():
    for chip, count in (("ESP32", 3), ("ESP32-S3", 3), ("ESP32-C3", 2), ("ESP32-S2", 2)):
        board.reset(chip)
        for uart_id in range(1, count):
            UART(uart_id, 9600, tx=4, rx=5).deinit()
        with raises(ValueError, "UART(" + str(count) + ") does not exist"):
            UART(count)
    board.reset("ESP32")
    with raises(OSError, "ESP_ERR_INVALID_STATE"):  # no driver behind the REPL's UART
        UART(0, 115200)
    with raises(ValueError, "REPL UART buffer size is fixed"):
        UART(0, rxbuf=512)
    board.reset("ESP32-C3")  # its console is the USB-Serial/JTAG port: UART0 is free
    assert "tx=-1, rx=-1" in repr(UART(0, 9600))


def test_pins_tx_must_drive_and_the_esp32_s_default_uart1_pins_are_its_flash():
    with raises(OSError, "can only be input"):  # uart_set_pin() fails: ESP_FAIL, an OSError
        UART(2, 9600, tx=34, rx=16)
    with raises(ValueError, "SPI flash"):
        UART(2, 9600, tx=17, rx=6)
    with raises(ValueError, "has no GPIO20"):
        UART(2, 9600, tx=17, rx=20)
    with raises(ValueError, "SPI flash"):
        UART(1, 9600)  # UART1 defaults to GPIO10/9
    UART(2, 9600, tx=17, rx=35)  # an input-only pin receives well


def test_settings_read_back_as_the_chip_makes_them_and_stay_until_deinit():
    uart = UART(1, 115200, tx=17, rx=16)
    assert repr(uart).startswith("UART(1, baudrate=115201, bits=8, parity=None, stop=1, tx=17, rx=16,")
    assert "txbuf=256, rxbuf=256, timeout=0, timeout_char=0, irq=0)" in repr(uart)
    uart.init(0, 7, 0, 2, timeout=-5)  # baudrate 0: unchanged; timeout is a uint16_t
    assert "baudrate=115201, bits=7, parity=0, stop=2" in repr(uart) and "timeout=65531," in repr(uart)
    assert "bits=7" in repr(UART(1))  # the driver is installed: a new object keeps its settings
    uart.deinit()
    assert "bits=8, parity=None, stop=1" in repr(UART(1, tx=17, rx=16))  # re-installed: defaults again
    with raises(ValueError, "invalid data bits"):
        uart.init(bits=9)
    with raises(ValueError, "invalid stop bits"):
        uart.init(stop=3)
    with raises(ValueError, "invalid inversion mask"):
        uart.init(invert=1)
    with raises(OSError, "rx buffer"):  # the driver wants more than the 128-byte FIFO
        UART(2, 9600, tx=17, rx=16, rxbuf=128)
    with raises(OSError, "unachievable"):
        uart.init(baudrate=50)


def test_bytes_fed_in_are_read_back_in_order_and_lines_split_at_newlines():
    uart = UART(1, 115200, tx=17, rx=16)
    assert uart.any() == 0 and uart.read() is None and uart.readline() is None and uart.read(0) == b""
    board.uart_feed(1, b"ping\r\nstat")
    assert uart.any() == 10
    assert uart.readline() == b"ping\r\n"
    assert uart.readline() == b"stat"  # a line not yet ended: what there is
    board.uart_feed(1, b"us\nabc")
    assert uart.read(2) == b"us"
    buf = bytearray(8)
    assert uart.readinto(buf) == 4 and bytes(buf[:4]) == b"\nabc"


def test_what_is_written_reaches_the_device_once():
    uart = UART(1, 9600, tx=17, rx=16)
    assert uart.write(b"ok\n") == 3
    uart.write("evt x {}\n")
    assert board.uart_sent(1) == b"ok\nevt x {}\n"
    assert board.uart_sent(1) == b""


def test_the_receive_buffer_holds_256_bytes_and_the_overflow_is_lost():
    uart = UART(1, 9600, tx=17, rx=16)
    board.uart_feed(1, bytes(range(200)) * 2)
    assert uart.any() == 256
    got = uart.read()
    # the ring's 256, the chunk the driver stashed, what the FIFO took after its overflow reset
    assert got[:257] == (bytes(range(200)) * 2)[:257] and len(got) < 300
    big = UART(2, 9600, tx=19, rx=18, rxbuf=300)
    board.uart_feed(2, bytes(400))
    assert big.any() == 300


def test_write_blocks_at_the_baud_rate_once_the_transmit_buffer_is_full():
    uart = UART(1, 9600, tx=17, rx=16)
    start = board.now_us
    uart.write(bytes(300))  # fits the 256-byte ring and the 128-byte FIFO: returns at once
    assert board.now_us == start and not uart.txdone()
    uart.write(bytes(700))  # 1000 queued, 384 may wait: returns once 616 bytes are out
    waited = board.now_us - start
    assert 600 * BYTE_US_9600 < waited < 630 * BYTE_US_9600, waited
    uart.flush()
    assert uart.txdone()
    assert 995 * BYTE_US_9600 < board.now_us - start < 1010 * BYTE_US_9600


def test_a_jumper_carries_bytes_at_the_baud_rate_and_the_tx_pin_idles_high():
    board.jumper(4, 5)
    uart = UART(1, 9600, tx=4, rx=5)
    wire = Pin(5)  # reads the pad without taking it from the UART
    assert wire.value() == 1 and Pin(4).value() == 1
    uart.write(b"hi")
    assert uart.any() == 0  # nothing has crossed the wire yet
    board.advance_us(50)
    assert wire.value() == 0  # the start bit of "h"
    board.advance_us(BYTE_US_9600)
    assert uart.any() == 1
    board.advance_us(BYTE_US_9600)
    assert uart.read() == b"hi" and wire.value() == 1


def test_a_baud_mismatch_garbles_and_a_matching_baud_does_not():
    board.jumper(4, 5)
    sender = UART(1, 9600, tx=4, rx=18)
    receiver = UART(2, 19200, tx=19, rx=5)
    sender.write(b"hello")
    board.advance_ms(20)
    assert receiver.read() != b"hello"
    receiver.init(9600)
    sender.write(b"hello")
    board.advance_ms(20)
    assert receiver.read() == b"hello"


def test_irq_rx_runs_scheduled_per_byte_never_inside_write():
    board.jumper(4, 5)
    uart = UART(1, 9600, tx=4, rx=5)
    seen = []
    uart.irq(lambda u: seen.append((u.irq().flags(), u.read(1))), UART.IRQ_RX)
    uart.write(b"abc")
    assert seen == []
    uart.flush()  # the bytes arrive while flush() waits: their handlers run after it
    assert seen == []
    board.advance_ms(1)
    assert seen == [(UART.IRQ_RX, b"a"), (UART.IRQ_RX, b"b"), (UART.IRQ_RX, b"c")]


def test_irq_rxidle_fires_once_two_characters_after_the_last_byte():
    board.jumper(4, 5)
    uart = UART(1, 9600, tx=4, rx=5)
    seen = []
    uart.irq(lambda u: seen.append((u.irq().flags(), board.now_us, u.read())), UART.IRQ_RXIDLE)
    assert uart.irq().trigger() == UART.IRQ_RXIDLE
    uart.write(b"12345678")
    board.advance_ms(50)
    assert len(seen) == 1 and seen[0][0] == UART.IRQ_RXIDLE and seen[0][2] == b"12345678"
    last_byte = 8 * BYTE_US_9600
    assert last_byte + 2 * BYTE_US_9600 <= seen[0][1] <= last_byte + 5 * BYTE_US_9600, seen[0][1]


def test_a_break_arrives_as_irq_break_and_a_zero_byte_to_read():
    board.jumper(4, 5)
    uart = UART(1, 9600, tx=4, rx=5)
    seen = []
    uart.irq(lambda u: seen.append(u.irq().flags()), UART.IRQ_BREAK)
    uart.write(b"x")
    uart.flush()
    board.advance_ms(2)
    assert seen == []
    uart.sendbreak()  # 13 bit times low
    board.advance_ms(2)
    assert seen == [UART.IRQ_BREAK]
    assert uart.read() == b"x\x00"


def test_read_waits_for_its_timeout_in_whole_rtos_ticks():
    uart = UART(1, 9600, tx=17, rx=16, timeout=55)
    start = board.now_us
    assert uart.read(4) is None
    assert board.now_us - start == 50_000  # pdMS_TO_TICKS(55): 5 ticks of 10 ms
    uart.init(timeout=5)  # below a tick: does not wait at all
    start = board.now_us
    assert uart.read(4) is None and board.now_us == start
    board.jumper(4, 5)
    uart.init(tx=4, rx=5, timeout=100, timeout_char=20)
    other = UART(2, 9600, tx=19, rx=18)
    assert other.write(b"") == 0
    uart.write(b"abc")
    start = board.now_us
    assert uart.read(10) == b"abc"  # the first byte within timeout, the rest while they keep coming
    assert 3 * BYTE_US_9600 < board.now_us - start < 3 * BYTE_US_9600 + 40_000


def test_after_deinit_reads_and_writes_give_nothing_and_any_raises():
    uart = UART(1, 9600, tx=17, rx=16)
    uart.deinit()
    assert uart.read() is None and uart.write(b"x") is None and not uart.txdone()
    with raises(OSError):
        uart.any()
    board.uart_feed(1, b"nobody listens\n")  # harmless


def test_polling_reads_allocate_nothing():
    if not fwtest.MICROPYTHON:
        return
    import allocprobe

    uart = UART(1, 115200, tx=17, rx=16)
    assert allocprobe.bytes_per_call(uart.any) == 0
    assert allocprobe.bytes_per_call(uart.txdone) == 0


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
