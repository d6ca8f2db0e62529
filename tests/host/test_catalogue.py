"""The board catalogue: every board the kits support passes its own check, wires every role it can and is
found by its USB ids. test_catalogue_on_board.py runs each on a virtual board of its chip."""

import pytest

from host_tools import BOARDS_DIR, boards, chips, wiring

# What the catalogue promises: each board, its chip, and the warnings its few pins make unavoidable
# (key -> kind); any other problem is a mistake in the file.
EXPECTED = {
    "esp32-devkitc": ("ESP32", {}),
    "esp32-s3-devkitc-1": ("ESP32-S3", {}),
    "esp32-c3-devkitm-1": ("ESP32-C3", {"pins.led": boards.STRAPPING_PIN}),
    "esp32-c3-supermini": ("ESP32-C3", {"pins.led": boards.STRAPPING_PIN, "pins.uart_tx": boards.CONSOLE_PIN,
                                        "pins.uart_rx": boards.CONSOLE_PIN}),
    "xiao-esp32c3": ("ESP32-C3", {"pins.led": boards.STRAPPING_PIN, "pins.uart_tx": boards.CONSOLE_PIN,
                                  "pins.uart_rx": boards.CONSOLE_PIN}),
    "xiao-esp32s3": ("ESP32-S3", {}),
    "lolin-s2-mini": ("ESP32-S2", {}),
}
# Roles a board may leave out for want of pins; the firmware treats them as absent.
OPTIONAL_ROLES = ("rc_engine", "motor_in1", "motor_in2", "shaker", *boards.I2S_ROLES)
# The boards that wire the I2S amplifier; the others say why not, and keep the buzzer as the engine's voice.
WITH_AMPLIFIER = {"esp32-devkitc", "esp32-s3-devkitc-1", "lolin-s2-mini"}
NATIVE_USB = {"303a:1001", "303a:4001", "303a:0002"}  # Espressif's own USB ids (ROM, USB-Serial/JTAG, CDC)
BRIDGES = {"10c4:ea60", "1a86:7523", "1a86:55d4", "1a86:55d3"}  # CP210x, CH340, CH9102, CH343


def test_the_catalogue_holds_exactly_the_promised_boards():
    assert sorted(p.stem for p in BOARDS_DIR.glob("*.toml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_board_passes_its_own_check_with_only_its_unavoidable_warnings(name):
    chip, warnings = EXPECTED[name]
    board = boards.load(name)
    assert board.chip_name == chip
    assert {p.key: p.kind for p in board.problems} == warnings
    assert all(p.severity == boards.WARNING and p.fix for p in board.problems)
    assert board.header is not None, "a catalogued board lists the GPIOs it breaks out"
    assert set(board.pins.values()) <= set(board.header)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_board_wires_every_role_and_says_why_an_optional_one_is_missing(name):
    board = boards.load(name)
    text = (BOARDS_DIR / (name + ".toml")).read_text()
    comments = " ".join(line.lstrip("# ") for line in text.splitlines() if line.startswith("#"))
    left_out = " ".join(note for note in comments.split(" - ") if note.startswith("Left out"))
    for role in boards.ROLES:
        if role not in board.pins:
            assert role in OPTIONAL_ROLES, role + " is needed on every board"
            assert role in left_out, "the wiring notes say why " + role + " is missing"
    if "motor_in1" not in board.pins:
        assert "motor_in2" not in board.pins
    for topic in ("own 5-6 V supply", "pull-down", "common ground"):
        assert topic in comments


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_board_with_room_wires_the_amplifier_and_a_shaker_on_pins_that_need_no_care(name):
    board = boards.load(name)
    psram = chips.modules()[board.module][1] if board.module else ()
    rules = boards.PinRules(board.chip, board.module, psram, board.header)
    amplifier = [role for role in boards.I2S_ROLES if role in board.pins]
    assert (amplifier == list(boards.I2S_ROLES)) == (name in WITH_AMPLIFIER)
    assert amplifier in ([], list(boards.I2S_ROLES)), "all three I2S lines or none"
    for role in amplifier:  # BCLK, LRCLK and DIN: never on a pin the chip drives at reset
        assert rules.warning(board.pins[role], output=True) is None
    free = rules.free(output=True, taken=set(board.pins.values()))  # outputs that need no care
    if not amplifier:
        assert len(free) < len(boards.I2S_ROLES), "room for the amplifier: wire it"
    if "shaker" not in board.pins:
        assert not free, "room for a shaker: wire it"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_board_is_found_by_the_usb_ids_it_shows_up_as(name):
    board = boards.load(name)
    assert board.usb_ids and set(board.usb_ids) <= NATIVE_USB | BRIDGES
    native = [u for u in board.usb_ids if u in NATIVE_USB]
    if board.chip_name == "ESP32":
        assert not native  # no USB of its own: only a bridge
    elif native and board.chip_name != "ESP32-S2":
        assert "303a:1001" in native  # C3 and S3 boot into their USB-Serial/JTAG for flashing
    known = boards.known_usb_ids()
    assert all(name in known[u] for u in board.usb_ids)


def test_every_chip_has_a_catalogued_board():
    assert {chip for chip, _ in EXPECTED.values()} == set(chips.CHIPS)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_board_lays_out_its_pins_as_printed_for_the_wiring_diagram(name):
    board = boards.load(name)
    pins = [pin for row in wiring.pinout(board) for pin in row]
    gpios = [pin.gpio for pin in pins if pin.gpio is not None]
    assert len(gpios) == len(set(gpios)), "each GPIO on one pin"
    onboard = {board.pins["led"]} if board.layout.get("onboard_led") else set()
    assert set(gpios) | onboard == set(board.header), "the layout holds every GPIO of the header"
    assert {"gnd", "5v", "3v3"} <= {pin.power for pin in pins}, "ground, 5 V and 3V3 pins to wire power to"
    assert all(gpio in gpios or gpio in onboard for gpio in board.pins.values())
    assert board.layout["top"], "which end of the board is at the top of the rows"


def test_a_layout_with_a_pin_that_is_not_printed_so_is_refused_with_its_place(tmp_path):
    text = (BOARDS_DIR / "xiao-esp32c3.toml").read_text()
    bad = tmp_path / "xiao-esp32c3.toml"
    text = text.replace('"D1=3"', '"D1"').replace('"D2=4"', '"D2=11"')  # not PRINT=GPIO; GPIO11 not broken out
    bad.write_text(text.replace("[layout]", "[layout]\nside = 1"))
    problems = {p.key: p for p in boards.problems_of(bad)}
    assert problems["layout.rows[0][1]"].severity == boards.ERROR and "PRINT=GPIO" in problems["layout.rows[0][1]"].fix
    assert problems["layout.rows[0][2]"].kind == boards.NOT_BROKEN_OUT
    assert problems["layout.side"].kind == boards.UNKNOWN_KEY
