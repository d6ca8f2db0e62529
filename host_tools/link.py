"""Talking to the gullwing firmware over its serial protocol (docs/protocol.md): a request, its reply.

Each request carries an id (`#<n> `), and the reply with that id is the answer: boot lines and events
in between are kept aside, never mistaken for it.

A board left at the MicroPython prompt (after mpremote, or a Ctrl-C that stopped the firmware) is
brought back: the friendly REPL echoes a request as the Python comment it reads it as, then prompts
`>>> `; the raw REPL stays silent, so a request that gets no answer is followed by Ctrl-B, which
leaves the raw REPL (and at the friendly prompt only prints the banner again; the firmware gets one
line it answers `err`). At the friendly prompt, Ctrl-D soft-resets: boot.py and main.py run
(ports/esp32/main.c: mp_task runs main.py only when the soft reset came from the friendly REPL, so
Ctrl-D in the raw REPL would come back without the firmware). Once the firmware announces itself
(`gullwing <version>`, runner.run()), the request is sent again.
"""

import json
import re
import time
from dataclasses import dataclass, field

import serial

from host_tools import errors, ports

MAX_LINE = 128
ANNOUNCEMENT = re.compile(r"gullwing \d+\.\d+")  # the firmware's first line at every start (runner.run)
FRIENDLY_PROMPT = b">>> "
RAW_PROMPT = b"raw REPL; CTRL-B to exit"
LEAVE_RAW = b"\x02\r"  # Ctrl-B: raw REPL -> friendly REPL; the Enter ends the line wherever it lands
SOFT_RESET = b"\x04"  # Ctrl-D on the friendly prompt's empty line
PROBE_AFTER_S = 1.0  # silence after a request before asking whether a raw REPL holds the port
RESTART_S = 15.0  # a soft reset until the firmware announces itself (boot.py may finish a deploy first)
REBOOT_GRACE_S = 2.0  # after the firmware announced itself, how long a request sent before may still be answered


@dataclass
class Reply:
    ok: bool
    line: str  # the reply as the board sent it, without its id
    data: dict | None = None  # the JSON object of an `ok` reply
    code: str = ""  # the error code of an `err` reply
    events: list = field(default_factory=list)  # `evt` lines that came before the reply


class _AtPrompt(Exception):
    """The board showed the MicroPython prompt instead of answering."""


class Link:
    """An open connection to a board running gullwing: the one request/reply exchange of the host tools.

    The policy, the same for the command line and the console: a request is plain ASCII of at most
    MAX_LINE bytes; lines that answer nothing of ours (events, boot lines, noise, a late reply to a
    request given up on) go to `on_line` (by default `evt` lines are kept in `events`) and never end a
    wait; a reply whose JSON is damaged raises GarbledReply; a board that restarts mid-request gets
    the request again once it announces itself; one at the MicroPython prompt is restarted; silence
    past the timeout raises BoardNotAnswering, a port that goes away PortLost."""

    def __init__(self, port=None, timeout=3.0, on_line=None):
        self.port = ports.choose_port(port)
        self.timeout = timeout
        self.serial = ports.open_port(self.port, timeout=0.05)
        self._next = 1
        self._pending = b""
        self._line_open = True  # the board may hold part of a line from before (see _send)
        self.events = []  # every `evt` line seen, oldest first (without `on_line`)
        self.on_line = on_line or self._keep_event  # every line that answers none of our requests

    def _keep_event(self, text):
        if text.startswith("evt "):
            self.events.append(text)

    def close(self):
        self.serial.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def request(self, line, timeout=None):
        """Send one request line; returns its Reply. A board at the MicroPython prompt is restarted once;
        raises BoardNotAnswering when no reply comes, NotDeployed when the board has no firmware to start."""
        line = check_line(line.strip())
        data = line.encode("ascii")
        try:
            return self._exchange(line, data, timeout or self.timeout)
        except _AtPrompt:
            self.restart_firmware()
        try:
            return self._exchange(line, data, timeout or self.timeout)
        except _AtPrompt:
            raise errors.BoardNotAnswering(
                "gullwing started but the board went back to the MicroPython prompt: " + self._last_words(),
                hint="see what the firmware printed with `mpremote repl` (then press Ctrl-D), or deploy it again: "
                     "gullwing deploy") from None

    def _exchange(self, line, data, timeout):
        """One request, sent again once if the firmware (re)starts meanwhile; raises _AtPrompt."""
        ids = [self._send(data)]
        now = time.monotonic()
        deadline = now + timeout
        give_up = now + 2 * timeout + REBOOT_GRACE_S  # a board that keeps restarting is not waited for forever
        probe_at = now + min(PROBE_AFTER_S, timeout / 2)
        announced_at = None
        heard = []
        events = []
        while True:
            text = self._readline(min(deadline, probe_at) if probe_at else deadline, prompt=True)
            now = time.monotonic()
            if text is None:
                if self._at_prompt():
                    raise _AtPrompt()
                if probe_at and now >= probe_at:
                    probe_at = None
                    self._write(LEAVE_RAW)  # a raw REPL answers with the banner and `>>> `
                    deadline = min(max(deadline, now + min(PROBE_AFTER_S, timeout)), give_up)
                    continue
                if now < deadline:
                    continue
                if announced_at is not None and len(ids) == 1:  # restarted: the request was lost in the reset
                    ids.append(self._send(data))
                    deadline = min(now + timeout, give_up)
                    continue
                raise _silence(line, heard)
            heard.append(text)
            answer = split_reply(text)
            if answer is not None and answer[0] in ids:
                return _reply(answer[1], events, line)
            if text:
                self.on_line(text)
            if text.startswith("evt "):
                events.append(text)
            if ANNOUNCEMENT.match(text):  # the firmware (re)started: no REPL to ask about
                announced_at = now
                probe_at = None
                deadline = min(now + REBOOT_GRACE_S, give_up)
            if text.endswith("#" + ids[-1] + " " + line):  # the friendly REPL echoing it
                raise _AtPrompt()

    def restart_firmware(self):
        """From the MicroPython prompt (friendly or raw), soft-reset so that boot.py and main.py run, and
        wait until the firmware announces itself. Raises NotDeployed when the board comes back to the
        prompt without it."""
        if not self._pending.endswith(FRIENDLY_PROMPT):
            self._write(LEAVE_RAW)
            self._until(lambda: self._pending.endswith(FRIENDLY_PROMPT), 2.0)
        self._pending = b""
        self._write(SOFT_RESET)
        deadline = time.monotonic() + RESTART_S
        self._heard = []
        while True:
            text = self._readline(min(deadline, time.monotonic() + 0.2))
            if text is not None:
                self._heard.append(text)
                if ANNOUNCEMENT.match(text):
                    return
                continue
            if self._pending.endswith(FRIENDLY_PROMPT) and any("soft reboot" in t for t in self._heard):
                where = " --port " + self.port if self.port else ""
                raise errors.NotDeployed("gullwing is not on the board: a soft reset brought it back to the "
                                         "MicroPython prompt without starting it",
                                         hint="put gullwing on the board: gullwing deploy" + where)
            if time.monotonic() >= deadline:
                raise errors.BoardNotAnswering(
                    "the board was at the MicroPython prompt and did not start gullwing after a soft reset",
                    hint="press EN (reset) on the board, then try again; if that does not help, gullwing deploy")

    def _at_prompt(self):
        return self._pending.endswith(FRIENDLY_PROMPT) or RAW_PROMPT in self._pending

    def _last_words(self):
        words = [t for t in getattr(self, "_heard", []) if t and not t.startswith(">>>")]
        return words[-1] if words else "(nothing printed)"

    def _until(self, done, seconds):
        deadline = time.monotonic() + seconds
        while not done() and time.monotonic() < deadline:
            self._pending += self._read()

    def listen(self, seconds):
        """Read what the board sends unasked (events, boot lines) for `seconds`, each line to `on_line`."""
        deadline = time.monotonic() + seconds
        while (text := self._readline(deadline)) is not None:
            if text:
                self.on_line(text)

    def wait_event(self, name, timeout):
        """The next `evt <name>` line (already seen ones first; kept by the default `on_line`); None when none
        comes in time."""
        deadline = time.monotonic() + timeout
        start = 0
        while True:
            for i in range(start, len(self.events)):
                if self.events[i].startswith("evt " + name + " "):
                    return self.events.pop(i)
            start = len(self.events)
            text = self._readline(deadline)
            if text is None:
                return None
            if text:
                self.on_line(text)

    def _send(self, data):
        req_id = str(self._next)
        self._next += 1
        # The first request of a connection starts with a line ending: bytes another program left
        # without one (esptool's SYNC packets after a failed flash, a half-typed line) would otherwise
        # prefix it, and the firmware would answer the mix without our id. An empty line gets no reply.
        start = b"\n" if self._line_open else b""
        self._line_open = False
        self._write(start + b"#" + req_id.encode() + b" " + data + b"\n")
        return req_id

    def _write(self, data):
        try:
            self.serial.write(data)
        except (OSError, serial.SerialException) as exc:
            raise self._lost(exc) from None

    def _read(self):
        try:
            return self.serial.read(self.serial.in_waiting or 1)
        except (OSError, serial.SerialException, TypeError) as exc:  # TypeError: pyserial, port closed under it
            raise self._lost(exc) from None

    def _lost(self, exc):
        return errors.PortLost("the board's serial port " + (self.port or "") + " went away ("
                               + (getattr(exc, "strerror", None) or str(exc) or type(exc).__name__) + ")")

    def _readline(self, deadline, prompt=False):
        """The next whole line; None at the deadline (or, with `prompt`, as soon as a REPL prompt waits)."""
        while b"\n" not in self._pending:
            if time.monotonic() > deadline or (prompt and self._at_prompt()):
                return None
            self._pending += self._read()
        raw, _, self._pending = self._pending.partition(b"\n")
        return raw.decode("ascii", "replace").strip()


def split_reply(text):
    """(id, reply) of a reply line such as `#7 ok {...}`; None for anything else (an event, a boot line,
    the REPL echoing a request it took for Python)."""
    if not text.startswith("#"):
        return None
    req_id, _, rest = text[1:].partition(" ")
    if rest == "ok" or rest.startswith(("ok ", "err ")):
        return req_id, rest
    return None


def _reply(text, events, request=""):
    if text == "ok":
        return Reply(True, text, events=events)
    if text.startswith("ok "):
        try:
            data = json.loads(text[3:])
        except ValueError:
            raise errors.GarbledReply("the reply to `" + request + "` is garbled: " + text[:60]) from None
        return Reply(True, text, data, events=events)
    code = text.split(" ", 2)[1] if text.startswith("err ") and " " in text else "?"
    return Reply(False, text, code=code, events=events)


def _silence(line, heard):
    if any("Traceback" in text for text in heard):
        return errors.BoardNotAnswering(
            "the board answered `" + line + "` with a Python error: it runs something else than gullwing",
            hint="press EN (reset) to start gullwing; if it still does not answer, gullwing deploy")
    heard = [text for text in heard if text]
    if heard:
        return errors.BoardNotAnswering("no reply to `" + line + "`; the board printed: " + heard[-1][:60],
                                        hint="press EN (reset) on the board and try again; if it still does not "
                                             "answer, is this the right port?")
    return errors.BoardNotAnswering("no reply to `" + line + "`: the port stays silent",
                                    hint="is this the board's port, and is MicroPython on it? `gullwing flash` "
                                         "puts it there, `gullwing deploy` puts gullwing on it")


def send(line, port=None, timeout=3.0):
    """One request on a fresh connection."""
    with Link(port, timeout) as link:
        return link.request(line)


def check_line(line):
    """A request line the firmware can take; raises a GullwingError naming the problem."""
    if not line.isascii():
        raise errors.GullwingError("the request must be plain ASCII: " + line,
                                   hint="the protocol speaks ASCII; see docs/protocol.md")
    if len(line) > MAX_LINE:
        raise errors.GullwingError("the request is longer than " + str(MAX_LINE) + " bytes",
                                   hint="the protocol takes one short line per request")
    return line
