"""Board files: loading by name or path, each chip's pin rules, and problems that name the file, the key
at fault and the fix."""

import subprocess

import machine
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from simboard import board as simulated

from host_tools import BOARDS_DIR, boards, chips
from host_tools.cli import cli
from host_tools.errors import BoardFileError
from tests.host.virtual import BIN

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
    ("ESP32-C3", "shaker = 22\n", "pins.shaker", "has no GPIO22"),
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
    errors = [p for p in problems if p.severity == boards.ERROR and p.key == "pins." + role]
    assert (errors == []) == simulator_accepts(chip_name, gpio, mode)


# -- each chip's rules: one file per chip with every kind of mistake that chip allows ------------------

E, W = boards.ERROR, boards.WARNING
# chip -> (module, [(role, GPIO, severity, kind)]); a kind the chip cannot have is left out (no input-only
# pins on the S3 and C3, no USB pins on the ESP32, no PSRAM beyond the flash pins on the S2 and C3).
MISTAKES = {
    "ESP32": ("ESP32-WROVER-E", [
        ("door_left", 20, E, boards.NO_SUCH_GPIO),
        ("door_right", 7, E, boards.FLASH_PIN),
        ("motor", 16, E, boards.PSRAM_PIN),
        ("buzzer", 36, E, boards.INPUT_ONLY),
        ("shaker", 39, E, boards.INPUT_ONLY),  # an output like the buzzer: the firmware drives it
        ("led", 12, W, boards.STRAPPING_PIN),
        ("uart_tx", 1, W, boards.CONSOLE_PIN),
        ("rc_throttle", 32, None, None),
        ("rc_door", 32, E, boards.USED_TWICE),
        ("rc_engine", 33, E, boards.NOT_BROKEN_OUT),
        ("motor_in1", 13, None, None),
        ("i2s_bck", 14, None, None),
        ("i2s_ws", 14, E, boards.USED_TWICE),  # BCLK and LRCLK on one pin: the amplifier never locks
        ("i2s_dout", 35, E, boards.INPUT_ONLY),  # the samples go out: no output driver, no sound
    ]),
    "ESP32-S2": ("ESP32-S2-WROVER", [
        ("door_left", 22, E, boards.NO_SUCH_GPIO),
        ("door_right", 27, E, boards.FLASH_PIN),
        ("uart_tx", 26, E, boards.NOT_IN_FIRMWARE),  # the PSRAM's chip select in the stock build
        ("buzzer", 46, E, boards.INPUT_ONLY),
        ("led", 45, W, boards.STRAPPING_PIN),
        ("motor", 19, W, boards.USB_PIN),
        ("uart_rx", 44, W, boards.CONSOLE_PIN),
        ("rc_throttle", 1, None, None),
        ("rc_door", 1, E, boards.USED_TWICE),
        ("rc_engine", 2, E, boards.NOT_BROKEN_OUT),
        ("motor_in2", 3, None, None),
    ]),
    "ESP32-S3": ("ESP32-S3-WROOM-1-N16R8", [
        ("door_left", 22, E, boards.NO_SUCH_GPIO),
        ("door_right", 30, E, boards.FLASH_PIN),
        ("motor", 35, E, boards.PSRAM_PIN),
        ("led", 0, W, boards.STRAPPING_PIN),
        ("buzzer", 20, W, boards.USB_PIN),
        ("uart_tx", 43, W, boards.CONSOLE_PIN),
        ("rc_throttle", 4, None, None),
        ("rc_door", 4, E, boards.USED_TWICE),
        ("rc_engine", 5, E, boards.NOT_BROKEN_OUT),
        ("motor_in1", 6, None, None),
        ("i2s_bck", 40, None, None),  # alone: an amplifier needs all three
    ]),
    "ESP32-C3": ("ESP32-C3-MINI-1", [
        ("door_left", 22, E, boards.NO_SUCH_GPIO),
        ("door_right", 14, E, boards.FLASH_PIN),
        ("led", 9, W, boards.STRAPPING_PIN),
        ("buzzer", 18, E, boards.NOT_IN_FIRMWARE),  # USB D-: the stock build's USB-Serial/JTAG console
        ("uart_rx", 20, W, boards.CONSOLE_PIN),
        ("rc_throttle", 3, None, None),
        ("rc_door", 3, E, boards.USED_TWICE),
        ("rc_engine", 4, E, boards.NOT_BROKEN_OUT),
        ("motor_in2", 5, None, None),
        ("i2s_bck", 6, None, None),
        ("i2s_ws", 8, W, boards.STRAPPING_PIN),
        ("i2s_dout", 7, None, None),
    ]),
}


def mistakes_file(tmp_path, chip_name):
    """A board file with every mistake of MISTAKES[chip_name]; its header leaves out the NOT_BROKEN_OUT pin."""
    module, pins = MISTAKES[chip_name]
    hidden = [gpio for _, gpio, _, kind in pins if kind == boards.NOT_BROKEN_OUT]
    header = [g for g in chips.CHIPS[chip_name].gpios if g not in hidden]
    extra = 'module = "' + module + '"\nheader = ' + str(header) + "\n"
    table = "".join(role + " = " + str(gpio) + "\n" for role, gpio, _, _ in pins)
    return write_board(tmp_path, board_text(chip=chip_name, pins=table, extra=extra))


def expected_problems(chip_name):
    _, pins = MISTAKES[chip_name]
    found = [("pins." + role, severity, kind) for role, _, severity, kind in pins if severity]
    wired = {role for role, _, _, _ in pins}
    for roles, kind in ((("motor_in1", "motor_in2"), boards.HALF_H_BRIDGE), (boards.I2S_ROLES, boards.PARTIAL_I2S)):
        if wired & set(roles):  # part of a group: each missing role is an error
            found += [("pins." + role, E, kind) for role in roles if role not in wired]
    return found


@pytest.mark.parametrize("chip_name", sorted(MISTAKES))
def test_each_kind_of_mistake_is_reported_once_with_its_key_and_a_fix(tmp_path, chip_name):
    path = mistakes_file(tmp_path, chip_name)
    problems = boards.problems_of(path)
    assert sorted((p.key, p.severity, p.kind) for p in problems) == sorted(expected_problems(chip_name))
    for problem in problems:
        assert str(problem).startswith(boards.summary(path, []).split(":")[0] + ": " + problem.key + ": ")
        assert problem.fix and ". Fix: " + problem.fix in str(problem)
    error = load_error(tmp_path, path.read_text())
    assert error.problems == [p for p in problems if p.severity == E]


def test_the_chips_together_make_every_kind_of_pin_mistake():
    kinds = {kind for chip_name in MISTAKES for _, _, kind in expected_problems(chip_name)}
    assert kinds == {boards.NO_SUCH_GPIO, boards.FLASH_PIN, boards.NOT_IN_FIRMWARE, boards.PSRAM_PIN,
                     boards.INPUT_ONLY, boards.NOT_BROKEN_OUT, boards.USED_TWICE, boards.HALF_H_BRIDGE,
                     boards.PARTIAL_I2S, boards.STRAPPING_PIN, boards.USB_PIN, boards.CONSOLE_PIN}


@pytest.mark.parametrize("chip_name", sorted(MISTAKES))
def test_boards_check_prints_every_problem_once_and_fails_on_errors(tmp_path, chip_name):
    path = mistakes_file(tmp_path, chip_name)
    result = CliRunner().invoke(cli, ["boards", "check", str(path)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    expected = expected_problems(chip_name)
    errors = sum(1 for _, severity, _ in expected if severity == E)
    assert len(lines) == len(expected) + 1
    for key, severity, _ in expected:
        assert sum(1 for line in lines if line.startswith(severity + ": " + str(path) + ": " + key + ": ")) == 1
    assert lines[-1] == (str(path) + ": " + str(errors) + " errors, " + str(len(expected) - errors)
                         + " warnings")


def test_boards_check_passes_a_file_with_warnings_only_and_prints_them(tmp_path):
    path = write_board(tmp_path, board_text(chip="ESP32-C3", pins="door_left = 9\ndoor_right = 4\n"))
    result = CliRunner().invoke(cli, ["boards", "check", str(path)])
    assert result.exit_code == 0
    assert result.output.startswith("warning: " + str(path) + ": pins.door_left: GPIO9 is a strapping pin")
    assert "BOOT button" in result.output and "door_right" not in result.output
    assert result.output.splitlines()[-1] == str(path) + ": 1 warning"


def test_boards_check_takes_catalogue_names_and_passes_the_whole_catalogue():
    result = CliRunner().invoke(cli, ["boards", "check", *(p.stem for p in BOARDS_DIR.glob("*.toml"))])
    assert result.exit_code == 0, result.output
    assert "error:" not in result.output
    assert "boards/esp32-devkitc.toml: no problems" in result.output.splitlines()


def test_boards_check_of_a_missing_file_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(cli, ["boards", "check", str(tmp_path / "nothing.toml")])
    assert result.exit_code == 2
    assert "error: no board file " in result.stderr


def test_a_warning_offers_the_free_pins_or_says_there_are_none(tmp_path):
    roomy = boards.problems_of(write_board(tmp_path, board_text(chip="ESP32", pins="motor = 2\n")))
    (problem,) = roomy
    assert "GPIO2 is a strapping pin of ESP32" in problem.message
    offered = [int(g) for g in problem.fix.split("(")[1].split(")")[0].split(", ")]
    assert offered and all(boards.PinRules(chips.CHIPS["ESP32"]).warning(g, True) is None for g in offered)
    full = boards.problems_of(write_board(tmp_path, board_text(
        chip="ESP32-C3", extra="header = [3, 9]\n", pins="door_left = 3\ndoor_right = 9\n")))
    (problem,) = full
    assert problem.key == "pins.door_right"
    assert problem.fix.endswith("no GPIO of this board that needs no care is free")


def test_a_gpio_stock_micropython_has_no_pin_for_is_an_error_with_free_pins_offered(tmp_path):
    # the C3 build's USB-Serial/JTAG console owns GPIO18/19: UART(1, tx=18, rx=19) raises "invalid pin"
    path = write_board(tmp_path, board_text(chip="ESP32-C3", pins="uart_tx = 18\nuart_rx = 19\n"))
    result = CliRunner().invoke(cli, ["boards", "check", str(path)])
    assert result.exit_code == 1
    for role, gpio in (("uart_tx", 18), ("uart_rx", 19)):
        line = next(ln for ln in result.output.splitlines() if ln.startswith("error: " + str(path) + ": pins." + role))
        assert "invalid pin: MicroPython for ESP32-C3 has no Pin(" + str(gpio) + ")" in line
        offered = [int(g) for g in line.split("Fix: free GPIOs for ")[1].split(": ")[1].split(", ")]
        assert offered and 18 not in offered and 19 not in offered
    assert result.output.splitlines()[-1] == str(path) + ": 2 errors"
    # with every clean pin taken, the fix names the pins that work with care
    full = load_error(tmp_path, board_text(chip="ESP32-C3", extra="header = [3, 9, 18]\n",
                                           pins="door_left = 3\ndoor_right = 18\n"))
    (problem,) = full.problems
    assert problem.kind == boards.NOT_IN_FIRMWARE and "free ones that need care: 9" in problem.fix


# -- modules: PSRAM pins follow from the module -----------------------------------------------------

@pytest.mark.parametrize("module, gpio, kind", [
    ("ESP32-WROOM-32E", 16, None),
    ("ESP32-WROVER-E", 16, boards.PSRAM_PIN),
    ("esp32-wrover-ie", 17, boards.PSRAM_PIN),  # names are matched whatever their case
])
def test_esp32_psram_pins_depend_on_the_module(tmp_path, module, gpio, kind):
    text = board_text(extra='module = "' + module + '"\n', pins="uart_tx = " + str(gpio) + "\n")
    problems = boards.problems_of(write_board(tmp_path, text))
    assert [p.kind for p in problems] == ([kind] if kind else [])
    if kind:
        assert "PSRAM of " + module.upper() in problems[0].message


@pytest.mark.parametrize("module, octal", [
    ("ESP32-S3-WROOM-1-N8", False), ("ESP32-S3-WROOM-1-N8R2", False), ("ESP32-S3-WROOM-1-N8R8", True),
    ("ESP32-S3-WROOM-1U-N16R8", True), ("ESP32-S3-WROOM-2-N32R8V", True), ("ESP32-S3R8", True),
])
def test_s3_octal_psram_takes_gpio33_to_37(tmp_path, module, octal):
    wired = {"door_left": 33, "door_right": 34, "motor": 35, "buzzer": 36, "led": 37, "uart_tx": 38}
    pins = "".join(role + " = " + str(gpio) + "\n" for role, gpio in wired.items())
    problems = boards.problems_of(write_board(tmp_path, board_text(chip="ESP32-S3", pins=pins,
                                                                   extra='module = "' + module + '"\n')))
    octal_roles = [role for role, gpio in wired.items() if 33 <= gpio <= 37]
    assert [(p.key, p.kind) for p in problems] == ([("pins." + r, boards.PSRAM_PIN) for r in octal_roles]
                                                   if octal else [])


def test_an_unknown_module_suggests_the_near_one_of_its_chip(tmp_path):
    error = load_error(tmp_path, board_text(chip="ESP32-S3", extra='module = "ESP32-S3-WROOM-1-N8R9"\n'))
    (problem,) = error.problems
    assert problem.key == "module" and problem.kind == boards.UNKNOWN_MODULE
    assert "'ESP32-S3-WROOM-1-N8R8'" in problem.fix and "ESP32-WROVER" not in problem.fix


def test_a_module_of_another_chip_is_named(tmp_path):
    error = load_error(tmp_path, board_text(chip="ESP32-S3", extra='module = "ESP32-WROVER-E"\n'))
    (problem,) = error.problems
    assert problem.key == "module" and problem.kind == boards.MODULE_OF_OTHER_CHIP
    assert 'chip = "ESP32"' in problem.fix


def test_header_entries_must_be_gpios_of_the_chip(tmp_path):
    error = load_error(tmp_path, board_text(chip="ESP32-C3", extra='header = [3, 22, "D4"]\n',
                                            pins="door_left = 3\n"))
    assert [(p.key, p.kind) for p in error.problems] == [("header[1]", boards.NO_SUCH_GPIO),
                                                           ("header[2]", boards.WRONG_TYPE)]


def test_led_polarity_is_kept(tmp_path):
    board = boards.load(write_board(tmp_path, board_text(extra="led_active_low = true\n", pins="led = 4\n")))
    assert board.led_active_low is True
    error = load_error(tmp_path, board_text(extra='led_active_low = "yes"\n'))
    assert error.problems[0].message == "must be true or false, not 'yes'"


# -- deploy and flash refuse a board file with errors -------------------------------------------------

def broken_board(tmp_path):
    return write_board(tmp_path, board_text(chip="ESP32-C3", pins="door_left = 14\n"))


def test_deploy_refuses_a_board_file_with_errors_and_leaves_the_board_alone(tmp_path, board):
    path = broken_board(tmp_path)
    result = subprocess.run([str(BIN / "gullwing"), "deploy", "--port", board.port, "--board", str(path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "myboard.toml: pins.door_left: invalid pin: GPIO14 is wired to the SPI flash" in result.stderr
    assert not (board.flash / "main.py").exists() and not (board.flash / "config.json").exists()


def test_flash_refuses_a_board_file_with_errors_before_reading_the_image_or_the_port(tmp_path):
    image = tmp_path / "micropython.bin"
    image.write_bytes(b"not an image")
    result = CliRunner().invoke(cli, ["flash", "--port", str(tmp_path / "no-such-port"), "--firmware", str(image),
                                      "--board", str(broken_board(tmp_path))])
    assert result.exit_code == 2
    assert "error: board file " in result.stderr and "pins.door_left" in result.stderr
    assert "micropython.bin" not in result.stderr and "no-such-port" not in result.stderr


def test_a_shaker_is_a_role_a_board_may_wire(tmp_path):
    board = boards.load(write_board(tmp_path, board_text(pins="shaker = 22\n")))
    assert board.pins["shaker"] == 22 and boards.ROLES["shaker"] == boards.OUTPUT


# -- the I2S amplifier: three outputs, all or none ---------------------------------------------------

@pytest.mark.parametrize("wired", [("i2s_bck",), ("i2s_ws", "i2s_dout"), ("i2s_dout",)])
def test_an_amplifier_wired_in_part_is_refused_naming_what_is_missing(tmp_path, wired):
    pins = "".join(role + " = " + str(gpio) + "\n" for role, gpio in zip(wired, (21, 22, 23), strict=False))
    error = load_error(tmp_path, board_text(pins=pins))
    missing = [role for role in boards.I2S_ROLES if role not in wired]
    assert [(p.key, p.kind) for p in error.problems] == [("pins." + role, boards.PARTIAL_I2S) for role in missing]
    for problem in error.problems:
        assert "an I2S amplifier needs all three signals and only " + " and ".join(wired) in problem.message
        assert problem.fix == ("add " + " and ".join(role + " = <GPIO>" for role in missing) + ", or remove "
                               + " and ".join(wired))
    assert "myboard.toml: pins." + missing[0] + ": missing: an I2S amplifier" in str(error)


def test_an_amplifier_wired_whole_or_not_at_all_is_accepted(tmp_path):
    whole = boards.load(write_board(tmp_path, board_text(pins="i2s_bck = 21\ni2s_ws = 22\ni2s_dout = 23\n")))
    assert [whole.pins[role] for role in boards.I2S_ROLES] == [21, 22, 23] and whole.problems == []
    assert all(boards.ROLES[role] == boards.OUTPUT for role in boards.I2S_ROLES)


@pytest.mark.parametrize("chip_name", sorted(chips.CHIPS))
def test_the_amplifier_takes_any_gpio_the_chip_can_drive_through_its_gpio_matrix(chip_name):
    chip = chips.CHIPS[chip_name]
    drivable = [g for g in chip.gpios if chip.pin_problem(g, True) is None]
    for first in range(len(drivable) - 2):
        pins = dict(zip(boards.I2S_ROLES, drivable[first:first + 3], strict=True))
        problems = boards.check({"name": "x", "chip": chip_name, "pins": pins}, "x.toml")
        assert [p for p in problems if p.severity == E] == []
        # a strapping, USB or UART0 pin works, with the same warning any output gets there
        for role, gpio in pins.items():
            warned = boards.PinRules(chip).warning(gpio, True)
            assert [p.kind for p in problems if p.key == "pins." + role] == ([warned[0]] if warned else [])


@pytest.mark.parametrize("chip, pins, key, words", [
    ("ESP32", "i2s_bck = 36\ni2s_ws = 22\ni2s_dout = 23\n", "pins.i2s_bck", "can only be input"),
    ("ESP32-S2", "i2s_bck = 21\ni2s_ws = 46\ni2s_dout = 33\n", "pins.i2s_ws", "can only be input"),
    ("ESP32-C3", "i2s_bck = 4\ni2s_ws = 5\ni2s_dout = 18\n", "pins.i2s_dout", "has no Pin(18)"),
    ("ESP32-S3", "i2s_bck = 4\ni2s_ws = 28\ni2s_dout = 6\n", "pins.i2s_ws", "SPI flash"),
    ("ESP32", "buzzer = 23\ni2s_bck = 21\ni2s_ws = 22\ni2s_dout = 23\n", "pins.i2s_dout",
     "already used by buzzer"),
])
def test_an_amplifier_line_on_a_pin_it_cannot_drive_is_refused_with_free_pins(tmp_path, chip, pins, key, words):
    error = load_error(tmp_path, board_text(chip=chip, pins=pins))
    (problem,) = error.problems
    assert problem.key == key and words in problem.message
    assert problem.fix.startswith("free GPIOs for outputs on " + chip + ": ")


def test_with_every_clean_pin_taken_the_fix_offers_to_leave_out_the_amplifier(tmp_path):
    error = load_error(tmp_path, board_text(chip="ESP32-C3", extra="header = [3, 4, 9]\n",
                                            pins="door_left = 3\nbuzzer = 4\nled = 20\n"))
    (problem,) = error.problems
    assert "i2s_bck/i2s_ws/i2s_dout" in problem.fix
