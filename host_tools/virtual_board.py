"""The virtual board: the MicroPython unix port behind a pseudo-terminal, looking like a USB-connected ESP32.

Each boot is a fresh `micropython` process running host_tools/sim/boardos.py, which mounts the flash
folder at `/`, runs boot.py and main.py and serves the REPLs. This side owns the pseudo-terminal and
relays bytes both ways: it paces them like a USB-UART bridge at the chosen baud rate, turns Ctrl-C
into a pending KeyboardInterrupt as the chip's console does (see INTERPRETER), translates `\\n` to `\\r\\n` as
the ESP32's console does, and starts the next boot when a process ends with a reset. What is wired to the
board from outside (jumpers, the live trace, UARTs, RC receivers) is in wired.py, the console's RFC 2217 port
in rfc2217_port.py.
"""

import fcntl
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path

from host_tools import chips, rom
from host_tools.rfc2217_port import Rfc2217Server
from host_tools.serial_wire import Pacer, RawPty
from host_tools.sim import PATH as SIM_DIR
from host_tools.wired import AudioRelay, ReceiverPort, TraceRelay, UartPort, check_receiver_us

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
# IO0 held low as the chip leaves reset: the ROM waits for a host on UART0
DOWNLOAD_BOOT = b",boot:0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))\r\nwaiting for download\r\n"
POWERON_CAUSE, SW_CPU_CAUSE = b"rst:0x1 (POWERON_RESET)", b"rst:0xc (SW_CPU_RESET)"
RTC_WDT_LINE = b"rst:0x10 (RTCWDT_RTC_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n"
BOOT_LOOP_S = 0.5  # the RTC watchdog resets a chip whose ROM found nothing to boot
# A DevKitC's EN pin rises through an RC network (10 kOhm, 1 uF): the chip leaves reset this long after the
# auto-reset transistor lets go
EN_RISE_S = 0.01
DEFAULT_FLASH_KB = 2048  # the filesystem partition of a 4 MB ESP32 build of MicroPython
BOOT = "import boardos"  # the board's OS runs as a module, leaving `__main__` to the board's own code
# The interpreter of every boot: the unix port as PyPI's package embeds it, started with Ctrl-C delivered as the
# chip delivers it. On the chip the console's receive interrupt calls mp_sched_keyboard_interrupt()
# (ports/esp32/uart.c: uart_irq_handler; usb_serial_jtag.c: usb_serial_jtag_handle_rx), so the VM raises
# KeyboardInterrupt between bytecodes or in a blocking wait (py/vm.c: pending_exception_check; mp_handle_pending).
# The unix port's own SIGINT handler raises it from inside the signal handler instead, wherever the C code is
# (ports/unix/unix_mphal.c: sighandler, with MICROPY_ASYNC_KBD_INTR): cut short inside a collection it leaves the
# heap locked for good (py/gc.c: gc_collect_start sets GC_COLLECT_FLAG in gc_lock_depth, gc_collect_end clears it),
# half-way through an allocation it corrupts the heap. So Ctrl-C comes as CTRL_C_SIGNAL, whose handler is that same
# C function; without SA_RESTART a blocking call is cut short and raises it (ports/unix/mphalport.h:
# MP_HAL_RETRY_SYSCALL).
CTRL_C_SIGNAL = signal.SIGUSR1
INTERPRETER = "\n".join((
    "import ctypes, sys, micropython_run",
    "libc = ctypes.CDLL(None)",
    "libc.signal.argtypes = (ctypes.c_int, ctypes.c_void_p)",
    "vm = ctypes.CDLL(micropython_run.__file__)",
    f"libc.signal({int(CTRL_C_SIGNAL)}, ctypes.cast(vm.mp_sched_keyboard_interrupt, ctypes.c_void_p))",
    f"libc.siginterrupt({int(CTRL_C_SIGNAL)}, 1)",
    "sys.exit(micropython_run.run_main(['micropython'] + sys.argv[1:]))",
))
READY = b"\x00boardos-ready\n"  # written to stderr once the interpreter can take a KeyboardInterrupt
KBD_ON = b"\x00kbd-on\n"  # code runs: Ctrl-C interrupts it
KBD_OFF = b"\x00kbd-off\n"  # the REPL reads input: Ctrl-C is a byte like any other
# The REPL's input ring (ports/esp32/mphalport.c: stdin_ringbuf_array[260]); py/ringbuf.h keeps one slot
# free, so it holds 259 bytes. A UART console drops what arrives when it is full (ports/esp32/uart.c:
# uart_irq_handler); native USB leaves bytes with the host until there is room.
STDIN_RING = 260 - 1
RING_WAIT_S = 0.00005  # first look for room in a full ring
LISTENING = "0A"  # a TCP socket's state in /proc/net/tcp (include/net/tcp_states.h: TCP_LISTEN)
WEB_LOOK_S = 0.1  # how often the host looks for the firmware's listening socket on the web port


def free_loopback_port():
    """A TCP port free on 127.0.0.1 now: the board's port 80 for the whole session (the same at every boot)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def listening_on(port):
    """Whether a socket listens on 127.0.0.1:`port` (Linux's table of TCP sockets: nothing connects to find out)."""
    local = f"0100007F:{port:04X}"  # 127.0.0.1 in the host's byte order
    try:
        with open("/proc/net/tcp") as table:
            return any(fields[1] == local and fields[3] == LISTENING
                       for fields in (line.split() for line in table) if len(fields) > 3)
    except OSError:
        return False


def wifi_env(networks):
    """GW_WIFI for [(ssid, password)]: hex(ssid):hex(password),... (any characters survive)."""
    return ",".join(ssid.encode().hex() + ":" + key.encode().hex() for ssid, key in networks)


def parse_wifi(specs):
    """`["Home:secret123"]` -> [("Home", "secret123")]; the password is 8-63 characters or none (an open network)."""
    networks = []
    for spec in specs:
        ssid, sep, key = spec.partition(":")
        if not sep or not 1 <= len(ssid.encode()) <= 32:
            raise ValueError(repr(spec) + " is not SSID:PASSWORD (an SSID of 1-32 bytes; SSID: for an open network)")
        if key and not 8 <= len(key) <= 63:
            raise ValueError(spec + ": a WPA2 password has 8 to 63 characters")
        networks.append((ssid, key))
    return networks


def _registry():
    """Where running virtual boards note their ports, so that `provision --all` finds them."""
    return Path(os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()) / "gullwing-virtual-boards"


def running_ports():
    """The ports of the virtual boards running on this machine."""
    return [port for port, _url in _running()]


def reset_url(port):
    """The RFC 2217 address of the running virtual board whose pseudo-terminal is `port`, else None: the
    same UART, with the DTR and RTS lines esptool resets the board with."""
    return dict(_running()).get(port)


def _running():
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
        port, _, url = note.read_text().strip().partition("\n")
        if os.path.exists(port):
            found.append((port, url or None))
    return found


# the simulator's modules the firmware loads when it first uses them (boardos._OnFirstUse), given compiled: their
# source compiled on a heap the firmware has already filled fails for want of a block the chip never needs
LATE_SIM_MODULES = ("network", "socket")


def late_sim_modules():
    """The folder of LATE_SIM_MODULES as .mpy, one per version of their sources, made whole before it is used:
    boards starting side by side never read a file another is writing."""
    from host_tools import build

    digest = hashlib.sha256(b"".join((SIM_DIR / (name + ".py")).read_bytes() for name in LATE_SIM_MODULES))
    folder = build.CACHE_DIR.parent / "sim-mpy" / digest.hexdigest()[:16]
    if not folder.is_dir():
        folder.parent.mkdir(parents=True, exist_ok=True)
        making = Path(tempfile.mkdtemp(dir=folder.parent))
        for name in LATE_SIM_MODULES:
            build.compile_file(SIM_DIR / (name + ".py"), making / (name + ".mpy"), root=SIM_DIR)
        try:
            making.rename(folder)
        except OSError:  # another board made it meanwhile
            shutil.rmtree(making, ignore_errors=True)
    return folder


def sim_heap_bytes():
    """Heap the simulator's own modules take in the interpreter (the chip has them in C, not on its heap)."""
    if not _SIM_HEAP:
        env = dict(os.environ, MICROPYPATH=os.pathsep.join([str(SIM_DIR), ".frozen"]), GW_PROBE="1",
                   GW_SIM_MPY=str(late_sim_modules()))
        out = subprocess.run([micropython_binary(), "-c", BOOT], capture_output=True, text=True,
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


def interpreter_command():
    """The unix port with the chip's Ctrl-C (INTERPRETER); the arguments after it are MicroPython's."""
    return [sys.executable, "-c", INTERPRETER]


def _unread(pipe):
    """Bytes written into a pipe that its reader has not taken yet."""
    count = bytearray(4)
    try:
        fcntl.ioctl(pipe.fileno(), termios.FIONREAD, count)
    except (OSError, ValueError):
        return 0
    return int.from_bytes(count, sys.byteorder)


class VirtualBoard:
    def __init__(self, chip="ESP32", flash_dir=None, trace_path=None, heap_kb=None, baud=None,
                 flash_kb=DEFAULT_FLASH_KB, name="virtual", jumpers=(), start_ms=0, usb_console=False,
                 receivers=(), uarts=(), download=False, audio_path=None, wifi=(), on_web=None):
        """`heap_kb` defaults to the chip's (chips.Chip.heap_kb); `jumpers` are GPIO pairs wired together at every
        boot; `start_ms` is the board's clock at power-up; `usb_console`: the REPL is on the chip's own USB
        (no bytes lost when its input is full) rather than a USB-serial bridge on UART0; `download`: BOOT is held
        as the board powers up, so it starts in the ROM's download mode; `audio_path`: a WAV file of what the I2S
        amplifier plays, from power-on, on the trace's clock (wired.AudioRelay); `wifi`: [(ssid, password)] of
        home networks in range of the board's station; `on_web(url)` is called once, when the firmware first
        listens on its port 80 (served at `web_url`, a loopback port fixed for the session)."""
        self.chip = chip
        self._tmp = None
        if flash_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="gullwing-flash-")
            flash_dir = Path(self._tmp.name) / "flash"
        self.flash_dir = Path(flash_dir).resolve()
        self.flash_dir.mkdir(parents=True, exist_ok=True)
        # The SPI flash as esptool sees it, beside the filesystem folder (which stays MicroPython's filesystem)
        self.flash = rom.FlashImage(self.flash_dir.with_name(self.flash_dir.name + ".img"))
        self.download_at_power_on = download
        self._rom = None  # the ROM loader while in download mode
        self._generation = 0  # bumped at every reset: a boot loop of an earlier boot stops
        self.rfc2217_port = None
        self._rfc2217 = None
        self.dtr = self.rts = False  # as the RFC 2217 client last set them
        self._en_high = True
        self.trace_path = Path(trace_path).resolve() if trace_path else None
        if self.trace_path and self.trace_path.exists():
            self.trace_path.unlink()  # one trace per session, continued across resets
        self.heap_kb = heap_kb or chips.chip(chip).heap_kb
        self.jumpers = list(jumpers)
        # (GPIO, pulse us or None: no pulses) of each RC receiver channel, see parse_receivers(); set_receiver()
        # changes them while the board runs, through self.receiver_port's pipe (the rc: terminal once started)
        self.receivers = list(receivers)
        self.receiver_port = None
        self.uart_ids = list(uarts)  # UARTs wired to pseudo-terminals (self.uart_ports once started)
        self.uart_ports = {}
        self._trace_relay = None
        self.audio_path = Path(audio_path).resolve() if audio_path else None
        self._audio_relay = None
        self.start_us = start_ms * 1000
        self.wifi = list(wifi)
        self.web_port = free_loopback_port()
        self.web_url = "http://127.0.0.1:" + str(self.web_port) + "/"
        self.web_listening = False
        self._on_web = on_web
        self.usb_console = usb_console
        self.stdin_lost = 0  # bytes the REPL's full input ring dropped
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
        self._pty = RawPty()
        self.port = self._pty.port
        self.started_at = time.monotonic()
        if self.trace_path:
            self._trace_relay = TraceRelay(self.trace_path)
        if self.audio_path:
            self._audio_relay = AudioRelay(self.audio_path, self.start_us)
        self.uart_ports = {uart_id: UartPort(uart_id) for uart_id in self.uart_ids}
        if self.receivers:
            self.receiver_port = ReceiverPort(self)
        self._rfc2217 = Rfc2217Server(self)
        self.rfc2217_port = self._rfc2217.port
        self._power_on(download=self.download_at_power_on)
        _registry().mkdir(parents=True, exist_ok=True)
        self._note = _registry() / f"{os.getpid()}-{self.port.rsplit('/', 1)[-1]}.port"
        self._note.write_text(self.port + "\nrfc2217://127.0.0.1:" + str(self.rfc2217_port) + "\n")
        for target in (self._from_pty, self._supervise, self._serve_rfc2217, self._watch_web):
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
        if self._rom is not None:
            self._rom.stop()
        if self._rfc2217 is not None:
            self._rfc2217.close()
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
        for wired in [self._trace_relay, *self.uart_ports.values(), self.receiver_port]:
            if wired is not None:
                wired.close()  # the board has ended: what it wrote is out, then the pipes close
        if self._audio_relay is not None:
            self._audio_relay.close(self.start_us + int((time.monotonic() - self.started_at) * 1_000_000))
        self._pty.close()
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

    def set_receiver(self, gpio, us):
        """Move the stick of the receiver channel on `gpio` while the board runs: pulses of `us` microseconds
        from the channel's next 20 ms frame on the board's clock, or none at all when `us` is None (the
        transmitter out of range). Kept across resets. ValueError says what is wrong."""
        channels = [wired for wired, _ in self.receivers]
        if gpio not in channels:
            raise ValueError("GPIO" + str(gpio) + " has no receiver channel (--receiver); the channels: "
                             + ", ".join("GPIO" + str(wired) for wired in channels))
        if us is not None:
            check_receiver_us(us)
        with self._lock:
            self.receivers = [(wired, us if wired == gpio else width) for wired, width in self.receivers]
            if self.receiver_port is not None:
                self.receiver_port.send(gpio, us)

    # -- one boot --------------------------------------------------------------------------------

    def _board_fds(self):
        """The pipe ends every boot inherits: the live trace's, each wired UART's two, the receivers' controls."""
        fds = [self._trace_relay.board_fd] if self._trace_relay else []
        if self._audio_relay is not None:
            fds.append(self._audio_relay.board_fd)
        for port in self.uart_ports.values():
            fds += [port.board_rx, port.board_tx]
        if self.receiver_port is not None:
            fds.append(self.receiver_port.board_rx)
        return fds

    def _spawn(self, cause, raw):
        env = dict(os.environ)
        env.update({
            "MICROPYPATH": os.pathsep.join([str(SIM_DIR), ".frozen"]),
            "GW_FLASH": str(self.flash_dir),
            "GW_CHIP": self.chip,
            "GW_UID": self.uid,
            "GW_TRACE_FD": str(self._trace_relay.board_fd) if self._trace_relay else "",
            "GW_AUDIO_FD": str(self._audio_relay.board_fd) if self._audio_relay else "",
            "GW_RECEIVERS": ",".join(str(gpio) + ":" + str(us or 0) for gpio, us in self.receivers),
            "GW_RC_FD": str(self.receiver_port.board_rx) if self.receiver_port else "",
            "GW_UARTS": ",".join(port.spec() for port in self.uart_ports.values()),
            "GW_START_US": str(self.start_us + int((time.monotonic() - self.started_at) * 1_000_000)),
            "GW_CAUSE": str(cause),
            "GW_RAW": "1" if raw else "0",
            "GW_FLASH_KB": str(self.flash_kb or 0),
            "GW_JUMPERS": ",".join(str(a) + ":" + str(b) for a, b in self.jumpers),
            "GW_WIFI": wifi_env(self.wifi),
            "GULLWING_SIM_WEB_PORT": str(self.web_port),
            "GW_SIM_MPY": str(late_sim_modules()),
        })
        cmd = [*interpreter_command(), "-X", heap_argument(self.heap_kb)]
        cmd += ["-c", BOOT]
        self._ready.clear()
        self._kbd = True
        if cause != SOFT_RESET:
            self._to_wire(b"\r\n" + ROM_LINE.get(cause, ROM_LINE[PWRON_RESET]))
        child = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 env=env, bufsize=0, start_new_session=True,
                                 pass_fds=self._board_fds())
        self._child = child
        self.boots += 1
        for target in (self._relay_output, self._watch_stderr):
            threading.Thread(target=target, args=(child,), daemon=True).start()

    def _supervise(self):
        while not self._stop.is_set():
            child = self._child
            if child is None:  # held in reset, in download mode or boot-looping
                self._stop.wait(0.02)
                continue
            status = child.wait()
            if self._stop.is_set():
                return
            if child is not self._child:
                continue  # stopped by a reset from outside: what runs next is the reset's business
            time.sleep(0.01)  # let the output relay drain the last bytes of this boot
            if status == EXIT_SOFT_RESET:
                self._spawn(SOFT_RESET, raw=False)
            elif status == EXIT_SOFT_RESET_RAW:
                self._spawn(SOFT_RESET, raw=True)
            elif status in (EXIT_HARD_RESET, EXIT_WATCHDOG_RESET):
                self._boot(WDT_RESET if status == EXIT_WATCHDOG_RESET else HARD_RESET)
            else:  # the interpreter died (or stdin ended): power-cycle, not too eagerly
                time.sleep(0.2)
                self._boot(PWRON_RESET)

    def _watch_web(self):
        """Until the firmware first listens on its port 80 (the host's web port: sim/socket.py), then `on_web`."""
        while not self._stop.wait(WEB_LOOK_S):
            if listening_on(self.web_port):
                self.web_listening = True
                if self._on_web is not None:
                    self._on_web(self.web_url)
                return

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

    def _from_pty(self):
        for data in self._pty.received(self._stop):
            for i in range(0, len(data), 32):
                self.from_host(data[i:i + 32])

    def from_host(self, data):
        """Host -> board (from the pseudo-terminal or the RFC 2217 client): paced, with Ctrl-C delivered as
        the chip's console delivers it."""
        loader = self._rom
        if loader is not None:
            self.wire_bytes += len(data)
            self._in_pacer.wait(len(data))
            loader.feed(data)  # the ROM reads the UART: no REPL, no Ctrl-C
            return
        if self._child is None:
            return  # held in reset or boot-looping: nobody reads UART0
        while data:
            head, ctrl_c, data = data.partition(b"\x03")
            self.wire_bytes += len(head) + len(ctrl_c)
            if head:
                self._in_pacer.wait(len(head))
                self._into_ring(head)
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
            child.send_signal(CTRL_C_SIGNAL)  # KeyboardInterrupt at the running code's next bytecode
        else:
            self._into_ring(b"\x03", child)  # in its place among the other bytes

    def _into_ring(self, data, child=None):
        """Bytes into the REPL's input, which holds STDIN_RING bytes the board has not read yet (counted
        in the pipe, which the board reads byte by byte). On a paced UART console what finds the ring full
        is lost, as on the chip; otherwise (native USB, or an unpaced wire) the bytes wait for room."""
        child = child or self._child
        drops = self.baud and not self.usb_console
        wait = RING_WAIT_S
        while data and not self._stop.is_set() and child is self._child:
            room = STDIN_RING - _unread(child.stdin)
            if room <= 0 and not drops:
                # the chip takes the host's next bytes as soon as the ring has room (usb_serial_jtag.c:
                # usb_serial_jtag_poll_rx, at every poll and read): look again soon, less often while it stays full
                time.sleep(wait)
                wait = min(2 * wait, 0.001)
                continue
            wait = RING_WAIT_S
            taken, data = data[:max(room, 0)], data[max(room, 0):]
            if drops:
                self.stdin_lost += len(data)
                data = b""
            try:
                child.stdin.write(taken)
            except (OSError, ValueError):
                return  # the board is resetting: like a UART, bytes sent meanwhile are lost

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
        if not self._rfc2217.send(data):  # else the RFC 2217 client has the port
            self._pty.write(data, self._stop)

    # -- reset, boot and download mode -----------------------------------------------------------

    def _halt(self):
        """EN low: whatever runs stops (the MicroPython process, the ROM loader, a boot loop)."""
        with self._lock:
            self._generation += 1
            child, self._child = self._child, None
            loader, self._rom = self._rom, None
        if loader is not None:
            loader.stop()
        if child is not None:
            child.kill()
            child.wait()

    def _power_on(self, download, cause=POWERON_CAUSE):
        """The chip leaves reset; the ROM samples IO0: low is download mode, high boots from flash."""
        if download:
            self._in_pacer = Pacer(self.baud and rom_baud(self.baud))
            self._out_pacer = Pacer(self.baud and rom_baud(self.baud))
            self._to_wire(b"\r\n" + cause + DOWNLOAD_BOOT)
            self._rom = rom.RomLoader(self.chip, self.flash, rom.board_mac(self.uid), self._rom_send,
                                      on_run=self._rom_runs_flash, on_baud=self._rom_baud,
                                      on_erase_all=lambda: rom.remove_contents(self.flash_dir),
                                      on_cpu_reset=self._rom_cpu_reset)
        else:
            self._in_pacer = Pacer(self.baud)
            self._out_pacer = Pacer(self.baud)
            self._boot(PWRON_RESET)

    def _rom_send(self, data):
        self._out_pacer.wait(len(data))
        self.wire_bytes += len(data)
        self._to_wire(data)

    def _rom_baud(self, baud):
        if self.baud:  # a paced wire follows the chip's new rate
            self._in_pacer = Pacer(baud)
            self._out_pacer = Pacer(baud)

    def _rom_runs_flash(self):
        """The loader was asked to run the code in flash: as from a reset with IO0 high."""
        threading.Thread(target=self._reset, args=(False,), daemon=True).start()

    def _rom_cpu_reset(self):
        """The stub resets the CPU: the boot mode latched at power-on holds, so the ROM loader is back."""
        threading.Thread(target=self._reset, args=(True, SW_CPU_CAUSE), daemon=True).start()

    def _reset(self, download, cause=POWERON_CAUSE):
        self._halt()
        self._power_on(download, cause)

    def _boot(self, cause):
        """Boot from flash: MicroPython if the flash holds a sound image for this chip, else the ROM's loop."""
        problem = rom.boot_messages(self.flash, self.chip)
        if problem is None:
            self._spawn(cause, raw=False)
            return
        generation = self._generation
        threading.Thread(target=self._boot_loop, args=(generation, cause, problem), daemon=True).start()

    def _boot_loop(self, generation, cause, messages):
        line = ROM_LINE.get(cause, ROM_LINE[PWRON_RESET])
        while generation == self._generation and not self._stop.is_set():
            self._to_wire(b"\r\n" + line + messages)
            self._stop.wait(BOOT_LOOP_S)
            line = RTC_WDT_LINE

    # -- the auto-reset circuit, driven by the RFC 2217 client -----------------------------------

    def _serve_rfc2217(self):
        self._rfc2217.serve(self._stop)

    def set_lines(self, dtr, rts):
        """DTR and RTS as a DevKitC's auto-reset circuit turns them into EN and IO0: EN is pulled low
        while RTS is asserted and DTR is not, IO0 while DTR is asserted and RTS is not.

        RFC 2217 carries one line per message, each acknowledged (some 50 ms apart with pyserial), where a
        USB bridge sets both at once (esptool/reset.py: UnixTightReset). So the step out of reset is taken
        with the change that follows it: DTR asserted to leave reset means IO0 low as the chip starts
        (download mode; the RTS release comes next), RTS released means IO0 high (a normal boot)."""
        self.dtr, self.rts = dtr, rts
        en_high = not (rts and not dtr)
        if not en_high and self._en_high:
            self._en_high = False
            self._halt()
        elif en_high and not self._en_high:
            self._en_high = True
            threading.Thread(target=self._leave_reset, args=(self._generation, dtr), daemon=True).start()

    def _leave_reset(self, generation, download):
        time.sleep(EN_RISE_S)
        with self._lock:
            if generation != self._generation or not self._en_high or self._stop.is_set():
                return  # EN went low again before it rose
        self._power_on(download)


def rom_baud(baud):
    """The ROM's UART rate: it detects the host's rate from the SYNC bytes; 115200 is what esptool starts at."""
    return 115200 if baud else baud

