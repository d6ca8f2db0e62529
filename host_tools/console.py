"""`gullwing console`: an interactive session with the firmware.

Type protocol requests with history (kept in ~/.gullwing_history) and completion of verbs and their
arguments; replies print under each request, events as they come, and a status line at the bottom
shows the doors, rpm and boost. F2 switches to calibration mode, driven by the arrow keys. Every
line it draws fits the terminal's width.

`Session` shares one link.Link (the host tools' one request/reply exchange) between the prompt, the
status poller and a listener that hands events to a callback; the prompt_toolkit UI sits on top of it.
"""

import shutil
import threading
import time
from pathlib import Path

from host_tools import errors
from host_tools.link import Link

STATUS_EVERY_S = 0.5
LISTEN_S = 0.05  # how long the listener holds the wire at a time: a request waits at most this for it
HISTORY = Path.home() / ".gullwing_history"
JOG_US = (1, 10)  # small and large calibration steps (Shift for the large one)

GRAMMAR = {
    "ping": None, "help": None, "version": None, "status": None, "estop": None,
    "door": {side: {"open": None, "close": None, "toggle": None, "stop": None, "to": None}
             for side in ("left", "right", "both")},
    "engine": {"start": None, "stop": None},
    "throttle": {"0": None, "25": None, "50": None, "75": None, "100": None},
    "blip": None,
    "events": {"on": None, "off": None},
    "calibrate": {side: {"jog": None, "closed": None, "open": None} for side in ("left", "right")} | {"save": None},
}


class Session:
    """One open connection, shared by threads: `request()` from any of them, and what the board sends unasked
    (events, boot lines) to `on_event`, also while no request waits. The exchange and its error policy are
    link.Link's (a board at the MicroPython prompt is restarted first); `lost` is the PortLost once the port
    has gone away."""

    def __init__(self, port=None, on_event=print, timeout=3.0):
        self.on_event = on_event
        self.lost = None
        self.link = Link(port, timeout, on_line=self._unasked)
        self.port = self.link.port
        self._lock = threading.Lock()  # one request or one listen at a time on the wire
        self._stop = threading.Event()
        try:
            self.link.request("ping")  # restarts a board left at the prompt
        except BaseException:
            self.link.close()
            raise
        self._listener = threading.Thread(target=self._listen, daemon=True)
        self._listener.start()

    @property
    def closed(self):
        return self._stop.is_set()

    def close(self):
        self._stop.set()
        self._listener.join(timeout=1)
        self.link.close()

    def request(self, line):
        """The link.Reply; raises as link.Link.request does, and PortLost from then on once the port is gone."""
        with self._lock:
            if self.lost:
                raise self.lost
            try:
                return self.link.request(line)
            except errors.PortLost as exc:
                self.lost = exc
                raise

    def _unasked(self, text):
        if not self._stop.is_set():
            self.on_event(text)

    def _listen(self):
        """Between requests, hand on what the board sends unasked."""
        while not self._stop.is_set() and self.lost is None:
            with self._lock:
                try:
                    self.link.listen(LISTEN_S)
                except errors.PortLost as exc:
                    if not self._stop.is_set():
                        self.lost = exc
            time.sleep(0.001)  # a request waiting for the lock takes it now


# -- what the console draws: every line at most `width` columns --------------------------------------

INDENT = "    "  # the rest of a line too wide for the terminal


def pack(pieces, width, sep="", first="", indent=INDENT):
    """Lines of at most `width` columns holding `pieces` in order, `sep` between two on one line; a piece
    that does not fit goes on the next line after `indent`, one wider than a line is broken at a space or
    a comma (or, having none, at the edge)."""
    width = max(width, len(indent) + 8)
    lines, placed = [first], False
    for piece in pieces:
        if placed and len(lines[-1]) + len(sep) + len(piece) > width:
            if len(lines[-1]) + len(sep.rstrip()) <= width:
                lines[-1] += sep.rstrip()  # says the line goes on
            lines.append(indent)
            placed = False
        lines[-1] += (sep if placed else "") + piece
        placed = True
        while len(lines[-1]) > width:
            lines[-1], rest = _cut(lines[-1], width, len(indent))
            lines.append(indent + rest)
    return [line.rstrip() for line in lines]


def _cut(line, width, start):
    """`line` cut after its last space or comma within `width` (past `start`), else at `width`."""
    at = max(line.rfind(" ", start + 1, width), line.rfind(",", start + 1, width)) + 1
    if at <= start + 1:
        at = width
    return line[:at].rstrip(), line[at:].lstrip()


def greeting(port, width):
    """What a new user reads first: how to ask, how to leave, how to calibrate."""
    lines = []
    for text in ("gullwing console on " + port + ". Type a request: `help` lists the verbs, Tab completes, "
                 "Up/Down recall earlier ones.",
                 "Leave with `quit`, `exit` or Ctrl-D on an empty line.",
                 "F2 calibrates the doors: Up/Down jog a servo, Left/Right pick the door, c and o set the "
                 "closed and open ends, s saves; F2 again goes back to requests (docs/calibration.md)."):
        lines += pack([text], width)
    return lines


def reply_lines(line, reply, width):
    """The lines printed under a request: `help` as a list of verbs and their usage, else the reply."""
    if line.split()[:1] == ["help"] and reply.ok and isinstance(reply.data, dict) and "verbs" in reply.data:
        return help_lines(reply.data, width)
    return pack([reply.line], width, first="  ")


def help_lines(data, width):
    """`help`'s reply as a list: one line per verb with its usage (the verb alone when it takes nothing)."""
    lines = pack(["verbs (docs/protocol.md has them all):"], width, first="  ")
    for verb in data["verbs"]:
        for usage in str(data.get(verb) or verb).split("; "):
            lines += pack([usage], width, first="    ", indent="      ")
    return lines


def status_parts(reply):
    """The pieces of the status line from a `status` link.Reply: doors, engine, problems."""
    if not reply.ok or not isinstance(reply.data, dict):
        return [reply.line]
    data = reply.data
    parts = []
    doors = data.get("doors")
    if doors:
        for side in ("left", "right"):
            door = doors[side]
            parts.append(f"{side} {door['state']} {door['angle']}°")
    else:
        parts.append("doors not set up")
    engine = data.get("engine", {})
    parts.append(f"engine {engine.get('state', '?')} {engine.get('rpm', 0)} rpm {engine.get('boost', 0)} kPa"
                 f" throttle {engine.get('throttle', 0)}%")
    if data.get("problems"):
        parts.append("problems: " + "; ".join(data["problems"]))
    return parts


def status_line(reply):
    """The status as one line (the console's bottom lines are this, fitted to the terminal)."""
    return "  |  ".join(status_parts(reply))


def toolbar_lines(status, width, calibrating_side=None):
    """The bottom lines: the calibration keys while calibrating, then the status."""
    lines = []
    if calibrating_side:
        lines += pack([f"Up/Down jog {JOG_US[0]} us (Shift: {JOG_US[1]})", "Left/Right door", "c closed",
                       "o open", "s save", "F2 leave"], width, sep=", ", first="CALIBRATING " + calibrating_side
                      + ": ", indent="  ")
    return lines + pack(status, width, sep="  |  ", indent="  ")


class Calibration:
    """Calibration mode: which door, and the request each key sends."""

    def __init__(self):
        self.side = "left"

    def key(self, name, shift=False):
        """The request for a key (None for none): Up/Down jog, Left/Right pick the door, c/o set the
        closed or open end at the current pulse, s saves."""
        step = JOG_US[1] if shift else JOG_US[0]
        if name == "up":
            return f"calibrate {self.side} jog {step}"
        if name == "down":
            return f"calibrate {self.side} jog {-step}"
        if name in ("left", "right"):
            self.side = name
            return None
        if name == "c":
            return f"calibrate {self.side} closed"
        if name == "o":
            return f"calibrate {self.side} open"
        if name == "s":
            return "calibrate save"
        return None


def run(port=None):
    """The interactive console; returns when the user leaves (`quit`, `exit`, or Ctrl-D on an empty line)."""
    from prompt_toolkit import PromptSession, print_formatted_text
    from prompt_toolkit.completion import NestedCompleter
    from prompt_toolkit.filters import Condition
    from prompt_toolkit.history import FileHistory
    from prompt_toolkit.key_binding import KeyBindings
    from prompt_toolkit.patch_stdout import patch_stdout

    def width():
        return shutil.get_terminal_size().columns

    def show(lines):
        print_formatted_text("\n".join(lines))

    state = {"status": ["connecting..."], "calibrating": False}
    calibration = Calibration()
    session = Session(port, on_event=lambda text: show(pack([text], width(), first="  ")))

    def leave():
        if prompt.app.is_running and not prompt.app.future.done():
            prompt.app.exit(exception=EOFError())

    def poll():
        while not session.closed:
            try:
                state["status"] = status_parts(session.request("status"))
            except errors.PortLost:
                loop = prompt.app.loop
                if loop is not None:  # end the prompt; run() then reports the lost port
                    loop.call_soon_threadsafe(leave)
                return
            except errors.GullwingError as exc:
                state["status"] = [str(exc)]
            time.sleep(STATUS_EVERY_S)

    def ask(line, echo=False):
        """Send a request and print its reply; False once the port is gone."""
        lines = pack(["> " + line], width(), first="  ") if echo else []
        try:
            lines += reply_lines(line, session.request(line), width())
        except errors.PortLost:
            return False
        except errors.GullwingError as exc:
            lines += pack(["error: " + str(exc)], width(), first="  ")
        show(lines)
        return True

    keys = KeyBindings()

    @keys.add("f2")
    def _toggle(event):
        state["calibrating"] = not state["calibrating"]

    def _calibration_key(name, shift=False):
        def handler(event):
            line = calibration.key(name, shift)
            if line:
                ask(line, echo=True)

        return handler

    calibrating = Condition(lambda: state["calibrating"])
    for key, name, shift in (("up", "up", False), ("down", "down", False), ("s-up", "up", True),
                             ("s-down", "down", True), ("left", "left", False), ("right", "right", False),
                             ("c", "c", False), ("o", "o", False), ("s", "s", False)):
        keys.add(key, filter=calibrating)(_calibration_key(name, shift))

    def toolbar():
        side = calibration.side if state["calibrating"] else None
        return "\n".join(toolbar_lines(state["status"], prompt.app.output.get_size().columns, side))

    prompt = PromptSession(history=FileHistory(str(HISTORY)), completer=NestedCompleter.from_nested_dict(GRAMMAR),
                           bottom_toolbar=toolbar, key_bindings=keys, refresh_interval=STATUS_EVERY_S)
    show(greeting(session.port, width()))
    threading.Thread(target=poll, daemon=True).start()
    try:
        with patch_stdout():
            while True:
                try:
                    line = prompt.prompt("gullwing> ").strip()
                except KeyboardInterrupt:
                    continue
                except EOFError:
                    break
                if line in ("exit", "quit"):
                    break
                if line and not ask(line):
                    break
    finally:
        session.close()
    if session.lost:
        raise session.lost  # the console ends: one error line and its hint
