"""`gullwing console`: an interactive session with the firmware.

Type protocol requests with history (kept in ~/.gullwing_history) and completion of verbs and their
arguments; replies print under each request, events as they come, and a status line at the bottom
shows the doors, rpm and boost. F2 switches to calibration mode, driven by the arrow keys.

`Session` owns the serial connection (a reader thread routes replies to their requests by id and
hands events to a callback); the prompt_toolkit UI sits on top of it.
"""

import json
import queue
import threading
import time
from pathlib import Path

import serial

from host_tools import errors, ports
from host_tools.link import Link, split_reply

STATUS_EVERY_S = 0.5
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
    """One open connection: `request()` from any thread, events to `on_event`. A board at the MicroPython
    prompt is restarted first (link.Link does it); `lost` is the PortLost once the port has gone away."""

    def __init__(self, port=None, on_event=print, timeout=3.0):
        self.port = ports.choose_port(port)
        self.serial = ports.open_port(self.port, timeout=0.05)
        self.lost = None
        try:
            Link(self.port, timeout, wire=self.serial).request("ping")  # restarts a board left at the prompt
        except BaseException:
            self.serial.close()
            raise
        self.on_event = on_event
        self.timeout = timeout
        self._lock = threading.Lock()
        self._waiting = {}
        self._next = 1
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def close(self):
        self._stop.set()
        self._reader.join(timeout=1)
        self.serial.close()

    def request(self, line):
        """The reply line (without its id); raises BoardNotAnswering after the timeout, PortLost when the
        port has gone away."""
        box = queue.Queue(maxsize=1)
        with self._lock:
            if self.lost:
                raise self.lost
            req_id = str(self._next)
            self._next += 1
            self._waiting[req_id] = box
            try:
                self.serial.write(("#" + req_id + " " + line.strip() + "\n").encode("ascii", "replace"))
            except (OSError, serial.SerialException) as exc:
                self._lose(exc)
                raise self.lost from None
        try:
            reply = box.get(timeout=self.timeout)
        except queue.Empty:
            raise errors.BoardNotAnswering("no reply to `" + line + "`",
                                           hint="is gullwing running on the board? `gullwing deploy`") from None
        finally:
            with self._lock:
                self._waiting.pop(req_id, None)
        if reply is None:
            raise self.lost
        return reply

    def _lose(self, exc):
        """The port went away (unplugged): every waiting request ends with PortLost."""
        if self.lost is None:
            self.lost = errors.PortLost("the board's serial port " + self.port + " went away ("
                                        + (getattr(exc, "strerror", None) or str(exc) or type(exc).__name__) + ")")
        for box in self._waiting.values():
            if box.empty():  # else its reply came first
                box.put_nowait(None)

    def _read(self):
        pending = b""
        while not self._stop.is_set():
            try:
                pending += self.serial.read(self.serial.in_waiting or 1)
            except (OSError, TypeError, serial.SerialException) as exc:  # TypeError: pyserial, port closed under it
                if not self._stop.is_set():
                    with self._lock:
                        self._lose(exc)
                return
            while b"\n" in pending:
                raw, _, pending = pending.partition(b"\n")
                self._dispatch(raw.decode("ascii", "replace").strip())

    def _dispatch(self, text):
        answer = split_reply(text)
        if answer is not None:
            with self._lock:
                box = self._waiting.get(answer[0])
            if box is not None:
                box.put(answer[1])
                return
        if text:
            self.on_event(text)


def status_line(reply):
    """The bottom line from a `status` reply: doors, engine, problems."""
    if not reply.startswith("ok {"):
        return reply
    try:
        data = json.loads(reply[3:])
    except ValueError:
        return "garbled status reply: " + reply[:60]
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
    return "  |  ".join(parts)


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
    """The interactive console; returns when the user leaves (Ctrl-D or `exit`)."""
    from prompt_toolkit import PromptSession, print_formatted_text
    from prompt_toolkit.completion import NestedCompleter
    from prompt_toolkit.history import FileHistory
    from prompt_toolkit.key_binding import KeyBindings
    from prompt_toolkit.patch_stdout import patch_stdout

    state = {"status": "connecting...", "calibrating": False}
    calibration = Calibration()
    session = Session(port, on_event=lambda text: print_formatted_text("  " + text))

    def leave():
        if prompt.app.is_running and not prompt.app.future.done():
            prompt.app.exit(exception=EOFError())

    def poll():
        while not session._stop.is_set():
            try:
                state["status"] = status_line(session.request("status"))
            except errors.PortLost:
                loop = prompt.app.loop
                if loop is not None:  # end the prompt; run() then reports the lost port
                    loop.call_soon_threadsafe(leave)
                return
            except errors.GullwingError as exc:
                state["status"] = str(exc)
            time.sleep(STATUS_EVERY_S)

    keys = KeyBindings()

    @keys.add("f2")
    def _toggle(event):
        state["calibrating"] = not state["calibrating"]

    def _calibration_key(name, shift=False):
        def handler(event):
            line = calibration.key(name, shift)
            if line:
                try:
                    print_formatted_text("  > " + line + "\n  < " + session.request(line))
                except errors.GullwingError as exc:
                    print_formatted_text("  > " + line + "\n  error: " + str(exc))

        return handler

    from prompt_toolkit.filters import Condition

    calibrating = Condition(lambda: state["calibrating"])
    for key, name, shift in (("up", "up", False), ("down", "down", False), ("s-up", "up", True),
                             ("s-down", "down", True), ("left", "left", False), ("right", "right", False),
                             ("c", "c", False), ("o", "o", False), ("s", "s", False)):
        keys.add(key, filter=calibrating)(_calibration_key(name, shift))

    def toolbar():
        mode = (f" CALIBRATING {calibration.side}: Up/Down jog 1 us (Shift: 10), Left/Right door, c closed, "
                f"o open, s save, F2 leave |" if state["calibrating"] else "")
        return mode + " " + state["status"]

    prompt = PromptSession(history=FileHistory(str(HISTORY)), completer=NestedCompleter.from_nested_dict(GRAMMAR),
                           bottom_toolbar=toolbar, key_bindings=keys, refresh_interval=STATUS_EVERY_S)
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
                if line:
                    try:
                        print_formatted_text("  " + session.request(line))
                    except errors.PortLost:
                        break
                    except errors.GullwingError as exc:
                        print_formatted_text("  error: " + str(exc))
    finally:
        session.close()
    if session.lost:
        raise session.lost  # the console ends: one error line and its hint
