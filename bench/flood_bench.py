"""An unpaced 4 MB newline-free line on the console of a virtual board during a door move
(tests/host/test_flood_on_board.py): every servo frame within 25 ms, and no jump."""

import tempfile
from pathlib import Path

from tests.host.test_flood_on_board import flood

FRAME_TARGET_US = 25_000
STEP_TARGET_NS = 4_000  # a frame moves the servo no more than a slow move does


def run():
    with tempfile.TemporaryDirectory() as tmp:
        return flood(Path(tmp))


def verdicts(result):
    too_long, _angle, flood_s, frames = result
    out = [(f"a 4 MB line answered err too_long once ({too_long} times), fed in {flood_s:.1f} s", too_long == 1)]
    for pin, (gap, _at, step) in sorted(frames.items()):
        out.append((f"GPIO{pin}: worst servo frame under the flood {gap / 1000:.1f} ms "
                    f"(target <= {FRAME_TARGET_US / 1000:.0f} ms), biggest step {step} ns (<= {STEP_TARGET_NS})",
                    gap <= FRAME_TARGET_US and step <= STEP_TARGET_NS))
    return out
