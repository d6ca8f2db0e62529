"""What a builder gets from `gullwing kit`: a wiring diagram for every catalogued board, a bill of materials
that lists every part the model needs, and only kits that exist."""

import re
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from host_tools import BOARDS_DIR, ROOT, boards, kit, wiring
from host_tools.cli import cli

CATALOGUE = sorted(p.stem for p in BOARDS_DIR.glob("*.toml"))


def build(*args):
    result = CliRunner().invoke(cli, ["kit", "build", *map(str, args)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def svg_texts(path):
    """Every piece of text in an SVG: what a reader (or a search) finds in the picture."""
    root = ET.parse(path).getroot()  # raises on a malformed SVG
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return ["".join(node.itertext()).strip() for node in root.iter("{http://www.w3.org/2000/svg}text")]


@pytest.mark.parametrize("board_name", CATALOGUE)
def test_every_catalogued_board_gets_a_diagram_with_its_pins_as_printed_ground_and_power(board_name, tmp_path):
    result = build("az1-1to8", "--board", board_name, "-o", tmp_path)
    assert result.exit_code == 0, result.output
    texts = svg_texts(tmp_path / "wiring.svg")
    joined = "\n".join(texts)
    board = boards.load(board_name)
    printed = {pin.gpio: pin.label for row in wiring.pinout(board) for pin in row if pin.gpio is not None}
    onboard_led = bool(board.layout.get("onboard_led"))
    for role, gpio, *_ in wiring.connections(kit.load("az1-1to8").on_board(board)):
        assert printed[gpio] in texts, "the pin of " + role + " as printed on the board"
        assert printed[gpio] + ": GPIO" + str(gpio) + "  " + role in joined, "the wire of " + role + " is named"
    for role in ("door_left", "door_right", "motor", "uart_tx", "uart_rx", "rc_throttle", "rc_door"):
        assert "GPIO" + str(board.pins[role]) + "  " + role in joined
    voice = boards.I2S_ROLES if board.amplifier else ("buzzer",)  # the amplifier, or else the buzzer
    for role in voice:
        assert "GPIO" + str(board.pins[role]) + "  " + role in joined
    assert ("I2S amplifier MAX98357A" in joined) == board.amplifier
    assert ("Buzzer NPN" in joined) != board.amplifier
    if "led" in board.pins:
        assert ("GPIO" + str(board.pins["led"]) + "  led") in joined
        assert ("on the board" in joined) == onboard_led
    assert {"GND", "G"} & set(texts), "the board's ground pin"
    assert {"5V", "VBUS"} & set(texts), "the board's 5 V pin"
    assert "GND" in texts and "5 V rail" in texts  # both drawn as wires to every part
    assert "- (brown)" in texts and "+ (red)" in texts  # the servos' power leads
    assert "band = cathode" in joined  # the flyback diode's polarity; the buzzer's NPN or the speaker's leads
    assert any("flat face" in t for t in texts) if not board.amplifier else {"+", "-"} <= set(texts)
    assert (tmp_path / "wiring.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert '"board": "' + board_name + '"' in (tmp_path / "config.json").read_text()


def bom_rows(path):
    return [line for line in path.read_text().splitlines() if line.startswith("| ") and "---" not in line][1:]


def test_the_bill_of_materials_lists_every_part_the_model_needs_to_run_untethered(tmp_path):
    assert build("az1-1to8", "-o", tmp_path).exit_code == 0
    rows = bom_rows(tmp_path / "bom.md")
    text = "\n".join(rows)
    for needed in ("| 2 | MG90S metal-gear micro servo | TowerPro MG90S", "| 1 | ESP32-DevKitC",
                   "130-size DC motor", "| 2 | logic-level N-channel MOSFET", "| 2 | 100 Ohm", "| 2 | Schottky",
                   "| 2 | 10 kOhm", "| 1 | coin exciter",  # the motor's and the shaker's MOSFETs
                   "| 1 | I2S class-D amplifier breakout, MAX98357A", "| 1 | small speaker, 8 Ohm",
                   "LED", "330 Ohm", "RC receiver", "HC-05", "UBEC", "battery", "switch"):
        assert needed in text, needed
    assert all(re.match(r"\| \d+ \| .+ \| .+ \| .+ \|$", row) for row in rows), "qty, part, part number, use"
    assert "DRV8833" not in text  # the kit drives its motor with a MOSFET
    assert "piezo" not in text and "2N2222A" not in text  # the amplifier is the voice: no buzzer to buy


def test_the_bill_of_materials_follows_what_the_board_wires(tmp_path):
    # no RC pins, no receiver; an LED on the board, no LED to buy
    devkitc = (BOARDS_DIR / "esp32-devkitc.toml").read_text()
    no_rc = re.sub(r"(?m)^rc_\w+ = .*\n", "", devkitc.replace('name = "esp32-devkitc"', 'name = "no-rc"'))
    (tmp_path / "no-rc.toml").write_text(no_rc)
    assert build("az1-1to8", "--board", tmp_path / "no-rc.toml", "-o", tmp_path / "a").exit_code == 0
    text = "\n".join(bom_rows(tmp_path / "a" / "bom.md"))
    assert "RC receiver" not in text and "HC-05" in text and "UBEC" in text
    assert "RC receiver" not in "\n".join(svg_texts(tmp_path / "a" / "wiring.svg"))

    assert build("az1-1to8", "--board", "xiao-esp32s3", "-o", tmp_path / "b").exit_code == 0
    text = "\n".join(bom_rows(tmp_path / "b" / "bom.md"))
    assert "LED" not in text and "330 Ohm" not in text and "Seeed Studio XIAO ESP32S3" in text

    # an H-bridge kit: the bridge, and no MOSFET, gate resistors or flyback diode
    bridge = tmp_path / "bridge.toml"
    bridge.write_text('name = "bridge"\nboard = "esp32-devkitc"\nmotor = "hbridge"\n')
    assert build(bridge, "-o", tmp_path / "c").exit_code == 0
    text = "\n".join(bom_rows(tmp_path / "c" / "bom.md"))
    assert "DRV8833" in text  # and no MOSFET, gate resistor or diode for the motor: only the shaker's
    assert "| 1 | logic-level N-channel MOSFET" in text and "| 1 | 100 Ohm" in text and "| 1 | Schottky" in text
    assert "IN1" in svg_texts(tmp_path / "c" / "wiring.svg")


@pytest.mark.parametrize("board_name", ["esp32-devkitc", "xiao-esp32c3"])
def test_a_shaker_is_drawn_and_listed_where_the_board_wires_one(board_name, tmp_path):
    assert build("az1-1to8", "--board", board_name, "-o", tmp_path).exit_code == 0
    board = boards.load(board_name)
    drawn = "\n".join(svg_texts(tmp_path / "wiring.svg"))
    listed = "\n".join(bom_rows(tmp_path / "bom.md"))
    if "shaker" in board.pins:
        assert "Shaker MOSFET IRLZ44N" in drawn and "GPIO" + str(board.pins["shaker"]) + "  shaker" in drawn
        assert "shaker + and diode band" in drawn  # its flyback diode, like the motor's
        assert "| 1 | coin exciter" in listed
    else:
        assert "haker" not in drawn and "exciter" not in listed


def test_the_amplifier_and_its_speaker_are_the_voice_where_the_board_wires_them(tmp_path):
    # az1-1to8's DevKitC wires the amplifier: drawn with its three wires, 5 V and GND, a speaker on it
    assert build("az1-1to8", "-o", tmp_path / "amp").exit_code == 0
    board = boards.load("esp32-devkitc")
    assert board.amplifier
    texts = svg_texts(tmp_path / "amp" / "wiring.svg")
    drawn = "\n".join(texts)
    for role, terminal in zip(boards.I2S_ROLES, ("BCLK", "LRC", "DIN"), strict=True):
        assert terminal in texts and str(board.pins[role]) + ": GPIO" + str(board.pins[role]) + "  " + role in drawn
    part = next(p for p in wiring.parts(kit.load("az1-1to8")) if p.title.startswith("I2S amplifier"))
    assert dict(part.terminals) == {"BCLK": "i2s_bck", "LRC": "i2s_ws", "DIN": "i2s_dout", "Vin": wiring.V5,
                                    "GND": wiring.GND}
    assert "speaker 8 Ohm: + and - to the amplifier" in texts and "neither to GND" in drawn
    assert "the amplifier" in drawn and "Buzzer" not in drawn and "buzzer" not in drawn
    # the same board without the three lines: the buzzer is the voice again, and no amplifier is bought
    devkitc = (BOARDS_DIR / "esp32-devkitc.toml").read_text().replace('name = "esp32-devkitc"', 'name = "no-amp"')
    (tmp_path / "no-amp.toml").write_text(re.sub(r"(?m)^i2s_\w+ = .*\n", "", devkitc))
    assert build("az1-1to8", "--board", tmp_path / "no-amp.toml", "-o", tmp_path / "buzzer").exit_code == 0
    listed = "\n".join(bom_rows(tmp_path / "buzzer" / "bom.md"))
    assert "MAX98357A" not in listed and "speaker" not in listed
    assert "| 1 | passive piezo buzzer" in listed and "| 1 | NPN transistor, TO-92 | 2N2222A" in listed
    drawn = "\n".join(svg_texts(tmp_path / "buzzer" / "wiring.svg"))
    assert "Buzzer NPN 2N2222A" in drawn and "MAX98357A" not in drawn and "i2s" not in drawn


def test_the_1_to_10_kit_keeps_the_buzzer_its_small_board_has_no_pins_for_an_amplifier():
    small = kit.load("az1-1to10")
    assert not small.board.amplifier
    parts = {line.key for line in kit.bill_of_materials(small)}
    assert {"buzzer", "buzzer_transistor"} <= parts and not {"amplifier", "speaker"} & parts


def test_a_kit_that_needs_an_h_bridge_is_refused_on_a_board_without_its_pins(tmp_path):
    bridge = tmp_path / "bridge.toml"
    bridge.write_text('name = "bridge"\nboard = "esp32-devkitc"\nmotor = "hbridge"\n')
    result = build(bridge, "--board", "xiao-esp32c3", "-o", tmp_path / "out")
    assert result.exit_code == 2
    assert "motor_in1" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", [["kit", "build", "az1-1t08", "-o", "unused"], ["kit", "check", "az1-1to9"],
                                     ["provision", "--kit", "az1-8", "--ports", "/dev/null"]])
def test_a_misspelt_kit_name_lists_the_kits(command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, command)
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)  # reported, no traceback
    assert "error: no kit " in result.output
    assert "did you mean az1-1to8?" in result.output
    assert "known kits: " + ", ".join(kit.names()) in result.output
    assert not (tmp_path / "unused").exists()


def test_every_scale_the_readme_promises_is_a_kit():
    readme = (ROOT / "README.md").read_text()
    promised = set(re.findall(r"1:(\d+)", readme.split("\n\n")[1]))
    assert promised == {"8", "10"}
    for scale in promised:
        az1 = kit.load("az1-1to" + scale)
        assert ("1:" + scale) in az1.title
    assert "gullwing kit list" in readme  # the quick start shows where the kits are listed


def test_the_1_to_10_kit_differs_where_the_smaller_body_does():
    big, small = kit.load("az1-1to8"), kit.load("az1-1to10")
    assert small.config()["doors"]["left"]["open_deg"] < big.config()["doors"]["left"]["open_deg"]
    parts = {line.key: line for line in kit.bill_of_materials(small)}
    assert parts["servo"].number != {line.key: line for line in kit.bill_of_materials(big)}["servo"].number
    assert "coreless" in parts["motor"].part


def test_kit_build_into_an_unwritable_folder_is_an_error_not_a_traceback(tmp_path):
    (tmp_path / "file").write_text("")
    result = build("az1-1to8", "-o", tmp_path / "file" / "out")
    assert result.exit_code == 2 and "error: cannot write the kit into" in result.output


def test_a_board_file_without_a_layout_is_refused_before_anything_is_written(tmp_path):
    text = (BOARDS_DIR / "xiao-esp32c3.toml").read_text()
    start = text.index("[layout]")
    (tmp_path / "mine.toml").write_text(text[:start].replace('"xiao-esp32c3"', '"mine"') + text[text.index("[pins]"):])
    result = build("az1-1to8", "--board", tmp_path / "mine.toml", "-o", tmp_path / "out")
    assert result.exit_code == 2 and "has no [layout]" in result.output and "docs/wiring.md" in result.output
    assert not (tmp_path / "out").exists()


def test_how_the_status_led_lights_comes_from_the_board_file_not_the_kit(tmp_path):
    mine = tmp_path / "mine.toml"
    mine.write_text('name = "mine"\nboard = "esp32-devkitc"\nled_active_low = true\n')
    with pytest.raises(kit.KitFileError) as caught:
        kit.load(mine)
    assert "led_active_low: comes from the board file" in str(caught.value)


def test_kit_build_writes_the_card_template_saying_where_each_boards_key_is(tmp_path):
    result = build("az1-1to8", "-o", tmp_path)
    assert result.exit_code == 0 and "wrote " + str(tmp_path / "card.md") in result.output
    card = (tmp_path / "card.md").read_text()
    assert kit.load("az1-1to8").title in card and "AZ-1-XXXX" in card and "http://192.168.4.1/" in card
    assert "gullwing wifi --password" in card and "config set web.pin" in card


def test_a_kit_file_never_carries_a_key_a_home_network_or_a_pin(tmp_path):
    mine = tmp_path / "mine.toml"
    mine.write_text('name = "mine"\nboard = "esp32-devkitc"\n[wifi]\nname = "AZ1-SHOW"\nap_password = "samefor4ll"\n'
                    'ssid = "home"\n[web]\npin = "1234"\n')
    with pytest.raises(kit.KitFileError) as caught:
        kit.load(mine)
    for key in ("wifi.ap_password", "wifi.ssid", "web.pin"):
        assert key + ": is each board's own, never a whole kit's" in str(caught.value)
    assert "wifi.name" not in str(caught.value)  # the network's name prefix is the kit's to choose
