"""`machine.UART` of the simulated ESP32."""

import io

import simboard
from simboard import board
from simpin import check_pin, gpio_of

_UARTS = {"ESP32": 3, "ESP32-S2": 2, "ESP32-S3": 3, "ESP32-C3": 2}
_POLL = 3  # MP_STREAM_POLL, asked by select.poll (and so by asyncio) of a stream
_POLLIN = 1
_POLLOUT = 4


class UART(io.IOBase):
    """A UART of the esp32 port. Bytes arrive from `board.uart_feed()` and what is written is collected
    by `board.uart_sent()`, both at once rather than at the baud rate. A stream, so asyncio can wait on
    it (asyncio.StreamReader(uart))."""

    def __init__(self, id, baudrate=115200, bits=8, parity=None, stop=1, *, tx=-1, rx=-1, rts=-1, cts=-1,
                 txbuf=256, rxbuf=256, timeout=0, timeout_char=0, invert=0, flow=0):
        count = _UARTS.get(board.chip.name, 2)
        if not isinstance(id, int) or not 0 <= id < count:
            raise ValueError("UART(" + str(id) + ") does not exist")
        if id == 0:
            raise ValueError("UART(0) is disabled (dedicated to REPL)")
        self._id = id
        self._state = None
        self.init(baudrate, bits, parity, stop, tx=tx, rx=rx, rxbuf=rxbuf, timeout=timeout)

    def init(self, baudrate=115200, bits=8, parity=None, stop=1, *, tx=-1, rx=-1, rxbuf=256, timeout=0, **_):
        if not 0 < baudrate <= 5_000_000:
            raise ValueError("invalid baudrate " + str(baudrate))
        if bits not in (5, 6, 7, 8):
            raise ValueError("invalid data bits")
        if parity not in (None, 0, 1):
            raise ValueError("invalid parity")
        if stop not in (1, 2):
            raise ValueError("invalid stop bits")
        if tx != -1:
            check_pin(gpio_of(tx), True)
        if rx != -1:
            check_pin(gpio_of(rx), False)
        self._baudrate = baudrate
        self._timeout = timeout
        state = board.uarts.get(self._id)
        if state is None or state.rxbuf != max(rxbuf, 260):
            state = board.uarts[self._id] = simboard.UartState(max(rxbuf, 260))  # the driver's minimum
        self._state = state

    def __repr__(self):
        return "UART(" + str(self._id) + ", baudrate=" + str(self._baudrate) + ")"

    def _open(self):
        if self._state is None or board.uarts.get(self._id) is not self._state:
            raise OSError(9)  # EBADF: deinit, or taken over by another UART object
        return self._state

    def any(self):
        return len(self._open().rx)

    def read(self, nbytes=-1):
        state = self._open()
        if not state.rx:
            return None
        take = len(state.rx) if nbytes is None or nbytes < 0 else min(nbytes, len(state.rx))
        data = bytes(state.rx[:take])
        state.rx = state.rx[take:]  # MicroPython's bytearray cannot delete a slice
        return data

    def readline(self):
        state = self._open()
        if not state.rx:
            return None
        end = state.rx.find(b"\n")
        return self.read(len(state.rx) if end < 0 else end + 1)

    def readinto(self, buf, nbytes=-1):
        data = self.read(len(buf) if nbytes < 0 else min(nbytes, len(buf)))
        if data is None:
            return None
        buf[:len(data)] = data
        return len(data)

    def write(self, buf):
        state = self._open()
        if isinstance(buf, str):
            buf = buf.encode()
        state.tx.extend(buf)
        return len(buf)

    def flush(self):
        self._open()

    def txdone(self):
        self._open()
        return True

    def sendbreak(self):
        self._open()

    def ioctl(self, request, arg):
        if request != _POLL:
            return 0
        ready = 0
        if arg & _POLLIN and self._open().rx:
            ready |= _POLLIN
        if arg & _POLLOUT:
            ready |= _POLLOUT
        return ready

    def deinit(self):
        if self._state is not None and board.uarts.get(self._id) is self._state:
            del board.uarts[self._id]
        self._state = None
