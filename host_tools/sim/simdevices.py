"""Devices wired to the virtual board from outside: RC receiver channels and the far end of a UART.

boardos.boot() attaches them from the environment the host sets (`gullwing sim --receiver`, `--uart`):
GW_RECEIVERS is `34:1500,35:1000` (GPIO:pulse width in us, 0 for no pulses), GW_RC_FD the fd on which the
host sends new widths while the board runs (lines `34:1200`, `34:0`), GW_UARTS is `1:5:6` (UART id:fd the
host writes the bytes for the board to:fd the board's bytes go out on). They run beside the firmware and
cost it nothing on its tick: a receiver is a stream of edge events in the board's queue, and the UART
and receiver-control pumps run from the board's clock (board.service) and allocate only when bytes move.
"""

import simtrace
from simboard import CALL_EVENT, board

FRAME_US = 20_000  # a receiver repeats each channel's pulse every 20 ms (50 Hz), as a servo expects
PUMP_US = 1000  # how often the UART pump looks at its pipes, at most
CHUNK = 64  # bytes the pump moves into a UART at a time (the pipe holds the rest)


class Receiver:
    """One RC receiver channel on `gpio`: a high pulse of `width_us` every FRAME_US, for ever; none while
    `width_us` is 0 (the signal lost: the line stays low, frames keep their time).

    Each frame queues its two edges and the next frame (a call event), so the train never runs out and
    the queue holds one frame at a time, however long the board runs. The trace gets a row whenever the
    signal changes, at the frame it changes from: `pwm` (50 Hz, duty_ns the pulse) or `off` (no pulses), so
    a loss's last pulse ended one frame before its `off` row, on the board's clock."""

    def __init__(self, gpio, width_us, start_us):
        self.gpio = gpio
        self._traced_us = 0  # the width the trace last gave (0: no pulses)
        self.set_width(width_us)
        self._next = (self._frame, None)  # the call event's (function, argument), made once
        self._frame_us = start_us
        board.at(start_us, CALL_EVENT, self._next)

    def set_width(self, width_us):
        """From the next frame on (a pulse under way ends as it began), as a receiver updates its outputs."""
        self.width_us = width_us
        self._widths = (width_us,) if width_us else None

    def _frame(self, _):
        t = self._frame_us
        if self.width_us != self._traced_us:
            self._traced_us = self.width_us
            if self.width_us:
                board.record(self.gpio, 1_000_000 // FRAME_US, self.width_us * 1000, simtrace.PWM, 1)
            else:
                board.record(self.gpio, 0, 0, simtrace.OFF, 0)
        if self._widths is None:
            self._frame_us = t + FRAME_US
        else:
            self._frame_us = board.pulse_train(self.gpio, self._widths, FRAME_US, start_us=t)
        board.at(self._frame_us, CALL_EVENT, self._next)


class ReceiverControl:
    """New pulse widths from the host while the board runs: lines `GPIO:US` (US 0: no pulses) read from
    `stream` (non-blocking: None or 0 when there is nothing), each applied to that GPIO's Receiver."""

    def __init__(self, stream, receivers):
        self._stream = stream
        self._receivers = receivers
        self._buf = bytearray(CHUNK)
        self._pending = b""  # the start of a line whose end has not come yet

    def pump(self):
        n = self._stream.readinto(self._buf)
        if not n:
            return
        lines = (self._pending + bytes(self._buf[:n])).split(b"\n")
        self._pending = lines.pop()
        for line in lines:
            gpio, _, width = line.decode().partition(":")
            for receiver in self._receivers:
                if receiver.gpio == int(gpio):
                    receiver.set_width(int(width))


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
        self.control = None  # the ReceiverControl, when the host moves the receivers' sticks
        self.bridges = []

    def service(self, now_us):
        """Run from the board's clock (simboard.Board.now), at most every PUMP_US."""
        board.service_at = now_us + PUMP_US
        if self.control is not None:
            self.control.pump()
        for bridge in self.bridges:
            bridge.pump(now_us)


def attach(receivers, uarts, receiver_control_fd=None):
    """Wire what the host asked for (specs checked by the host) to the board just reset."""
    devices = Devices()
    for spec in (receivers or "").split(","):
        if spec:
            gpio, width = spec.split(":")
            devices.receivers.append(Receiver(int(gpio), int(width), board.now_us))
    if receiver_control_fd:
        devices.control = ReceiverControl(open(int(receiver_control_fd), "rb"), devices.receivers)
    for spec in (uarts or "").split(","):
        if spec:
            uart_id, rx_fd, tx_fd = spec.split(":")
            devices.bridges.append(UartBridge(int(uart_id), open(int(rx_fd), "rb"), open(int(tx_fd), "wb")))
    if devices.bridges or devices.control is not None:
        board.service = devices.service
    return devices
