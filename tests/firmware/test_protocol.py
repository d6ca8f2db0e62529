"""Serial protocol v1, the pure framing: a request line read (id, verb, arguments, refusals), replies
and events written as one line each, and the argument checks every verb uses."""

import json

from fwtest import raises
from gullwing import protocol
from gullwing.protocol import BAD_ARG, TOO_LONG, UNKNOWN_VERB, ProtocolError


def _refused(line, code):
    """The ProtocolError parse() raises for `line`, checked for its code."""
    with raises(ProtocolError) as caught:
        protocol.parse(line)
    assert caught.value.code == code, (line, caught.value.code)
    return caught.value


# -- reading a request -----------------------------------------------------------------------------

def test_a_request_is_an_optional_id_a_verb_and_its_arguments():
    request = protocol.parse("#a7 door left to 45 1500")
    assert (request.id, request.verb, request.args) == ("a7", "door", ["left", "to", "45", "1500"])
    request = protocol.parse("ping")
    assert (request.id, request.verb, request.args) == (None, "ping", [])


def test_both_line_endings_bytes_and_text_read_the_same():
    for line in (b"#9 throttle 40\n", b"#9 throttle 40\r\n", b"#9 throttle 40", "#9 throttle 40\r\n",
                 bytearray(b"#9 throttle 40\n"), b"  #9   throttle\t40 \r\n"):
        request = protocol.parse(line)
        assert (request.id, request.verb, request.args) == ("9", "throttle", ["40"]), line


def test_the_verb_is_case_blind_the_arguments_are_not():
    request = protocol.parse("DOOR Left OPEN")
    assert request.verb == "door" and request.args == ["Left", "OPEN"]


def test_an_id_is_1_to_16_letters_digits_dashes_underscores_or_dots():
    for req_id in ("1", "Z", "a.b-c_9", "x" * 16):
        assert protocol.parse("#" + req_id + " ping").id == req_id
    for line in ("# ping", "#" + "x" * 17 + " ping", "#a/b ping", "#a:b ping", "#a+b ping", "#\"1\" ping"):
        error = _refused(line, BAD_ARG)
        assert error.req_id is None  # a bad id is never echoed
        assert "id" in error.message


def test_an_id_alone_is_an_empty_request_that_still_carries_the_id():
    error = _refused("#42\r\n", UNKNOWN_VERB)
    assert error.req_id == "42"
    for line in ("", "\n", "\r\n", "   \t "):
        assert _refused(line, UNKNOWN_VERB).req_id is None


def test_128_bytes_are_read_and_129_are_too_long_whatever_the_ending():
    longest = "ping" + " " * 124
    assert len(longest) == 128
    for ending in ("", "\n", "\r\n"):
        assert protocol.parse((longest + ending).encode()).verb == "ping"
        assert protocol.parse(longest + ending).verb == "ping"
        error = _refused(("#5 " + longest + ending).encode(), TOO_LONG)
        assert error.req_id is None and "128" in error.message
        _refused("#5 " + longest + ending, TOO_LONG)
    _refused(b"x" * 5000, TOO_LONG)


def test_a_line_is_judged_too_long_by_its_bytes_before_what_they_are():
    for odd in (b"\xff", b"\x00", b"\xc3\xa9", b"\x1b"):
        line = b"ping " + b"x" * (129 - 5 - len(odd)) + odd
        assert len(line) == 129
        for ending in (b"", b"\n", b"\r\n"):
            _refused(line + ending, TOO_LONG)
        _refused(line[1:], BAD_ARG)  # 128 bytes: read, and refused for what they hold
    _refused("ping " + "\u00e9" * 62, TOO_LONG)  # 124 characters of text, 129 bytes


def test_bytes_outside_printable_ascii_are_refused_naming_the_byte():
    for line, byte in ((b"ping\x00", 0), (b"door left open\x1b[A", 27), (b"ping\x7f", 127),
                       (b"door left open \xc3\xa9", 195), (b"#1 ping\x07\n", 7)):
        error = _refused(line, BAD_ARG)
        assert str(byte) in error.message and error.req_id is None, line


def test_text_gets_the_same_checks_as_bytes():
    # full-width digits are digits to str.isdigit() and int(): they must not pass for "45"
    for line in ("door left to 4\uff15", "ping\u00e9", "ping\x00", "ping\x1b"):
        _refused(line, BAD_ARG)


# -- writing replies and events --------------------------------------------------------------------

def test_ok_echoes_the_id_and_carries_one_json_object():
    assert protocol.ok(None) == "ok"
    assert protocol.ok("q1") == "#q1 ok"
    payload = {"left": {"angle": 45, "state": "stopped"}, "events": True, "problems": []}
    line = protocol.ok("q2", payload)
    assert line.startswith("#q2 ok {") and "\n" not in line
    assert json.loads(line[len("#q2 ok "):]) == payload


def test_err_echoes_the_id_then_code_then_message():
    assert protocol.err(None, BAD_ARG, "angle must be 0..180, not 200") == "err bad_arg angle must be 0..180, not 200"
    assert protocol.err("7", UNKNOWN_VERB, "no") == "#7 err unknown_verb no"


def test_an_event_is_evt_a_name_and_one_json_object():
    payload = {"side": "left", "state": "open", "angle": 90}
    line = protocol.event("door", payload)
    assert line.startswith("evt door {") and "\n" not in line
    assert json.loads(line[len("evt door "):]) == payload


def test_the_error_codes_are_the_seven_of_protocol_v1():
    codes = (protocol.UNKNOWN_VERB, protocol.BAD_ARG, protocol.TOO_LONG, protocol.BUSY, protocol.NOT_READY,
             protocol.FAULT, protocol.DENIED)
    assert codes == ("unknown_verb", "bad_arg", "too_long", "busy", "not_ready", "fault", "denied")


# -- argument helpers ------------------------------------------------------------------------------

def test_integer_takes_whole_numbers_in_range_and_a_default_when_absent():
    assert protocol.integer(["12", "0", "007", "100"], 0, "ms", 0, 100) == 12
    assert protocol.integer(["12", "0", "007", "100"], 1, "ms", 0, 100) == 0
    assert protocol.integer(["12", "0", "007", "100"], 2, "ms", 0, 100) == 7
    assert protocol.integer(["12", "0", "007", "100"], 3, "ms", 0, 100) == 100
    assert protocol.integer(["-20"], 0, "trim", -200, 200) == -20
    assert protocol.integer([], 0, "ms", 20, 60_000, 250) == 250
    assert protocol.integer(["x"], 1, "ms", 20, 60_000, -1) == -1


def test_integer_refuses_anything_else_naming_the_argument_and_the_value():
    for text in ("1.5", "1e3", "0x10", "+5", "--1", "5%", "", "-", "1234567890", "one"):
        with raises(ProtocolError, "throttle") as caught:
            protocol.integer([text], 0, "throttle", 0, 100)
        assert caught.value.code == BAD_ARG
        assert "whole number" in caught.value.message, text
    for text in ("101", "-1", "999999999"):
        with raises(ProtocolError, "throttle must be 0..100, got " + text):
            protocol.integer([text], 0, "throttle", 0, 100)
    with raises(ProtocolError, "throttle missing (0..100)"):
        protocol.integer([], 0, "throttle", 0, 100)


def test_choice_takes_one_of_the_options_and_names_them_when_not():
    assert protocol.choice(["both"], 0, "door", ("left", "right", "both")) == "both"
    with raises(ProtocolError, "door must be one of left|right|both, not 'middle'") as caught:
        protocol.choice(["middle"], 0, "door", ("left", "right", "both"))
    assert caught.value.code == BAD_ARG
    with raises(ProtocolError, "events must be one of on|off"):
        protocol.choice([], 0, "events", ("on", "off"))


def test_no_more_names_the_first_extra_argument():
    protocol.no_more(["on"], 1)
    with raises(ProtocolError, "unexpected 'please'") as caught:
        protocol.no_more(["on", "please", "now"], 1)
    assert caught.value.code == BAD_ARG
