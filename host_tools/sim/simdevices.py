"""Devices wired to the virtual board from outside: RC receiver channels and the far end of a UART.

boardos.boot() attaches them from the environment the host sets (`gullwing sim --receiver`, `--uart`):
GW_RECEIVERS is `34:1500,35:1000` (GPIO:pulse width in us), GW_UARTS is `1:5:6` (UART id:fd the host
writes the bytes for the board to:fd the board's bytes go out on). They run beside the firmware and
cost it nothing on its tick: a receiver is a stream of edge events in the board's queue, and the UART
pump runs from the board's clock (board.service) and allocates only when bytes move.
"""

from simboard import CALL_EVENT, board

FRAME_US = 20_000  # a receiver repeats each channel's pulse every 20 ms (50 Hz), as a servo expects
PUMP_US = 1000  # how often the UART pump looks at its pipes, at most
CHUNK = 64  # bytes the pump moves into a UART at a time (the pipe holds the rest)


class Receiver:
    """One RC receiver channel on `gpio`: a high pulse of `width_us` every FRAME_US, for ever.

    Each frame queues its two edges and the next frame (a call event), so the train never runs out and
    the queue holds one frame at a time, however long the board runs."""

    def __init__(self, gpio, width_us, start_us):
        self.gpio = gpio
        self.width_us = width_us
        self._widths = (width_us,)
        self._next = (self._frame, None)  # the call event's (function, argument), made once
        self._frame_us = start_us
        board.at(start_us, CALL_EVENT, self._next)

    def _frame(self, _):
        t = self._frame_us
        self._frame_us = board.pulse_train(self.gpio, self._widths, FRAME_US, start_us=t)
        board.at(self._frame_us, CALL_EVENT, self._next)


class UartBridge:
    """Bytes between two streams and UART `uart_id`: what can be read from `rx` (non-blocking: None or 0
    when there is nothing) arrives on the UART, at most as fast as its baud rate carries it, and what the
    firmware writes to the UART is written to `tx` at once. Bytes that arrive while the firmware has no
    UART open are lost, as on the chip."""

    def __init__(self, uart_id, rx, tx):
        self.uart_id = uart_id
        self._rx = rx
        self._tx = tx
        self._buf = bytearray(CHUNK)
        self._view = memoryview(self._buf)
        self._held = 0  # bytes read from rx, not yet arrived ...
        self._at = 0  # ... from here in _buf
        self._line_free_us = 0  # when the last byte that arrived finished, at the baud rate

    def pump(self, now_us):
        # Peeks at the driver's state (simuart.UartState) so that nothing is allocated when nothing moves.
        state = board.uarts.get(self.uart_id)
        if state is None or not state.installed:
            self._held = 0
            self._rx.readinto(self._buf)  # nobody listens: the bytes go nowhere
            return
        if state.sent:
            self._tx.write(board.uart_sent(self.uart_id))
        if not self._held:
            n = self._rx.readinto(self._buf)
            if not n:
                return
            self._held = n
            self._at = 0
        byte_us = state.frame_bits() * 1_000_000 // state.baud
        start = max(self._line_free_us, now_us - CHUNK * byte_us)  # bytes that waited arrived meanwhile
        n = min((now_us - start) // byte_us, self._held)
        if n > 0:
            board.uart_feed(self.uart_id, self._view[self._at:self._at + n])
            self._at += n
            self._held -= n
            self._line_free_us = start + n * byte_us


class Devices:
    """What is wired to the board this boot; the UART bridges are pumped from its clock."""

    def __init__(self):
        self.receivers = []
        self.bridges = []

    def service(self, now_us):
        """Run from the board's clock (simboard.Board.now), at most every PUMP_US."""
        board.service_at = now_us + PUMP_US
        for bridge in self.bridges:
            bridge.pump(now_us)


def attach(receivers, uarts):
    """Wire what the host asked for (specs checked by the host) to the board just reset."""
    devices = Devices()
    for spec in (receivers or "").split(","):
        if spec:
            gpio, width = spec.split(":")
            devices.receivers.append(Receiver(int(gpio), int(width), board.now_us))
    for spec in (uarts or "").split(","):
        if spec:
            uart_id, rx_fd, tx_fd = spec.split(":")
            devices.bridges.append(UartBridge(int(uart_id), open(int(rx_fd), "rb"), open(int(tx_fd), "wb")))
    if devices.bridges:
        board.service = devices.service
    return devices
