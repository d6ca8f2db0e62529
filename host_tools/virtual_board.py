"""The virtual board: the MicroPython unix port behind a pseudo-terminal, looking like a USB-connected ESP32.

Each boot is a fresh `micropython` process running host_tools/sim/boardos.py, which mounts the flash
folder at `/`, runs boot.py and main.py and serves the REPLs. This side owns the pseudo-terminal and
relays bytes both ways: it paces them like a USB-UART bridge at the chosen baud rate, turns Ctrl-C
into SIGINT (MicroPython raises KeyboardInterrupt wherever the code is), translates `\\n` to `\\r\\n` as
the ESP32's console does, and starts the next boot when a process ends with a reset.
"""

import hashlib
import os
import select
import signal
import subprocess
import sys
import tempfile
import termios
import threading
import time
import tty
from pathlib import Path

from host_tools.sim import PATH as SIM_DIR

# exit statuses of boardos.py
EXIT_POWER_OFF = 0
EXIT_SOFT_RESET = 10
EXIT_SOFT_RESET_RAW = 11
EXIT_HARD_RESET = 12
EXIT_WATCHDOG_RESET = 13

PWRON_RESET, HARD_RESET, WDT_RESET, SOFT_RESET = 1, 2, 3, 5
ROM_LINE = {PWRON_RESET: b"rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n",
            HARD_RESET: b"rst:0xc (SW_CPU_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n",
            WDT_RESET: b"rst:0x7 (TG0WDT_SYS_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n"}
DEFAULT_FLASH_KB = 2048  # the filesystem partition of a 4 MB ESP32 build of MicroPython
READY = b"\x00boardos-ready\n"  # written to stderr once MicroPython's SIGINT handling is in place
KBD_ON = b"\x00kbd-on\n"  # code runs: Ctrl-C interrupts it
KBD_OFF = b"\x00kbd-off\n"  # the REPL reads input: Ctrl-C is a byte like any other


def _registry():
    """Where running virtual boards note their ports, so that `provision --all` finds them."""
    return Path(os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()) / "gullwing-virtual-boards"


def running_ports():
    """The ports of the virtual boards running on this machine."""
    found = []
    for note in sorted(_registry().glob("*.port")):
        pid = int(note.stem.split("-")[0])
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            note.unlink(missing_ok=True)  # left by a board that was killed
            continue
        except PermissionError:
            pass
        port = note.read_text().strip()
        if os.path.exists(port):
            found.append(port)
    return found


def sim_heap_bytes():
    """Heap the simulator's own modules take in the interpreter (the chip has them in C, not on its heap)."""
    if not _SIM_HEAP:
        env = dict(os.environ, MICROPYPATH=os.pathsep.join([str(SIM_DIR), ".frozen"]), GW_PROBE="1")
        out = subprocess.run([micropython_binary(), str(SIM_DIR / "boardos.py")], capture_output=True, text=True,
                             env=env, timeout=30, check=True).stdout
        _SIM_HEAP.append(int(out.split()[-1]))
    return _SIM_HEAP[0]


_SIM_HEAP = []


def heap_argument(heap_kb):
    """`-X heapsize` giving firmware the free heap a 32-bit chip with `heap_kb` has: objects on this 64-bit
    interpreter take twice the bytes, and the simulator's own modules come on top."""
    return f"heapsize={heap_kb * 1024 * 2 + sim_heap_bytes() + 16 * 1024}"


def micropython_binary():
    found = Path(sys.executable).with_name("micropython")
    return str(found) if found.exists() else "micropython"


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


class VirtualBoard:
    def __init__(self, chip="ESP32", flash_dir=None, trace_path=None, heap_kb=None, baud=None,
                 flash_kb=DEFAULT_FLASH_KB, name="virtual"):
        self.chip = chip
        self._tmp = None
        if flash_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="gullwing-flash-")
            flash_dir = self._tmp.name
        self.flash_dir = Path(flash_dir).resolve()
        self.flash_dir.mkdir(parents=True, exist_ok=True)
        self.trace_path = Path(trace_path).resolve() if trace_path else None
        if self.trace_path and self.trace_path.exists():
            self.trace_path.unlink()  # one trace per session, continued across resets
        self.heap_kb = heap_kb
        self.baud = baud
        self.flash_kb = flash_kb
        self.name = name
        self.uid = hashlib.sha256(str(self.flash_dir).encode()).hexdigest()[:12]
        self.port = None
        self._note = None
        self.boots = 0
        self.wire_bytes = 0  # bytes that crossed the wire, both ways, since start
        self._child = None
        self._ready = threading.Event()
        self._kbd = True  # boot.py and main.py run first
        self._pending_interrupt = False
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.started_at = 0.0  # time.monotonic() at start: 0 on the trace's time axis
        self._in_pacer = Pacer(baud)
        self._out_pacer = Pacer(baud)
        self._threads = []

    # -- life cycle ------------------------------------------------------------------------------

    def start(self):
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no line editing: bytes pass as they are, like a UART
        self.port = os.ttyname(self._slave)
        os.set_blocking(self._master, False)
        self.started_at = time.monotonic()
        self._spawn(PWRON_RESET, raw=False)
        _registry().mkdir(parents=True, exist_ok=True)
        self._note = _registry() / f"{os.getpid()}-{self.port.rsplit('/', 1)[-1]}.port"
        self._note.write_text(self.port)
        for target in (self._from_host, self._supervise):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self.port

    def stop(self):
        if self._stop.is_set():
            return
        self._stop.set()
        if self._note is not None:
            self._note.unlink(missing_ok=True)
        child = self._child
        if child is not None:
            try:
                child.stdin.close()  # end of input: the board powers off
                child.wait(timeout=2)
            except (OSError, subprocess.TimeoutExpired):
                child.kill()
                child.wait()
        for thread in self._threads:
            thread.join(timeout=2)
        for fd in (self._master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def wait(self):
        while not self._stop.wait(0.5):
            pass

    # -- one boot --------------------------------------------------------------------------------

    def _spawn(self, cause, raw):
        env = dict(os.environ)
        env.update({
            "MICROPYPATH": os.pathsep.join([str(SIM_DIR), ".frozen"]),
            "GW_FLASH": str(self.flash_dir),
            "GW_CHIP": self.chip,
            "GW_UID": self.uid,
            "GW_TRACE": str(self.trace_path or ""),
            "GW_START_US": str(int((time.monotonic() - self.started_at) * 1_000_000)),
            "GW_CAUSE": str(cause),
            "GW_RAW": "1" if raw else "0",
            "GW_FLASH_KB": str(self.flash_kb or 0),
        })
        cmd = [micropython_binary()]
        if self.heap_kb:
            cmd += ["-X", heap_argument(self.heap_kb)]
        cmd.append(str(SIM_DIR / "boardos.py"))
        self._ready.clear()
        self._kbd = True
        if cause != SOFT_RESET:
            self._to_wire(b"\r\n" + ROM_LINE.get(cause, ROM_LINE[PWRON_RESET]))
        child = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 env=env, bufsize=0, start_new_session=True)
        self._child = child
        self.boots += 1
        for target in (self._relay_output, self._watch_stderr):
            threading.Thread(target=target, args=(child,), daemon=True).start()

    def _supervise(self):
        while not self._stop.is_set():
            child = self._child
            status = child.wait()
            if self._stop.is_set():
                return
            time.sleep(0.01)  # let the output relay drain the last bytes of this boot
            if status == EXIT_SOFT_RESET:
                self._spawn(SOFT_RESET, raw=False)
            elif status == EXIT_SOFT_RESET_RAW:
                self._spawn(SOFT_RESET, raw=True)
            elif status in (EXIT_HARD_RESET, EXIT_WATCHDOG_RESET):
                self._spawn(WDT_RESET if status == EXIT_WATCHDOG_RESET else HARD_RESET, raw=False)
            else:  # the interpreter died (or stdin ended): power-cycle, not too eagerly
                time.sleep(0.2)
                self._spawn(PWRON_RESET, raw=False)

    def _watch_stderr(self, child):
        for line in iter(child.stderr.readline, b""):
            if line in (KBD_ON, KBD_OFF):
                self._kbd = line == KBD_ON
            elif line == READY:
                with self._lock:
                    self._ready.set()
                    if self._pending_interrupt:
                        self._pending_interrupt = False
                        self._deliver_ctrl_c(child)
            else:
                sys.stderr.buffer.write(line)  # the interpreter's own complaints

    # -- the wire --------------------------------------------------------------------------------

    def _from_host(self):
        """Host -> board: paced, with Ctrl-C delivered as SIGINT."""
        while not self._stop.is_set():
            readable, _, _ = select.select([self._master], [], [], 0.2)
            if not readable:
                continue
            try:
                data = os.read(self._master, 256)
            except OSError:
                continue
            for i in range(0, len(data), 32):
                self._to_board(data[i:i + 32])

    def _to_board(self, data):
        while data:
            head, ctrl_c, data = data.partition(b"\x03")
            self.wire_bytes += len(head) + len(ctrl_c)
            if head:
                self._in_pacer.wait(len(head))
                try:
                    self._child.stdin.write(head)
                except (OSError, ValueError):
                    pass  # the board is resetting: like a UART, bytes sent meanwhile are lost
            if ctrl_c:
                self._in_pacer.wait(1)
                self._interrupt()

    def _interrupt(self):
        with self._lock:
            if self._ready.is_set():
                self._deliver_ctrl_c(self._child)
            else:
                self._pending_interrupt = True  # still booting: interrupt as soon as it can be

    def _deliver_ctrl_c(self, child):
        if self._kbd:
            child.send_signal(signal.SIGINT)  # MicroPython raises KeyboardInterrupt in the running code
        else:
            try:
                child.stdin.write(b"\x03")  # in its place among the other bytes
            except (OSError, ValueError):
                pass

    def _relay_output(self, child):
        """Board -> host: `\\n` becomes `\\r\\n` as on the ESP32 console, paced like the UART."""
        previous = b""
        while True:
            try:
                data = os.read(child.stdout.fileno(), 256)
            except OSError:
                return
            if not data:
                return
            cooked = bytearray()
            for byte in data:
                if byte == 10 and previous != b"\r":
                    cooked += b"\r"
                cooked.append(byte)
                previous = bytes((byte,))
            self._out_pacer.wait(len(cooked))
            self.wire_bytes += len(cooked)
            self._to_wire(bytes(cooked))

    def _to_wire(self, data):
        deadline = time.monotonic() + 1.0
        while data and not self._stop.is_set():
            try:
                written = os.write(self._master, data)
                data = data[written:]
                continue
            except BlockingIOError:
                pass
            except OSError:
                return
            if time.monotonic() > deadline:
                # nobody is reading the port: a UART would drop these bytes too
                termios.tcflush(self._slave, termios.TCIFLUSH)
                return
            select.select([], [self._master], [], 0.05)
