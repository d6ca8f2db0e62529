"""`machine.I2S` of the simulated ESP32: MicroPython's extmod/machine_i2s.c and ports/esp32/machine_i2s.c over
the ESP-IDF 5 I2S driver (esp_driver_i2s: i2s_common.c, i2s_std.c).

What the driver does, the simulator does:
- the channel owns `count` DMA buffers of 256 frames (machine_i2s.c: get_dma_buf_count, DMA_BUF_LEN_IN_I2S_FRAMES),
  linked in a ring the DMA plays one after another at the sample rate from the moment the channel is enabled;
- each buffer the DMA has sent is cleared (auto_clear) and handed to the writer through a queue of count - 1
  places (i2s_common.c: i2s_register_channel, i2s_dma_tx_callback; a full queue drops its oldest), so what is
  written plays count buffers after the buffer it lands in was last sent, and a writer that comes too late
  finds its buffers played as silence: an underrun, counted in `board.i2s_underruns` and the peripheral's
  `underruns` (DMA buffers played short because the writer came back after them);
- receiving is the same ring the other way: a buffer is readable once the DMA has filled it, the oldest is
  dropped when the reader falls count - 1 buffers behind; the line reads zeros.

Every DMA buffer sent by a TX channel goes to `board.audio` (when set) as 16-bit mono samples with the time
its first sample played: what an amplifier such as the MAX98357A, which plays (L + R) / 2, turns into sound.
The conversion reuses buffers made at init(): nothing is allocated per sample.
"""

import io

import simboard
from simboard import board
from simpin import check_pin, gpio_of

DMA_BUF_LEN_IN_I2S_FRAMES = 256  # ports/esp32/machine_i2s.c
MCLK_MULTIPLE = 256  # ESP-IDF i2s_std.h: I2S_STD_CLK_DEFAULT_CONFIG, mclk = rate * 256
SOURCE_CLOCK_HZ = 160_000_000  # I2S_CLK_SRC_DEFAULT: the 160 MHz PLL on every chip here
# DMA-capable RAM the driver may take for its buffers. **Approximate**: the chip's free internal RAM varies with
# what else runs; past it i2s_alloc_dma_desc fails with ESP_ERR_NO_MEM.
DMA_RAM_LIMIT = 64 * 1024

_ESP_ERR_NO_MEM = (-0x101, "ESP_ERR_NO_MEM")
_ESP_ERR_INVALID_ARG = (-0x102, "ESP_ERR_INVALID_ARG")
_EPERM = 1
_EINVAL = 22

_POLL = 3  # MP_STREAM_POLL
_POLLIN = 1
_POLLOUT = 4

# io_mode_t of extmod/machine_i2s.c
_BLOCKING = 0
_NON_BLOCKING = 1
_ASYNCIO = 2

_RX = 1  # ESP-IDF i2s_dir_t: I2S_DIR_RX = BIT(0)
_TX = 2  # I2S_DIR_TX = BIT(1)
_MONO = 0
_STEREO = 1


def _esp_error(err, why):
    return OSError(err[0], err[1] + ": " + why)


class I2sState:
    """One I2S peripheral with its channel: settings, the DMA ring, the writer's and reader's places in it."""

    def __init__(self, i2s_id):
        self.id = i2s_id
        self.running = False  # the channel exists and is enabled
        self.gen = 0  # bumped to cancel the queued end-of-buffer event
        self.underruns = 0
        self.obj = None

    def configure(self, mode, bits, fmt, rate, ibuf):
        # machine_i2s.c: get_dma_bits / get_dma_format: RX always takes 32-bit stereo frames from the line
        self.mode = mode
        self.bits = bits
        self.format = fmt
        self.rate = rate
        dma_bits = bits if mode == _TX else 32
        channels = 1 if mode == _TX and fmt == _MONO else 2
        self.frame_bytes = dma_bits // 8 * channels
        # machine_i2s.c: get_dma_buf_count; ibuf is an int32 divided by a uint32: a negative one becomes huge
        count = (ibuf if ibuf >= 0 else ibuf + (1 << 32)) // (DMA_BUF_LEN_IN_I2S_FRAMES * self.frame_bytes)
        self.count = max(count, 2)
        self.buf_bytes = DMA_BUF_LEN_IN_I2S_FRAMES * self.frame_bytes
        if self.count * self.buf_bytes > DMA_RAM_LIMIT:
            raise _esp_error(_ESP_ERR_NO_MEM, "allocate DMA buffer failed")

    def enable(self):
        # i2s_channel_enable: the DMA starts on buffer 0 at once; the queue starts empty
        self.ring = bytearray(self.count * self.buf_bytes)
        self.views = [memoryview(self.ring)[i * self.buf_bytes:(i + 1) * self.buf_bytes] for i in range(self.count)]
        self.zeros = bytes(self.buf_bytes)
        self.mono = bytearray(DMA_BUF_LEN_IN_I2S_FRAMES * 2)  # what the amplifier plays, 16-bit mono
        self.mono_view = memoryview(self.mono)
        self.t0 = board.now()
        self.sent = 0  # DMA buffers played (TX) or filled (RX) so far; the DMA is on buffer `sent`
        # TX: the byte of the DMA's stream the next write lands on (the first free buffer is buffer 0's next lap)
        self.wpos = self.count * self.buf_bytes
        self.started = False  # written to since enabled: from then on, a late writer is an underrun
        self.rpos = 0  # RX: the byte of the DMA's stream the next read takes
        self.full = False  # dma_buffer_status: DMA_MEMORY_FULL (TX) / DMA_MEMORY_EMPTY (RX) after a short asyncio call
        self.transfers = []  # non-blocking mode: [buffer, done] the FreeRTOS task is given (1 queued + 1 in hand)
        self.running = True
        self.gen += 1
        self._queue_end()

    def disable(self):
        """i2s_channel_disable: the DMA stops in the middle of its buffer; what it played of it is heard."""
        audio = board.audio
        if self.mode == _TX and audio is not None:
            start = self.t0 + self.sent * DMA_BUF_LEN_IN_I2S_FRAMES * 1_000_000 // self.rate
            frames = min((board.now() - start) * self.rate // 1_000_000, DMA_BUF_LEN_IN_I2S_FRAMES)
            if frames > 0:
                audio.block(start, self.rate, self._as_mono(self.views[self.sent % self.count])[:frames * 2])
        self.running = False
        self.gen += 1
        self.transfers = []

    # -- the DMA's clock ------------------------------------------------------------------------------------

    def end_us(self, index):
        """When the DMA finishes buffer `index` (counted from the enable), rounded up to a microsecond."""
        frames = (index + 1) * DMA_BUF_LEN_IN_I2S_FRAMES
        return self.t0 + -(-frames * 1_000_000 // self.rate)

    def _queue_end(self):
        board.at(self.end_us(self.sent), simboard.TIMER_EVENT, self, self.gen)

    def fire(self, gen):
        """The DMA's EOF interrupt for buffer `sent` (i2s_dma_tx_callback / i2s_dma_rx_callback)."""
        if gen != self.gen:
            return
        if self.mode == _TX:
            slot = self.views[self.sent % self.count]
            audio = board.audio
            if audio is not None:
                start = self.t0 + self.sent * DMA_BUF_LEN_IN_I2S_FRAMES * 1_000_000 // self.rate
                audio.block(start, self.rate, self._as_mono(slot))
            slot[:] = self.zeros  # auto_clear
        self.sent += 1
        self.full = False  # i2s_tx_sent_callback / i2s_rx_recv_callback: DMA_MEMORY_NOT_FULL / NOT_EMPTY
        self._queue_end()
        if self.transfers:
            self.pump()

    def _as_mono(self, slot):
        """The buffer as the amplifier plays it: 16-bit mono, (L + R) / 2 of stereo, the top half of 32 bits."""
        if self.bits == 16 and self.format == _MONO:
            return slot
        out = self.mono
        step = self.frame_bytes
        half = step // 2
        top = 2 if self.bits == 32 else 0  # little endian: a 32-bit sample's high 16 bits are its bytes 2, 3
        i = 0
        for at in range(0, self.buf_bytes, step):
            left = slot[at + top] | slot[at + top + 1] << 8
            if self.format == _STEREO:
                right = slot[at + half + top] | slot[at + half + top + 1] << 8
                left = ((left - (left >> 15 << 16)) + (right - (right >> 15 << 16))) >> 1 & 0xFFFF
            out[i] = left & 0xFF
            out[i + 1] = left >> 8
            i += 2
        return self.mono_view

    # -- the writer (i2s_channel_write) -----------------------------------------------------------------------

    def put(self, data, start, n):
        """Copy up to n bytes of data[start:] into the DMA buffers the queue has handed out; how many went in."""
        board.now()  # buffers that fell due are sent first
        buf_bytes = self.buf_bytes
        first_free = max(self.count, self.sent + 1) * buf_bytes
        if self.wpos < first_free:
            # the DMA has passed the writer's place: what it played there was silence
            if self.started:
                late = first_free // buf_bytes - self.wpos // buf_bytes  # buffers played short or empty
                self.underruns += late
                board.i2s_underruns += late
            self.wpos = first_free
        self.started = True
        limit = (self.sent + self.count) * buf_bytes  # the last buffer the queue can hand out ends here
        done = 0
        src = memoryview(data)
        while done < n and self.wpos < limit:
            at = self.wpos % (self.count * buf_bytes)
            chunk = min(n - done, buf_bytes - self.wpos % buf_bytes)
            self.ring[at:at + chunk] = src[start + done:start + done + chunk]
            self.wpos += chunk
            done += chunk
        return done

    # -- the reader (i2s_channel_read) ------------------------------------------------------------------------

    def take(self, buf, start, n):
        """Fill up to n bytes of buf[start:] from filled DMA buffers (the line reads zeros); how many."""
        board.now()
        buf_bytes = self.buf_bytes
        oldest = max(0, self.sent - self.count + 1) * buf_bytes  # the queue keeps count - 1 filled buffers
        if self.rpos < oldest:
            self.rpos = oldest
        app_frame = self.bits // 8 * (2 if self.format == _STEREO else 1)
        frames = min(n // app_frame, (self.sent * buf_bytes - self.rpos) // self.frame_bytes)
        if frames <= 0:
            return 0
        got = frames * app_frame
        memoryview(buf)[start:start + got] = memoryview(self.zeros)[:got]
        self.rpos += frames * self.frame_bytes
        return got

    def wait_buffer(self):
        """Block until the DMA finishes its current buffer (xQueueReceive with portMAX_DELAY)."""
        board.wait_until(self.end_us(self.sent))

    # -- non-blocking mode: the FreeRTOS task of machine_i2s.c (task_for_non_blocking_mode) -------------------

    def pump(self):
        while self.transfers:
            transfer = self.transfers[0]
            buf, done = transfer
            if self.mode == _TX:
                done += self.put(buf, done, len(buf) - done)
            else:
                done += self.take(buf, done, len(buf) - done)
            transfer[1] = done
            if done < len(buf):
                return
            self.transfers.pop(0)
            board.sched(self.obj._handler, self.obj)  # mp_sched_schedule: lost when the queue is full


class I2S(io.IOBase):
    """machine.I2S of the esp32 port; a stream, so asyncio can write to it (asyncio.StreamWriter(i2s))."""

    RX = _RX
    TX = _TX
    MONO = _MONO
    STEREO = _STEREO

    def __init__(self, id, **kwargs):
        # mp_machine_i2s_make_new_instance: ids below SOC_I2S_NUM; one object per id, made again on each call
        if not isinstance(id, int):
            raise TypeError("can't convert " + type(id).__name__ + " to int")
        if not 0 <= id < board.chip.i2s:
            raise ValueError("invalid id")
        state = board.i2s.get(id)
        if state is None:
            state = board.i2s[id] = I2sState(id)
        else:
            _deinit(state)
        self._s = state
        self._handler = None
        self._io_mode = _BLOCKING
        self._init(**kwargs)

    def __del__(self):
        pass  # CPython's io.IOBase would flush a collected I2S

    def init(self, **kwargs):
        _deinit(self._s)
        self._init(**kwargs)

    def _init(self, *, sck, ws, sd, mode, bits, format, rate, ibuf):
        # extmod/machine_i2s.c: machine_i2s_init_helper (every keyword required; no `mck` on esp32, whose
        # build leaves MICROPY_PY_MACHINE_I2S_MCK off); ports/esp32/machine_i2s.c: mp_machine_i2s_init_helper
        pins = []
        for pin in (sck, ws, sd):
            gpio = gpio_of(pin)
            check_pin(gpio, False)  # machine_pin_find: "invalid pin"
            pins.append(gpio)
        if mode != _RX and mode != _TX:
            raise ValueError("invalid mode")
        if bits != 16 and bits != 32:
            raise ValueError("invalid bits")
        if format != _STEREO and format != _MONO:
            raise ValueError("invalid format")
        if rate <= 0:
            # upstream does not check the rate; ESP-IDF's i2s_std_calculate_clock divides by it
            raise ValueError("invalid rate: the I2S clock divides by it")
        s = self._s
        self._handler = None
        self._io_mode = _BLOCKING
        s.obj = self
        s.configure(mode, bits, format, rate, ibuf)  # i2s_new_channel, i2s_alloc_dma_desc
        if rate * MCLK_MULTIPLE > SOURCE_CLOCK_HZ:
            raise _esp_error(_ESP_ERR_INVALID_ARG, "sample rate is too large")  # i2s_std_set_clock: mclk_div 0
        for gpio in pins if mode == _TX else pins[:2]:
            if gpio in board.chip.input_only:
                # ESP-IDF's gpio_set_direction fails on such a pin and i2s_gpio_check_and_set ignores it: the
                # chip drives nothing there. **Stricter**: refused
                raise _esp_error(_ESP_ERR_INVALID_ARG, "GPIO" + str(gpio) + " is input only")
        s.sck, s.ws, s.sd = pins
        s.ibuf = ibuf
        s.enable()

    def deinit(self):
        _deinit(self._s)

    def irq(self, handler):
        # machine_i2s_irq: a handler switches to non-blocking mode, None back to blocking
        if handler is not None and not callable(handler):
            raise ValueError("invalid callback")
        self._io_mode = _NON_BLOCKING if handler is not None else _BLOCKING
        self._handler = handler
        self._s.transfers = []  # mp_machine_i2s_irq_update makes a new task and queue (or deletes them)

    @staticmethod
    def shift(*, buf, bits, shift):
        # machine_i2s_shift: each sample shifted in place, in its own width (an arithmetic right shift)
        if bits == 16:
            size = 2
        elif bits == 32:
            size = 4
        else:
            raise ValueError("invalid bits")
        top = 1 << (8 * size)
        for at in range(0, len(buf) - size + 1, size):
            value = 0
            for k in range(size - 1, -1, -1):
                value = value << 8 | buf[at + k]
            if value >= top >> 1:
                value -= top
            value = (value << shift if shift >= 0 else value >> -shift) % top
            for k in range(size):
                buf[at + k] = value & 0xFF
                value >>= 8

    # -- the stream (machine_i2s_stream_write, _read, machine_i2s_ioctl) ---------------------------------------

    def _check_running(self):
        # i2s_channel_write / _read on the deleted channel (NULL handle): ESP_ERR_INVALID_ARG
        if not self._s.running:
            raise _esp_error(_ESP_ERR_INVALID_ARG, "I2S is deinit")

    def write(self, buf, *args):
        s = self._s
        if args:
            off, n = (0, args[0]) if len(args) == 1 else (min(args[0], len(buf)), args[1])
            buf = memoryview(buf)[off:off + n]
        if s.mode != _TX:
            raise OSError(_EPERM)
        n = len(buf)
        if n == 0:
            return 0
        return self._transfer(buf, n, s.put)

    def readinto(self, buf, *args):
        s = self._s
        if s.mode != _RX:
            raise OSError(_EPERM)
        n = len(buf) if not args else min(args[0], len(buf))
        if n % (s.bits // 8 * (2 if s.format == _STEREO else 1)):
            raise OSError(_EINVAL)
        if n == 0:
            return 0
        return self._transfer(buf, n, s.take)

    def _transfer(self, buf, n, move):
        """`n` bytes of `buf` to or from the DMA buffers (`move`: put or take), as the io mode does it."""
        s = self._s
        self._check_running()
        if self._io_mode == _NON_BLOCKING:
            # xQueueSend(queue of 1, timeout 0): with one transfer in the task's hands and one queued, dropped
            if len(s.transfers) < 2:
                s.transfers.append([buf, 0])
                s.pump()
            return n
        done = move(buf, 0, n)
        if self._io_mode == _ASYNCIO:
            if done < n:
                s.full = True
            return done
        while done < n:
            s.wait_buffer()
            done += move(buf, done, n - done)
        return n

    def ioctl(self, request, arg):
        if request != _POLL:
            return -_EINVAL  # machine_i2s_ioctl: MP_EINVAL
        s = self._s
        self._io_mode = _ASYNCIO  # a poll says asyncio is in use
        board.now()
        ready = 0
        if arg & _POLLIN:
            if s.mode != _RX:
                raise OSError(_EPERM)
            if not s.full:
                ready |= _POLLIN
        if arg & _POLLOUT:
            if s.mode != _TX:
                raise OSError(_EPERM)
            if not s.full:
                ready |= _POLLOUT
        return ready

    def __repr__(self):
        s = self._s
        return ("I2S(id=" + str(s.id) + ",\nsck=" + str(s.sck) + ",\nws=" + str(s.ws) + ",\nsd=" + str(s.sd)
                + ",\nmode=" + str(s.mode) + ",\nbits=" + str(s.bits) + ", format=" + str(s.format)
                + ",\nrate=" + str(s.rate) + ", ibuf=" + str(s.ibuf) + ")")


def _deinit(state):
    # mp_machine_i2s_deinit: channel disabled and deleted (the DMA stops mid-buffer), the task gone
    if state.running:
        state.disable()


class Recorder:
    """An audio sink for tests (`board.audio = simi2s.Recorder()`): keeps every block it is given as
    (start_us, rate, bytes of 16-bit mono samples)."""

    def __init__(self):
        self.blocks = []

    def block(self, start_us, rate, samples):
        self.blocks.append((start_us, rate, bytes(samples)))

    def samples(self):
        """Every sample recorded, in order, as signed ints."""
        out = []
        for _, _, data in self.blocks:
            for at in range(0, len(data), 2):
                value = data[at] | data[at + 1] << 8
                out.append(value - 65536 if value >= 32768 else value)
        return out


class AudioPipe:
    """The virtual board's audio sink: each block goes down a pipe to the `gullwing sim` process (which writes
    the WAV file) as a 16-byte header, start_us (8 bytes), rate (4), sample bytes (4), little endian, then
    the samples. The header's bytearray is reused: nothing is allocated per block but the file's own work."""

    HEADER_BYTES = 16

    def __init__(self, stream):
        self._stream = stream
        self._head = bytearray(self.HEADER_BYTES)

    def block(self, start_us, rate, samples):
        head = self._head
        _put_le(head, 0, start_us, 8)
        _put_le(head, 8, rate, 4)
        _put_le(head, 12, len(samples), 4)
        try:
            self._stream.write(head)
            self._stream.write(samples)
        except OSError:
            board.audio = None  # the host has gone: the board plays on without a listener


def _put_le(buf, at, value, size):
    for k in range(size):
        buf[at + k] = value & 0xFF
        value >>= 8
