"""Talking to the gullwing firmware over its serial protocol (docs/protocol.md): a request, its reply.

Each request carries an id (`#<n> `), and the reply with that id is the answer: boot lines and events
in between are kept aside, never mistaken for it.
"""

import json
import time
from dataclasses import dataclass, field

from host_tools import errors, ports

MAX_LINE = 128


@dataclass
class Reply:
    ok: bool
    line: str  # the reply as the board sent it, without its id
    data: dict | None = None  # the JSON object of an `ok` reply
    code: str = ""  # the error code of an `err` reply
    events: list = field(default_factory=list)  # `evt` lines that came before the reply


class Link:
    """An open connection to a board running gullwing."""

    def __init__(self, port=None, timeout=3.0):
        self.port = ports.choose_port(port)
        self.timeout = timeout
        self.serial = ports.open_port(self.port, timeout=0.05)
        self._next = 1
        self._pending = b""
        self.events = []  # every `evt` line seen, oldest first

    def close(self):
        self.serial.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def request(self, line, timeout=None):
        """Send one request line; returns its Reply. Raises BoardNotAnswering when no reply comes."""
        line = line.strip()
        try:
            data = line.encode("ascii")
        except UnicodeEncodeError:
            raise errors.GullwingError("the request must be plain ASCII: " + line,
                                       hint="the protocol speaks ASCII; see docs/protocol.md") from None
        req_id = str(self._next)
        self._next += 1
        self.serial.write(b"#" + req_id.encode() + b" " + data + b"\n")
        deadline = time.monotonic() + (timeout or self.timeout)
        heard = []
        before = len(self.events)
        while True:
            text = self._readline(deadline)
            if text is None:
                raise _silence(line, heard)
            heard.append(text)
            if text.startswith("evt "):
                self.events.append(text)
            answer = split_reply(text)
            if answer is not None and answer[0] == req_id:
                return _reply(answer[1], self.events[before:])

    def wait_event(self, name, timeout):
        """The next `evt <name>` line (already seen ones first); None when none comes in time."""
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
            if text.startswith("evt "):
                self.events.append(text)

    def _readline(self, deadline):
        while b"\n" not in self._pending:
            if time.monotonic() > deadline:
                return None
            self._pending += self.serial.read(self.serial.in_waiting or 1)
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


def _reply(text, events):
    if text == "ok":
        return Reply(True, text, events=events)
    if text.startswith("ok "):
        return Reply(True, text, json.loads(text[3:]), events=events)
    code = text.split(" ", 2)[1] if text.startswith("err ") and " " in text else "?"
    return Reply(False, text, code=code, events=events)


def _silence(line, heard):
    if any(text.startswith(">>>") or "Traceback" in text for text in heard):
        return errors.BoardNotAnswering(
            "the board is at the MicroPython prompt, not running gullwing (it answered `" + line + "` as Python)",
            hint="reset the board (press EN, or `mpremote soft-reset`) to start gullwing, or deploy it first")
    return errors.BoardNotAnswering("no reply to `" + line + "`",
                                    hint="is gullwing deployed and running? `gullwing deploy` puts it on the board")


def send(line, port=None, timeout=3.0):
    """One request on a fresh connection."""
    with Link(port, timeout) as link:
        return link.request(line)


def check_line(line):
    """A request line the firmware can take; raises a GullwingError naming the problem."""
    if len(line.encode("ascii", "replace")) > MAX_LINE:
        raise errors.GullwingError("the request is longer than " + str(MAX_LINE) + " bytes",
                                   hint="the protocol takes one short line per request")
    return line
