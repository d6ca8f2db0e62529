"""Every catalogue board runs gullwing on a virtual board of its chip, driven as a user drives a real one:
`gullwing deploy`, the doors opened and closed, the engine started, revved and stopped, the second UART
talked to where one is wired, RC pulses fed where a receiver is wired, and `status` with no problems.

The boards run in parallel threads (each is mostly waiting on its virtual board's real time); every step
of a board is recorded, and the tests below read the record of their board.
"""

import json
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest

from host_tools import BOARDS_DIR, boards, link
from tests.host.virtual import BIN, SimProcess

NAMES = sorted(p.stem for p in BOARDS_DIR.glob("*.toml"))
UART_ID = 1  # the firmware's second command channel (firmware/gullwing/app.py: UART_ID)
NEUTRAL_US, SWITCH_LOW_US = 1500, 1000  # a receiver at rest: throttle at neutral, switches low
MOVE_MS = 400
WORKERS = 4


@dataclass
class Run:
    """What happened to one board: each step's outcome in order (None: passed), and what it saw."""

    board: boards.Board
    steps: dict = field(default_factory=dict)  # step -> None, or why it failed; absent: not reached
    status: dict | None = None
    seen: dict = field(default_factory=dict)

    def step(self, name, action):
        try:
            action()
        except Exception as exc:  # recorded for the test of this step, with what the step was doing
            self.steps[name] = type(exc).__name__ + ": " + str(exc)
            return False
        self.steps[name] = None
        return True


def _gullwing(port, *args, timeout=60):
    out = subprocess.run([str(BIN / "gullwing"), *args, "--port", port], capture_output=True, text=True,
                         timeout=timeout)
    assert out.returncode == 0, "gullwing " + " ".join(args) + ": " + out.stdout + out.stderr
    return out.stdout.strip()


def _status(port):
    reply = link.send("status", port=port, timeout=3.0)
    assert reply.ok, reply.line
    return reply.data


def _wait_for(port, what, test, timeout=8.0):
    """Poll `status` until test(status) holds; returns that status."""
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        status = _status(port)
        if test(status):
            return status
        time.sleep(0.1)
    raise AssertionError("no " + what + " within " + str(timeout) + " s; last status: " + json.dumps(status))


def _doors(status):
    return status["doors"]["left"]["state"], status["doors"]["right"]["state"]


def _uart_ports(sim, ids, timeout=5.0):
    """{id: pty} from the `uartN: /dev/pts/M` lines that `gullwing sim --uart N` prints after its port."""
    found = {}

    def read():
        while len(found) < len(ids):
            line = sim.proc.stdout.readline()
            if not line:
                return
            key, _, value = line.strip().partition(": ")
            if key.startswith("uart") and key[4:].isdigit():
                found[int(key[4:])] = value

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    missing = [i for i in ids if i not in found]
    assert not missing, "gullwing sim printed no `uart" + str(missing[0]) + ": ...` line"
    return found


def _ask_over_uart(pty, line, timeout=5.0):
    """One request on the far end of the board's second UART (a Bluetooth module, say); its reply."""
    import serial

    with serial.Serial(pty, 9600, timeout=0.1) as wire:
        wire.write(b"#9 " + line.encode() + b"\n")
        seen = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seen += wire.read(256)
            for text in seen.decode("ascii", "replace").splitlines():
                answer = link.split_reply(text.strip())
                if answer and answer[0] == "9":
                    return answer[1]
    raise AssertionError("no reply to `" + line + "` on UART" + str(UART_ID) + "; heard " + repr(seen[-200:]))


def _pwm_rows(trace, gpio):
    rows = []
    for line in trace.read_text().splitlines()[1:]:
        t_us, pin, _freq, duty, kind, _level = line.split(",")
        if int(pin) == gpio:
            rows.append((int(t_us), kind, int(duty)))
    return rows


def _drive(run, folder):
    """Deploy, doors, engine and the second UART on one virtual board, with a trace."""
    board, pins = run.board, run.board.pins
    wired_uart = "uart_tx" in pins and "uart_rx" in pins
    sim = SimProcess(folder / "flash", "--board", board.name, *(["--uart", str(UART_ID)] if wired_uart else []),
                     trace=folder / "trace.csv")
    port = sim.port
    try:
        if wired_uart and not run.step("uart port", lambda: run.seen.update(uarts=_uart_ports(sim, [UART_ID]))):
            wired_uart = False

        def deployed():
            assert _gullwing(port, "deploy", "--board", board.name, timeout=120).startswith("deployed gullwing")
            config = json.loads((sim.flash / "config.json").read_text())
            assert (config["board"], config["chip"], config["pins"]) == (board.name, board.chip_name, pins)
            _wait_for(port, "answer after the deploy's reset", lambda s: "engine" in s)

        if not run.step("deploy", deployed):
            return

        def doors():
            for action, state in (("open", "open"), ("close", "closed")):
                assert _gullwing(port, "door", "both", action, "--ms", str(MOVE_MS)).startswith("ok")
                _wait_for(port, "doors " + state, lambda s, want=state: _doors(s) == (want, want))

        run.step("doors", doors)

        def engine():
            assert _gullwing(port, "engine", "start").startswith("ok")
            idle = _wait_for(port, "engine running", lambda s: s["engine"]["state"] == "running")["engine"]["rpm"]
            assert _gullwing(port, "throttle", "80").startswith("ok")
            revved = _wait_for(port, "rpm rising over idle", lambda s: s["engine"]["rpm"] > idle * 3 // 2)
            run.seen["rpm"] = (idle, revved["engine"]["rpm"])
            assert _gullwing(port, "throttle", "0").startswith("ok")
            assert _gullwing(port, "engine", "stop").startswith("ok")
            _wait_for(port, "engine off", lambda s: s["engine"]["state"] == "off")

        run.step("engine", engine)
        if wired_uart:
            def uart():
                assert _ask_over_uart(run.seen["uarts"][UART_ID], "ping") == "ok"
                reply = _ask_over_uart(run.seen["uarts"][UART_ID], "status")
                assert reply.startswith("ok {") and "engine" in json.loads(reply[3:])

            run.step("uart", uart)
        run.step("status", lambda: setattr(run, "status", json.loads(_gullwing(port, "status"))))
    finally:
        sim.stop()
    run.step("trace", lambda: _check_trace(run, folder / "trace.csv"))


def _check_trace(run, trace):
    """What the outputs really did: both servos moved, the motor ran and ended stopped."""
    pins = run.board.pins
    for role in ("door_left", "door_right"):
        duties = {duty for _, kind, duty in _pwm_rows(trace, pins[role]) if kind == "pwm"}
        assert len(duties) > 2, role + " (GPIO" + str(pins[role]) + ") never moved: " + str(sorted(duties))
    motor = pins.get("motor", pins.get("motor_in1"))
    rows = _pwm_rows(trace, motor)
    assert any(duty > 0 for _, _, duty in rows), "the motor (GPIO" + str(motor) + ") never ran"
    assert rows[-1][1] == "off" or rows[-1][2] == 0, "the motor was left running: " + str(rows[-1])


def _feed_receiver(run, folder):
    """The board again, its flash as deployed, with a receiver at rest on every RC channel it wires."""
    rc = [(role, gpio) for role, gpio in run.board.pins.items() if role.startswith("rc_")]
    widths = [str(gpio) + ":" + str(NEUTRAL_US if role == "rc_throttle" else SWITCH_LOW_US) for role, gpio in rc]
    sim = SimProcess(folder / "flash", "--board", run.board.name, *[a for w in widths for a in ("--receiver", w)])
    try:
        def control():
            status = _wait_for(sim.port, "rc control", lambda s: s.get("rc") == "control")
            assert status["engine"]["throttle"] == 0 and "problems" not in status, json.dumps(status)

        if rc:
            run.step("receiver", control)

        def stock_pins():
            # the app stopped by mpremote's Ctrl-C, as a user would to look around on the REPL
            chip = run.board.chip
            refused = sorted(chip.no_pin) + [next(g for g in range(49) if g not in chip.gpios)]
            script = ("import machine\nfor g in " + repr(sorted(run.board.pins.values())) + ":\n"
                      " machine.Pin(g, machine.Pin.IN)\nprint('pins ok')\nfor g in " + repr(refused) + ":\n"
                      " try:\n  machine.Pin(g)\n except ValueError as e:\n  print('refused', g, e)\n")
            out = sim.mpremote("exec", script).stdout
            assert "pins ok" in out, out
            for gpio in refused:
                assert "refused " + str(gpio) + " invalid pin" in out, out

        run.step("pins", stock_pins)
    finally:
        sim.stop()


def _exercise(name, folder):
    run = Run(boards.load(name))
    _drive(run, folder)
    if run.steps.get("deploy", "not reached") is None:
        _feed_receiver(run, folder)
    return run


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    with ThreadPoolExecutor(WORKERS) as pool:
        futures = {name: pool.submit(_exercise, name, tmp_path_factory.mktemp(name)) for name in NAMES}
        return {name: future.result() for name, future in futures.items()}


def _passed(run, step):
    assert step in run.steps, step + " was not reached: " + str(run.steps)
    assert run.steps[step] is None, step + ": " + run.steps[step]


@pytest.mark.parametrize("name", NAMES)
def test_the_board_takes_gullwing_and_moves_its_doors(runs, name):
    run = runs[name]
    _passed(run, "deploy")
    _passed(run, "doors")


@pytest.mark.parametrize("name", NAMES)
def test_the_engine_starts_revs_and_stops_and_the_outputs_show_it(runs, name):
    run = runs[name]
    _passed(run, "engine")
    _passed(run, "trace")


@pytest.mark.parametrize("name", NAMES)
def test_status_reports_no_problems_after_it_all(runs, name):
    run = runs[name]
    _passed(run, "status")
    assert "problems" not in run.status, run.status["problems"]
    assert run.status["engine"]["state"] == "off"
    assert _doors(run.status) == ("closed", "closed")


@pytest.mark.parametrize("name", NAMES)
def test_the_second_uart_answers_requests(runs, name):
    run = runs[name]
    if "uart_tx" not in run.board.pins:
        pytest.skip(name + " wires no second UART")
    _passed(run, "uart port")
    _passed(run, "uart")


@pytest.mark.parametrize("name", NAMES)
def test_a_receiver_at_rest_takes_control_with_the_throttle_closed(runs, name):
    run = runs[name]
    if not any(role.startswith("rc_") for role in run.board.pins):
        pytest.skip(name + " wires no receiver")
    _passed(run, "receiver")


@pytest.mark.parametrize("name", NAMES)
def test_the_pins_stock_micropython_lacks_are_refused_on_the_board(runs, name):
    _passed(runs[name], "pins")
