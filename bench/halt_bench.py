"""A double Ctrl-C at full throttle on a virtual board (an ESP32 DevKitC running gullwing): RUNS times, the
engine started at full throttle, then two Ctrl-Cs 0.2-4 ms apart. Every run must end at the REPL with
"gullwing stopped" printed, no traceback, the motor's last duty 0 in the trace, and the watchdog stretched
for the REPL (read from the simulated chip's watchdog, rather than waited out for 2 s)."""

import random
import tempfile
import time
from pathlib import Path

from host_tools import deploy
from host_tools.virtual_board import VirtualBoard
from tests.host.virtual import Wire, pwm_rows

RUNS = 100
MOTOR = 25  # boards/esp32-devkitc.toml
REPL_WDT_S = 86_400  # what the stop stretches the watchdog to (halt.py)
# the watchdog's timeout and the motor pin's LEDC duty register, read from the simulated chip at the REPL
ASK_CHIP = (b"import simboard; b = simboard.board; p = b.pins.get(%d); "
            b"print('wdt', b.wdt_timeout_us // 1000000, 'duty', b.ledc_raw[p.ledc] if p and p.ledc >= 0 else 0)\r"
            % MOTOR)


def _motor_stopped(trace, wait_s=3.0):
    """Whether the motor's last duty in the trace is 0 (the trace reaches the file within `wait_s`)."""
    deadline = time.monotonic() + wait_s
    while pwm_rows(trace, MOTOR)[-1][1] != 0:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _busy_wait(seconds):
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        pass


def double_ctrl_c(port, trace, runs, seed=13):
    """The runs that did not stop cleanly: [(run, gap ms, what the board said)]."""
    wire = Wire(port)
    rng = random.Random(seed)
    failed = []
    try:
        for run in range(runs):
            wire.send(b"engine start\nthrottle 100\n")
            wire.expect("ok", 5)
            wire.expect("ok", 5)
            time.sleep(0.3 + rng.random() * 0.2)  # the motor runs
            gap = rng.uniform(0.0002, 0.004)
            wire.send(b"\x03")
            _busy_wait(gap)
            wire.send(b"\x03")
            seen = wire.expect(">>> ", 5)
            wire.send(ASK_CHIP)
            seen += wire.expect("wdt ", 5) + wire.expect(">>> ", 5)  # (the echo says 'wdt',)
            wire.seen = b""
            # silent on the chip (its LEDC duty register) and in the trace, which must agree with it
            clean = (b"gullwing stopped" in seen and b"Traceback" not in seen and b"rst:" not in seen
                     and b"wdt " + str(REPL_WDT_S).encode() + b" duty 0" in seen and _motor_stopped(trace))
            if not clean:
                failed.append((run, round(gap * 1000, 2), seen[-1500:]))
            wire.send(b"\x04")  # Ctrl-D: the firmware starts again for the next run
            wire.expect("gullwing 0", 10)
            time.sleep(0.3)
    finally:
        wire.close()
    return failed


def run():
    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "trace.csv"
        with VirtualBoard(flash_dir=Path(tmp) / "flash", trace_path=trace) as board:
            time.sleep(0.3)
            deploy.deploy(port=board.port, progress=False)
            return double_ctrl_c(board.port, trace, RUNS)


def summary(failed):
    text = (f"{RUNS - len(failed)} of {RUNS} double Ctrl-Cs at full throttle stopped cleanly (motor silent, "
            f"no traceback, watchdog stretched)")
    return [(text, not failed)]
