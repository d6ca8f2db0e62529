"""`gullwing deploy` end to end on virtual boards: incremental, atomic, resumable, with clear errors."""

import os
import random
import shutil
import signal
import subprocess
import threading
import time

import pytest

from host_tools import FIRMWARE_DIR, __version__, deploy, errors
from tests.host.virtual import BIN, SimProcess


def _firmware(tmp_path, marker="one"):
    """A copy of the firmware with a marker module, to tell deployed versions apart."""
    fw = tmp_path / ("fw-" + marker)
    if not fw.exists():
        shutil.copytree(FIRMWARE_DIR, fw, ignore=shutil.ignore_patterns("__pycache__"))
    (fw / "gullwing" / "marker.py").write_text("MARKER = " + repr(marker) + "\n")
    return fw


def _marker(sim):
    return sim.mpremote("exec", "import gullwing.marker as m; print(m.MARKER)").stdout.strip()


def _boots(sim):
    """The board starts main.py after a reset and the firmware announces itself."""
    out = sim.mpremote("exec", "import machine", "soft-reset", "exec", "print('alive')").stdout
    return "alive" in out


def test_fresh_deploy_puts_the_compiled_firmware_and_config_on_the_board(board):
    summary = deploy.deploy(port=board.port, progress=False)
    assert summary.sent == len(deploy.firmware_files(_board()))
    assert summary.skipped == summary.removed == 0
    flash = board.flash
    assert (flash / "main.py").read_text() == (FIRMWARE_DIR / "main.py").read_text()
    assert (flash / "boot.py").exists() and (flash / "gullwing" / "__init__.mpy").exists()
    assert not (flash / "gullwing" / "__init__.py").exists()
    assert '"door_left": 18' in (flash / "config.json").read_text()
    assert summary.line().startswith("deployed gullwing " + __version__ + " to " + board.port)


def _board():
    from host_tools import boards

    return boards.load()


def test_an_unchanged_redeploy_sends_nothing_and_one_change_sends_one_file(board, tmp_path):
    fw = _firmware(tmp_path)
    first = deploy.deploy(port=board.port, firmware_dir=fw, progress=False)
    again = deploy.deploy(port=board.port, firmware_dir=fw, progress=False)
    assert again.sent == 0 and again.skipped == first.sent
    assert again.wire_bytes < first.wire_bytes / 3
    (fw / "gullwing" / "marker.py").write_text("MARKER = 'two'\n")
    third = deploy.deploy(port=board.port, firmware_dir=fw, progress=False)
    assert third.sent == 1 and third.removed == 0
    assert _marker(board) == "two"


def test_files_no_longer_in_the_firmware_are_removed_and_user_files_kept(board, tmp_path):
    fw = _firmware(tmp_path)
    deploy.deploy(port=board.port, firmware_dir=fw, progress=False)
    (board.flash / "notes.txt").write_text("mine")
    (fw / "gullwing" / "marker.py").unlink()
    summary = deploy.deploy(port=board.port, firmware_dir=fw, progress=False)
    assert summary.removed == 1
    assert not (board.flash / "gullwing" / "marker.mpy").exists()
    assert (board.flash / "notes.txt").read_text() == "mine"


def test_a_file_changed_on_the_board_is_put_right(board, tmp_path):
    fw = _firmware(tmp_path)
    deploy.deploy(port=board.port, firmware_dir=fw, progress=False)
    (board.flash / "main.py").write_text("print('tampered')\n")
    summary = deploy.deploy(port=board.port, firmware_dir=fw, progress=False)
    assert summary.sent == 1
    assert (board.flash / "main.py").read_text() == (fw / "main.py").read_text()


def test_the_cli_prints_one_summary_line(board):
    out = subprocess.run([str(BIN / "gullwing"), "deploy", "--port", board.port], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("\n") == 1 and " sent, " in out.stdout and " KB on the wire, " in out.stdout


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_deploy_killed_at_a_random_point_then_redeployed_boots_the_new_firmware(tmp_path, seed):
    sim = SimProcess(tmp_path / "flash", "--baud", "230400")
    try:
        deploy.deploy(port=sim.port, firmware_dir=_firmware(tmp_path, "old"), progress=False)
        new = _firmware(tmp_path, "new")
        (new / "gullwing" / "bulk.py").write_text("DATA = " + repr(os.urandom(6000).hex()) + "\n")
        cmd = [str(BIN / "python"), "-c", "import sys; from host_tools import deploy; "
               "deploy.deploy(port=sys.argv[1], firmware_dir=sys.argv[2], progress=False)", sim.port, str(new)]
        started = time.monotonic()
        subprocess.run(cmd, check=True, timeout=120, capture_output=True)
        full = time.monotonic() - started
        (new / "gullwing" / "marker.py").write_text("MARKER = 'newer'\n")  # so the next deploy sends files
        (new / "gullwing" / "bulk.py").write_text("DATA = " + repr(os.urandom(6000).hex()) + "\n")
        victim = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(random.Random(seed).uniform(0.05, full))
        victim.send_signal(signal.SIGKILL)  # the cable is pulled
        victim.wait()
        assert _boots(sim)  # whatever state it was left in, the board boots
        deploy.deploy(port=sim.port, firmware_dir=new, progress=False)
        assert _marker(sim) == "newer"
    finally:
        sim.stop()


def test_a_power_cut_while_a_commit_is_applied_is_finished_by_boot_py(tmp_path):
    flash = tmp_path / "flash"
    sim = SimProcess(flash)
    try:
        deploy.deploy(port=sim.port, firmware_dir=_firmware(tmp_path, "old"), progress=False)
    finally:
        sim.stop()
    # the state a power cut leaves half-way through finish_deploy(): one file moved, one still staged
    stage = flash / ".gullwing" / "stage"
    (stage / "gullwing").mkdir(parents=True, exist_ok=True)
    moved = FIRMWARE_DIR.parent / "unused"
    del moved
    manifest = (flash / ".gullwing" / "manifest.json").read_text()
    (stage / "gullwing" / "marker.mpy").write_bytes(_compiled_marker(tmp_path, "cut"))
    (flash / "gullwing" / "extra.mpy").write_bytes(_compiled_marker(tmp_path, "moved"))
    (flash / ".gullwing" / "commit.json").write_text(
        '{"moves": [["/.gullwing/stage/gullwing/extra.mpy", "/gullwing/extra.mpy"], '
        '["/.gullwing/stage/gullwing/marker.mpy", "/gullwing/marker.mpy"]], "deletes": [], "manifest": '
        + manifest + "}")
    sim = SimProcess(flash)
    try:
        assert _marker(sim) == "cut"
        assert not (flash / ".gullwing" / "commit.json").exists()
    finally:
        sim.stop()


def _compiled_marker(tmp_path, marker):
    src = tmp_path / ("m-" + marker + ".py")
    src.write_text("MARKER = " + repr(marker) + "\n")
    out = tmp_path / ("m-" + marker + ".mpy")
    subprocess.run([str(BIN / "mpy-cross"), "-o", str(out), str(src)], check=True)
    return out.read_bytes()


def test_two_boards_deploy_at_once(tmp_path):
    sims = [SimProcess(tmp_path / name) for name in ("a", "b")]
    results = {}
    try:
        threads = [threading.Thread(target=lambda s=s: results.update({s.port: deploy.deploy(port=s.port,
                                                                                            progress=False)}))
                   for s in sims]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert all(results[s.port].sent > 0 for s in sims)
        assert all((s.flash / "gullwing" / "__init__.mpy").exists() for s in sims)
    finally:
        for s in sims:
            s.stop()


def test_a_full_board_is_refused_before_anything_changes(tmp_path):
    sim = SimProcess(tmp_path / "flash", "--flash-kb", "64")
    try:
        fw = _firmware(tmp_path)
        (fw / "gullwing" / "bulk.py").write_text("DATA = " + repr(os.urandom(60_000).hex()) + "\n")
        with pytest.raises(errors.BoardDiskFull) as caught:
            deploy.deploy(port=sim.port, firmware_dir=fw, progress=False)
        assert "nothing was changed" in str(caught.value)
        assert not (sim.flash / "main.py").exists()
    finally:
        sim.stop()


def test_a_busy_port_is_named(board):
    import serial

    holder = serial.Serial(board.port, exclusive=True)
    try:
        with pytest.raises(errors.PortBusy):
            deploy.deploy(port=board.port, progress=False)
    finally:
        holder.close()


def test_a_silent_device_and_a_chatty_non_micropython_device_are_told_apart(tmp_path):
    import tty

    master, slave = os.openpty()
    tty.setraw(slave)
    port = os.ttyname(slave)
    try:
        with pytest.raises(errors.BoardNotAnswering):
            deploy.deploy(port=port, progress=False)
        stop = threading.Event()

        def chatter():
            while not stop.is_set():
                try:
                    os.write(master, b"AT+OK\r\n")
                except OSError:
                    return
                time.sleep(0.05)

        thread = threading.Thread(target=chatter, daemon=True)
        thread.start()
        with pytest.raises(errors.NotMicroPython):
            deploy.deploy(port=port, progress=False)
        stop.set()
    finally:
        os.close(master)
        os.close(slave)


def test_an_mpy_version_the_board_cannot_load_is_refused():
    mpy = b"M\x06\x00\x1f"
    assert deploy.mpy_loads(mpy, 0x0B06)  # bytecode only: any 6.x board
    assert not deploy.mpy_loads(mpy, 0x0005)  # a MicroPython 1.19 board
    assert not deploy.mpy_loads(b"M\x06\x2a\x1f", 0x0B06 & ~0x300 | 0x100)  # native code, other sub-version
    with pytest.raises(errors.MpyVersionMismatch) as caught:
        deploy._check_mpy({"mpy": 5, "version": [1, 19, 1]}, {"/gullwing/__init__.mpy": mpy})
    assert "1.19.1" in str(caught.value)
