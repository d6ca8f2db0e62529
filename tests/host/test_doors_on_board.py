"""The doors and the protocol end to end: gullwing deployed to a virtual board, driven by the CLI."""

import subprocess
import time

from host_tools.link import Link
from tests.host.virtual import BIN, SimProcess, pwm_rows

FRAME_US = 20_000
CLOSED_LEFT_NS, OPEN_LEFT_NS = 1_000_061, 2_000_122  # the default calibration of the left door


def _gullwing(sim, *args):
    return subprocess.run([str(BIN / "gullwing"), *args, "--port", sim.port], capture_output=True, text=True,
                          timeout=30)


def _rows(sim, pin):
    sim.stop()
    return pwm_rows(sim.trace, pin)


def test_door_both_open_1500_moves_both_servos_from_closed_to_open_in_1_5_s(deployed):
    out = _gullwing(deployed, "door", "both", "open", "--ms", "1500")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok {")
    time.sleep(2.0)
    for pin, closed, opened in ((18, CLOSED_LEFT_NS, OPEN_LEFT_NS), (19, OPEN_LEFT_NS, CLOSED_LEFT_NS)):
        rows = _rows(deployed, pin)
        start = next(t for t, duty in rows if duty != closed)  # the first frame of the move
        end = next(t for t, duty in rows if duty == opened)  # the frame that reaches open
        assert rows[0][1] == closed  # it starts from exactly the closed pulse
        assert abs((end - start) - 1_500_000) <= FRAME_US + 40_000, (pin, end - start)  # + the pair's stagger
        assert all(min(closed, opened) <= duty <= max(closed, opened) for _, duty in rows)


def test_a_restart_after_the_doors_settled_open_starts_at_the_open_pulse(deployed):
    assert _gullwing(deployed, "door", "both", "open", "--ms", "600").returncode == 0
    time.sleep(1.2)  # settled: the rest position is saved
    deployed.mpremote("soft-reset")  # mpremote stops the firmware and restarts the board
    with Link(deployed.port) as link:
        link.serial.write(b"\x04")  # the board sits at the prompt after mpremote: start gullwing
        time.sleep(1.0)
        assert link.request("door left close 600").ok
    time.sleep(1.0)
    rows = _rows(deployed, 18)
    boots = [i for i, (t, duty) in enumerate(rows) if i and duty == OPEN_LEFT_NS and rows[i - 1][1] != OPEN_LEFT_NS]
    # after the restart the first pulse out is the open one: no lurch back to closed first
    after_restart = [duty for t, duty in rows if t > rows[boots[-1]][0] - 1]
    assert after_restart[0] == OPEN_LEFT_NS
    assert after_restart[-1] == CLOSED_LEFT_NS


def test_send_status_and_errors_from_the_command_line(deployed):
    out = _gullwing(deployed, "send", "ping")
    assert (out.returncode, out.stdout.strip()) == (0, "ok")
    out = _gullwing(deployed, "send", "door", "both", "fly")
    assert out.returncode == 1 and out.stdout.startswith("err bad_arg")
    out = _gullwing(deployed, "status")
    assert out.returncode == 0 and '"doors"' in out.stdout and '"engine"' in out.stdout
    out = _gullwing(deployed, "engine", "start")
    assert out.returncode == 0 and "cranking" in out.stdout
    out = _gullwing(deployed, "throttle", "101")  # the board checks the range
    assert out.returncode == 1 and out.stdout.startswith("err bad_arg")


def test_ctrl_c_leaves_the_motor_off_and_mpremote_gets_in(deployed):
    with Link(deployed.port) as link:
        assert link.request("engine start").ok
        time.sleep(2.5)
        assert link.request("throttle 60").ok
        time.sleep(0.5)
    out = deployed.mpremote("exec", "print('in')")  # mpremote's Ctrl-C stops the app
    assert out.stdout.strip() == "in"
    rows = _rows(deployed, 25)
    assert rows[-1][1] == 0  # the motor's last duty: off


def test_a_board_that_does_not_answer_is_reported(tmp_path):
    sim = SimProcess(tmp_path / "flash")  # no firmware on it: the REPL answers, gullwing does not
    try:
        out = subprocess.run([str(BIN / "gullwing"), "status", "--port", sim.port, "--timeout", "1"],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 2
        assert "error:" in out.stderr and "hint:" in out.stderr
    finally:
        sim.stop()
