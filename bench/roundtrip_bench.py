"""A request's round trip at 115200 baud: `status` over one open connection (`gullwing send`'s way)
against the same query made with chained `mpremote exec` calls, side by side on one virtual board."""

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from host_tools import deploy
from host_tools.link import Link
from host_tools.virtual_board import VirtualBoard

BAUD = 115200
QUERIES = 200
MPREMOTE_QUERIES = 10
# what mpremote can do: interrupt the firmware, ask in the raw REPL, print the answer
MPREMOTE_QUERY = "import gullwing; print(gullwing.VERSION)"


def _percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def run():
    mpremote = str(Path(sys.executable).with_name("mpremote"))
    with tempfile.TemporaryDirectory() as tmp, VirtualBoard(flash_dir=Path(tmp) / "flash", baud=BAUD) as board:
        time.sleep(0.3)
        deploy.deploy(port=board.port, progress=False)
        time.sleep(0.5)
        link_ms = []
        with Link(board.port) as link:
            link.request("status")  # the first one also skips the boot line
            for _ in range(QUERIES):
                start = time.perf_counter()
                assert link.request("status").ok
                link_ms.append((time.perf_counter() - start) * 1000)
        mpremote_ms = []
        for _ in range(MPREMOTE_QUERIES):
            start = time.perf_counter()
            subprocess.run([mpremote, "connect", board.port, "exec", MPREMOTE_QUERY], check=True,
                           capture_output=True, timeout=60)
            mpremote_ms.append((time.perf_counter() - start) * 1000)
    return link_ms, mpremote_ms


def summary(link_ms, mpremote_ms):
    p50, p99 = _percentile(link_ms, 0.5), _percentile(link_ms, 0.99)
    mp50 = statistics.median(mpremote_ms)
    rows = [("status over one connection", p50, p99), ("chained mpremote exec", mp50, _percentile(mpremote_ms, 0.99))]
    verdicts = [(f"p50 {p50:.1f} ms (<= 20 ms)", p50 <= 20), (f"p99 {p99:.1f} ms (<= 40 ms)", p99 <= 40),
                (f"{mp50 / p50:.0f}x faster than mpremote (>= 5x)", mp50 >= 5 * p50)]
    return rows, verdicts
