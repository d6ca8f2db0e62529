"""Board files: loading by name or path, and errors that name the file and the key at fault."""

import machine
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from simboard import board as simulated

from host_tools import BOARDS_DIR, boards
from host_tools.cli import cli
from host_tools.errors import BoardFileError
from host_tools.sim import chips

DEVKITC = (BOARDS_DIR / "esp32-devkitc.toml").read_text()


def write_board(tmp_path, text, name="myboard"):
    path = tmp_path / (name + ".toml")
    path.write_text(text)
    return path


def board_text(chip="ESP32", pins="door_left = 18\n", name="myboard", extra=""):
    return 'name = "' + name + '"\ntitle = "Test board"\nchip = "' + chip + '"\n' + extra + "\n[pins]\n" + pins


def load_error(tmp_path, text):
    with pytest.raises(BoardFileError) as info:
        boards.load(write_board(tmp_path, text))
    return info.value


def test_the_default_board_loads_by_name_and_by_path_alike():
    by_default = boards.load()
    by_path = boards.load(BOARDS_DIR / "esp32-devkitc.toml")
    assert by_default.name == by_path.name == "esp32-devkitc"
    assert by_default.chip is chips.CHIPS["ESP32"]
    assert by_default.pins == by_path.pins
    assert by_default.usb_ids == by_path.usb_ids
    assert "10c4:ea60" in by_default.usb_ids  # the CP2102 bridge, per the file's comment
    assert by_default.problems == []


def test_role_of_and_label_name_pins_as_the_board_file_does():
    board = boards.load()
    for role, gpio in board.pins.items():
        assert board.role_of(gpio) == role
        assert board.label(gpio) == role + " (GPIO" + str(gpio) + ")"
    unused = next(g for g in board.chip.gpios if g not in board.pins.values())
    assert board.role_of(unused) is None
    assert board.label(unused) == "GPIO" + str(unused)


def test_every_board_file_in_the_catalogue_is_valid():
    found, broken = boards.catalogue()
    assert broken == []
    assert sorted(b.name for b in found) == sorted(p.stem for p in BOARDS_DIR.glob("*.toml"))


def test_boards_list_prints_name_chip_and_title():
    result = CliRunner().invoke(cli, ["boards", "list"])
    assert result.exit_code == 0
    line = next(ln for ln in result.output.splitlines() if ln.startswith("esp32-devkitc "))
    assert line.split()[1] == "ESP32"
    assert line.endswith(boards.load().title)


def test_boards_list_reports_a_broken_file_and_still_lists_the_rest(tmp_path, monkeypatch):
    write_board(tmp_path, DEVKITC, "esp32-devkitc")
    write_board(tmp_path, board_text(chip="ESP32-Z9"))
    monkeypatch.setattr(boards, "BOARDS_DIR", tmp_path)
    result = CliRunner().invoke(cli, ["boards", "list"])
    assert result.exit_code == 2
    assert "esp32-devkitc" in result.stdout and "myboard" not in result.stdout
    assert "error: board file " in result.stderr and "myboard.toml: chip: unknown chip 'ESP32-Z9'" in result.stderr


def test_an_unknown_board_name_lists_the_known_ones():
    with pytest.raises(BoardFileError) as info:
        boards.load("esp32-devkit")
    assert "esp32-devkit.toml" in str(info.value)
    assert "esp32-devkitc" in info.value.hint


def test_a_file_that_is_not_toml_says_where(tmp_path):
    error = load_error(tmp_path, 'name = "myboard"\nchip = ESP32\n')
    assert "myboard.toml" in str(error) and "line 2" in str(error)


def test_unknown_key_is_named_with_a_suggestion(tmp_path):
    error = load_error(tmp_path, board_text(extra='usb_id = ["10c4:ea60"]\n'))
    (problem,) = error.problems
    assert problem.key == "usb_id" and problem.message == "unknown key"
    assert "'usb_ids'" in problem.fix
    assert "myboard.toml: usb_id: unknown key" in str(error)


def test_wrong_types_are_named(tmp_path):
    error = load_error(tmp_path, board_text(extra='usb_ids = "10c4:ea60"\n', pins='door_left = "18"\nled = true\n'))
    keys = {p.key: p.message for p in error.problems}
    assert keys["usb_ids"].startswith("must be a list")
    assert keys["pins.door_left"] == "must be a GPIO number, not '18'"
    assert keys["pins.led"] == "must be a GPIO number, not True"


def test_a_malformed_usb_id_is_named(tmp_path):
    error = load_error(tmp_path, board_text(extra='usb_ids = ["10c4:ea60", "10c4-ea60"]\n'))
    assert [p.key for p in error.problems] == ["usb_ids[1]"]


def test_missing_required_keys(tmp_path):
    error = load_error(tmp_path, 'name = "myboard"\n')
    assert {p.key for p in error.problems} == {"chip", "pins"}


def test_the_name_must_match_the_file(tmp_path):
    error = load_error(tmp_path, board_text(name="otherboard"))
    assert error.problems[0].key == "name"
    assert 'name = "myboard"' in error.problems[0].fix


def test_unknown_chip_lists_the_known_ones(tmp_path):
    error = load_error(tmp_path, board_text(chip="ESP32-Z9"))
    (problem,) = error.problems
    assert problem.key == "chip"
    assert "ESP32-Z9" in problem.message
    for name in chips.CHIPS:
        assert name in problem.fix


def test_unknown_role_suggests_the_near_one(tmp_path):
    error = load_error(tmp_path, board_text(pins="door_lefft = 18\n"))
    (problem,) = error.problems
    assert problem.key == "pins.door_lefft" and "'door_left'" in problem.fix


@pytest.mark.parametrize("chip, pins, key, words", [
    ("ESP32", "door_left = 20\n", "pins.door_left", "has no GPIO20"),
    ("ESP32", "motor = 7\n", "pins.motor", "SPI flash"),
    ("ESP32", "door_right = 34\n", "pins.door_right", "can only be input"),
    ("ESP32-S3", "door_left = 27\n", "pins.door_left", "SPI flash"),
    ("ESP32-C3", "buzzer = 22\n", "pins.buzzer", "has no GPIO22"),
    ("ESP32", "door_left = 18\ndoor_right = 18\n", "pins.door_right", "already used by door_left"),
])
def test_pin_errors_name_the_role_and_offer_free_pins(tmp_path, chip, pins, key, words):
    error = load_error(tmp_path, board_text(chip=chip, pins=pins))
    (problem,) = error.problems
    assert problem.key == key and words in problem.message
    assert problem.fix.startswith("free GPIOs for outputs on " + chip + ": ")
    offered = [int(g) for g in problem.fix.split(": ")[1].split(", ")]
    chip_facts = chips.CHIPS[chip]
    assert offered and all(chip_facts.pin_problem(g, True) is None for g in offered)
    assert "myboard.toml: " + key + ": " in str(error)


def test_input_roles_may_use_input_only_pins(tmp_path):
    board = boards.load(write_board(tmp_path, board_text(pins="rc_throttle = 34\nrc_door = 39\n")))
    assert board.role_of(39) == "rc_door"


def test_every_error_of_a_file_is_reported_at_once(tmp_path):
    error = load_error(tmp_path, board_text(chip="ESP32", extra="colour = 1\n", pins="door_left = 6\nled = 34\n"))
    assert [p.key for p in error.problems] == ["colour", "pins.door_left", "pins.led"]
    assert "3 errors" in str(error)


def simulator_accepts(chip_name, gpio, mode):
    simulated.reset(chip_name)
    try:
        machine.Pin(gpio, mode)
    except ValueError:
        return False
    return True


@given(chip_name=st.sampled_from(sorted(chips.CHIPS)), gpio=st.integers(0, 49),
       role=st.sampled_from(sorted(boards.ROLES)))
def test_a_pin_the_simulator_refuses_is_a_pin_the_board_check_refuses(chip_name, gpio, role):
    mode = machine.Pin.OUT if boards.ROLES[role] == boards.OUTPUT else machine.Pin.IN
    problems = boards.check({"name": "x", "chip": chip_name, "pins": {role: gpio}}, "x.toml")
    assert (problems == []) == simulator_accepts(chip_name, gpio, mode)
