"""The firmware's end on a virtual board: a double Ctrl-C never leaves the motor running, and doors stopped
mid-move by a deploy or by Ctrl-C then Ctrl-D start again from where they really are."""

import time

from bench import halt_bench
from host_tools import deploy
from host_tools.link import Link
from tests.host.virtual import Wire, pwm_rows

MOTOR, LEFT, RIGHT = 25, 18, 19  # boards/esp32-devkitc.toml
RUNS = 12


def test_a_double_ctrl_c_at_full_throttle_always_stops_cleanly(deployed):
    # `make bench` runs it 100 times (bench/halt_bench.py)
    failed = halt_bench.double_ctrl_c(deployed.port, deployed.trace, RUNS)
    assert not failed, "\n\n".join(f"run {run}, {gap} ms apart:\n{said.decode(errors='replace')}"
                                   for run, gap, said in failed)


def _stopped_mid_move(sim, stop):
    """door both open 3000, `stop` 1.2 s in, door both open: (status before the command, the last
    pulses before the restart, the first after it), per door pin."""
    with Link(sim.port) as link:
        assert link.request("door both open 3000").ok
    time.sleep(1.2)
    stopped_us = pwm_rows(sim.trace, LEFT)[-1][0]  # the trace is written as the board runs
    stop(sim)
    time.sleep(0.5)
    with Link(sim.port) as link:
        status = link.request("status").data
        assert link.request("door both open").ok
    time.sleep(0.5)
    sim.stop()
    before, after = {}, {}
    for pin in (LEFT, RIGHT):
        rows = pwm_rows(sim.trace, pin)
        before[pin] = [duty for t, duty in rows if t <= stopped_us + 100_000][-1]
        restart = next(i for i in range(1, len(rows)) if rows[i][0] - rows[i - 1][0] > 300_000)
        after[pin] = rows[restart][1]
    return status, before, after


def _ctrl_c_then_ctrl_d(sim):
    wire = Wire(sim.port)
    wire.send(b"\x03")
    wire.expect(">>> ", 5)
    wire.send(b"\x04")
    wire.expect("gullwing 0", 10)
    wire.close()


def _check_resumed(status, before, after):
    for side in ("left", "right"):
        door = status["doors"][side]
        assert door["state"] == "stopped" and door["angle"] > 20, status  # not "closed at 0"
    for pin in (LEFT, RIGHT):
        assert after[pin] == before[pin], (pin, before, after)  # the first pulse is where it stopped


def test_doors_stopped_by_a_deploy_mid_move_start_again_where_they_are(deployed):
    _check_resumed(*_stopped_mid_move(deployed, lambda sim: deploy.deploy(port=sim.port, progress=False)))


def test_doors_stopped_by_ctrl_c_then_ctrl_d_mid_move_start_again_where_they_are(deployed):
    _check_resumed(*_stopped_mid_move(deployed, _ctrl_c_then_ctrl_d))
