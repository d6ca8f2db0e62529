"""The RC failsafe's latency on a virtual board (an ESP32 DevKitC running gullwing, a receiver's throttle
channel on its rc_throttle pin, the engine running): TRIALS times, the stick open, then the signal cut.

Both ends are read on the board's clock from the live trace: the receiver's channel writes a row whenever its
signal changes (simdevices.Receiver), so its last pulse ended one frame before its `off` row; the throttle
closed is the motor's first duty row below the one before it after that pulse (the engine only revs up while
the stick holds it open). `evt failsafe` arrives on the host's clock; the trace's rows, stamped as they come,
give the offset between the two clocks (the smallest arrival minus row time)."""

import statistics
import tempfile
import threading
import time
from pathlib import Path

from host_tools import boards, deploy
from host_tools.link import Link
from host_tools.virtual_board import VirtualBoard

TRIALS = 50
TARGET_MS = 100  # p99, from the end of the last valid pulse: SBUS's and ESC firmware's failsafe
BOARD = "esp32-devkitc"
FRAME_US = 20_000  # host_tools/sim/simdevices.py: the receiver's frame
NEUTRAL_US, OPEN_US = 1500, 1700  # the stick at rest (control starts), and a third open
OPEN_S = 0.5  # the stick held open before the cut: the engine still revving up
LOST_S = 0.2  # the signal away after the failsafe (it is due by 0.1 s)
NEUTRAL_S = 0.25  # the stick at rest with the signal back: control again (5 frames at neutral)


class TraceTail:
    """The trace file read as the board writes it, each row stamped with the host's clock on arrival."""

    def __init__(self, path):
        self.path = path
        self.rows = []  # (t_us, pin, duty_ns, kind, arrived_s)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._thread.start()

    def _follow(self):
        while not self.path.exists():
            time.sleep(0.01)
        with open(self.path) as f:
            pending = ""
            while not self._stop.is_set():
                text = f.read()
                if not text:
                    time.sleep(0.0005)
                    continue
                arrived = time.monotonic()
                *lines, pending = (pending + text).split("\n")
                for line in lines:
                    fields = line.split(",")
                    if fields[0].isdigit():
                        self.rows.append((int(fields[0]), int(fields[1]), int(fields[3]), fields[4], arrived))

    def offset_s(self):
        """Host clock minus board clock, in seconds, as closely as the rows tell."""
        return min(arrived - t_us / 1e6 for t_us, _, _, _, arrived in self.rows)

    def close(self):
        self._stop.set()
        self._thread.join(timeout=2)


def run(trials=TRIALS, firmware_dir=deploy.FIRMWARE_DIR):
    """(ms from the last pulse to the throttle closed, ms to `evt failsafe`) of each trial."""
    pins = boards.load(BOARD).pins
    gpio, motor = pins["rc_throttle"], pins["motor"]
    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "trace.csv"
        with VirtualBoard(flash_dir=Path(tmp) / "flash", trace_path=trace, receivers=[(gpio, NEUTRAL_US)]) as vb:
            time.sleep(0.3)
            deploy.deploy(port=vb.port, board=BOARD, firmware_dir=firmware_dir, progress=False)
            tail = TraceTail(trace)
            try:
                with Link(vb.port) as link:
                    return _trials(vb, link, tail, gpio, motor, trials)
            finally:
                tail.close()


def _trials(vb, link, tail, gpio, motor, trials):
    link.request("status")  # (past the boot line)
    assert link.request("events on").ok
    assert link.request("engine start").ok
    link.listen(1.5)  # cranks, catches, settles
    closed, told = [], []
    for _ in range(trials):
        vb.set_receiver(gpio, OPEN_US)
        time.sleep(OPEN_S)
        link.events.clear()
        vb.set_receiver(gpio, None)
        said = link.wait_event("failsafe", 1.0)
        arrived = time.monotonic()
        assert said is not None and '"failsafe"' in said, "no evt failsafe within 1 s of the cut"
        time.sleep(LOST_S)
        last_end, width = _last_pulse_end(tail.rows, gpio)
        closed.append((_duty_fall(tail.rows, motor, last_end) - last_end) / 1000)
        told.append((arrived - tail.offset_s()) * 1000 - last_end / 1000)
        vb.set_receiver(gpio, NEUTRAL_US)
        time.sleep(NEUTRAL_S)
        assert link.wait_event("failsafe", 1.0) is not None, "control did not come back at neutral"
    return closed, told


def _last_pulse_end(rows, gpio):
    """The end of the channel's last pulse before its latest `off` row (board us), and its width."""
    changes = [(t, duty_ns, kind) for t, pin, duty_ns, kind, _ in rows if pin == gpio]
    off = max(i for i, (_, _, kind) in enumerate(changes) if kind == "off")
    width = changes[off - 1][1] // 1000
    return changes[off][0] - FRAME_US + width, width


def _duty_fall(rows, motor, after_us):
    """When the motor's duty first fell after `after_us` (board us)."""
    duties = [(t, duty_ns) for t, pin, duty_ns, kind, _ in rows if pin == motor and kind == "pwm"]
    before = [duty for t, duty in duties if t <= after_us]
    last = before[-1] if before else 0
    for t, duty in duties:
        if t > after_us:
            if duty < last:
                return t
            last = duty
    raise AssertionError("the motor's duty did not fall after the signal was lost")


def _percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def summary(closed, told):
    """Table rows (what, p50, p99, max) and verdicts against TARGET_MS."""
    rows, verdicts = [], []
    for name, values in (("throttle closed (motor duty falls)", closed), ("evt failsafe on the host", told)):
        p50, p99 = statistics.median(values), _percentile(values, 0.99)
        rows.append((name, p50, p99, max(values)))
        verdicts.append((f"failsafe {name}: p99 {p99:.1f} ms over {len(values)} cuts (<= {TARGET_MS} ms)",
                         p99 <= TARGET_MS))
    return rows, verdicts

