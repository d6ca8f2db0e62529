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
    board.mpremote("exec", "import machine; machine.PWM(machine.Pin(18), freq=50, duty_ns=1_500_000)")
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
        assert "28" in out.stdout + out.stderr or "ENOSPC" in out.stdout + out.stderr
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
