"""The virtual board, end to end: `gullwing sim` driven by unmodified mpremote and by a raw serial port."""

import hashlib
import re
import signal
import time

from tests.host.virtual import BIN, SimProcess, Wire, run_in_pty


def test_first_line_names_the_port_and_mpremote_exec_runs_there(board):
    assert re.fullmatch(r"port: /dev/pts/\d+", board.first_line)
    out = board.mpremote("exec", "import sys, machine; print(sys.implementation.name, len(machine.unique_id()))")
    assert out.stdout.strip() == "micropython 6"


def test_mpremote_cp_ls_sha256sum_rm_keep_files_in_the_flash_folder(board, tmp_path):
    payload = bytes(range(256)) * 40
    local = tmp_path / "blob.bin"
    local.write_bytes(payload)
    board.mpremote("cp", str(local), ":blob.bin")
    assert (board.flash / "blob.bin").read_bytes() == payload
    listing = board.mpremote("ls", ":").stdout
    assert re.search(r"\b10240 blob\.bin", listing)
    digest = board.mpremote("sha256sum", ":blob.bin").stdout.split()[-1]
    assert digest == hashlib.sha256(payload).hexdigest()
    board.mpremote("cp", ":blob.bin", str(tmp_path / "back.bin"))
    assert (tmp_path / "back.bin").read_bytes() == payload
    board.mpremote("rm", ":blob.bin")
    assert not (board.flash / "blob.bin").exists()


def test_mpremote_run_and_soft_reset(board, tmp_path):
    script = tmp_path / "hello.py"
    script.write_text("import machine\nprint('reset cause', machine.reset_cause())\n")
    assert board.mpremote("run", str(script)).stdout.strip() == "reset cause 5"  # after mpremote's soft reset
    board.mpremote("soft-reset")


def test_mpremote_repl_on_a_terminal(board):
    seen = run_in_pty([str(BIN / "mpremote"), "connect", board.port, "repl"],
                      [b"\r", b"print(6 * 7)\r", b"\x1d"], expect="42\r\n>>> ")
    assert b"Connected to MicroPython" in seen


def test_every_start_runs_boot_then_main_and_files_survive_resets(board):
    wire = Wire(board.port)
    try:
        wire.send(b"\r")
        wire.expect(">>> ")  # the first boot is over
        (board.flash / "boot.py").write_text("print('boot.py ran')\n")
        (board.flash / "main.py").write_text("print('main.py ran')\n")
        wire.send(b"\r\x04")  # Ctrl-D at the prompt: soft reset
        seen = wire.expect("Type \"help()\" for more information.\r\n>>> ")
        assert seen.index(b"MPY: soft reboot") < seen.index(b"boot.py ran") < seen.index(b"main.py ran")
        assert seen.index(b"main.py ran") < seen.index(b"MicroPython v1.29")
        wire.send(b"import machine; machine.reset()\r")
        seen = wire.expect(">>> ")
        assert b"rst:0xc (SW_CPU_RESET)" in seen and b"main.py ran" in seen
        wire.send(b"print(open('main.py').read())\r")
        wire.expect("print('main.py ran')")
    finally:
        wire.close()


def test_ctrl_c_interrupts_a_running_main_and_drops_to_the_repl(board):
    wire = Wire(board.port)
    try:
        wire.send(b"\r")
        wire.expect(">>> ")
        (board.flash / "main.py").write_text("import time\nprint('running')\nwhile True:\n    time.sleep_ms(10)\n")
        wire.send(b"\r\x04")
        wire.expect("running")
        wire.send(b"\x03")
        seen = wire.expect(">>> ")
        assert b"KeyboardInterrupt" in seen
        wire.send(b"1 + 1\r")
        wire.expect("2\r\n>>> ")
    finally:
        wire.close()


def test_ctrl_c_during_boot_py_skips_main_py(board):
    wire = Wire(board.port)
    try:
        wire.send(b"\r")
        wire.expect(">>> ")
        (board.flash / "boot.py").write_text("print('boot.py waiting')\nwhile True:\n    pass\n")
        (board.flash / "main.py").write_text("print('main.py ran')\n")
        wire.send(b"\r\x04")
        wire.expect("boot.py waiting")
        wire.send(b"\x03")
        seen = wire.expect(">>> ")
        assert b"KeyboardInterrupt" in seen and b"main.py ran" not in seen
    finally:
        wire.close()


def test_ctrl_c_in_the_middle_of_a_garbage_collection_leaves_a_working_heap(board):
    # The chip raises KeyboardInterrupt between bytecodes, never inside the collector, so the heap is never
    # left locked; code that spends its time collecting is where a Ctrl-C would land inside it.
    wire = Wire(board.port)
    try:
        wire.send(b"\r")
        wire.expect(">>> ")
        (board.flash / "main.py").write_text("import gc\nkeep = [[i] for i in range(3000)]\nprint('collecting')\n"
                                             "while True:\n    gc.collect()\n")
        for _ in range(3):
            wire.send(b"\r\x04")
            wire.expect("collecting")
            time.sleep(0.05)
            wire.send(b"\x03")
            seen = wire.expect(">>> ")
            assert b"KeyboardInterrupt" in seen and b"MemoryError" not in seen
            wire.send(b"print(len([0] * 1000))\r")
            wire.expect("1000\r\n>>> ")
    finally:
        wire.close()


def test_mpremote_gets_in_even_while_main_runs_forever(board):
    (board.flash / "main.py").write_text("while True:\n    pass\n")
    board.mpremote("soft-reset")  # main.py now loops
    assert board.mpremote("exec", "print('in')").stdout.strip() == "in"


def test_watchdog_resets_the_board(board):
    wire = Wire(board.port)
    try:
        wire.send(b"\r")
        wire.expect(">>> ")
        wire.send(b"import machine; w = machine.WDT(timeout=200)\r")
        seen = wire.expect("Type \"help()\"", timeout=10)
        assert b"rst:0x7 (TG0WDT_SYS_RESET)" in seen
        wire.send(b"\rimport machine; print(machine.reset_cause())\r")
        wire.expect("\r\n3\r\n")
    finally:
        wire.close()


def test_the_trace_records_outputs_across_resets(board):
    board.mpremote("exec", "import machine; machine.PWM(machine.Pin(18), freq=50, duty_u16=4915)")
    board.mpremote("soft-reset")
    board.stop()
    lines = board.trace.read_text().splitlines()
    assert lines[0].startswith("t_us,pin,freq_hz,duty_ns")
    rows = [line.split(",") for line in lines[1:]]
    assert [r[1:] for r in rows if r[1] == "18"] == [["18", "50", "1499939", "pwm", "1"], ["18", "0", "0", "off", "0"]]
    assert lines.count(lines[0]) == 1  # one header, even though the board booted several times


def test_a_small_heap_runs_out_like_a_small_chip(tmp_path):
    sim = SimProcess(tmp_path / "flash", "--heap-kb", "64")
    try:
        out = sim.mpremote("exec", "b = bytearray(200_000)", check=False)
        assert "MemoryError" in out.stdout + out.stderr
        sim.mpremote("exec", "b = bytearray(40_000)")  # what a 64 KB heap does hold
    finally:
        sim.stop()


def test_a_full_filesystem_refuses_writes(tmp_path):
    sim = SimProcess(tmp_path / "flash", "--flash-kb", "64")
    try:
        big = tmp_path / "big.bin"
        big.write_bytes(b"\xa5" * 100_000)
        out = sim.mpremote("cp", str(big), ":big.bin", check=False)
        assert out.returncode != 0
        assert "No space left on device" in out.stderr  # mpremote's word for the board's OSError(28)
        free = sim.mpremote("exec", "import os; s = os.statvfs('/'); print(s[0] * s[2])").stdout.strip()
        assert free == str(64 * 1024)
    finally:
        sim.stop()


def test_baud_rate_paces_the_wire_like_a_usb_uart(tmp_path):
    sim = SimProcess(tmp_path / "flash", "--baud", "115200")
    try:
        blob = tmp_path / "blob.bin"
        blob.write_bytes(bytes(range(256)) * 24)  # 6 KB, sent as about 12 KB of escaped text
        start = time.monotonic()
        sim.mpremote("cp", str(blob), ":blob.bin")
        assert time.monotonic() - start > 6144 / 11_520  # no faster than the wire allows
    finally:
        sim.stop()


def test_two_boards_at_once_are_separate_and_stop_cleanly_on_sigint(tmp_path):
    a = SimProcess(tmp_path / "a")
    b = SimProcess(tmp_path / "b")
    try:
        assert a.port != b.port
        ask = "import machine; print(machine.unique_id().hex())"
        ids = {sim.mpremote("exec", ask).stdout.strip() for sim in (a, b)}
        assert len(ids) == 2
        a.mpremote("exec", "open('who', 'w').write('a')")
        assert not (tmp_path / "b" / "who").exists()
    finally:
        assert a.stop(signal.SIGINT) == 0
        assert b.stop(signal.SIGTERM) == 0


def test_ticks_wrap_at_2_30_and_asyncio_sleeps_still_wake_on_time(tmp_path):
    sim = SimProcess(tmp_path / "flash", "--start-ms", str((1 << 30) - 1500))
    try:
        script = tmp_path / "wrap.py"
        script.write_text(
            "import asyncio, time\n"
            "t0 = time.ticks_ms()\n"
            "async def nap():\n"
            "    await asyncio.sleep_ms(1500)\n"
            "asyncio.run(nap())\n"
            "t1 = time.ticks_ms()\n"
            "print(t0, t1, time.ticks_diff(t1, t0))\n")
        t0, t1, slept = (int(n) for n in sim.mpremote("run", str(script)).stdout.split())
        assert (1 << 30) - 1500 < t0 < 1 << 30 and t1 < 1500  # the chip's 30-bit ticks went round
        assert 1500 <= slept < 1900  # the sleep ended on time, across the wrap
    finally:
        sim.stop()


def test_the_board_names_the_chip_like_the_stock_build(tmp_path):
    sim = SimProcess(tmp_path / "flash", "--board", "xiao-esp32s3")
    try:
        out = sim.mpremote("exec", "import sys, os; print(sys.platform); print(sys.implementation._machine); "
                                   "print(os.uname().sysname, os.uname().machine); print(1 / 0)", check=False)
        lines = out.stdout.splitlines()
        machine = "Generic ESP32S3 module with ESP32-S3"
        assert lines[:3] == ["esp32", machine, "esp32 " + machine]
        assert "ZeroDivisionError" in out.stdout + out.stderr  # tracebacks still come back
    finally:
        sim.stop()


def test_jumper_wires_are_in_place_at_every_boot_and_bad_ones_are_refused(tmp_path):
    sim = SimProcess(tmp_path / "flash", "--jumper", "4:5", "--jumper", "18:19")
    try:
        ask = "import simboard; print(simboard.board.peer(4), simboard.board.peer(19))"
        assert sim.mpremote("exec", ask).stdout.split() == ["5", "18"]
        sim.mpremote("soft-reset")  # a fresh boot
        assert sim.mpremote("exec", ask).stdout.split() == ["5", "18"]
    finally:
        sim.stop()
    from click.testing import CliRunner

    from host_tools.cli import cli

    for specs, why in ((["4"], "not two GPIO numbers"), (["4:6"], "SPI flash"), (["4:40"], "no GPIO40"),
                       (["4:5", "5:12"], "GPIO5 already has a jumper")):
        result = CliRunner().invoke(cli, ["sim", *[arg for spec in specs for arg in ("--jumper", spec)]])
        assert result.exit_code == 2 and why in result.output and "port:" not in result.output, result.output


def test_the_heap_is_the_chips_by_default(tmp_path):
    sim = SimProcess(tmp_path / "flash")
    try:
        out = sim.mpremote("exec", "b = bytearray(150_000)", check=False)
        assert "MemoryError" in out.stdout + out.stderr  # a plain ESP32 has about 110 KB
        sim.mpremote("exec", "b = bytearray(60_000)")
    finally:
        sim.stop()


def test_bytes_the_repl_input_cannot_hold_are_lost_on_a_uart_console(tmp_path):
    flash = tmp_path / "flash"
    flash.mkdir()
    (flash / "main.py").write_text(  # after a soft reset: busy for a while, then counts what waited for it
        "import machine, select, sys, time\n"
        "if machine.reset_cause() == machine.SOFT_RESET:\n"
        "    print('busy')\n"
        "    time.sleep_ms(300)\n"
        "    ready = select.poll()\n"
        "    ready.register(sys.stdin, select.POLLIN)\n"
        "    n = 0\n"
        "    while ready.poll(100):\n"
        "        sys.stdin.buffer.read(1)\n"
        "        n += 1\n"
        "    print('waited', n)\n")
    for board, kept in (("esp32-devkitc", 259), ("xiao-esp32c3", 600)):  # a USB-serial bridge; native USB
        sim = SimProcess(flash, "--board", board, "--baud", "115200")
        wire = Wire(sim.port)
        try:
            wire.send(b"\r")
            wire.expect(">>> ")
            wire.send(b"\x04")
            wire.expect("busy")
            wire.send(b"x" * 600)  # 52 ms at 115200 baud
            wire.expect("waited " + str(kept) + "\r\n")
        finally:
            wire.close()
            sim.stop()


# -- the live trace, a UART on a pseudo-terminal, an RC receiver (gullwing sim --trace, --uart, --receiver) --

def _deployed_sim(tmp_path, *args, trace=None):
    """A virtual board running gullwing, started with `args`; also returns what it wired ({"uart1": port, ...})."""
    from host_tools import deploy

    sim = SimProcess(tmp_path / "flash", *args, trace=trace)
    wired = sim.read_wired()
    deploy.deploy(port=sim.port, progress=False)
    return sim, wired


def _wait_for_growth(path, size, seconds):
    """Seconds until `path` is larger than `size` bytes, polled every 5 ms; None if it stays as it is."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if path.stat().st_size > size:
            return time.monotonic() - start
        time.sleep(0.005)
    return None


def test_the_trace_file_keeps_up_with_the_doors_while_the_board_runs(tmp_path):
    import csv

    from host_tools import link

    trace = tmp_path / "trace.csv"
    sim, _ = _deployed_sim(tmp_path, trace=trace)
    try:
        time.sleep(0.3)  # the boot's own rows are out
        size = trace.stat().st_size
        assert link.send("door both open 600", port=sim.port).ok  # the doors start at the next tick
        grew = _wait_for_growth(trace, size, 1.0)
        assert grew is not None and grew < 0.1  # within 100 ms of the change, not when a buffer fills
        gaps = []  # while the doors move (a new pulse width every 20 ms frame), the file never lags
        while grew is not None:
            size = trace.stat().st_size
            grew = _wait_for_growth(trace, size, 0.3)
            gaps.append(grew)
        assert len(gaps) > 10 and max(gaps[:-1]) < 0.1, gaps
        time.sleep(0.3)  # the doors are open and hold
        rows = list(csv.reader(trace.read_text().splitlines()))
        assert rows[0] == ["t_us", "pin", "freq_hz", "duty_ns", "kind", "level"]
        assert all(len(row) == 6 and row[4] in ("pwm", "gpio", "off") for row in rows[1:])
        assert rows.count(rows[0]) == 1
        door = [int(row[3]) for row in rows[1:] if row[1] == "18" and row[4] == "pwm"]
        assert len(door) > 10 and door[-1] > door[0]  # the left door's pulse widened while it opened
    finally:
        sim.stop()


def test_a_second_uart_on_its_own_terminal_answers_requests(tmp_path):
    from host_tools import link

    sim, wired = _deployed_sim(tmp_path, "--uart", "1")  # esp32-devkitc wires UART1 (uart_tx/uart_rx)
    try:
        assert list(wired) == ["uart1", "rfc2217"] and re.fullmatch(r"/dev/pts/\d+", wired["uart1"])
        assert link.send("ping", port=sim.port).ok  # the firmware serves: its UART is open (bytes sent
        # before that are lost, as on the chip)
        wire = Wire(wired["uart1"])
        try:
            wire.send(b"ping\n")
            assert wire.expect("\n", timeout=3) == b"ok\n"
            wire.send(b"#7 status\n")
            assert wire.expect("\n", timeout=3).startswith(b"#7 ok {")
        finally:
            wire.close()
    finally:
        sim.stop()


def _rc_state(sim):
    import json

    from host_tools import link

    return json.loads(link.send("status", port=sim.port).line[3:]).get("rc")


def _wait_rc_state(sim, state, seconds):
    """The firmware's receiver state (status `rc`) once it is `state`, or the last seen after `seconds`."""
    deadline = time.monotonic() + seconds
    seen = _rc_state(sim)
    while seen != state and time.monotonic() < deadline:
        time.sleep(0.05)
        seen = _rc_state(sim)
    return seen


def test_a_receiver_on_the_throttle_pin_puts_the_transmitter_in_control(tmp_path):
    sim, _ = _deployed_sim(tmp_path, "--receiver", "34")  # esp32-devkitc: rc_throttle = 34, stick centred
    try:
        assert _wait_rc_state(sim, "control", 3) == "control"  # live, no failsafe
        time.sleep(0.5)  # and it stays so: the pulses keep coming
        assert _rc_state(sim) == "control"
    finally:
        sim.stop()


def test_the_receiver_follows_sticks_moved_from_outside_and_fails_safe_when_the_signal_stops(tmp_path):
    sim, wired = _deployed_sim(tmp_path, "--receiver", "34")
    try:
        assert list(wired) == ["rc", "rfc2217"] and re.fullmatch(r"/dev/pts/\d+", wired["rc"])
        assert _wait_rc_state(sim, "control", 3) == "control"
        sim.set_receiver(34, None)  # the transmitter switched off: no pulses
        assert _wait_rc_state(sim, "failsafe", 1) == "failsafe"
        sim.set_receiver(34, 1900)  # signal back with the stick open: the failsafe holds ...
        time.sleep(0.3)
        assert _rc_state(sim) == "failsafe"
        sim.set_receiver(34, 1500)  # ... until the throttle is seen at neutral
        assert _wait_rc_state(sim, "control", 1) == "control"
        rc = Wire(wired["rc"])  # the terminal itself, as a user types at it
        try:
            for line, reply in ((b"35 1500\n", b"err GPIO35 has no receiver channel"),
                                (b"34 3000\n", b"err a receiver's pulse is 800 to 2200 us"),
                                (b"34 fast\n", b"err expected GPIO US or GPIO off"), (b"34 off\n", b"ok\n")):
                rc.send(line)
                assert rc.expect("\n", timeout=3).startswith(reply), line
        finally:
            rc.close()
        assert _wait_rc_state(sim, "failsafe", 1) == "failsafe"
    finally:
        sim.stop()



def test_serial_and_the_transmitter_hand_the_throttle_over_as_the_protocol_says(tmp_path):
    """docs/protocol.md, "Who owns the throttle", on a running board with a receiver on GPIO34."""
    import json

    from host_tools import link

    def ask(line):
        return link.send(line, port=sim.port).line

    def engine():
        return json.loads(ask("status")[3:])["engine"]

    def wait_owner(owner, seconds=2):
        deadline = time.monotonic() + seconds
        while engine().get("owner", "host") != owner and time.monotonic() < deadline:
            time.sleep(0.05)
        return engine()

    sim, _ = _deployed_sim(tmp_path, "--receiver", "34")
    try:
        assert _wait_rc_state(sim, "control", 3) == "control"
        assert ask("engine start").startswith("ok")
        assert ask("throttle 70") == "ok"  # the stick at idle: the host owns the throttle
        time.sleep(0.3)
        assert "owner" not in engine() and engine()["throttle"] == 70  # not replaced behind its back
        sim.set_receiver(34, 1800)  # the stick off idle: the transmitter takes it
        taken = wait_owner("rc")
        assert taken["owner"] == "rc" and 0 < taken["throttle"] < 70
        refused = ask("throttle 20")
        assert refused.startswith("err busy ") and "transmitter" in refused
        assert engine()["throttle"] == taken["throttle"]
        sim.set_receiver(34, 1500)  # back at idle: closed and handed back
        back = wait_owner("host")
        assert "owner" not in back and back["throttle"] == 0
        assert ask("throttle 40") == "ok" and engine()["throttle"] == 40
        sim.set_receiver(34, None)  # the signal lost: the failsafe closes and holds the throttle
        assert _wait_rc_state(sim, "failsafe", 1) == "failsafe"
        held = ask("throttle 40")
        assert held.startswith("err busy ") and "failsafe" in held and engine()["throttle"] == 0
    finally:
        sim.stop()


def test_bad_uart_and_receiver_arguments_are_refused_before_anything_starts():
    from click.testing import CliRunner

    from host_tools.cli import cli

    for args, words in ((["--uart", "0"], "UART0 stays with the console"), (["--uart", "3"], "UART1 to UART2"),
                        (["--uart", "1", "--uart", "1"], "twice"), (["--receiver", "7"], "SPI flash"),
                        (["--receiver", "40"], "no GPIO40"), (["--receiver", "34:3000"], "800 to 2200 us"),
                        (["--receiver", "34:fast"], "GPIO[:US]"), (["--receiver", "34", "--receiver", "34:1000"],
                                                                    "already has a receiver")):
        result = CliRunner().invoke(cli, ["sim", *args])
        assert result.exit_code == 2 and words in result.output, (args, result.output)


_FLASH_AS_LITTLEFS = """
import sys
sys.path.insert(0, SIM)
import simfs
simfs.install(FLASH, 64)
import os

def errno_of(call):
    try:
        call()
    except OSError as exc:
        return exc.errno

with open("a.txt", "w") as f:
    f.write("hello")
os.mkdir("d")
with open("d/x", "w") as f:
    f.write("1")
print(os.stat("a.txt")[:7], os.stat("d")[:7], list(os.ilistdir("/")))
print(errno_of(lambda: os.mkdir("d")), errno_of(lambda: os.remove("nope")), errno_of(lambda: os.rmdir("d")))
os.rmdir("d/x")
os.remove("d")
print(os.listdir(), os.sync(), [n for n in ("getenv", "system", "errno", "VfsPosix") if hasattr(os, n)])
print(errno_of(lambda: open("big", "w").write("x" * 70_000)))
"""


def test_the_flash_answers_as_littlefs_does(tmp_path):
    """extmod/vfs_lfsx.c: stat and ilistdir tuples, remove()/rmdir() both delete a file or an empty folder,
    a full partition refuses with OSError(28), and the ESP32's os has no getenv, system, errno or VfsPosix."""
    import subprocess

    from host_tools.sim import PATH

    flash = tmp_path / "flash"
    flash.mkdir()
    script = f"SIM = {str(PATH)!r}\nFLASH = {str(flash)!r}\n" + _FLASH_AS_LITTLEFS
    out = subprocess.run([str(BIN / "micropython"), "-c", script], capture_output=True, text=True, timeout=30)
    assert out.stderr == ""
    assert out.stdout.splitlines() == [
        "(32768, 0, 0, 0, 0, 0, 5) (16384, 0, 0, 0, 0, 0, 0) [('a.txt', 32768, 0, 5), ('d', 16384, 0, 0)]",
        "17 2 39",
        "['a.txt'] None []",
        "28",
    ]


# -- the I2S amplifier's sound (gullwing sim --audio) ------------------------------------------------------

TONE_SCRIPT = """
import time
from machine import I2S, Pin
time.sleep_ms(300)
tone = bytearray(32)
for i in range(8, 16):
    tone[2 * i:2 * i + 2] = (4000).to_bytes(2, 'little')
for i in range(8):
    tone[2 * i:2 * i + 2] = (65536 - 4000).to_bytes(2, 'little')
Pin(2, Pin.OUT).value(1)
i2s = I2S(0, sck=Pin(26), ws=Pin(25), sd=Pin(22), mode=I2S.TX, bits=16, format=I2S.MONO, rate=16000, ibuf=1024)
for _ in range(500):
    i2s.write(tone)
time.sleep_ms(100)
i2s.deinit()
"""


def test_the_audio_file_holds_what_the_amplifier_plays_on_the_trace_s_clock(tmp_path):
    from host_tools.wired import read_wav

    wav, trace = tmp_path / "sound.wav", tmp_path / "trace.csv"
    script = tmp_path / "tone.py"
    script.write_text(TONE_SCRIPT)
    sim = SimProcess(tmp_path / "flash", "--audio", str(wav), trace=trace)
    try:
        sim.mpremote("run", str(script), timeout=60)
        time.sleep(0.3)
    finally:
        sim.stop()
    rate, samples = read_wav(wav)
    assert rate == 16000
    enabled_us = next(int(row.split(",")[0]) for row in trace.read_text().splitlines()[1:]
                      if row.split(",")[1] == "2")  # the pin set just before the I2S starts
    sounding = [k for k, value in enumerate(samples) if value]
    first, last = sounding[0], sounding[-1]
    # silence from power-on; the tone starts when the DMA first plays what was written: two buffers of 256
    # frames after the I2S starts (ibuf=1024 gives two), on the trace's clock (give or take the interpreter's
    # time from the pin to the I2S)
    assert 0 <= first - (enabled_us * rate // 1_000_000 + 2 * 256) <= 16
    assert abs((last + 1 - first) - 500 * 16) <= 1  # every sample written, none lost: 0.5 s
    assert all(value in (4000, -4000) for value in samples[first:last + 1])
    flips = sum(1 for k in range(first + 1, last + 1) if samples[k] != samples[k - 1])
    assert flips == 2 * 500 - 1  # a 1 kHz square wave at 16 kHz: 8 samples a half period
    assert len(samples) > last + 0.1 * rate  # silence after the deinit, up to the end of the session
