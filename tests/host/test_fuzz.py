"""Hostile input on a virtual board running gullwing under MicroPython: random bytes, overlong lines,
partial UTF-8, control characters, numbers out of range. Each line gets exactly one `err`, nothing
changes, and a valid request afterwards is answered.

GW_FUZZ_LINES sets how many lines (default 10,000: a few seconds).
"""

import json
import os
import random
import time

from host_tools.link import Link

LINES = int(os.environ.get("GW_FUZZ_LINES", "10000"))
VERBS = ["door", "engine", "throttle", "blip", "events", "estop", "status", "ping", "version", "help"]
# bytes that are not request text: no line endings (they would split a line in two) and no Ctrl-C
# (the console's interrupt, which stops the firmware on purpose)
HOSTILE = [b for b in range(256) if b not in (3, 10, 13) and not 32 <= b <= 126] + [9]


def _hostile_line(rng):
    kind = rng.randrange(6)
    if kind == 0:  # random bytes, at least one outside printable ASCII
        body = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 60)))
        body = body.replace(b"\x03", b"").replace(b"\n", b"").replace(b"\r", b"")
        return body + bytes([rng.choice(HOSTILE[:-1])])
    if kind == 1:  # overlong
        return b"door both open " + b"9" * rng.randrange(120, 400)
    if kind == 2:  # a verb cut by a multi-byte character cut in half
        return rng.choice(VERBS).encode() + b" " + "é".encode()[:1] + "日".encode()[:rng.randrange(1, 3)]
    if kind == 3:  # control characters inside a request
        return b"door\x00left\x1b[A open" if rng.randrange(2) else b"ping\x07\x08\x7f"
    if kind == 4:  # numbers out of range or not numbers
        verb, bad = rng.choice([("throttle", ["101", "-1"]), ("door left to", ["91", "-1"]),
                                ("blip", ["9", "2001"]), ("door both open", ["19", "60001"])])
        value = rng.choice(bad + ["99999999999", "1e9", "0x10", "4.5", "NaN", "--5"])
        return verb.encode() + b" " + value.encode()
    return rng.choice([b"fly", b"#", b"#" + b"x" * 17, b"DOOR left open now", b"#a/b ping", b"events maybe",
                       b"estop please", b"engine START"])


def _read_reply(link, deadline):
    while True:
        text = link._readline(deadline)
        assert text is not None, "no reply within the time"
        if not text.startswith("evt "):
            return text


def _stable(status):
    status = dict(status)
    status.pop("up_ms", None)
    return status


def test_thousands_of_hostile_lines_each_get_one_err_and_change_nothing(deployed):
    rng = random.Random(6)
    with Link(deployed.port, timeout=10) as link:
        before = link.request("status").data
        assert before is not None
        link.request("heap")  # a first collection settles what the start left behind
        heap_before = link.request("heap").data["free"]
        replies = []
        batch = 50  # sent in bursts: the board must keep every line of a burst apart
        for start in range(0, LINES, batch):
            lines = [_hostile_line(rng) for _ in range(min(batch, LINES - start))]
            link.serial.write(b"".join(line + rng.choice([b"\n", b"\r\n", b"\r"]) for line in lines))
            deadline = time.monotonic() + 20
            for line in lines:
                reply = _read_reply(link, deadline)
                assert reply.startswith("err "), (line, reply)
                replies.append(reply)
        assert len(replies) == LINES
        assert link._readline(time.monotonic() + 0.5) is None  # not one reply more than lines sent
        after = link.request("status").data
        assert _stable(after) == _stable(before), json.dumps(after)
        heap_after = link.request("heap").data["free"]
        assert heap_after >= heap_before - 256, (heap_before, heap_after)  # no leak: the free heap holds
        assert link.request("door both open 500").ok
