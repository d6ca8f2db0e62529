"""Deploying at 115200 baud: `gullwing deploy` against `mpremote cp -r` of the same compiled tree,
side by side on one virtual board, in seconds and in bytes on the wire (both directions)."""

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from host_tools import boards, deploy
from host_tools.virtual_board import VirtualBoard

BAUD = 115200


def _measure(board, action):
    before = board.wire_bytes
    start = time.monotonic()
    action()
    return time.monotonic() - start, board.wire_bytes - before


def _tree(folder):
    """The compiled firmware as files, exactly what deploy puts on the board."""
    for path, data in deploy.firmware_files(boards.load()).items():
        target = folder / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return sorted(str(p) for p in folder.iterdir())


def run():
    mpremote = str(Path(sys.executable).with_name("mpremote"))
    with tempfile.TemporaryDirectory() as tmp, VirtualBoard(flash_dir=Path(tmp) / "flash", baud=BAUD) as board:
        sources = _tree(Path(tmp) / "tree")
        time.sleep(0.5)  # let the first boot finish

        def cp():
            subprocess.run([mpremote, "connect", board.port, "cp", "-r", *sources, ":"], check=True,
                           capture_output=True, timeout=600)

        def wipe():
            shutil.rmtree(board.flash_dir)
            board.flash_dir.mkdir()

        def gw():
            deploy.deploy(port=board.port, progress=False)

        rows = {}
        rows["mpremote cp -r, fresh"] = _measure(board, cp)
        rows["mpremote cp -r, unchanged"] = _measure(board, cp)
        wipe()
        rows["gullwing deploy, fresh"] = _measure(board, gw)
        rows["gullwing deploy, unchanged"] = _measure(board, gw)
    return rows


def verdicts(rows):
    """Each target: (description, met)."""
    cp_fresh, cp_same = rows["mpremote cp -r, fresh"], rows["mpremote cp -r, unchanged"]
    gw_fresh, gw_same = rows["gullwing deploy, fresh"], rows["gullwing deploy, unchanged"]
    return [
        (f"unchanged redeploy {cp_same[0] / gw_same[0]:.1f}x faster than mpremote (>= 5x)",
         cp_same[0] >= 5 * gw_same[0]),
        (f"fresh deploy {cp_fresh[0] / gw_fresh[0]:.1f}x faster than mpremote (> 1x)", gw_fresh[0] < cp_fresh[0]),
        (f"fresh deploy uses {gw_fresh[1] / cp_fresh[1]:.0%} of mpremote's bytes (<= 50%)",
         gw_fresh[1] * 2 <= cp_fresh[1]),
    ]
