"""`machine.UART` of the simulated ESP32: MicroPython's ports/esp32/machine_uart.c over the ESP-IDF 5 uart driver.

What the driver does, the simulator does (esp_driver_uart/src/uart.c):
- received bytes land in the 128-byte hardware FIFO; the driver's interrupt moves them to the receive ring buffer
  (rxbuf bytes) once the FIFO holds the full threshold (1 byte with timeout_char 0, else 120) or the line has
  been quiet for rx_timeout characters, and each move is one UART_DATA event. A chunk that does not fit the ring
  is stashed and receiving stops until a read makes room; a FIFO that overflows meanwhile is reset (lost);
- what is written goes to the transmit ring buffer (txbuf bytes) and the FIFO, leaves at the baud rate, and
  write() blocks until the rest fits (uart_write_bytes waits for room);
- the UART event task turns UART_DATA into IRQ_RX (and arms the IRQ_RXIDLE timer) and UART_BREAK into IRQ_BREAK;
  handlers are scheduled (micropython.schedule), never run inside write(), flush() or a blocking read.

Bytes reach the RX pin from a jumpered TX pin (board.jumper) as a waveform on the simulated clock: start bit,
data bits LSB first, parity, stop bits; the receiver samples mid-bit at its own baud, so a baud mismatch
garbles, and a line held low longer than a frame is a break (a 0 byte plus UART_BREAK). `board.uart_feed(id,
data)` hands bytes to the RX side at once (a device whose bytes arrived while nobody looked) and
`board.uart_sent(id)` returns what was written, in flight or not.
"""

import io

import simboard
from simboard import board
from simpin import check_pin, gpio_of

# -- facts of the chips and the port -------------------------------------------------------------------

FIFO_LEN = 128  # SOC_UART_FIFO_LEN on every chip here
FULL_THRESH_DEFAULT = 120  # uart.c: UART_FULL_THRESH_DEFAULT, the driver's RX FIFO full threshold
TICK_MS = 10  # FreeRTOS at CONFIG_FREERTOS_HZ=100: pdMS_TO_TICKS() rounds timeouts down to 10 ms steps
SCHED_DEPTH = 8  # mpconfigport.h: MICROPY_SCHEDULER_DEPTH; a full queue drops the callback
READ_CHUNK = 256  # py/stream.c: stream_readall reads DEFAULT_BUFFER_SIZE at a time
RXIDLE_TIMER_MIN_US = 500  # machine_uart.c: RXIDLE_TIMER_MIN

# OSError arguments of check_esp_err() (mphalport.c): errno -code (ESP_FAIL -> 1), the error's name
_ESP_FAIL = (1, "ESP_FAIL")
_ESP_ERR_INVALID_STATE = (-0x103, "ESP_ERR_INVALID_STATE")
_ETIMEDOUT = 110
_EINVAL = 22

_POLL = 3  # MP_STREAM_POLL, asked by select.poll (and so by asyncio) of a stream
_POLLIN = 1
_POLLOUT = 4


class _Chip:
    def __init__(self, uart_repl, sclk_hz, div_bits, pre_div, default_pins, tout_unit):
        self.uart_repl = uart_repl  # uart.h: MICROPY_HW_ENABLE_UART_REPL (no USB console): the REPL owns UART0
        self.sclk_hz = sclk_hz  # APB 80 MHz (ESP32, S2) or XTAL 40 MHz (SOC_UART_SUPPORT_XTAL_CLK: S3, C3)
        self.div_max = (1 << div_bits) - 1  # integer part of the baud divider (uart_ll.h: UART_CLKDIV_V)
        self.pre_div = pre_div  # S3/C3 divide the source clock first (sclk_div_num, up to 256)
        self.default_pins = default_pins  # machine_uart.h: MICROPY_HW_UARTn_TX/RX (-1: UART_PIN_NO_CHANGE)
        self.tout_unit = tout_unit  # ESP32/S2 count the RX timeout in 8 bit-times (uart_ll_set_rx_tout)


_CHIPS = {
    "ESP32": _Chip(True, 80_000_000, 20, False, ((-1, -1), (10, 9), (17, 16)), 8),
    "ESP32-S2": _Chip(False, 80_000_000, 20, False, ((-1, -1), (10, 9)), 8),
    "ESP32-S3": _Chip(False, 40_000_000, 12, True, ((-1, -1), (10, 9), (17, 16)), 1),
    "ESP32-C3": _Chip(False, 40_000_000, 12, True, ((-1, -1), (10, 9)), 1),
}

# rxidle_state of machine_uart.c
_RXIDLE_INACTIVE = 0
_RXIDLE_STANDBY = 1
_RXIDLE_ARMED = 2
_RXIDLE_ALERT = 3

# what a queued board event of a UART does
_DECODE = 0  # the receiver has sampled a whole character
_FIFO_TOUT = 1  # the RX line has been quiet for rx_timeout characters
_RXIDLE_TICK = 2  # the IRQ_RXIDLE timer

_blocking = [0]  # > 0 while a UART call waits inside the driver: IRQ handlers wait until it returns


def _ceil_us(t_ns):
    return -(-t_ns // 1000)


def _esp_error(err, why):
    return OSError(err[0], err[1] + ": " + why)


def _actual_baud(chip, baud):
    """What uart_get_baudrate() reads back after uart_set_baudrate(baud) (uart_ll_set/get_baudrate), 0 if
    the divider cannot make it ("baud rate unachievable")."""
    scaled = chip.sclk_hz << 4
    if not chip.pre_div:
        div = scaled // baud
        return 0 if (div >> 4) > chip.div_max or div == 0 else scaled // div
    pre = -(-chip.sclk_hz // (chip.div_max * baud))
    if pre == 0 or pre > 256:
        return 0
    div = scaled // (baud * pre)
    return 0 if div == 0 else scaled // (div * pre)


class UartState:
    """One UART peripheral and its ESP-IDF driver: settings, buffers, the RX line decoder, the IRQ."""

    def __init__(self, uart_id):
        self.id = uart_id
        self.installed = False  # uart_is_driver_installed()
        self.irq = None  # the _UartIRQ, kept across deinit() as upstream keeps mp_irq_obj
        self.rxidle_state = _RXIDLE_INACTIVE
        self.rxidle_gen = 0
        self.rxidle_us = 0
        self.pending = 0  # handler calls scheduled or waiting for a blocking call to return
        self.deferred = 0
        self.sent = bytearray()  # everything written, for board.uart_sent()
        self.wire = []  # bursts on the TX line: (start_ns, end_ns, data or None for a break, frame, baud, inv)
        self.ring = bytearray(0)
        self.count = 0
        self.tx_end_ns = 0
        self.defaults()

    def defaults(self):
        # machine_uart.c: mp_machine_uart_init_helper, "freshly initialised"
        chip = _CHIPS[board.chip.name]
        self.baud = _actual_baud(chip, 115200)
        self.bits = 8
        self.parity = 0  # 0 none, 1 odd, 2 even (as machine_uart.c stores it)
        self.stop = 1
        self.tx, self.rx = chip.default_pins[self.id]
        self.rts = -1
        self.cts = -1
        self.txbuf = 256
        self.rxbuf = 256
        self.timeout = 0
        self.timeout_char = 0
        self.invert = 0
        self.flow = 0

    def install(self):
        # uart.c: uart_driver_install() wants both buffers above the FIFO (the TX one may be 0)
        if self.rxbuf <= FIFO_LEN:
            raise _esp_error(_ESP_FAIL, "uart rx buffer length error: rxbuf must be more than 128")
        if 0 < self.txbuf <= FIFO_LEN or self.txbuf < 0:
            raise _esp_error(_ESP_FAIL, "uart tx buffer length error: txbuf must be 0 or more than 128")
        self.ring = bytearray(self.rxbuf)
        self.head = 0
        self.count = 0
        self.fifo = bytearray()
        self.stash = None  # a chunk the ring could not take (rx_buffer_full_flg)
        self.fifo_gen = 0
        self.full_thresh = 1
        self.tout_bits = 10
        self.tx_end_ns = 0  # when the last written byte has left the TX pin
        self.rx_ready_ns = 0  # the receiver hunts for a start bit from here
        self.rx_pending = False  # a character is being sampled
        self.lost = 0
        self.installed = True

    def uninstall(self):
        # uart.c: uart_driver_delete(); what was buffered is gone
        self.installed = False
        self.ring = bytearray(0)
        self.count = 0
        self.fifo = bytearray()
        self.stash = None
        self.fifo_gen += 1

    # -- timing --------------------------------------------------------------------------------------

    def frame_bits(self):
        return 1 + self.bits + (1 if self.parity else 0) + self.stop

    def frame_ns(self):
        return self.frame_bits() * 1_000_000_000 // self.baud

    # -- receive: FIFO, ring buffer, stash -------------------------------------------------------------

    def feed(self, data):
        """Bytes arriving on the RX pin now, one after another (board.uart_feed)."""
        if not self.installed:
            return  # nobody listens: the bytes go nowhere
        for b in data:
            self.receive(b, False)

    def receive(self, b, brk):
        if len(self.fifo) >= FIFO_LEN:
            # the FIFO overflows: the driver's interrupt resets it (uart.c: UART_INTR_RXFIFO_OVF)
            self.lost += len(self.fifo) + 1
            self.fifo = bytearray()
            return
        self.fifo.append(b)
        if self.stash is None:
            if len(self.fifo) >= self.full_thresh:
                self.isr_move()
            else:
                self.fifo_gen += 1
                t_ns = board.now_us * 1000 + self.tout_bits * 1_000_000_000 // self.baud
                board.at(_ceil_us(t_ns), simboard.TIMER_EVENT, self, (_FIFO_TOUT, self.fifo_gen))
        if brk:
            self.event(UART.IRQ_BREAK)  # uart.c: UART_INTR_BRK_DET, after the FIFO's own interrupt

    def isr_move(self):
        """uart.c: uart_rx_intr_handler_default on RXFIFO_FULL / RXFIFO_TOUT: FIFO -> ring, one UART_DATA."""
        if self.stash is not None or not self.fifo:
            return
        chunk = self.fifo
        self.fifo = bytearray()
        if not self.push(chunk):
            self.stash = chunk  # UART_BUFFER_FULL: reception stops until a read makes room
            return
        self.event(UART.IRQ_RX)

    def push(self, chunk):
        n = len(chunk)
        if self.count + n > self.rxbuf:
            return False
        ring = self.ring
        at = (self.head + self.count) % self.rxbuf
        for b in chunk:
            ring[at] = b
            at += 1
            if at == self.rxbuf:
                at = 0
        self.count += n
        return True

    def take_into(self, buf, start, n):
        """Move up to n buffered bytes into buf[start:]; returns how many (uart_read_bytes without waiting)."""
        n = min(n, self.count)
        ring = self.ring
        head = self.head
        for i in range(n):
            buf[start + i] = ring[head]
            head += 1
            if head == self.rxbuf:
                head = 0
        self.head = head
        self.count -= n
        if n and self.stash is not None and self.push(self.stash):
            # uart.c: uart_check_buf_full() pushes the stash and re-enables the RX interrupts
            self.stash = None
            if len(self.fifo) >= self.full_thresh:
                self.isr_move()
        return n

    def flush_input(self):
        # uart.c: uart_flush_input()
        self.head = 0
        self.count = 0
        self.stash = None
        self.fifo = bytearray()
        self.fifo_gen += 1

    # -- events, IRQ ----------------------------------------------------------------------------------

    def event(self, flag):
        """machine_uart.c: uart_event_task, for one UART_DATA (IRQ_RX) or UART_BREAK event."""
        irq = self.irq
        if irq is None or irq.handler is None or not self.installed:
            return  # no event task
        if flag == UART.IRQ_RX and irq.trigger_mask & UART.IRQ_RXIDLE and self.rxidle_state != _RXIDLE_INACTIVE:
            if self.rxidle_state == _RXIDLE_STANDBY:
                self.rxidle_gen += 1
                board.at(board.now_us + self.rxidle_us, simboard.TIMER_EVENT, self, (_RXIDLE_TICK, self.rxidle_gen))
            self.rxidle_state = _RXIDLE_ALERT
        if irq.trigger_mask & flag:
            self.trigger(flag)

    def trigger(self, flag):
        irq = self.irq
        irq.flag_bits = flag
        if self.pending >= SCHED_DEPTH:
            return  # mp_sched_schedule() finds the queue full
        self.pending += 1
        if _blocking[0]:
            self.deferred += 1
        else:
            board.schedule(self.run_handler, None)

    def release_deferred(self):
        while self.deferred:
            self.deferred -= 1
            board.schedule(self.run_handler, None)

    def run_handler(self, _):
        self.pending -= 1
        irq = self.irq
        if irq is not None and irq.handler is not None:
            irq.handler(irq.parent)

    def configure_rxidle(self):
        # machine_uart.c: uart_irq_configure_timer; the parity field counts 2 for even parity, as upstream
        self.rxidle_gen += 1
        self.rxidle_state = _RXIDLE_INACTIVE
        if self.irq.trigger_mask & UART.IRQ_RXIDLE:
            bits = 1 + self.bits + self.parity + self.stop
            period = max(2 * bits * 1_000_000 // self.baud, RXIDLE_TIMER_MIN_US)
            self.rxidle_us = period + 1  # machine_timer ticks at 1 MHz, one tick added
            self.rxidle_state = _RXIDLE_STANDBY

    def fire(self, arg):
        what = arg[0]
        if what == _DECODE:
            self.decode(arg[1], arg[2])
        elif what == _FIFO_TOUT:
            if arg[1] == self.fifo_gen and self.installed:
                self.isr_move()
        elif arg[1] == self.rxidle_gen:  # machine_uart.c: uart_timer_callback
            if self.rxidle_state == _RXIDLE_ALERT:
                self.rxidle_state = _RXIDLE_ARMED
                board.at(board.now_us + self.rxidle_us, simboard.TIMER_EVENT, self, arg)
            elif self.rxidle_state == _RXIDLE_ARMED:
                self.rxidle_state = _RXIDLE_STANDBY
                if self.irq is not None and self.irq.handler is not None and self.installed:
                    self.trigger(UART.IRQ_RXIDLE)

    # -- the TX line ----------------------------------------------------------------------------------

    def line_at(self, t_ns):
        """The level on the TX pin at t_ns: idle high (low with INV_TX), the bits of each character."""
        inv = 1 if self.invert & UART.INV_TX else 0
        for start, end, data, frame, baud, b_inv in self.wire:
            if start <= t_ns < end:
                if data is None:
                    return 0  # sendbreak() drives the pin low itself, past the inverter
                pos = (t_ns - start) * baud // 1_000_000_000
                return _frame_bit(data[pos // frame[0]], pos % frame[0], frame) ^ b_inv
        return 1 ^ inv

    def line_level(self, gpio, t_us):
        return self.line_at(t_us * 1000) if self.installed and gpio == self.tx else -1

    def route_tx(self, gpio):
        """The GPIO matrix connects the TX signal to `gpio` (uart_set_pin): the pin, and a pin jumpered
        to it, read the line; the previous TX pin goes back to its own drive."""
        if self.tx >= 0 and self.tx != gpio and board.pin(self.tx).uart is self:
            board.pin(self.tx).uart = None
            board.wire_changed(self.tx)
        if gpio >= 0:
            board.pin(gpio).uart = self
            board.wire_changed(gpio)

    def edges_from(self, t_ns):
        """Times where the TX line may change, at or after t_ns, in order (bit boundaries, burst ends)."""
        for start, end, data, frame, baud, _ in self.wire:
            if end <= t_ns:
                continue
            if data is None:
                if start >= t_ns:
                    yield start
            else:
                first = max(0, (t_ns - start) * baud // 1_000_000_000)
                total = len(data) * frame[0]
                for pos in range(first, total):
                    at = start + -(-pos * 1_000_000_000 // baud)
                    if at >= t_ns:
                        yield at
            yield end

    def send_on_wire(self, start_ns, data):
        if board.peer(self.tx) < 0 and self.receiver() is None:
            return  # nothing listens to the pin: keep no waveform
        now_ns = board.now_us * 1000
        self.wire = [burst for burst in self.wire if burst[1] > now_ns - 1_000_000_000]
        frame = (self.frame_bits(), self.bits, self.parity, self.stop)
        inv = 1 if self.invert & UART.INV_TX else 0
        if data is None:
            end = start_ns + _break_ns(self)
        else:
            data = bytes(data)  # the caller may reuse its buffer
            end = start_ns + -(-len(data) * frame[0] * 1_000_000_000 // self.baud)
        self.wire.append((start_ns, end, data, frame, self.baud, inv))
        rx = self.receiver()
        if rx is not None:
            rx.wake(self)

    def receiver(self):
        """The configured UART whose RX pin this TX pin drives (through a jumper, or the same pin)."""
        if self.tx < 0:
            return None
        peer = board.peer(self.tx)
        for state in board.uarts.values():
            if state.installed and state.rx >= 0 and (state.rx == peer or state.rx == self.tx):
                return state
        return None

    # -- the RX line decoder --------------------------------------------------------------------------

    def wake(self, source):
        if not self.rx_pending:
            self.hunt(source, max(self.rx_ready_ns, board.now_us * 1000))

    def hunt(self, source, from_ns):
        """Find the next start bit (a falling edge as this receiver sees the line) and sample that character."""
        inv = 1 if self.invert & UART.INV_RX else 0
        for at in source.edges_from(from_ns):
            if source.line_at(at - 1) ^ inv == 1 and source.line_at(at) ^ inv == 0:
                stop_sample = at + (2 * (self.frame_bits() - self.stop) + 1) * 1_000_000_000 // (2 * self.baud)
                self.rx_pending = True
                board.at(_ceil_us(stop_sample), simboard.TIMER_EVENT, self, (_DECODE, source, at))
                return

    def decode(self, source, start_ns):
        self.rx_pending = False
        if not self.installed:
            return
        inv = 1 if self.invert & UART.INV_RX else 0
        value = 0
        zeros = True
        n = 1 + self.bits + (1 if self.parity else 0) + 1  # start, data, parity, first stop bit
        sample = 0
        for i in range(n):
            sample = start_ns + (2 * i + 1) * 1_000_000_000 // (2 * self.baud)
            level = source.line_at(sample) ^ inv
            if level:
                zeros = False
            if 1 <= i <= self.bits and level:
                value |= 1 << (i - 1)
        self.rx_ready_ns = sample
        # a character of zeros without its stop bit is a break (UART_BREAK), its 0 byte lands in the FIFO too
        self.receive(value, zeros)
        self.hunt(source, sample)


def _break_ns(state):
    # machine_uart.c: mp_machine_uart_sendbreak holds the pin low for 13 bit times
    return 13_000_000 // state.baud * 1000


def _frame_bit(byte, pos, frame):
    """Bit `pos` of a character on the wire: start 0, data LSB first, parity, stop bits 1."""
    nbits = frame[1]
    if pos == 0:
        return 0
    if pos <= nbits:
        return (byte >> (pos - 1)) & 1
    parity = frame[2]
    if parity and pos == nbits + 1:
        ones = 0
        for i in range(nbits):
            ones += (byte >> i) & 1
        return (ones + 1) & 1 if parity == 1 else ones & 1  # odd parity: an odd count of ones in all
    return 1


def _irq_args(handler=None, trigger=0, hard=False):
    return handler, trigger, hard


class _UartIRQ:
    """The irq object (shared/runtime/mpirq.c): flags() and trigger()."""

    def __init__(self, state, parent):
        self._state = state
        self.parent = parent
        self.handler = None
        self.trigger_mask = 0
        self.flag_bits = 0

    def flags(self):
        return self.flag_bits

    def trigger(self, new=None):
        old = self.trigger_mask
        if new is not None:
            # machine_uart.c: uart_irq_trigger
            self.trigger_mask = new
            if self.handler is not None:
                self._state.configure_rxidle()
        return old


class UART(io.IOBase):
    """A UART of the esp32 port; a stream, so asyncio can wait on it (asyncio.StreamReader(uart))."""

    INV_TX = 0x20  # UART_SIGNAL_TXD_INV
    INV_RX = 0x04  # UART_SIGNAL_RXD_INV
    INV_RTS = 0x40
    INV_CTS = 0x08
    RTS = 1  # UART_HW_FLOWCTRL_RTS
    CTS = 2
    IRQ_RX = 1  # 1 << UART_DATA
    IRQ_BREAK = 2  # 1 << UART_BREAK
    IRQ_RXIDLE = 0x1000

    def __init__(self, id, *args, **kwargs):
        # machine_uart.c: mp_machine_uart_make_new; one peripheral per id, its settings live on in the driver
        if not isinstance(id, int):
            raise TypeError("can't convert " + type(id).__name__ + " to int")
        count = board.chip.uarts  # SOC_UART_NUM: UART(0) .. UART(count - 1)
        if not 0 <= id < count:
            raise ValueError("UART(" + str(id) + ") does not exist")
        self._id = id
        state = board.uarts.get(id)
        if state is None:
            state = board.uarts[id] = UartState(id)
        self._s = state
        self.init(*args, **kwargs)

    def __del__(self):
        pass  # CPython's io.IOBase would flush a collected UART, waiting on whatever board runs then

    def init(self, baudrate=0, bits=0, parity=-1, stop=0, *, tx=None, rx=None, rts=None, cts=None, txbuf=-1,
             rxbuf=-1, timeout=-1, timeout_char=-1, invert=-1, flow=-1):
        # machine_uart.c: mp_machine_uart_init_helper, step by step (an error leaves the earlier steps done)
        s = self._s
        chip = _CHIPS[board.chip.name]
        repl = chip.uart_repl and self._id == 0
        if not s.installed:
            s.defaults()
        else:
            self._wait_tx_done(1000)
        if (txbuf >= 0 and txbuf != s.txbuf) or (rxbuf >= 0 and rxbuf != s.rxbuf):
            if repl:
                raise ValueError("REPL UART buffer size is fixed")
            if txbuf >= 0:
                s.txbuf = txbuf
            if rxbuf >= 0:
                s.rxbuf = rxbuf
            if s.installed:
                s.uninstall()
        if not repl and not s.installed:
            s.install()
        if baudrate > 0:
            actual = _actual_baud(chip, baudrate)
            if not actual:
                raise _esp_error(_ESP_FAIL, "baud rate unachievable: " + str(baudrate))
            s.baud = actual
        tx_pin = self._pin(tx, s.tx)
        rx_pin = self._pin(rx, s.rx)
        rts_pin = self._pin(rts, s.rts)
        cts_pin = self._pin(cts, s.cts)
        for pin, output in ((tx_pin, True), (rx_pin, False), (rts_pin, True), (cts_pin, False)):
            if pin >= 0 and output and pin in board.chip.input_only:
                # uart.c: uart_set_pin() returns ESP_FAIL ("tx_io_num error"); the simulator says why
                raise OSError(board.chip.pin_problem(pin, True))
            if pin >= 0 and board.chip.pin_problem(pin, False):
                # the default pins too: UART1's GPIO9/10 are the ESP32's flash (stricter than upstream)
                raise ValueError(board.chip.pin_problem(pin, False))
        s.route_tx(tx_pin)
        s.tx, s.rx, s.rts, s.cts = tx_pin, rx_pin, rts_pin, cts_pin
        if bits:
            if bits not in (5, 6, 7, 8):
                raise ValueError("invalid data bits")
            s.bits = bits
        if parity != -1:
            s.parity = 0 if parity is None else (1 if int(parity) & 1 else 2)
        if stop:
            if stop not in (1, 2):
                raise ValueError("invalid stop bits")
            s.stop = stop
        if timeout != -1:
            s.timeout = timeout & 0xFFFF  # uint16_t in machine_uart_obj_t
        if timeout_char != -1:
            s.timeout_char = timeout_char & 0xFFFF
        char_ms = 12000 // s.baud + 1
        rx_timeout = s.timeout_char // char_ms
        if rx_timeout < 1:
            if repl:
                # uart_set_rx_full_threshold() wants an installed driver; the REPL's UART has none
                raise _esp_error(_ESP_ERR_INVALID_STATE, "UART(0) belongs to the REPL")
            s.full_thresh = 1
            rx_timeout = 1
        else:
            s.full_thresh = FULL_THRESH_DEFAULT
        rx_timeout &= 0xFF  # uart_set_rx_timeout takes a uint8_t
        unit = chip.tout_unit
        s.tout_bits = -(-rx_timeout * s.frame_bits() // unit) * unit
        if invert != -1:
            if invert & ~(UART.INV_TX | UART.INV_RX | UART.INV_RTS | UART.INV_CTS):
                raise ValueError("invalid inversion mask")
            s.invert = invert
        if flow != -1:
            if flow & ~3:
                raise ValueError("invalid flow control mask")
            s.flow = flow
        if repl:
            raise _esp_error(_ESP_FAIL, "uart_flush_input: UART(0) belongs to the REPL")
        s.flush_input()

    def _pin(self, arg, current):
        if arg is None:
            return current
        if isinstance(arg, int) and arg == -1:
            return -1  # UART_PIN_NO_CHANGE
        gpio = gpio_of(arg)
        check_pin(gpio, False)  # machine_pin_get_id(): ValueError("invalid pin")
        return gpio

    def __repr__(self):
        s = self._s
        text = ("UART(" + str(self._id) + ", baudrate=" + str(s.baud) + ", bits=" + str(s.bits) + ", parity="
                + ("None", "1", "0")[s.parity] + ", stop=" + str(s.stop) + ", tx=" + str(s.tx) + ", rx=" + str(s.rx)
                + ", rts=" + str(s.rts) + ", cts=" + str(s.cts) + ", txbuf=" + str(s.txbuf) + ", rxbuf="
                + str(s.rxbuf) + ", timeout=" + str(s.timeout) + ", timeout_char=" + str(s.timeout_char) + ", irq="
                + str(s.irq.trigger_mask if s.irq else 0))
        names = []
        for bit, name in ((UART.INV_TX, "INV_TX"), (UART.INV_RX, "INV_RX"), (UART.INV_RTS, "INV_RTS"),
                          (UART.INV_CTS, "INV_CTS")):
            if s.invert & bit:
                names.append(name)
        if names:
            text += ", invert=" + "|".join(names)
        names = [name for bit, name in ((UART.RTS, "RTS"), (UART.CTS, "CTS")) if s.flow & bit]
        if names:
            text += ", flow=" + "|".join(names)
        return text + ")"

    # -- waiting inside the driver ----------------------------------------------------------------------

    def _deadline_us(self, ms):
        # xRingbufferReceive(ticks): pdMS_TO_TICKS rounds down to whole ticks, which end on the tick grid
        ticks = ms // TICK_MS
        if ticks <= 0:
            return -1
        now = board.now()
        return (now // (TICK_MS * 1000) + ticks) * TICK_MS * 1000

    def _wait_data(self, ms):
        """Wait up to `ms` (in FreeRTOS ticks) for the ring buffer to hold a byte; True when it does."""
        s = self._s
        if s.count:
            return True
        deadline = self._deadline_us(ms)
        if deadline < 0:
            return False
        _blocking[0] += 1
        try:
            while not s.count:
                now = board.now()
                if now >= deadline:
                    break
                if board._dispatching:  # called from a handler: nothing else can happen meanwhile
                    board.wait_until(deadline)
                    break
                events = board._events
                nxt = events[0][0] if events else deadline
                board.wait_until(min(max(nxt, now), deadline))
        finally:
            _blocking[0] -= 1
            s.release_deferred()
        return s.count > 0

    def _wait_tx_done(self, ms):
        """uart_wait_tx_done(ticks): True when the line has finished sending in time."""
        s = self._s
        end_us = _ceil_us(s.tx_end_ns)
        if board.now() >= end_us:
            return True
        deadline = self._deadline_us(ms) if ms else board.now_us
        _blocking[0] += 1
        try:
            board.wait_until(min(end_us, deadline) if deadline >= 0 else board.now_us)
        finally:
            _blocking[0] -= 1
            s.release_deferred()
        return board.now_us >= end_us

    # -- the stream ---------------------------------------------------------------------------------------

    def _read_into(self, buf, start, size):
        """machine_uart.c: mp_machine_uart_read: the first byte within `timeout`, the rest while they keep
        coming within `timeout_char` of each other. 0 means EAGAIN (nothing)."""
        s = self._s
        if not s.installed or size <= 0:
            return 0
        if not self._wait_data(s.timeout):
            return 0
        got = s.take_into(buf, start, 1)
        while got < size:
            if not s.count and not self._wait_data(s.timeout_char):
                break
            got += s.take_into(buf, start + got, size - got)
        return got

    def any(self):
        s = self._s
        if not s.installed:
            raise _esp_error(_ESP_FAIL, "uart driver error (deinit)")
        board.now()
        return s.count

    def read(self, nbytes=-1):
        if nbytes is None or nbytes < 0:
            # py/stream.c: stream_readall, chunk after chunk until one comes back empty
            out = bytearray()
            chunk = bytearray(READ_CHUNK)
            while True:
                n = self._read_into(chunk, 0, READ_CHUNK)
                if not n:
                    break
                out.extend(chunk[:n] if n < READ_CHUNK else chunk)
            return bytes(out) if out else None
        if nbytes == 0:
            return b""
        buf = bytearray(nbytes)
        n = self._read_into(buf, 0, nbytes)
        if not n:
            return None
        return bytes(buf) if n == nbytes else bytes(buf[:n])

    def readline(self, limit=-1):
        # py/stream.c: stream_unbuffered_readline, byte by byte, each within `timeout`
        out = bytearray()
        one = bytearray(1)
        while limit != 0:
            limit -= 1
            if not self._read_into(one, 0, 1):
                if not out:
                    return None
                break
            out.append(one[0])
            if one[0] == 10:
                break
        return bytes(out)

    def readinto(self, buf, nbytes=-1):
        n = len(buf) if nbytes < 0 else min(nbytes, len(buf))
        got = self._read_into(buf, 0, n)
        return got if got else None

    def write(self, buf, *args):
        """uart_write_bytes: the bytes go out at the baud rate; blocks until all but a buffer's worth are out."""
        s = self._s
        if isinstance(buf, str):
            buf = buf.encode()
        if args:
            off, n = (0, args[0]) if len(args) == 1 else (min(args[0], len(buf)), args[1])
            buf = buf[off:off + n]
        if not s.installed:
            return None  # uart_write_bytes returns -1: EAGAIN
        n = len(buf)
        if not n:
            return 0
        s.sent.extend(buf)
        now_ns = board.now() * 1000
        start = s.tx_end_ns if s.tx_end_ns > now_ns else now_ns
        frame = s.frame_ns()
        s.tx_end_ns = start + n * s.frame_bits() * 1_000_000_000 // s.baud
        s.send_on_wire(start, buf)
        room = (s.txbuf + FIFO_LEN) * frame
        if s.tx_end_ns - room > now_ns:
            _blocking[0] += 1
            try:
                board.wait_until(_ceil_us(s.tx_end_ns - room))
            finally:
                _blocking[0] -= 1
                s.release_deferred()
        return n

    def flush(self):
        # machine_uart.c: MP_STREAM_FLUSH waits for the line, (3 + txbuf) * 26000 / baud ticks at most
        s = self._s
        if not s.installed or not self._wait_tx_done((3 + s.txbuf) * 13000 * 2 // s.baud * TICK_MS):
            raise OSError(_ETIMEDOUT)

    def txdone(self):
        s = self._s
        return s.installed and board.now() * 1000 >= s.tx_end_ns

    def sendbreak(self):
        # machine_uart.c: mp_machine_uart_sendbreak: wait for the line, hold TX low for 13 bit times
        s = self._s
        if not s.installed or not self._wait_tx_done(1000):
            raise _esp_error(_ESP_FAIL, "uart driver error (deinit)")
        start = board.now() * 1000
        s.tx_end_ns = start + _break_ns(s)
        s.send_on_wire(start, None)
        board.wait_until(_ceil_us(s.tx_end_ns))  # mp_hal_delay_us: scheduled handlers may run meanwhile

    def irq(self, *args, **kwargs):
        # machine_uart.c: mp_machine_uart_irq, arguments as shared/runtime/mpirq.c: mp_irq_init_args
        s = self._s
        if _CHIPS[board.chip.name].uart_repl and self._id == 0:
            raise ValueError("REPL UART does not support IRQs")
        if s.irq is None:
            s.irq = _UartIRQ(s, self)
        irq = s.irq
        irq.parent = self
        if args or kwargs:
            handler, trigger, hard = _irq_args(*args, **kwargs)
            if handler is not None and not callable(handler):
                raise ValueError("handler must be None or callable")
            unsupported = trigger & ~(UART.IRQ_RX | UART.IRQ_RXIDLE | UART.IRQ_BREAK)
            if trigger and unsupported:
                raise ValueError("trigger 0x%04x unsupported" % unsupported)
            irq.handler = handler
            if hard:
                raise ValueError("hard IRQ is not supported")
            irq.trigger_mask = trigger
            if handler is not None:
                s.configure_rxidle()
            else:
                s.rxidle_gen += 1
                s.rxidle_state = _RXIDLE_INACTIVE
        return irq

    def ioctl(self, request, arg):
        if request != _POLL:
            # machine_uart.c: mp_machine_uart_ioctl answers MP_EINVAL (a negative return here). A 0 would
            # be taken by the unix port's select for MP_STREAM_GET_FILENO as fd 0 (stdin), and the UART
            # would never be seen readable there.
            return -_EINVAL
        s = self._s
        if not s.installed:
            raise _esp_error(_ESP_FAIL, "uart driver error (deinit)")
        board.now()
        ready = 0
        if arg & _POLLIN and s.count:
            ready |= _POLLIN
        if arg & _POLLOUT:
            ready |= _POLLOUT  # machine_uart.c: always writable (its FIXME)
        return ready

    def deinit(self):
        # machine_uart.c: mp_machine_uart_deinit: the driver goes, the IRQ settings stay for a later init()
        s = self._s
        if s.rxidle_state > _RXIDLE_STANDBY:
            s.rxidle_state = _RXIDLE_STANDBY
        s.rxidle_gen += 1
        if not (_CHIPS[board.chip.name].uart_repl and self._id == 0):
            s.uninstall()
