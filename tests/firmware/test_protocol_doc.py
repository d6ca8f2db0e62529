"""docs/protocol.md against the firmware: every transcript in it is replayed on the simulated ESP32 and
each reply and event must be what the board sends; the verbs and `status` fields it lists must be the
ones the board has.

A transcript is a ```text block of `> request` and `< reply` lines; `(N ms later)` lets the board run
that long (its control tick every 20 ms). An HTML comment `<!-- replay: rc_throttle=US -->` just before
a block wires an RC receiver whose stick, after a second at idle, is held at US; `<!-- replay: wifi -->` starts
the model's own network with a phone on it. JSON is compared as
objects: the order of the fields is not fixed (the protocol says so, and MicroPython's dicts keep none).
"""

import json
import time

import fwtest
from gullwing import app, config, handlers
from simboard import board

PINS = {"door_left": 18, "door_right": 19, "motor": 25, "buzzer": 23}  # boards/esp32-devkitc.toml
RC_THROTTLE = 34
FRAME_MS = 20
DOC = __file__.rsplit("/", 3)[0] + "/docs/protocol.md"  # tests/firmware/ -> the project


def setup_function():
    board.reset("ESP32")


def teardown_function():
    fwtest.remove_temp()


def _doc():
    with open(DOC) as f:
        return f.read()


def _transcripts(text):
    """[(line number, setup, steps)]: steps are (">", request), ("<", reply) or ("wait", ms)."""
    out = []
    setup = ""
    steps = None
    for number, line in enumerate(text.split("\n"), 1):
        if line.startswith("<!-- replay:"):
            setup = line[len("<!-- replay:"):].replace("-->", "").strip()
        elif line == "```text":
            steps, start = [], number
        elif line == "```" and steps is not None:
            if any(kind == ">" for kind, _ in steps):
                out.append((start, setup, steps))
            steps, setup = None, ""
        elif steps is not None:
            if line.startswith("> ") or line.startswith("< "):
                steps.append((line[0], line[2:]))
            elif line.startswith("(") and line.endswith(" ms later)"):
                steps.append(("wait", int(line[1:].split()[0])))
    return out


def _app(setup):
    problems = []
    pins = dict(PINS)
    if setup == "wifi":  # the model's own network up, a phone on it
        cfg = config.merge(config.DEFAULTS, {"pins": pins}, "", problems)
        a = app.App(cfg, time.ticks_ms(), fwtest.temp_dir("doc"), problems)
        a.wifi.start()
        board.wifi.join_ap()
        return a
    if setup:
        key, us = setup.split("=")
        assert key == "rc_throttle", setup
        pins["rc_throttle"] = RC_THROTTLE
        board.pulse_train(RC_THROTTLE, [1500] * 50 + [int(us)] * 1000)
    cfg = config.merge(config.DEFAULTS, {"pins": pins}, "", problems)
    a = app.App(cfg, time.ticks_ms(), fwtest.temp_dir("doc"), problems)
    if setup:
        _run(a, 1500)  # the receiver in control, the stick moved
    return a


def _run(a, ms):
    """The board runs `ms`: the event lines it sends meanwhile."""
    said = []
    for _ in range(ms // FRAME_MS):
        a.tick(time.ticks_ms())
        said += a.outbox
        a.outbox.clear()
        board.advance_ms(FRAME_MS)
    return said


def _same(expected, got):
    """A reply or event line as the document shows it: words exact, the JSON object equal."""
    brace = expected.find("{")
    if brace < 0:
        return expected == got
    if got[:brace] != expected[:brace]:
        return False
    try:
        return json.loads(got[brace:]) == json.loads(expected[brace:])
    except ValueError:
        return False


def _replay(start, setup, steps):
    a = _app(setup)
    said = []  # what the board sent since the last request, in order
    for kind, text in steps:
        if kind == ">":
            said.append(a.handle(text, time.ticks_ms()))
        elif kind == "wait":
            said += _run(a, text)
        else:
            assert said, "line " + str(start) + ": the board said nothing before " + repr(text)
            got = said.pop(0)
            assert _same(text, got), "line " + str(start) + ": the document says\n  " + text + "\nthe board\n  " + got
    assert not said, "line " + str(start) + ": the board also said " + repr(said)


def test_every_transcript_in_the_protocol_document_is_what_the_board_says():
    transcripts = _transcripts(_doc())
    assert len(transcripts) >= 8
    for start, setup, steps in transcripts:
        setup_function()
        _replay(start, setup, steps)


def _table_column(text, heading):
    """The first cells (in backquotes) of the first table after `heading`."""
    cells = []
    for row in text.split(heading + "\n", 1)[1].split("\n"):
        if row.startswith("| `"):
            cells.append(row.split("`")[1])
        elif cells and not row.startswith("|"):
            break
    return cells


def test_the_verbs_table_lists_every_verb_the_board_has_and_no_other():
    listed = set(cell.split()[0] for cell in _table_column(_doc(), "## Verbs"))
    assert listed == set(handlers.VERBS)


def test_every_status_field_the_board_sends_is_documented():
    documented = set(_table_column(_doc(), "### status"))
    a = _app("")
    seen = set(json.loads(a.handle("status", time.ticks_ms())[3:]))
    a.handle("events on", time.ticks_ms())
    a.handle("engine start", time.ticks_ms())
    _run(a, 1000)
    seen |= set(json.loads(a.handle("status", time.ticks_ms())[3:]))
    a.handle("estop", time.ticks_ms())
    seen |= set(json.loads(a.handle("status", time.ticks_ms())[3:]))
    problems = []
    cfg = config.merge(config.DEFAULTS, {"pins": {"rc_throttle": RC_THROTTLE}, "nonsense": 1}, "", problems)
    broken = app.App(cfg, time.ticks_ms(), fwtest.temp_dir("doc"), problems, safe_mode="3 crashes")
    seen |= set(json.loads(broken.handle("status", time.ticks_ms())[3:]))
    seen |= set(json.loads(_app("rc_throttle=1500").handle("status", time.ticks_ms())[3:]))
    assert seen - documented == set()
    assert documented - seen <= {"dropped"}  # dropped lines need a host that does not read
