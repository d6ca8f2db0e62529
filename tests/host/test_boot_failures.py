"""Broken files on a virtual board with a plain ESP32's heap: every one boots into the firmware with a
problem reported, or into a safe mode that still answers; none leaves the board at `>>>` or hanging."""

import json
import re
import shutil
import struct
import time

import pytest

from host_tools import FIRMWARE_DIR, deploy, errors
from host_tools.link import Link
from tests.host.virtual import SimProcess, Wire

REPLY = re.compile(rb"#t (ok|err)([^\n]*)\n")


@pytest.fixture
def small(tmp_path):
    """A virtual ESP32 with a plain ESP32's heap, running gullwing."""
    sim = SimProcess(tmp_path / "flash", "--heap-kb", "110")
    deploy.deploy(port=sim.port, progress=False)
    yield sim
    sim.stop()


def _reset_and_ask(sim, line="status", timeout=15.0):
    """Reset the board (from the REPL, as the EN button would) and send `line` once it has had time to
    start; (ok, rest of the reply, everything printed). Fails when no reply comes: the board sits at
    the prompt (which echoes the request as a comment) or hangs."""
    wire = Wire(sim.port)
    try:
        wire.send(b"\x03")
        wire.expect(">>> ")
        wire.send(b"import machine; machine.reset()\r")
        wire.expect("gullwing ")
        time.sleep(1.0)
        wire.send(b"#t " + line.encode() + b"\n")
        deadline = time.monotonic() + timeout
        while not REPLY.search(wire.seen):
            assert time.monotonic() < deadline, "no reply; the board printed: " + repr(wire.seen[-600:])
            wire.seen += wire.serial.read(4096)
        found = REPLY.search(wire.seen)
        return found.group(1) == b"ok", found.group(2).decode().strip(), wire.seen.decode(errors="replace")
    finally:
        wire.close()


def _status(sim):
    ok, rest, printed = _reset_and_ask(sim)
    assert ok, printed
    return json.loads(rest)


def _problems(status):
    return " | ".join(status.get("problems", []))


def test_a_300_kb_config_json_is_reported_and_the_defaults_run(small):
    (small.flash / "config.json").write_text('{"board": "' + "x" * 300_000 + '"}')
    status = _status(small)
    assert "safe_mode" not in status
    assert "/config.json: over 8 KB" in _problems(status)


def test_a_deeply_nested_config_json_is_reported_and_the_defaults_run(small):
    (small.flash / "config.json").write_text('{"doors": ' + "[" * 3000 + "]" * 3000 + "}")
    status = _status(small)
    assert "safe_mode" not in status
    assert "/config.json: not valid JSON" in _problems(status)


def _settings_slot(payload, seq=7):
    """A settings slot with a valid CRC (store.py's layout), whatever its payload."""
    import binascii

    body = b"GWS1" + struct.pack(">IH", seq, len(payload)) + payload
    return body + struct.pack(">I", binascii.crc32(body) & 0xFFFFFFFF)


def test_a_nested_settings_record_with_a_valid_crc_is_set_aside_and_a_deploy_then_reports_deployed(small):
    (small.flash / "state").mkdir(exist_ok=True)
    (small.flash / "state" / "settings.a").write_bytes(_settings_slot(b"[" * 2000 + b"]" * 2000))
    status = _status(small)
    assert "safe_mode" not in status and status["doors"] is not None
    assert "settings: not a settings record, set aside" in _problems(status)
    assert (small.flash / "state" / "settings.a.bad").exists()  # kept for inspection
    assert deploy.deploy(port=small.port, progress=False).line().startswith("deployed")


@pytest.mark.parametrize("damage", ["truncated app.mpy", "garbage doors.mpy"])
def test_a_damaged_module_boots_a_safe_mode_that_answers_stops_on_ctrl_c_and_takes_a_deploy(small, damage):
    name = damage.split()[1]
    module = small.flash / "gullwing" / name
    if damage.startswith("truncated"):
        module.write_bytes(module.read_bytes()[: module.stat().st_size // 2])
    else:
        module.write_bytes(bytes(range(256)) * 8)
    status = _status(small)
    assert "/gullwing/" + name in status["safe_mode"]
    with Link(small.port) as link:
        assert link.request("ping").ok
        reply = link.request("door both open")
        assert reply.code == "not_ready" and "safe mode" in reply.line
    wire = Wire(small.port)
    try:
        wire.send(b"\x03")
        wire.expect(">>> ")  # Ctrl-C reaches the REPL
    finally:
        wire.close()
    assert deploy.deploy(port=small.port, progress=False).sent == 1  # the one damaged file
    assert "safe_mode" not in _status(small)


def test_a_missing_main_py_is_put_back_by_boot_py(small):
    (small.flash / "main.py").unlink()
    status = _status(small)
    assert "safe_mode" not in status and status["doors"] is not None
    assert (small.flash / "main.py").read_text() == (FIRMWARE_DIR / "main.py").read_text()


def test_a_folder_named_config_json_is_set_aside_by_the_deploy(small):
    (small.flash / "config.json").unlink()
    (small.flash / "config.json").mkdir()
    (small.flash / "config.json" / "mine.txt").write_text("kept")
    assert deploy.deploy(port=small.port, progress=False).sent == 1
    assert (small.flash / "config.json.aside" / "mine.txt").read_text() == "kept"
    assert '"door_left": 18' in (small.flash / "config.json").read_text()
    assert "safe_mode" not in _status(small)


def test_a_deploy_whose_firmware_cannot_start_says_so_instead_of_deployed(small, tmp_path):
    fw = tmp_path / "fw"
    shutil.copytree(FIRMWARE_DIR, fw, ignore=shutil.ignore_patterns("__pycache__"))
    app = fw / "gullwing" / "app.py"  # it prints its version, then fails to build the app
    app.write_text(app.read_text().replace("        problems = self.problems = list(problems)\n",
                                           "        raise RuntimeError('broken at start')\n", 1))
    with pytest.raises(errors.GullwingError) as failed:
        deploy.deploy(port=small.port, firmware_dir=fw, progress=False)
    assert "the new firmware" in str(failed.value) and "broken at start" in str(failed.value)
    # its crashes are not the next firmware's: a good deploy starts out of safe mode, and says "deployed"
    assert deploy.deploy(port=small.port, progress=False).line().startswith("deployed")


def test_a_board_that_vanishes_mid_deploy_is_one_error(tmp_path, monkeypatch):
    sim = SimProcess(tmp_path / "flash")
    upload = deploy._upload

    def pulled_out(link, *args):
        sim.stop()  # the cable is pulled as the files start to go
        return upload(link, *args)

    monkeypatch.setattr(deploy, "_upload", pulled_out)
    try:
        with pytest.raises(errors.PortLost) as lost:
            deploy.deploy(port=sim.port, progress=False)
        assert "went away while sending the firmware; nothing was changed" in str(lost.value)
    finally:
        sim.stop()
