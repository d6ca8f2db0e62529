"""Finding the board's serial port, and the errors a user sees when that fails or the port is taken."""

import os
import subprocess

import pytest
import serial
from click.testing import CliRunner
from serial.tools import list_ports
from serial.tools.list_ports_common import ListPortInfo

from host_tools import boards, errors, ports, virtual_board
from host_tools.cli import cli
from tests.host.virtual import BIN, SimProcess

KNOWN = {"10c4:ea60": ["esp32-devkitc"], "1a86:7523": ["esp32-devkitc"]}


def port_info(device, vid=None, pid=None, description="n/a"):
    info = ListPortInfo(device, skip_link_detection=True)
    info.vid, info.pid, info.description = vid, pid, description
    return info


@pytest.fixture
def connected(monkeypatch):
    """Set what list_ports.comports() reports, as pyserial would on this host."""
    found = []
    monkeypatch.setattr(list_ports, "comports", lambda *a, **k: list(found))
    monkeypatch.setattr(virtual_board, "running_ports", lambda: [])
    monkeypatch.delenv(ports.ENV_VAR, raising=False)
    return found


def test_port_option_wins_over_environment_and_discovery(connected, monkeypatch):
    connected.append(port_info("/dev/ttyUSB0", 0x10C4, 0xEA60))
    monkeypatch.setenv(ports.ENV_VAR, "/dev/ttyACM7")
    assert ports.choose_port("/dev/ttyUSB3", known_ids=KNOWN) == "/dev/ttyUSB3"


def test_environment_wins_over_discovery(connected, monkeypatch):
    connected.append(port_info("/dev/ttyUSB0", 0x10C4, 0xEA60))
    monkeypatch.setenv(ports.ENV_VAR, "/dev/ttyACM7")
    assert ports.choose_port(None, known_ids=KNOWN) == "/dev/ttyACM7"


def test_the_one_board_by_usb_id_is_chosen_among_other_ports(connected):
    connected += [port_info("/dev/ttyS0"), port_info("/dev/ttyACM0", 0x2341, 0x0043, "Arduino Uno"),
                  port_info("/dev/ttyUSB1", 0x1A86, 0x7523, "USB Serial")]
    assert ports.choose_port(known_ids=KNOWN) == "/dev/ttyUSB1"


def test_discovery_uses_the_usb_ids_of_the_board_files(connected):
    usb_id = boards.load().usb_ids[0]
    vid, pid = (int(part, 16) for part in usb_id.split(":"))
    connected.append(port_info("/dev/ttyUSB4", vid, pid))
    assert ports.choose_port() == "/dev/ttyUSB4"


def test_several_boards_is_an_error_listing_each(connected):
    connected += [port_info("/dev/ttyUSB0", 0x10C4, 0xEA60, "CP2102 USB to UART Bridge Controller"),
                  port_info("/dev/ttyUSB1", 0x1A86, 0x7523, "USB Serial")]
    with pytest.raises(errors.SeveralPorts) as info:
        ports.choose_port(known_ids=KNOWN)
    text = str(info.value)
    assert "/dev/ttyUSB0  CP2102 USB to UART Bridge Controller  10c4:ea60  (esp32-devkitc)" in text
    assert "/dev/ttyUSB1  USB Serial  1a86:7523" in text
    assert "--port" in info.value.hint and ports.ENV_VAR in info.value.hint


def test_no_board_lists_the_ports_seen_and_how_to_name_one(connected):
    connected += [port_info("/dev/ttyS0"), port_info("/dev/ttyACM0", 0x2341, 0x0043, "Arduino Uno")]
    with pytest.raises(errors.NoPortFound) as info:
        ports.choose_port(known_ids=KNOWN)
    assert "/dev/ttyS0  n/a  not USB" in str(info.value)
    assert "/dev/ttyACM0  Arduino Uno  2341:0043" in str(info.value)
    assert "--port" in info.value.hint and "usb_ids" in info.value.hint


def test_no_serial_port_at_all(connected):
    with pytest.raises(errors.NoPortFound) as info:
        ports.choose_port(known_ids=KNOWN)
    assert "no serial ports" in str(info.value)
    assert "cable" in info.value.hint


def test_a_running_virtual_board_counts_as_a_connected_board(connected):
    connected += [port_info("/dev/ttyS0")]
    assert ports.choose_port(known_ids=KNOWN, virtual=["/dev/pts/7"]) == "/dev/pts/7"
    connected += [port_info("/dev/ttyUSB1", 0x1A86, 0x7523, "USB Serial")]
    with pytest.raises(errors.SeveralPorts) as info:
        ports.choose_port(known_ids=KNOWN, virtual=["/dev/pts/7"])
    assert "/dev/ttyUSB1  USB Serial  1a86:7523" in str(info.value)
    assert "/dev/pts/7  virtual board (gullwing sim)" in str(info.value)


def test_status_without_a_port_finds_the_one_running_virtual_board(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))  # its own list of running boards: tests run side by side
    env = dict(os.environ)
    env.pop(ports.ENV_VAR, None)
    if [info for info in list_ports.comports() if ports.usb_id(info) in boards.known_usb_ids()]:
        pytest.skip("a USB board is connected to this machine")
    sim = SimProcess(tmp_path / "flash")
    try:
        out = subprocess.run([str(BIN / "gullwing"), "status"], capture_output=True, text=True, env=env, timeout=60)
    finally:
        sim.stop()
    # an empty board: found on its port, restarted from the prompt, and found to have no gullwing
    assert out.returncode == 2
    assert out.stderr.startswith("error: gullwing is not on the board")
    assert "gullwing deploy --port " + sim.port in out.stderr


@pytest.fixture
def pty_port():
    controller, device = os.openpty()
    yield os.ttyname(device)
    os.close(device)
    os.close(controller)


def test_a_port_held_by_another_program_is_reported_busy(pty_port):
    holder = serial.Serial(pty_port, 115200, exclusive=True)  # e.g. a serial monitor left open
    try:
        with pytest.raises(errors.PortBusy) as info:
            ports.open_port(pty_port)
        assert pty_port in str(info.value)
        assert "close" in info.value.hint
    finally:
        holder.close()
    ports.open_port(pty_port).close()  # free again once the other program lets go


def test_a_missing_port_is_reported_as_missing(tmp_path):
    with pytest.raises(errors.PortMissing) as info:
        ports.open_port(str(tmp_path / "ttyUSB9"))
    assert "ttyUSB9" in str(info.value)


def test_esptools_busy_message_is_recognised():
    # esptool wraps pyserial's error in its own FatalError text
    text = ("Could not open /dev/ttyUSB0, the port is busy or doesn't exist.\n(Could not exclusively lock port "
            "/dev/ttyUSB0: [Errno 11] Resource temporarily unavailable)")
    assert isinstance(errors.port_error("/dev/ttyUSB0", RuntimeError(text)), errors.PortBusy)
    assert errors.port_error("/dev/ttyUSB0", RuntimeError("Timed out waiting for packet header")) is None


def test_the_command_line_prints_error_and_hint_and_exits_2(connected, tmp_path):
    firmware = tmp_path / "micropython.bin"
    firmware.write_bytes(b"\0" * 64)
    result = CliRunner().invoke(cli, ["flash", "--firmware", str(firmware)])
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error: " + str(firmware) + " is not an ESP firmware image")
    assert lines[-1].startswith("hint: ")
    assert "Traceback" not in result.output
