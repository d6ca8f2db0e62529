"""Simulated I2S as MicroPython 1.29's esp32 port has it: which peripherals each chip has, the errors of its
arguments, DMA buffers drained at the sample rate on the board's clock, a late writer heard as silence and
counted, non-blocking writes with their callback, asyncio's poll, and what the amplifier is given."""

import asyncio

import fwtest
import simi2s
from fwtest import raises
from machine import I2S, Pin
from simboard import board

RATE = 16000
BUFFER_US = 256 * 1_000_000 // RATE  # one DMA buffer of 256 frames: 16 ms at 16 kHz


def setup_function():
    board.reset("ESP32")


def amp(rate=RATE, ibuf=4096, **kw):
    """I2S(0) as the firmware opens it for a MAX98357A: TX, 16-bit mono."""
    return I2S(0, sck=Pin(26), ws=Pin(25), sd=Pin(22), mode=I2S.TX, bits=16, format=I2S.MONO, rate=rate,
               ibuf=ibuf, **kw)


def tone(frames, value=1000):
    buf = bytearray(2 * frames)
    for i in range(frames):
        sample = value if (i // 8) % 2 else -value  # a 1 kHz square wave at 16 kHz
        buf[2 * i] = sample & 0xFF
        buf[2 * i + 1] = (sample >> 8) & 0xFF
    return buf


def test_each_chip_has_its_own_i2s_peripherals():
    for chip, count in (("ESP32", 2), ("ESP32-S2", 1), ("ESP32-S3", 2), ("ESP32-C3", 1)):
        board.reset(chip)
        for i2s_id in range(count):
            I2S(i2s_id, sck=Pin(4), ws=Pin(5), sd=Pin(6 if chip == "ESP32-S3" else 2), mode=I2S.TX, bits=16,
                format=I2S.MONO, rate=RATE, ibuf=2048).deinit()
        with raises(ValueError, "invalid id"):
            I2S(count, sck=Pin(4), ws=Pin(5), sd=Pin(2), mode=I2S.TX, bits=16, format=I2S.MONO, rate=RATE, ibuf=2048)
    with raises(ValueError, "invalid id"):
        I2S(-1, sck=Pin(4), ws=Pin(5), sd=Pin(2), mode=I2S.TX, bits=16, format=I2S.MONO, rate=RATE, ibuf=2048)


def test_bad_arguments_raise_upstream_s_errors():
    with raises(ValueError, "invalid mode"):
        I2S(0, sck=Pin(26), ws=Pin(25), sd=Pin(22), mode=3, bits=16, format=0, rate=RATE, ibuf=4096)
    with raises(ValueError, "invalid bits"):
        I2S(0, sck=Pin(26), ws=Pin(25), sd=Pin(22), mode=I2S.TX, bits=24, format=0, rate=RATE, ibuf=4096)
    with raises(ValueError, "invalid format"):
        I2S(0, sck=Pin(26), ws=Pin(25), sd=Pin(22), mode=I2S.TX, bits=16, format=2, rate=RATE, ibuf=4096)
    with raises(ValueError, "invalid rate"):
        amp(rate=0)
    with raises(OSError, "ESP_ERR_INVALID_ARG"):  # the I2S clock cannot be divided down to it
        amp(rate=1_000_000)
    with raises(OSError, "ESP_ERR_NO_MEM"):  # ibuf sizes the DMA buffers the driver allocates
        amp(ibuf=1_000_000)
    with raises(ValueError, "invalid pin"):
        I2S(0, sck=Pin(26), ws=Pin(25), sd=40, mode=I2S.TX, bits=16, format=0, rate=RATE, ibuf=4096)
    with raises(OSError, "input only"):
        I2S(0, sck=Pin(26), ws=Pin(25), sd=34, mode=I2S.TX, bits=16, format=0, rate=RATE, ibuf=4096)
    with raises(TypeError, ""):  # no mck on the esp32 port
        amp(mck=Pin(0))
    with raises(TypeError, ""):  # every keyword is required
        I2S(0, sck=Pin(26), ws=Pin(25), sd=Pin(22), mode=I2S.TX, bits=16, format=0, rate=RATE)
    i2s = amp()
    with raises(OSError, ""):  # EPERM: a TX I2S cannot be read
        i2s.readinto(bytearray(4))
    with raises(ValueError, "invalid callback"):
        i2s.irq(5)
    i2s.deinit()
    with raises(OSError, "ESP_ERR_INVALID_ARG"):  # the channel is gone
        i2s.write(b"\x00\x00")


def test_the_dma_buffers_come_from_ibuf_as_upstream_counts_them():
    i2s = amp(ibuf=40000)  # 40000 // (256 * 2) = 78 buffers
    assert board.i2s[0].count == 78
    i2s = amp(ibuf=100)  # never fewer than two
    assert board.i2s[0].count == 2
    I2S(0, sck=Pin(26), ws=Pin(25), sd=Pin(22), mode=I2S.RX, bits=16, format=I2S.MONO, rate=RATE, ibuf=8192)
    assert board.i2s[0].count == 4  # receiving always takes 32-bit stereo frames: 8192 // (256 * 8)
    i2s.deinit()


def test_a_blocking_write_returns_when_its_last_byte_is_in_a_dma_buffer():
    i2s = amp(ibuf=4 * 512)  # 4 buffers of 16 ms
    t0 = board.now()
    # the DMA starts on zeroed buffers and hands each one to the writer once it has played it
    assert i2s.write(tone(3 * 256)) == 3 * 512
    assert board.now() - t0 == 3 * BUFFER_US
    i2s.write(tone(128))  # half a buffer: in as soon as one is free
    assert board.now() - t0 == 4 * BUFFER_US
    i2s.write(tone(128))  # the rest of that buffer: at once
    assert board.now() - t0 == 4 * BUFFER_US
    t1 = board.now()
    i2s.write(tone(10 * 256))  # ten more buffers: the writer keeps pace with the DMA
    assert board.now() - t1 == 10 * BUFFER_US
    assert board.i2s_underruns == 0


def test_a_writer_that_falls_behind_is_heard_as_silence_and_counted():
    rec = board.audio = simi2s.Recorder()
    i2s = amp(ibuf=2 * 512)
    i2s.write(tone(2 * 256))
    board.advance_us(2 * BUFFER_US + 100)  # the writer stalls: the buffers it had filled play, then silence
    assert board.i2s_underruns == 0  # nothing can tell before the writer comes back
    i2s.write(tone(256))
    assert board.i2s_underruns == 1 and board.i2s[0].underruns == 1
    board.advance_us(4 * BUFFER_US)
    samples = rec.samples()
    assert samples[:512] == [0] * 512  # the two buffers the DMA played before the first write
    assert 0 not in samples[512:1024]  # the tone
    assert samples[1024:1280] == [0] * 256  # the underrun: auto_clear made it silence
    assert 0 not in samples[1280:1536]  # the writer is back


def test_blocks_reach_the_amplifier_on_the_board_s_clock():
    board.advance_ms(100)  # the I2S starts 100 ms after power-on
    rec = board.audio = simi2s.Recorder()
    i2s = amp(ibuf=2 * 512)
    i2s.write(tone(256))
    board.advance_ms(100)
    starts = [start for start, _, _ in rec.blocks]
    assert starts[:3] == [100_000, 100_000 + BUFFER_US, 100_000 + 2 * BUFFER_US]
    assert all(rate == RATE for _, rate, _ in rec.blocks)
    assert rec.blocks[2][2] == bytes(tone(256))  # played two buffers after the enable, in 16-bit mono


def test_stereo_and_32_bit_buffers_reach_the_amplifier_as_16_bit_mono():
    rec = board.audio = simi2s.Recorder()
    i2s = I2S(1, sck=Pin(26), ws=Pin(25), sd=Pin(22), mode=I2S.TX, bits=32, format=I2S.STEREO, rate=RATE,
              ibuf=4096)
    frame = bytes([0, 0, 0xE8, 0x03, 0, 0, 0x18, 0xFC])  # left 1000 << 16, right -1000 << 16
    i2s.write(frame * 256)
    board.advance_ms(40)
    assert rec.samples()[256:258] == [0, 0]  # (L + R) / 2
    i2s.init(sck=Pin(26), ws=Pin(25), sd=Pin(22), mode=I2S.TX, bits=32, format=I2S.STEREO, rate=RATE, ibuf=4096)
    i2s.write(bytes([0, 0, 0xE8, 0x03, 0, 0, 0xE8, 0x03]) * 256)
    board.advance_ms(40)
    assert rec.samples()[-1] == 1000


def test_reading_takes_zeros_at_the_sample_rate():
    i2s = I2S(0, sck=Pin(26), ws=Pin(25), sd=Pin(14), mode=I2S.RX, bits=16, format=I2S.MONO, rate=RATE, ibuf=8192)
    buf = bytearray(b"\x01" * 512)
    t0 = board.now()
    assert i2s.readinto(buf) == 512  # 256 frames: one DMA buffer filled
    assert board.now() - t0 == BUFFER_US and buf == bytearray(512)
    with raises(OSError, ""):  # EINVAL: not whole samples
        i2s.readinto(bytearray(3))
    with raises(OSError, ""):  # EPERM
        i2s.write(b"\x00\x00")


def test_non_blocking_write_calls_back_when_its_buffer_is_in_the_dma():
    i2s = amp(ibuf=2 * 512)
    done = []
    i2s.irq(lambda obj: done.append((board.now(), obj is i2s)))
    t0 = board.now()
    assert i2s.write(tone(256)) == 512  # at once
    assert board.now() == t0 and not done
    board.advance_us(BUFFER_US)  # the first buffer is sent: the task copies, the callback is scheduled
    assert done == [(t0 + BUFFER_US, True)]
    i2s.write(tone(256))
    i2s.write(tone(256))
    i2s.write(tone(256))  # one in the task's hands, one queued: the third is dropped, as xQueueSend(.., 0)
    board.advance_ms(100)
    assert len(done) == 3


def test_shift_scales_samples_in_place():
    buf = bytearray(b"\x10\x00\xf0\xff")  # 16, -16
    I2S.shift(buf=buf, bits=16, shift=2)
    assert buf == bytearray(b"\x40\x00\xc0\xff")
    I2S.shift(buf=buf, bits=16, shift=-3)
    assert buf == bytearray(b"\x08\x00\xf8\xff")
    buf = bytearray(b"\x00\x00\x01\x00")
    I2S.shift(buf=buf, bits=32, shift=1)
    assert buf == bytearray(b"\x00\x00\x02\x00")
    with raises(ValueError, "invalid bits"):
        I2S.shift(buf=buf, bits=8, shift=1)


def test_a_poll_switches_to_asyncio_mode_and_says_when_a_buffer_has_room():
    i2s = amp(ibuf=2 * 512)
    assert i2s.ioctl(3, 4) == 4  # MP_STREAM_POLL, POLLOUT: writable (DMA_MEMORY_NOT_FULL until a write says)
    assert i2s.write(tone(4 * 256)) == 0  # asyncio mode never waits: no buffer has been sent yet
    assert i2s.ioctl(3, 4) == 0  # full until the DMA sends a buffer
    board.advance_us(BUFFER_US)
    assert i2s.ioctl(3, 4) == 4
    assert i2s.write(tone(4 * 256)) == 512  # the one buffer the queue holds
    assert board.now() == BUFFER_US
    with raises(OSError, ""):  # EPERM: a TX I2S is never readable
        i2s.ioctl(3, 1)


def test_asyncio_stream_writer_keeps_the_amplifier_fed():
    if not fwtest.MICROPYTHON:
        import pytest

        pytest.skip("asyncio.StreamWriter over a stream object is MicroPython's")
    i2s = amp(ibuf=4 * 512)
    board.use_real_time()
    chunk = tone(256)

    async def feed():
        writer = asyncio.StreamWriter(i2s)
        for _ in range(20):
            writer.write(chunk)
            await writer.drain()

    asyncio.run(feed())
    assert board.i2s_underruns == 0
