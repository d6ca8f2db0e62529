"""Configuration as a user meets it: config.json checked key by key and range by range, `config
get|set|save|reset` over the protocol, settings that survive a restart and a power loss mid-save,
and the boot's problems reported in `status` and as one `evt config`."""

import json

import test_app
from gullwing import app, config
from gullwing.settings import Settings
from simboard import board
from test_app import PINS, _app, _err, _ok, _run, _say, _settle, _state_dir, _status

setup_function = test_app.setup_function  # a fresh board; the state folders removed after each test
teardown_function = test_app.teardown_function


def _restart(state):
    board.reset("ESP32")  # power off and on
    return _app(state_dir=state)


def _message(a, line):
    reply = _say(a, line)
    assert reply.startswith("err bad_arg "), (line, reply)
    return reply


# -- the schema and the ranges ---------------------------------------------------------------------

def test_wrong_types_and_numbers_out_of_range_are_named_with_the_range():
    problems = []
    cfg = config.merge(config.DEFAULTS, {"pins": PINS, "doors": {"stagger_ms": 9000, "together": 1,
                                                                   "left": {"min_us": 2950, "trim_us": -300}},
                                         "voice": {"volume": 101}, "motor": "pwm", "rc": {"deadband_us": "40"}},
                       "", problems)
    for expected in ("doors.stagger_ms must be 0..5000 ms, got 9000", "doors.together: expected bool, got int",
                     "doors.left.min_us must be 100..2900 us, got 2950",
                     "doors.left.trim_us must be -200..200 us, got -300",
                     "voice.volume must be 0..100 %, got 101", "motor must be mosfet|hbridge, got 'pwm'",
                     "rc.deadband_us: expected int, got str"):
        assert expected in problems, (expected, problems)
    assert len(problems) == 7, problems
    assert cfg["doors"]["together"] is True  # the wrong type is ignored
    assert cfg["engine"] == config.DEFAULTS["engine"]


def test_every_number_in_the_schema_has_a_range():
    def numbers(section, where):
        for key, value in section.items():
            name = where + key
            if isinstance(value, dict):
                if name != "pins":
                    yield from numbers(value, name + ".")
            elif isinstance(value, int) and not isinstance(value, bool):
                yield name

    missing = [key for key in numbers(config.DEFAULTS, "") if key not in config.RANGES]
    assert missing == []
    for key, (lo, hi) in config.RANGES.items():  # and the car's own figures are within them
        assert lo <= config.get(config.DEFAULTS, key) <= hi, key


def test_a_door_value_out_of_range_in_config_json_stops_the_doors_and_says_why():
    path = _state_dir() + "/config.json"
    with open(path, "w") as f:
        json.dump({"pins": PINS, "doors": {"left": {"open_deg": 200}}}, f)
    cfg, problems = config.load(path)
    a = app.App(cfg, 0, _state_dir(), problems)
    status = _status(a)
    assert "doors: open_deg must be 1..135 deg (travel_deg 180 less closed_deg 45), got 200" in status["problems"]
    assert status["doors"] is None
    assert _err(a, "door both open") == "not_ready"
    _run(a, 500)
    assert board.trace.rows(PINS["door_left"]) == []


def test_the_boot_s_problems_come_once_as_a_config_event_when_events_go_on():
    a = _app({"pins": PINS, "doorz": {}, "engine": {"idle_rpm": 5}})
    assert a.outbox == []  # nothing is said before it is asked for
    _ok(a, "events on")
    events = [line for line in a.outbox if line.startswith("evt config ")]
    assert len(events) == 1
    problems = json.loads(events[0][len("evt config "):])["problems"]
    assert problems == _status(a)["problems"]
    assert "doorz: unknown key" in problems and "engine.idle_rpm must be 600..1500 rpm, got 5" in problems
    a.outbox.clear()
    _ok(a, "events off")
    _ok(a, "events on")
    assert a.outbox == []
    board.reset("ESP32")
    clean = _app()
    _ok(clean, "events on")
    assert clean.outbox == []


# -- config get / set ------------------------------------------------------------------------------

def test_config_get_reads_a_key_a_section_or_the_settings_changed():
    a = _app()
    assert _ok(a, "config get doors.left.open_deg") == {"doors.left.open_deg": 90}
    assert _ok(a, "config get doors.right")["doors.right"]["reversed"] is True
    assert _ok(a, "config get pins") == {"pins": PINS}
    assert _ok(a, "config get") == {"settings": {}, "saved": True}
    _ok(a, "config set doors.stagger_ms 100")
    assert _ok(a, "config get") == {"settings": {"doors.stagger_ms": 100}, "saved": False}
    for line in ("config get doors.left.nope", "config get nope", "config get doors.left.open_deg x", "config",
                 "config put x 1"):
        assert _err(a, line) == "bad_arg", line


def test_a_bad_key_or_value_is_refused_with_the_key_and_range_and_changes_nothing():
    a = _app()
    before = _ok(a, "config get doors")
    for line, words in (("config set doors.stagger_ms 9000", ("doors.stagger_ms", "0..5000", "9000")),
                        ("config set doors.left.min_us 50", ("doors.left.min_us", "100..2900")),
                        ("config set doors.left.open_deg wide", ("doors.left.open_deg", "1..180 deg", "wide")),
                        ("config set doors.together maybe", ("doors.together", "true|false")),
                        ("config set doors.left.max_us 550",
                         ("doors.left.max_us must be 600..3000 us", "doors.left.min_us 500")),
                        ("config set engine.idle_rpm 1e3", ("engine.idle_rpm", "600..1500")),
                        ("config set motor pwm", ("motor", "mosfet|hbridge")),
                        ("config set pins.door_left 4", ("pins.door_left", "not a setting")),
                        ("config set board az1", ("board", "not a setting")),
                        ("config set doors 1", ("doors", "not a setting")),
                        ("config set doors.left.open_deg", ("config set <key> <value>",)),
                        ("config set doors.left.open_deg 60 now", ("now",))):
        message = _message(a, line)
        for word in words:
            assert word in message, (line, message)
    assert _ok(a, "config get doors") == before
    assert _ok(a, "config get") == {"settings": {}, "saved": True}


def test_a_value_gets_the_same_range_wherever_it_is_caught():
    a = _app()
    for deg in (200, 170):  # once "1..180" from config and "from 1 to 135" from the servo
        message = _message(a, "config set doors.left.open_deg " + str(deg))
        assert message == ("err bad_arg doors.left.open_deg must be 1..135 deg (doors.left.travel_deg 180 less"
                           " closed_deg 45), got " + str(deg)), message
    assert _message(a, "throttle 400") == "err bad_arg throttle must be 0..100, got 400"  # the protocol's words too


def test_settings_that_contradict_each_other_are_refused_naming_both_keys_and_change_nothing():
    a = _app()
    for line, words in (("config set rc.min_us 2000", ("rc.max_us", "rc.min_us 2000")),  # above neutral 1500
                        ("config set rc.neutral_us 1950", ("rc.neutral_us", "max_us 2000", "deadband_us")),
                        ("config set rc.max_us 1550", ("rc.neutral_us", "max_us 1550")),
                        ("config set voice.motor_max 10000", ("voice.motor_max", "voice.motor_min 16000")),
                        ("config set doors.left.closed_deg 200", ("doors.left.closed_deg", "travel_deg 180"))):
        message = _message(a, line)
        for word in words:
            assert word in message, (line, message)
    assert _ok(a, "config get") == {"settings": {}, "saved": True}
    assert _ok(a, "config get rc") == {"rc": config.DEFAULTS["rc"]}


def test_the_shaker_s_strength_is_a_setting_checked_like_every_other():
    a = _app()
    assert _ok(a, "config set voice.shake 40") == {"voice.shake": 40, "restart": True}
    assert "voice.shake must be 0..100 %, got 101" in _message(a, "config set voice.shake 101")
    problems = []
    config.merge(config.DEFAULTS, {"voice": {"shake": -1}}, "", problems)
    assert problems == ["voice.shake must be 0..100 %, got -1"]


def test_a_door_setting_takes_effect_at_once_at_rest_and_is_busy_while_the_door_moves():
    a = _app()
    assert _ok(a, "config set doors.left.open_deg 45") == {"doors.left.open_deg": 45}
    _ok(a, "door both open")
    _settle(a)
    doors = _status(a)["doors"]
    assert doors["left"] == {"state": "open", "angle": 45} and doors["right"] == {"state": "open", "angle": 90}
    assert _err(a, "door left to 60") == "bad_arg"  # beyond the new open end
    _ok(a, "door left close")
    _run(a, 200)
    assert _err(a, "config set doors.left.open_deg 80") == "busy"
    assert _ok(a, "config get doors.left.open_deg") == {"doors.left.open_deg": 45}
    _ok(a, "config set doors.right.open_deg 80")  # the other door rests: fine
    _settle(a)
    assert _ok(a, "config set engine.idle_rpm 1000") == {"engine.idle_rpm": 1000, "restart": True}


# -- saving ----------------------------------------------------------------------------------------

def test_saved_settings_survive_a_restart_and_win_over_config_json():
    state = _state_dir()
    a = _app(state_dir=state)
    _ok(a, "config set doors.left.open_deg 60")
    _ok(a, "config set doors.together false")
    assert _ok(a, "config save") == {"saved": 2}
    _ok(a, "config set doors.hold_ms 300")  # not saved: gone after the restart
    a = _restart(state)
    assert _ok(a, "config get") == {"settings": {"doors.left.open_deg": 60, "doors.together": False},
                                    "saved": True}
    assert _ok(a, "config get doors.left.open_deg") == {"doors.left.open_deg": 60}
    assert _ok(a, "config get doors.hold_ms") == {"doors.hold_ms": 1000}
    _ok(a, "door left open")
    _settle(a)
    assert _status(a)["doors"]["left"] == {"state": "open", "angle": 60}
    assert "problems" not in _status(a)
    assert _ok(a, "config reset") == {"restart": True}
    a = _restart(state)
    assert _ok(a, "config get doors.left.open_deg") == {"doors.left.open_deg": 90}
    assert _ok(a, "config get") == {"settings": {}, "saved": True}


def test_a_saved_setting_that_no_longer_checks_out_is_reported_and_the_rest_used():
    state = _state_dir()
    s = Settings(state)
    s.values = {"doors.stagger_ms": 9999, "doors.hold_ms": 300, "pins.motor": 4, "doors.wings": 2}
    s.save()
    a = _app(state_dir=state)
    problems = _status(a)["problems"]
    assert "settings: doors.stagger_ms must be 0..5000 ms, got 9999" in problems
    assert any("'pins.motor'" in p for p in problems) and any("'doors.wings'" in p for p in problems)
    assert _ok(a, "config get doors.hold_ms") == {"doors.hold_ms": 300}
    assert _ok(a, "config get doors.stagger_ms") == {"doors.stagger_ms": 40}
    assert _ok(a, "config get pins") == {"pins": PINS}
    _ok(a, "door both open")  # the doors work with the rest


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def _write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def test_a_settings_save_cut_short_at_any_byte_never_loses_the_last_good_settings():
    state = _state_dir()
    a = _app(state_dir=state)
    for deg in (70, 60):
        _ok(a, "config set doors.left.open_deg " + str(deg))
        _ok(a, "config save")
    _ok(a, "config set doors.left.open_deg 50")
    paths = a.settings.store.paths
    before = [_read(path) for path in paths]
    _ok(a, "config save")
    after = [_read(path) for path in paths]
    written = [i for i in (0, 1) if after[i] != before[i]]
    assert len(written) == 1  # one slot written, the other untouched
    slot, old, new = paths[written[0]], before[written[0]], after[written[0]]
    cfg = config.merge(config.DEFAULTS, {"pins": PINS}, "", [])
    for cut in range(len(new) + 1):
        torn_new = new[:cut] + b"\xff"[:1 if cut < len(new) else 0]  # a garbled byte where it stopped
        for torn in (new[:cut], new[:cut] + old[cut:], torn_new):
            _write(slot, torn)
            problems = []
            got = config.get(Settings(state).over(cfg, problems), "doors.left.open_deg")
            assert got == (50 if torn == new else 60) and problems == [], (cut, got, problems)
    _write(slot, new[:len(new) // 2])  # and the whole app boots with the last good settings
    a = _restart(state)
    assert _ok(a, "config get doors.left.open_deg") == {"doors.left.open_deg": 60}
    assert "problems" not in _status(a)



# -- files a small heap cannot parse ---------------------------------------------------------------

def test_a_config_json_too_large_nested_too_deep_or_a_folder_is_reported_and_the_defaults_used():
    state = _state_dir()
    path = state + "/config.json"
    for text, problem in (('{"board": "' + "x" * 9000 + '"}', path + ": over 8 KB, not read"),
                          ('{"doors": ' + "[" * 3000 + "]" * 3000 + "}",
                           path + ": not valid JSON (nested more than 6 levels deep)")):
        _write(path, text.encode())
        cfg, problems = config.load(path)
        assert problems == [problem] and cfg == config.DEFAULTS
    import os

    os.remove(path)
    os.mkdir(path)  # a folder where the file should be
    cfg, problems = config.load(path)
    assert problems == [path + ": not a readable file"] and cfg == config.DEFAULTS
    os.rmdir(path)


def test_a_settings_record_with_a_valid_crc_but_nested_json_is_set_aside_and_config_json_used():
    from gullwing import store

    state = _state_dir()
    s = Settings(state)
    _write(s.store.paths[0], store.frame(5, b'{"doors.left.open_deg": ' + b"[" * 1500 + b"]" * 1500 + b"}"))
    problems = []
    cfg = config.merge(config.DEFAULTS, {"pins": PINS}, "", [])
    assert config.get(s.over(cfg, problems), "doors.left.open_deg") == 90
    assert problems == ["settings: not a settings record, set aside as " + s.store.paths[0] + ".bad; "
                        "config.json alone is used"]
    assert _read(s.store.paths[0]) == b"" and _read(s.store.paths[0] + ".bad") != b""  # kept for inspection
    s.set("doors.left.open_deg", 70)
    s.save()  # the next save starts afresh
    problems = []
    assert config.get(Settings(state).over(cfg, problems), "doors.left.open_deg") == 70 and problems == []


# -- the text settings: WiFi and the page's PIN ----------------------------------------------------

def test_text_settings_are_checked_by_length_and_characters_and_a_secret_is_never_repeated():
    a = _app()
    for line, words in (("config set wifi.mode mesh", "wifi.mode must be ap|sta|off, got 'mesh'"),
                        ("config set wifi.name AZ/1", "wifi.name must be 1..26 characters A-Z a-z 0-9 - _, got 'AZ/1'"),
                        ("config set wifi.name " + "A" * 27, "wifi.name must be 1..26"),
                        ("config set wifi.name \"\"", "wifi.name must be 1..26"),  # a name is needed
                        ("config set web.pin 12a4", 'web.pin must be "" or 4..8 digits, got 4 characters'),
                        ("config set web.pin 123", 'web.pin must be "" or 4..8 digits, got 3 characters'),
                        ("config set wifi.ap_password short", 'wifi.ap_password must be "" or 8..63 printable ASCII '
                                                              "characters, got 5 characters")):
        message = _message(a, line)
        assert words in message, (line, message)
        assert "12a4" not in message and "short" not in message, message  # a secret is never echoed
    assert _ok(a, "config get") == {"settings": {}, "saved": True}


def test_config_get_and_set_show_a_secret_as_stars_and_status_never_carries_it():
    a = _app()
    assert _ok(a, "config get web.pin") == {"web.pin": ""}
    assert _ok(a, "config set web.pin 2468") == {"web.pin": "***", "restart": True}
    assert _ok(a, "config set wifi.password hunter2hunter2") == {"wifi.password": "***", "restart": True}
    assert _ok(a, "config set wifi.ssid Home") == {"wifi.ssid": "Home", "restart": True}
    assert _ok(a, "config get web.pin") == {"web.pin": "***"}
    assert _ok(a, "config get wifi") == {"wifi": {"mode": "ap", "name": "AZ-1", "ssid": "Home", "password": "***",
                                                  "ap_password": ""}}
    assert _ok(a, "config get") == {"settings": {"web.pin": "***", "wifi.password": "***", "wifi.ssid": "Home"},
                                    "saved": False}
    for line in ("status", "config get", "config get wifi", "help"):
        reply = _say(a, line)
        assert "2468" not in reply and "hunter2" not in reply, (line, reply)


def test_a_pin_set_works_from_the_next_start_and_an_empty_one_clears_it():
    state = _state_dir()
    a = _app(state_dir=state)
    _ok(a, "config set web.pin 2468")
    _ok(a, "config save")
    assert not a.access.needs_pin()  # the next start's
    a = _restart(state)
    assert a.access.needs_pin() and a.access.login("2468", 0)[0] is not None
    assert _ok(a, 'config set web.pin ""') == {"web.pin": "", "restart": True}
    _ok(a, "config save")
    a = _restart(state)
    assert not a.access.needs_pin()


def test_wifi_settings_in_config_json_are_checked_like_the_rest():
    problems = []
    cfg = config.merge(config.DEFAULTS, {"pins": PINS, "wifi": {"mode": "sta", "ssid": "Home", "ap_password": "x",
                                                                "channel": 6}, "web": {"pin": 1234}}, "", problems)
    assert problems == ['wifi.ap_password must be "" or 8..63 printable ASCII characters, got 1 character',
                        "wifi.channel: unknown key", "web.pin: expected str, got int"], problems
    assert cfg["wifi"]["mode"] == "sta" and cfg["web"]["pin"] == ""
