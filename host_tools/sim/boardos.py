"""What an ESP32 running MicroPython does between resets, inside the MicroPython unix port.

The virtual board (host_tools/virtual_board.py) starts one interpreter per boot with this script: the
flash folder is mounted at `/`, boot.py then main.py run, then the REPL serves the wire: the friendly
REPL, the raw REPL (Ctrl-A) with raw-paste mode, Ctrl-B, and Ctrl-D for a soft reset. A reset ends this
interpreter with an exit status telling the host how to start the next one, so every boot gets a fresh
interpreter, as on the chip. Ctrl-C arrives as a signal whose handler schedules a KeyboardInterrupt, as the
chip's console does (host_tools/virtual_board.py: INTERPRETER): the code running gets it at its next bytecode.

Settings come from the environment: GW_FLASH (folder), GW_CHIP, GW_UID (hex), GW_TRACE_FD (a pipe for
the trace's binary rows), GW_RECEIVERS, GW_RC_FD and GW_UARTS (devices wired from outside, see simdevices.py),
GW_START_US (clock at boot), GW_CAUSE (reset cause), GW_RAW (1: boot into the raw REPL, after a soft reset
requested from the raw REPL), GW_FLASH_KB (filesystem size), GW_JUMPERS (jumper wires, `4:5,12:13`), GW_AUDIO_FD (a
pipe for what the I2S amplifier plays, simi2s.AudioPipe),
GW_PROBE (print the simulator's own heap use and stop).

The board tells who it is as the stock ESP32 build does: `sys.platform`, `sys.implementation` and
`os.uname()` name the chip, not the host.
"""

import os
import select
import sys

# The simulator's time.py and machine.py, found first on the path, are imported before the flash is mounted,
# so that the firmware's own imports find them loaded.
import time  # noqa: F401

import machine  # noqa: F401
import simboard
import simdevices
import simfs
import simtrace

SIM_DIR = simboard.__file__.rpartition("/")[0]
_SIM_MPY = os.getenv("GW_SIM_MPY") or SIM_DIR


class _OnFirstUse:
    """network and socket (built into the chip's firmware): the flash's module path cannot find the simulator's,
    and the unix port's own socket would win, so this stands in for each in sys.modules and loads the
    simulator's module from its folder when the firmware first uses it. A board that never does keeps its heap
    as it was (importing them up front leaves a small heap too fragmented for a 40 KB buffer)."""

    def __init__(self, name):
        self._name = name

    def __getattr__(self, attr):
        return getattr(load_sim_module(self._name), attr)


def load_sim_module(name):
    module = sys.modules.get(name)
    if module is None or isinstance(module, _OnFirstUse):
        saved = sys.path
        # compiled by the host (virtual_board.late_sim_modules), else the source; before and after the flash takes `/`
        sys.path = [_SIM_MPY, simfs.HOST_MOUNT + _SIM_MPY, SIM_DIR, simfs.HOST_MOUNT + SIM_DIR]
        sys.modules.pop(name, None)
        try:
            module = __import__(name)
        finally:
            sys.path = saved
        if not hasattr(module, "__file__"):  # the unix port's own socket would serve every host address
            raise ImportError("the simulator's " + name + ".py is missing from " + SIM_DIR)
    return module


for _name in ("network", "socket"):
    sys.modules[_name] = _OnFirstUse(_name)

# exit statuses understood by the host
EXIT_POWER_OFF = 0
EXIT_SOFT_RESET = 10
EXIT_SOFT_RESET_RAW = 11
EXIT_HARD_RESET = 12
EXIT_WATCHDOG_RESET = 13
READY = "\x00boardos-ready\n"  # tells the host that Ctrl-C is now safe to deliver
KBD_ON = "\x00kbd-on\n"
KBD_OFF = "\x00kbd-off\n"

# The stock build of each chip (ports/esp32/boards/ESP32_GENERIC*/mpconfigboard.h): MICROPY_HW_BOARD_NAME,
# MICROPY_HW_MCU_NAME and the build name (py/mkrules.cmake: MICROPY_BOARD_BUILD_NAME).
STOCK_BUILD = {"ESP32": ("Generic ESP32 module", "ESP32", "ESP32_GENERIC"),
               "ESP32-S2": ("Generic ESP32S2 module", "ESP32-S2", "ESP32_GENERIC_S2"),
               "ESP32-S3": ("Generic ESP32S3 module", "ESP32-S3", "ESP32_GENERIC_S3"),
               "ESP32-C3": ("ESP32C3 module", "ESP32-C3", "ESP32_GENERIC_C3")}
RELEASE = "1.29.0"
BUILD = "v" + RELEASE + " on 2026-08-29"  # MICROPY_GIT_TAG " on " MICROPY_BUILD_DATE
RAW_PROMPT = "raw REPL; CTRL-B to exit\r\n"
PASTE_WINDOW = 128
FRIENDLY = 0
RAW = 1


class Reset(Exception):
    def __init__(self, status):
        super().__init__()
        self.status = status


def out(text):
    sys.stdout.write(text)


_wire = select.poll()
_wire.register(sys.stdin, select.POLLIN)


def read_byte():
    """One byte from the wire; a Ctrl-C that interrupts the wait comes back as 3, end of input powers the board off.

    While waiting, the board's clock is read every few milliseconds so that timers and the watchdog
    fire at the REPL prompt too, as on the chip."""
    try:
        while not _wire.poll(5):
            simboard.board.now()
        b = sys.stdin.buffer.read(1)
    except KeyboardInterrupt:
        return 3
    if not b:
        raise Reset(EXIT_POWER_OFF)
    return b[0]


def machine_name(chip):
    """MICROPY_BANNER_MACHINE: what the banner, sys.implementation._machine and os.uname().machine say."""
    board_name, mcu, _ = STOCK_BUILD.get(chip, (chip + " module", chip, chip))
    return board_name + " with " + mcu


class _BoardSys:
    """`sys` as the ESP32 port has it (py/modsys.c). The interpreter's sys is a built-in that takes no new
    attributes, but an import finds sys.modules before the built-ins, so this stands in for it there:
    the chip's platform, implementation and maxsize, everything else (and every assignment, such as
    sys.path) the interpreter's own."""

    platform = "esp32"  # MICROPY_PY_SYS_PLATFORM of ports/esp32/mpconfigport.h
    maxsize = (1 << 31) - 1  # a 32-bit chip

    def __init__(self, real, chip):
        # py/modsys.c: mp_sys_implementation_obj; the version of a release has '' where this interpreter's
        # has 'preview'. _mpy stays the interpreter's: it tells what .mpy files this board really loads.
        from collections import namedtuple

        fields = namedtuple("implementation", ("name", "version", "_machine", "_mpy", "_build", "_thread"))
        build = STOCK_BUILD.get(chip, (0, 0, chip))[2]
        version = real.implementation.version
        object.__setattr__(self, "implementation", fields(
            "micropython", (version[0], version[1], version[2], ""), machine_name(chip), real.implementation._mpy,
            build, "GIL"))
        object.__setattr__(self, "_real", real)

    def __getattr__(self, name):
        return getattr(self._real, name)

    def __setattr__(self, name, value):
        setattr(self._real, name, value)


def _uname_of(chip):
    """os.uname() of the ESP32 port (extmod/modos.c: mp_os_uname)."""
    from collections import namedtuple

    fields = namedtuple("uname_result", ("sysname", "nodename", "release", "version", "machine"))
    result = fields("esp32", "esp32", RELEASE, BUILD, machine_name(chip))
    return lambda: result


class _BoardMicropython:
    """`micropython` with the chip's kbd_intr: the interpreter's own would hand SIGINT back to the system
    (ports/unix/unix_mphal.c: mp_hal_set_interrupt_char installs SIG_DFL for any other character), and
    the host's next Ctrl-C would kill the board. Here kbd_intr(-1) tells the host that 0x03 is a plain
    byte from now on, as the chip's console makes it at once (ports/esp32/uart.c: uart_irq_handler);
    kbd_intr(3) makes it an interrupt again. Divergence: a Ctrl-C the host sent before it heard is
    still raised (one the chip's console took just before), and only 0x03 ever interrupts."""

    def __init__(self, real):
        object.__setattr__(self, "_real", real)

    def kbd_intr(self, char):
        interrupt_char(char == 3)

    def __getattr__(self, name):
        return getattr(self._real, name)


def take_identity(chip):
    """From here on, code importing sys, os or micropython sees the chip."""
    import micropython

    simfs.uname = _uname_of(chip)  # simfs is the board's os
    sys.modules["sys"] = _BoardSys(sys, chip)
    sys.modules["micropython"] = _BoardMicropython(micropython)


def parse_jumpers(spec):
    """`4:5,12:13` -> [(4, 5), (12, 13)] (the host checked them against the chip)."""
    return [tuple(int(gpio) for gpio in pair.split(":")) for pair in spec.split(",") if pair]


def boot():
    env = os.getenv
    chip = env("GW_CHIP") or "ESP32"
    uid = env("GW_UID")
    trace_fd = env("GW_TRACE_FD")  # the host turns the binary rows into the CSV file as they come
    trace = simtrace.Trace(capacity=64, live=open(int(trace_fd), "wb") if trace_fd else None, keep_all=False)
    simboard.board.reset(chip, start_us=int(env("GW_START_US") or "0"), trace=trace,
                         uid=bytes(int(uid[i:i + 2], 16) for i in range(0, 12, 2)) if uid else None,
                         cause=int(env("GW_CAUSE") or str(simboard.PWRON_RESET)))
    for a, b in parse_jumpers(env("GW_JUMPERS") or ""):
        simboard.board.jumper(a, b)  # wired before anything runs, as on the bench
    audio_fd = env("GW_AUDIO_FD")  # the host writes the WAV file from the I2S buffers the DMA sends
    if audio_fd:
        import simi2s

        simboard.board.audio = simi2s.AudioPipe(open(int(audio_fd), "wb"))
    simboard.board.use_real_time()
    simdevices.attach(env("GW_RECEIVERS"), env("GW_UARTS"), env("GW_RC_FD"))
    simfs.install(env("GW_FLASH"), int(env("GW_FLASH_KB") or "0"))
    take_identity(chip)
    return chip


def _hard_reset_status():
    return EXIT_WATCHDOG_RESET if simboard.board.reset_cause == simboard.WDT_RESET else EXIT_HARD_RESET


def run_file(name, namespace):
    """pyexec_file_if_exists(): run boot.py or main.py if present; an error is printed. Whether it ran
    without one (a missing file counts as run), which decides whether main.py follows boot.py."""
    try:
        with open(name) as f:
            source = f.read()
    except OSError:
        return True
    return execute(source, namespace, "exec", name)


def interrupt_char(enabled):
    """Tell the host whether Ctrl-C interrupts (code runs) or is a plain byte (the REPL reads input), as
    MicroPython's pyexec switches it, so that 0x03 keeps its place among the bytes at the prompt."""
    sys.stderr.write(KBD_ON if enabled else KBD_OFF)


def execute(source, namespace, mode="exec", filename="<stdin>"):
    """Run code the way the REPL does. Resets propagate; other exceptions are printed (False)."""
    try:
        interrupt_char(True)
        try:
            exec(compile(source, filename, mode), namespace)
        finally:
            interrupt_char(False)
    except simboard.HardReset:
        raise Reset(_hard_reset_status()) from None
    except SystemExit:
        raise Reset(EXIT_SOFT_RESET) from None
    except BaseException as exc:  # KeyboardInterrupt included, as MicroPython prints it
        sys.print_exception(exc)
        return False
    return True


def banner(chip):
    out("MicroPython " + BUILD + "; " + machine_name(chip) + '\r\nType "help()" for more information.\r\n')


def friendly_repl(namespace):
    """The `>>>` prompt with echo, backspace and indented blocks. Returns the next REPL to serve."""
    block = ""
    prompt = False
    while True:
        if prompt:
            out("... " if block else ">>> ")
        prompt = True
        line = ""
        while True:
            c = read_byte()
            if c == 1:
                out("\r\n")
                return RAW
            if c == 2:
                out("\r\n")
                return FRIENDLY
            if c == 3:
                out("\r\nKeyboardInterrupt\r\n")
                line = block = ""
                break
            if c == 4:
                if not line and not block:
                    out("\r\n")
                    raise Reset(EXIT_SOFT_RESET)
            elif c in (8, 127):
                if line:
                    line = line[:-1]
                    out("\x08 \x08")
            elif c == 27:  # an escape sequence (arrow keys): no history here, swallow it
                read_byte()
                read_byte()
            elif c in (10, 13):
                out("\r\n")
                if block and line.strip():
                    block += line + "\n"
                elif block:
                    source, block = block, ""
                    execute(source, namespace, "single")
                elif _continues(line):
                    block = line + "\n"
                elif line.strip():
                    execute(line, namespace, "single")
                break
            elif c >= 32:
                line += chr(c)
                out(chr(c))


def _continues(line):
    """Whether a first line opens a block (MicroPython's own rule, simplified)."""
    stripped = line.rstrip()
    depth = 0
    for ch in stripped:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
    return stripped.endswith(":") or stripped.endswith("\\") or depth > 0 or stripped.count('"""') % 2 == 1


def raw_repl(namespace):
    """The raw REPL host tools use: Ctrl-D runs the input, Ctrl-E A Ctrl-A starts raw-paste mode."""
    while True:
        data = bytearray()
        pasted = False
        while True:
            c = read_byte()
            if c == 1:
                data = bytearray()
                out("\r\n" + RAW_PROMPT + ">")
            elif c == 2:
                out("\r\n")
                return FRIENDLY
            elif c == 3:
                data = bytearray()
            elif c == 4:
                break
            elif c == 5 and not data:
                if read_byte() == 65 and read_byte() == 1:
                    data = raw_paste()
                    pasted = True
                    if data is None:  # Ctrl-C: the paste was abandoned
                        out("\x04KeyboardInterrupt: \r\n\x04>")
                        data = bytearray()
                        pasted = False
                        continue
                    break
                sys.stdout.buffer.write(b"R\x00")  # not a paste request we understand
            else:
                data.append(c)
        if not data and not pasted:
            out("\r\n")
            raise Reset(EXIT_SOFT_RESET_RAW)
        if not pasted:
            out("OK")
        run_raw(bytes(data), namespace)
        out(">")


def raw_paste():
    """Raw-paste mode: the host sends at most a window of bytes until told 0x01 (more room)."""
    sys.stdout.buffer.write(b"R\x01" + bytes((PASTE_WINDOW & 0xFF, PASTE_WINDOW >> 8)))
    data = bytearray()
    remain = PASTE_WINDOW
    while True:
        c = read_byte()
        if c == 3:
            sys.stdout.buffer.write(b"\x04")
            return None
        if c == 4:
            sys.stdout.buffer.write(b"\x04")
            return data
        data.append(c)
        remain -= 1
        if remain == 0:
            remain = PASTE_WINDOW
            sys.stdout.buffer.write(b"\x01")


def run_raw(source, namespace):
    """Output, 0x04, the exception if any, 0x04: what mpremote reads back."""
    error = None
    try:
        interrupt_char(True)
        try:
            exec(compile(source, "<stdin>", "exec"), namespace)
        finally:
            interrupt_char(False)
    except simboard.HardReset:
        raise Reset(_hard_reset_status()) from None
    except SystemExit:
        out("\x04\x04")
        raise Reset(EXIT_SOFT_RESET_RAW) from None
    except BaseException as exc:
        error = exc
    out("\x04")
    if error is not None:
        sys.print_exception(error)
    out("\x04")


def serve(chip, namespace, repl):
    """Serve the REPLs until a reset. Ctrl-C lands wherever this code is: it only cancels the input."""
    entering = True
    while True:
        try:
            if entering:
                if repl == RAW:
                    out(RAW_PROMPT + ">")
                else:
                    banner(chip)
                    out(">>> ")
            entering = True
            nxt = raw_repl(namespace) if repl == RAW else friendly_repl(namespace)
        except simboard.HardReset:
            raise Reset(_hard_reset_status()) from None
        except KeyboardInterrupt:
            if repl == FRIENDLY:
                out("\r\nKeyboardInterrupt\r\n>>> ")
            entering = False
            continue
        repl = nxt


def main_namespace():
    """The globals of `__main__`, where boot.py, main.py and the REPL run on the chip, so that code asking
    for its own module (`unittest.main()` finds its tests in `__main__`) finds it. This file is imported
    by the one-line `__main__` (BOOT), whose name is cleared."""
    import __main__

    namespace = __main__.__dict__
    for name in list(namespace):
        if name != "__name__":
            del namespace[name]
    return namespace


def main():
    if os.getenv("GW_PROBE"):  # the host asks what the simulator itself takes from the heap
        import gc

        for name in ("network", "socket"):  # the firmware's WiFi brings them in (on the chip: C, no heap)
            load_sim_module(name)

        gc.collect()
        print(gc.mem_alloc())
        return
    status = EXIT_POWER_OFF
    try:
        chip = boot()
        namespace = main_namespace()
        repl = RAW if os.getenv("GW_RAW") == "1" else FRIENDLY
        try:
            try:
                sys.stderr.write(READY)  # from here on a Ctrl-C lands in code that expects it
                # ports/esp32/main.c: main.py runs only after a boot.py that ended without an exception
                if run_file("boot.py", namespace) and repl == FRIENDLY:
                    run_file("main.py", namespace)
            except KeyboardInterrupt:
                pass  # Ctrl-C during the start: straight to the REPL, as on the chip
            serve(chip, namespace, repl)
        except Reset as reset:
            status = reset.status
        if status in (EXIT_SOFT_RESET, EXIT_SOFT_RESET_RAW):
            out("MPY: soft reboot\r\n")
    finally:
        simboard.board.power_down()
    sys.exit(status)


main()
