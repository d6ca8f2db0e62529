"""Serial protocol v1 (pure): one request line in, exactly one reply line out, and event lines.

    request   [#<id> ]<verb> [args...]        ASCII, at most 128 bytes, ended by \\n or \\r\\n
    reply     [#<id> ]ok [<json object>]  |  [#<id> ]err <code> <message>
    event     evt <name> <json object>        only after `events on`

docs/protocol.md is the reference. This module frames and checks lines; the app owns the verbs.
"""

import json

from gullwing import schema

MAX_LINE = 128
MAX_ID = 16

# error codes
UNKNOWN_VERB = "unknown_verb"
BAD_ARG = "bad_arg"
TOO_LONG = "too_long"
BUSY = "busy"
NOT_READY = "not_ready"
FAULT = "fault"
DENIED = "denied"  # not allowed on this channel (the web page's: what could lock the owner out)


class ProtocolError(Exception):
    def __init__(self, code, message, req_id=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.req_id = req_id  # the request's `#id` when it was read before the error


class Request:
    def __init__(self, req_id, verb, args):
        self.id = req_id  # the `#id` to echo, or None
        self.verb = verb
        self.args = args


def _id_char(c):
    return c.isalpha() or c.isdigit() or c in "-_."


def parse(line):
    """A Request from one line (bytes, bytearray or str; line ending optional); raises ProtocolError.

    A ProtocolError raised after the id was read carries it in `req_id`, so the reply can echo it."""
    if isinstance(line, str):
        line = line.encode()  # the same checks for text: full-width digits must not pass for 45
    end = len(line)
    while end and (line[end - 1] == 10 or line[end - 1] == 13):
        end -= 1  # the line ending does not count
    if end > MAX_LINE:  # by its bytes, before what they are: a long line is too long, whatever it holds
        raise _with_id(None, TOO_LONG, "line longer than " + str(MAX_LINE) + " bytes")
    line = bytes(line[:end])
    for b in line:
        if b > 126 or (b < 32 and b not in (9, 10, 13)):
            raise _with_id(None, BAD_ARG, "not printable ASCII (byte " + str(b) + ")")
    words = line.decode().split()
    req_id = None
    if words and words[0].startswith("#"):
        req_id = words.pop(0)[1:]
        if not 0 < len(req_id) <= MAX_ID or not all(_id_char(c) for c in req_id):
            raise _with_id(None, BAD_ARG, "an id is # and 1 to 16 letters, digits, - _ or .")
    if not words:
        raise _with_id(req_id, UNKNOWN_VERB, "empty request; try help")
    return Request(req_id, words[0].lower(), words[1:])


def _with_id(req_id, code, message):
    return ProtocolError(code, message, req_id)


def _prefix(req_id):
    return "" if req_id is None else "#" + req_id + " "


def ok(req_id, payload=None):
    """`ok`, with a JSON object when `payload` (a dict) is given."""
    if payload is None:
        return _prefix(req_id) + "ok"
    return _prefix(req_id) + "ok " + _json(payload)


def err(req_id, code, message):
    return _prefix(req_id) + "err " + code + " " + message


def event(name, payload):
    return "evt " + name + " " + _json(payload)


def _json(payload):
    # no spaces: at 115200 baud every byte of a reply costs 87 us
    return json.dumps(payload, separators=(",", ":"))


def integer(args, index, name, low, high, default=None, unit=""):
    """Argument `index` as an int within [low, high] (`unit` named in the error, as schema words every
    range); `default` when absent (None: required)."""
    if index >= len(args):
        if default is None:
            raise ProtocolError(BAD_ARG, name + " missing (" + schema.span(low, high, unit) + ")")
        return default
    text = args[index]
    digits = text[1:] if text[:1] == "-" else text
    value = int(text) if digits.isdigit() and len(digits) <= 9 else text
    try:
        return schema.whole(name, value, low, high, unit)
    except ValueError as exc:
        raise ProtocolError(BAD_ARG, str(exc.args[0])) from None


def choice(args, index, name, options):
    if index >= len(args) or args[index] not in options:
        got = "" if index >= len(args) else ", not " + repr(args[index])[:24]
        raise ProtocolError(BAD_ARG, name + " must be one of " + "|".join(options) + got)
    return args[index]


def no_more(args, count):
    if len(args) > count:
        raise ProtocolError(BAD_ARG, "unexpected " + repr(args[count])[:24])
