"""Serial wires on the host's side of a virtual board: pseudo-terminals that pass bytes as a UART does, and
the pace a UART moves them at."""

import os
import select
import termios
import time
import tty


class RawPty:
    """A pseudo-terminal the host opens as `port`, with no echo and no line editing: bytes pass as they are,
    like a UART. This side reads and writes its master end, which never blocks."""

    def __init__(self):
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self.master, False)
        self.port = os.ttyname(self._slave)

    def received(self, stop):
        """What the host writes, as it comes, until `stop` is set."""
        while not stop.is_set():
            readable, _, _ = select.select([self.master], [], [], 0.2)
            if not readable:
                continue
            try:
                data = os.read(self.master, 256)
            except OSError:
                continue
            yield data

    def write(self, data, stop):
        """To the host; after a second nobody reads, the rest is dropped as a UART would."""
        deadline = time.monotonic() + 1.0
        while data and not stop.is_set():
            try:
                data = data[os.write(self.master, data):]
                continue
            except BlockingIOError:
                pass
            except OSError:
                return
            if time.monotonic() > deadline:
                termios.tcflush(self._slave, termios.TCIFLUSH)
                return
            select.select([], [self.master], [], 0.05)

    def close(self):
        close_all((self.master, self._slave))


def close_all(fds):
    """Close each file descriptor, passing over one already closed."""
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


class Pacer:
    """Holds bytes back to the rate a UART moves them (10 bits a byte)."""

    def __init__(self, baud):
        self.byte_s = 10.0 / baud if baud else 0.0
        self.free_at = 0.0

    def wait(self, nbytes):
        if not self.byte_s:
            return
        now = time.monotonic()
        start = max(now, self.free_at)
        self.free_at = start + nbytes * self.byte_s
        if self.free_at > now:
            time.sleep(self.free_at - now)
