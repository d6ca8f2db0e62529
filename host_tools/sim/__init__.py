"""The simulated ESP32: MicroPython-named modules (machine, time, micropython) over one simulated board.

This folder goes first on the module path of the firmware under test, under CPython (pytest) and under
the MicroPython unix port (firmware tests, the virtual board). The chip tables are host_tools/chips.py,
shared with the board check; simboard imports them from there.
"""

from pathlib import Path

PATH = Path(__file__).resolve().parent
