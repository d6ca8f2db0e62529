"""Repeated crashes on a virtual board: after three watchdog resets in a row gullwing starts in safe
mode, answers and says why, and drives nothing."""

import time

from host_tools.link import Link
from tests.host.virtual import Wire

STARVE = "import machine, time\r\nmachine.WDT(timeout=200)\r\ntime.sleep(2)\r\n"


def _starve_the_watchdog(port):
    """Stop the firmware (Ctrl-C) and let the watchdog run out at the REPL: a watchdog reset."""
    wire = Wire(port)
    try:
        wire.send(b"\x03")
        wire.expect("the REPL is yours")
        wire.expect(">>> ")
        wire.send(STARVE.encode())
        wire.expect("TG0WDT_SYS_RESET")
        wire.expect("gullwing 0.1.0")
        wire.send(b"#up ping\n")  # answered once the firmware runs (a Ctrl-C before would stop its import)
        wire.expect("#up ok", 15)
    finally:
        wire.close()


def test_three_watchdog_resets_start_the_safe_mode_which_answers_and_moves_nothing(deployed):
    with Link(deployed.port) as link:
        assert "safe_mode" not in link.request("status").data
    for _ in range(3):
        _starve_the_watchdog(deployed.port)
    time.sleep(0.3)
    before = len(deployed.trace.read_text().splitlines())  # every boot before flushed at its reset
    lit_before = deployed.trace.read_text().count(",gpio,1")
    with Link(deployed.port) as link:
        status = link.request("status").data
        assert status["safe_mode"] == "3 crashes within 60 s of boot: watchdog reset"
        assert status["doors"] is None
        reply = link.request("door both open")
        assert reply.code == "not_ready" and "safe mode" in reply.line
        assert link.request("engine start").ok
        assert link.request("ping").ok
    deadline = time.monotonic() + 5
    while deployed.trace.read_text().count(",gpio,1") <= lit_before and time.monotonic() < deadline:
        time.sleep(0.1)  # the first frames of the LED's pattern
    deployed.stop()
    assert before > 1  # the normal boots drove the motor and buzzer
    rows = [line.split(",") for line in deployed.trace.read_text().splitlines()[before:]]
    # the safe boot drove no pin but the status LED (esp32-devkitc: GPIO4), which it lit: the safe mode's
    # pattern is lit with a short dark wink (docs/troubleshooting.md)
    assert {row[1] for row in rows} == {"4"}
    assert [row[4:] for row in rows if row[4] == "gpio"][:2] == [["gpio", "0"], ["gpio", "1"]]
