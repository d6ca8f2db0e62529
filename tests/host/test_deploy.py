"""`gullwing deploy` end to end on virtual boards: incremental, atomic, resumable, with clear errors."""

import json
import os
import random
import shutil
import signal
import subprocess
import threading
import time

import pytest
from click.testing import CliRunner

from host_tools import FIRMWARE_DIR, __version__, deploy, errors, wiring
from host_tools import kit as kits
from host_tools.cli import cli
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


# -- the board's chip, the board file and the kit -----------------------------------------------------

def _files(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _open_deg(sim):
    """The left door's open angle as the board's config.json sets it (the firmware's default when unset)."""
    import json

    from host_tools import kit

    doors = json.loads((sim.flash / "config.json").read_text()).get("doors", {})
    return doors.get("left", {}).get("open_deg", kit.firmware_config().DEFAULTS["doors"]["left"]["open_deg"])


def _cli_deploy(cwd, *args, **env):
    """`gullwing deploy` as a user types it in the folder `cwd`, with only the GULLWING_* variables given."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GULLWING_")}
    return subprocess.run([str(BIN / "gullwing"), "deploy", *args], capture_output=True, text=True, timeout=120,
                          cwd=cwd, env=dict(clean, **env))


@pytest.mark.parametrize("machine, chip", [
    ("Generic ESP32 module with ESP32", "ESP32"),
    ("Generic ESP32S3 module with ESP32-S3", "ESP32-S3"),
    ("ESP32C3 module with ESP32-C3", "ESP32-C3"),
    ("Generic ESP32S2 module with ESP32-S2FN4R2", "ESP32-S2"),
    ("Generic ESP32 module with ESP32-PICO-D4", "ESP32"),
    ("Generic ESP32 module with ESP32-D2WD", "ESP32"),
    ("ESP32C6 module with ESP32-C6", "ESP32-C6"),
    ("Raspberry Pi Pico with RP2040", None),
])
def test_the_chip_is_read_from_what_the_firmware_says_it_was_built_for(machine, chip):
    assert deploy.chip_of(machine) == chip


def test_a_board_of_another_chip_is_refused_and_nothing_is_written(tmp_path):
    sim = SimProcess(tmp_path / "flash", "--board", "esp32-c3-devkitm-1")
    try:
        before = _files(sim.flash)
        out = _cli_deploy(tmp_path, "--port", sim.port)  # no --board: the default ESP32-DevKitC
        assert out.returncode == 2 and "Traceback" not in out.stderr
        error, hint = out.stderr.splitlines()[0], out.stderr.splitlines()[-1]
        assert "ESP32-C3" in error and "esp32-devkitc" in error and "for an ESP32;" in error
        assert "nothing was written" in error
        assert hint.startswith("hint: ") and "esp32-c3-devkitm-1" in hint
        assert _files(sim.flash) == before
        assert "alive" in sim.mpremote("exec", "print('alive')").stdout  # the board still answers
    finally:
        sim.stop()


def test_a_plain_deploy_after_a_kit_deploy_keeps_the_kit_until_told_otherwise(board, tmp_path):
    from host_tools import kit

    first = deploy.deploy(port=board.port, kit=kit.load("az1-1to8"), progress=False)  # as provision does
    assert _open_deg(board) == 85  # the 1:8 body's hinge stop
    assert "(board esp32-devkitc, kit az1-1to8)" in first.line()
    out = _cli_deploy(tmp_path, "--port", board.port)
    assert out.returncode == 0, out.stderr
    assert "(board esp32-devkitc, kit az1-1to8, kept from the last deploy)" in out.stdout
    assert " 0 sent, " in out.stdout and _open_deg(board) == 85
    out = _cli_deploy(tmp_path, "--port", board.port, "--board", "esp32-devkitc")
    assert out.returncode == 0, out.stderr
    assert "(board esp32-devkitc)" in out.stdout and _open_deg(board) == 90
    assert "(board esp32-devkitc, kept from the last deploy)" in _cli_deploy(tmp_path, "--port", board.port).stdout


def test_the_project_file_and_the_environment_name_the_board_and_kit(board, tmp_path):
    (tmp_path / "gullwing.toml").write_text('kit = "az1-1to8"\n')
    out = _cli_deploy(tmp_path, "--port", board.port)
    assert out.returncode == 0, out.stderr
    assert "(board esp32-devkitc, kit az1-1to8, from gullwing.toml)" in out.stdout and _open_deg(board) == 85
    out = _cli_deploy(tmp_path, "--port", board.port, GULLWING_BOARD="esp32-devkitc")  # before the file
    assert "(board esp32-devkitc, from GULLWING_BOARD)" in out.stdout and _open_deg(board) == 90
    out = _cli_deploy(tmp_path, "--port", board.port, "--kit", "az1-1to8", GULLWING_BOARD="esp32-devkitc")
    assert "(board esp32-devkitc, kit az1-1to8)" in out.stdout and _open_deg(board) == 85


@pytest.mark.parametrize("text, named", [
    ('bord = "esp32-devkitc"\n', "gullwing.toml: bord: unknown key"),
    ("board = 3\n", "gullwing.toml: board: must be a name in quotes"),
    ('board = "esp32-devkitc\n', "gullwing.toml: not valid TOML"),
    ('board = "no-such-board"\n', "no-such-board"),
])
def test_a_bad_project_file_is_one_error_naming_the_key(tmp_path, monkeypatch, text, named):
    monkeypatch.chdir(tmp_path)
    for key in ("GULLWING_BOARD", "GULLWING_KIT"):
        monkeypatch.delenv(key, raising=False)
    (tmp_path / "gullwing.toml").write_text(text)
    for command in (["deploy", "--port", str(tmp_path / "no-port")], ["plot", str(tmp_path / "gullwing.toml")]):
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 2 and result.exception is None or isinstance(result.exception, SystemExit)
        assert result.output.startswith("error: ") and named in result.output.splitlines()[0]
        assert "hint: " in result.output


def test_a_kit_and_a_board_that_disagree_are_refused_before_the_port_is_opened(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["deploy", "--port", str(tmp_path / "no-port"), "--kit", "az1-1to8",
                                      "--board", "esp32-s3-devkitc-1"])
    assert result.exit_code == 2
    assert "kit az1-1to8 is made for board esp32-devkitc, not esp32-s3-devkitc-1" in result.output


def test_sim_takes_the_projects_board_from_the_environment_or_the_kit_in_gullwing_toml(tmp_path):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GULLWING_")}
    (tmp_path / "gullwing.toml").write_text('kit = "az1-1to8"\n')
    for env, shown in (({"GULLWING_BOARD": "esp32-c3-devkitm-1"}, "board: esp32-c3-devkitm-1 (ESP32-C3)"),
                       ({}, "board: esp32-devkitc (ESP32)")):
        proc = subprocess.Popen([str(BIN / "gullwing"), "sim", "--flash", str(tmp_path / "flash")], cwd=tmp_path,
                                env=dict(clean, **env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert proc.stdout.readline().startswith("port: ")
            assert proc.stderr.readline().startswith(shown)
        finally:
            proc.terminate()
            proc.communicate(timeout=30)  # a loaded machine takes its time to power the board off


def test_the_record_names_catalogue_files_by_name_and_others_by_path(tmp_path):
    import json

    from host_tools import boards, kit

    mine = tmp_path / "mine.toml"
    mine.write_text(boards.board_path("esp32-devkitc").read_text().replace('"esp32-devkitc"', '"mine"'))
    record = json.loads(deploy.target(str(mine)).record())
    assert record == {"board": str(mine.resolve()), "chip": "ESP32", "kit": None, "version": __version__}
    assert deploy.recorded_target(record).board.name == "mine"
    record = json.loads(deploy.target(kit=kit.load("az1-1to8")).record())
    assert record["board"] == "esp32-devkitc" and record["kit"] == "az1-1to8"
    mine.unlink()  # the project moved: the next plain deploy says what it cannot find
    with pytest.raises(errors.GullwingError) as caught:
        deploy.recorded_target({"board": str(mine.resolve()), "kit": None})
    assert "last deployed with board " + str(mine.resolve()) in str(caught.value)
    assert "--board" in caught.value.hint


@pytest.mark.parametrize("kit_name", ["az1-1to8", "az1-1to10"])
def test_a_kit_deploy_writes_the_config_json_kit_build_leaves_beside_the_diagram(kit_name, tmp_path):
    kit = kits.load(kit_name)
    wiring.build(kit, tmp_path)  # what `gullwing kit build` writes
    deployed = deploy.firmware_files(None, kit=kit)["/config.json"]
    assert (tmp_path / "config.json").read_bytes() == deployed
    assert json.loads(deployed)["led_active_low"] == kit.board.led_active_low


@pytest.mark.parametrize("board_name", ["esp32-devkitc", "xiao-esp32c3"])
def test_a_plain_deploy_tells_the_firmware_how_the_status_led_lights(board_name):
    deployed = json.loads(deploy.firmware_files(board_name)["/config.json"])
    firmware = kits.firmware_config()
    problems = []
    config = firmware.merge(firmware.DEFAULTS, deployed, "", problems)
    assert problems == []
    assert config["led_active_low"] is (board_name == "xiao-esp32c3")  # its LED hangs from 3V3
