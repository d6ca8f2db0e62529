"""The wiring diagram of a kit on its board: the board with its pins as printed on it (the board file's
[layout]), every part on the right with its terminals, a wire from each GPIO to its part, the 5 V rail
and GND drawn as two buses that every part and the board join, and the polarity of each diode,
transistor and LED drawn on its part.
"""

from dataclasses import dataclass
from pathlib import Path

from host_tools import errors

# How a board file writes a printed pin (layout.rows): the GPIO's number, "PRINT=GPIO", or a power pin.
PRINTED_HELP = ('write the GPIO number ("18"), "PRINT=GPIO" where the print is not the number ("D1=3"), '
                'or a power or control pin: ' + ", ".join(["GND", "G", "3V3", "3.3", "5V", "VBUS", "VIN", "EN",
                                                            "RST", "BAT", "NC"]))
_POWER = {"GND": "gnd", "G": "gnd", "3V3": "3v3", "3.3": "3v3", "5V": "5v", "VBUS": "5v", "VIN": "5v",
          "EN": "", "RST": "", "BAT": "", "NC": ""}

GND, V5, V33 = "gnd", "5v", "3v3"
RAILS = {V5: ("5 V rail (UBEC +)", "tab:red"), GND: ("GND (common ground)", "black"),
         V33: ("3V3 (board)", "darkorange")}


def pin_of(printed):
    """(label as printed, GPIO or None, power kind "gnd"/"5v"/"3v3"/"" ) of one layout entry; ValueError
    for anything else."""
    text = str(printed).strip()
    if text.isdigit():
        return text, int(text), ""
    label, sep, number = text.partition("=")
    if sep:
        if not number.strip().isdigit() or not label.strip():
            raise ValueError(repr(printed) + " is not PRINT=GPIO")
        return label.strip(), int(number), ""
    if text.upper() in _POWER:
        return text, None, _POWER[text.upper()]
    raise ValueError(repr(printed) + " is neither a GPIO nor a known power or control pin")


@dataclass
class Pin:
    label: str  # as printed on the board
    gpio: int | None
    power: str  # "gnd", "5v", "3v3" or ""
    row: int
    index: int


def pinout(board):
    """Every pin of the board as printed, row by row; BoardFileError when the board file has no layout."""
    rows = (board.layout or {}).get("rows")
    if not rows:
        raise errors.BoardFileError("board file " + str(board.path) + " has no [layout]: the wiring diagram "
                                    "draws the pins as printed on the board",
                                    hint="add [layout] rows = [[...], [...]] (docs/wiring.md shows how)")
    return [[Pin(*pin_of(printed), r, i) for i, printed in enumerate(row)] for r, row in enumerate(rows)]


@dataclass
class Part:
    title: str
    terminals: list  # (terminal, net): net is a role (a wire from its GPIO) or a rail (GND, V5, V33)
    notes: str = ""
    symbol: tuple = ()  # ("package", legs, caption) or ("diode", caption)


# role -> what the wire carries and its colour
SIGNALS = {
    "door_left": "tab:orange", "door_right": "tab:orange", "motor": "tab:red", "motor_in1": "tab:red",
    "motor_in2": "tab:red", "buzzer": "tab:purple", "shaker": "tab:pink", "led": "tab:green", "rc_throttle": "tab:blue",
    "rc_door": "tab:blue", "rc_engine": "tab:blue", "uart_tx": "tab:cyan", "uart_rx": "tab:cyan",
    "i2s_bck": "tab:olive", "i2s_ws": "tab:olive", "i2s_dout": "tab:olive",
}
_UNUSED_DRIVER = {"mosfet": ("motor_in1", "motor_in2"), "hbridge": ("motor",)}


def parts(kit):
    """The parts the kit's board wires, each with its terminals, in building order."""
    pins = kit.board.pins
    unused = _UNUSED_DRIVER.get(kit.settings.get("motor", "mosfet"), ())
    if kit.board.amplifier:  # the engine's voice: nothing on the buzzer's pin
        unused += ("buzzer",)
    wired = [role for role in SIGNALS if role in pins and role not in unused]
    out = [Part("Battery, switch and UBEC (set to 5 V)", [("+ out (red)", V5), ("- out (black)", GND)],
                "battery + to the switch, switch to UBEC in +;\nbattery - to UBEC in -")]
    for role, side in (("door_left", "Left"), ("door_right", "Right")):
        if role in wired:
            out.append(Part(side + " door servo", [("S signal (orange)", role), ("+ (red)", V5), ("- (brown)", GND)],
                            "10 kOhm from S to - (keeps it still at boot)"))
    if "motor" in wired:
        out.append(_low_side("Motor", "motor", "motor"))
    if "motor_in1" in wired:
        out.append(Part("H-bridge DRV8833", [("IN1", "motor_in1"), ("IN2", "motor_in2"), ("VCC", V33), ("VM", V5),
                                             ("GND", GND)], "OUT1 and OUT2 to the motor's leads"))
    if "buzzer" in wired:
        out.append(Part("Buzzer NPN 2N2222A", [("B base, through 1 kOhm", "buzzer"), ("E emitter", GND),
                                               ("buzzer +", V5)],
                        "C collector to buzzer -; 1 kOhm across the piezo",
                        ("package", "EBC", "2N2222A, flat face towards you", "")))
    if "i2s_dout" in wired:  # the engine's voice instead of the buzzer (its pin stays unconnected)
        out.append(Part("I2S amplifier MAX98357A and speaker", [("BCLK", "i2s_bck"), ("LRC", "i2s_ws"),
                                                                ("DIN", "i2s_dout"), ("Vin", V5), ("GND", GND)],
                        "speaker to its + and - terminals, neither to GND\nGAIN and SD open: 9 dB, both channels",
                        ("speaker", "speaker 8 Ohm: + and - to the amplifier")))
    if "shaker" in wired:  # a coil of a few Ohm draws more than an NPN off a 3.3 V pin switches cleanly
        out.append(_low_side("Shaker", "shaker", "shaker coil"))
    if "led" in wired:
        if (kit.board.layout or {}).get("onboard_led"):
            out.append(Part("Status LED: on the board (GPIO" + str(pins["led"]) + "  led), nothing to wire", []))
        elif kit.board.led_active_low:
            out.append(Part("Status LED", [("anode (long leg), through 330 Ohm", V33), ("cathode (flat side)", "led")],
                            "lit when the pin is low; holds the pin high at reset", ("diode", "LED")))
        else:
            out.append(Part("Status LED", [("anode (long leg), through 330 Ohm", "led"), ("cathode (flat side)", GND)],
                            "lit when the pin is high", ("diode", "LED")))
    channels = [(role, ch) for role, ch in (("rc_throttle", "CH2 throttle"), ("rc_door", "CH3 door switch"),
                                            ("rc_engine", "CH4 engine switch")) if role in wired]
    if channels:
        out.append(Part("RC receiver", [(ch + " signal", role) for role, ch in channels] + [("+", V5), ("-", GND)],
                        "5 V pulses: 1 kOhm in series, 2 kOhm to GND per channel"))
    if "uart_tx" in wired:
        out.append(Part("Bluetooth module HC-05", [("RXD", "uart_tx"), ("TXD", "uart_rx"), ("VCC", V5), ("GND", GND)],
                        "TX of the board to RXD of the module, and back"))
    return out


def _low_side(title, role, load):
    """A logic-level MOSFET switching the - lead of `load` (a motor or a coil) to GND, its flyback diode
    across the load."""
    plus = load.split()[0] + " +"
    return Part(title + " MOSFET IRLZ44N", [("G gate, through 100 Ohm", role), ("S source", GND),
                                           (plus + " and diode band", V5)],
                "D drain to " + load.split()[0] + " -; 10 kOhm from G to S\n1N5819 across the " + load + ": band to "
                + plus, ("package", "GDS", "IRLZ44N, print facing you", "1N5819"))


def connections(kit):
    """(role, gpio, part, terminal, colour) for every GPIO the kit wires, in building order."""
    return [(net, kit.board.pins[net], part.title, terminal, SIGNALS[net])
            for part in parts(kit) for terminal, net in part.terminals if net in SIGNALS]


def draw(kit, out_dir):
    """wiring.svg and wiring.png in `out_dir`; returns their paths."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyBboxPatch, Polygon, Rectangle

    board = kit.board
    rows = pinout(board)
    all_parts = parts(kit)
    by_gpio = {pin.gpio: pin for row in rows for pin in row if pin.gpio is not None}
    pitch, row_gap = 0.34, 1.0
    n_pins = max(len(row) for row in rows)
    board_w = row_gap * (len(rows) - 1) + 1.2
    board_h = pitch * (n_pins + 1) + 0.4

    # parts, stacked on the right; each terminal at its own height
    part_heights = [0.55 + pitch * max(len(p.terminals), 1) + 0.2 * (p.notes.count("\n") + 1 if p.notes else 0)
                    + (0.75 if p.symbol else 0) for p in all_parts]
    parts_h = sum(part_heights) + 0.25 * len(all_parts)
    wires = connections(kit)
    wired_gpios = {gpio for _, gpio, *_ in wires}
    wired_roles = {role for role, *_ in wires}
    n_wires = len(wired_gpios) + 3
    top = max(board_h + 0.3 + 0.12 * n_wires, parts_h) + 1.3  # room for the wires run below the board
    height = top + 1.6
    n_left = sum(1 for row in rows[:(len(rows) + 1) // 2] for pin in row if pin.gpio in wired_gpios or pin.power)
    lane_left = 0.3 + 0.12 * (n_left - 1)  # wires from the left half of the rows run down the board's left side
    x_board = lane_left + 0.3
    x_lanes = x_board + board_w + 0.35
    x_rails = {rail: x_lanes + 0.16 * n_wires + 0.3 * i for i, rail in enumerate((V5, GND, V33))}
    x_part = x_rails[V33] + 0.5
    part_w = 6.0
    width = max(x_part + part_w + 0.4, 12.0)

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.axis("off")
    ax.text(width / 2, height - 0.45, kit.title + "\nwiring on " + board.title, ha="center", va="center",
            fontsize=13, weight="bold")

    # the board, its pins as printed
    board_top = top
    ax.add_patch(FancyBboxPatch((x_board, board_top - board_h), board_w, board_h, boxstyle="round,pad=0.05",
                                fc="#dfe8f5", ec="black", zorder=1))
    ax.text(x_board + board_w / 2, board_top + 0.12, board.title + " (" + board.chip_name + ")", ha="center",
            va="bottom", fontsize=9, weight="bold")
    top_of = (board.layout or {}).get("top", "")
    if top_of:
        ax.text(x_board + board_w / 2, board_top - 0.2, "top: " + top_of, ha="center", va="top", fontsize=7,
                style="italic")
    where = {}
    for r, row in enumerate(rows):
        x = x_board + 0.6 + r * row_gap
        left_half = r < len(rows) / 2
        for pin in row:
            y = board_top - 0.55 - pin.index * pitch
            where[(r, pin.index)] = (x, y, left_half)
            face = {"gnd": "black", "5v": "tab:red", "3v3": "darkorange"}.get(pin.power, "white")
            ax.plot([x], [y], marker="o", ms=7, mfc=face, mec="black", zorder=4)
            ax.text(x + (-0.12 if left_half else 0.12), y, pin.label, ha="right" if left_half else "left",
                    va="center", fontsize=7.5, weight="bold" if pin.gpio in wired_gpios or pin.power else "normal",
                    zorder=4)

    lane, left_lane = [0], [0]  # wires routed so far: all, and those out of the board's left side

    def route(pin, x_to, y_to, colour, width=2.0):
        """A wire from a board pin to (x_to, y_to): a short jog below the pin (between the pins, never across
        one), out of the board on its side, then orthogonally to the end."""
        x, y, left_half = where[(pin.row, pin.index)]
        lane[0] += 1
        jog = y - pitch / 2
        if left_half:
            k = left_lane[0]
            left_lane[0] += 1
            below = board_top - board_h - 0.2 - 0.12 * k
            xl = lane_left - 0.12 * k
            points = [(x, y), (x, jog), (xl, jog), (xl, below), (x_to, below), (x_to, y_to)]
        else:
            points = [(x, y), (x, jog), (x_to, jog), (x_to, y_to)]
        xs, ys = zip(*points, strict=True)
        ax.plot(xs, ys, color=colour, linewidth=width, zorder=3, solid_joinstyle="round")
        return points

    # the parts and their terminals
    rail_ends = {rail: [] for rail in RAILS}
    y = top
    for part, h in zip(all_parts, part_heights, strict=True):
        box_top = y
        ax.add_patch(FancyBboxPatch((x_part, box_top - h), part_w, h, boxstyle="round,pad=0.03", fc="white",
                                    ec="grey", zorder=1))
        ax.text(x_part + 0.12, box_top - 0.22, part.title, ha="left", va="center", fontsize=10, weight="bold")
        for i, (terminal, net) in enumerate(part.terminals):
            ty = box_top - 0.6 - i * pitch
            ax.plot([x_part], [ty], marker="s", ms=6, mfc="white", mec="black", zorder=4)
            ax.text(x_part + 0.12, ty, terminal, ha="left", va="center", fontsize=8)
            if net in RAILS:
                rail_ends[net].append(ty)
                ax.plot([x_rails[net], x_part], [ty, ty], color=RAILS[net][1], linewidth=2, zorder=2)
                ax.plot([x_rails[net]], [ty], marker="o", ms=5, color=RAILS[net][1], zorder=4)
            else:
                gpio = board.pins[net]
                pin = by_gpio.get(gpio)
                x_lane = x_lanes + 0.16 * lane[0]
                if pin is not None:
                    route(pin, x_lane, ty, SIGNALS[net])
                    ax.plot([x_lane, x_part], [ty, ty], color=SIGNALS[net], linewidth=2, zorder=3)
                    printed = pin.label
                else:
                    printed = "on board"
                ax.text(x_part - 0.08, ty + 0.05, printed + ": GPIO" + str(gpio) + "  " + net, ha="right",
                        va="bottom", fontsize=6.5, color=SIGNALS[net], zorder=5,
                        bbox={"fc": "white", "ec": "none", "pad": 0.3})
        text_y = box_top - 0.6 - len(part.terminals) * pitch
        if part.notes:
            ax.text(x_part + 0.12, text_y, part.notes, ha="left", va="top", fontsize=7.5, linespacing=1.3)
        if part.symbol:
            sx, sy = x_part + part_w - 1.9, box_top - h + 0.45
            if part.symbol[0] == "speaker":
                _speaker(ax, Polygon, Rectangle, sx, sy + 0.15, part.symbol[1])
            elif part.symbol[0] == "package":
                _, legs, caption, diode = part.symbol
                ax.add_patch(Rectangle((sx, sy), 0.6, 0.35, fc="#444444", ec="black"))
                for j, leg in enumerate(legs):
                    lx = sx + 0.1 + 0.2 * j
                    ax.plot([lx, lx], [sy, sy - 0.22], color="black", linewidth=1.5)
                    ax.text(lx, sy - 0.26, leg, ha="center", va="top", fontsize=8, weight="bold")
                ax.text(sx + 0.3, sy + 0.42, caption, ha="center", va="bottom", fontsize=6.5)
                if diode:
                    _diode(ax, Polygon, sx + 1.0, sy + 0.15, diode + ": band = cathode")
            else:
                _diode(ax, Polygon, sx, sy + 0.15, part.symbol[1] + ": long leg = anode, flat side = cathode")
        y -= h + 0.25

    # the board's own power: GND and 5 V from the rails, 3V3 onto its rail when a part takes it
    def first(power):
        found = [pin for row in rows for pin in row if pin.power == power]
        right = [pin for pin in found if not where[(pin.row, pin.index)][2]]
        return (right or found or [None])[0]

    for rail in (GND, V5, V33):
        pin = first(rail)
        if pin is None or (rail == V33 and not rail_ends[V33]):
            continue
        x, yp, left_half = where[(pin.row, pin.index)]
        end_y = board_top - board_h - 0.2 - 0.12 * left_lane[0] if left_half else yp - pitch / 2
        points = route(pin, x_rails[rail], end_y, RAILS[rail][1], 2.5)
        rail_ends[rail].append(points[-1][1])
        ax.text(points[1][0] + (0.1 if not left_half else -0.1), points[1][1] - 0.04,
                {"gnd": "GND", "5v": "5 V rail", "3v3": "3V3"}[rail],
                ha="left" if not left_half else "right", va="top", fontsize=6.5, color=RAILS[rail][1], zorder=5)
    for rail, ys in rail_ends.items():
        if ys:
            ax.plot([x_rails[rail]] * 2, [min(ys), max(ys)], color=RAILS[rail][1], linewidth=3, zorder=2)
            ax.text(x_rails[rail], max(ys) + 0.1, RAILS[rail][0].split(" (")[0], rotation=90, ha="center",
                    va="bottom", fontsize=7, color=RAILS[rail][1])

    voice = " the amplifier" if "i2s_dout" in wired_roles else " the buzzer"
    shaker = ", the shaker" if "shaker" in wired_roles else ""
    ax.text(width / 2, 0.75, "5 V rail: a UBEC set to 5 V, 3 A or more, from the battery: it feeds the servos, the "
            "motor," + voice + shaker + ", the receiver, the module and the board's 5V pin.", ha="center",
            va="center", fontsize=9, weight="bold")
    amplifier = " amplifier," if "i2s_dout" in wired_roles else ""
    ax.text(width / 2, 0.4, "Join every GND: board, UBEC, servos, driver," + amplifier + " receiver, module. Never "
            "power a servo from the board's 3V3 pin or from USB. Unplug the board's 5V wire while USB is plugged in.",
            ha="center", va="center", fontsize=9)
    out_dir = Path(out_dir)
    paths = [out_dir / "wiring.svg", out_dir / "wiring.png"]
    with matplotlib.rc_context({"svg.fonttype": "none"}):  # text stays text in the SVG
        for path in paths:
            fig.savefig(path, dpi=90)
    return paths


def _speaker(ax, polygon, rectangle, x, y, caption):
    """A loudspeaker: its magnet, its cone opening to the right, and its two terminals."""
    ax.add_patch(rectangle((x, y - 0.1), 0.12, 0.2, fc="#444444", ec="black"))
    ax.add_patch(polygon([(x + 0.12, y - 0.1), (x + 0.12, y + 0.1), (x + 0.32, y + 0.22), (x + 0.32, y - 0.22)],
                         closed=True, fc="white", ec="black"))
    ax.text(x - 0.05, y + 0.06, "+", ha="right", va="center", fontsize=8, weight="bold")
    ax.text(x - 0.05, y - 0.08, "-", ha="right", va="center", fontsize=8, weight="bold")
    ax.text(x + 0.16, y + 0.26, caption, ha="center", va="bottom", fontsize=6.5)


def _diode(ax, polygon, x, y, caption):
    """A diode symbol pointing right: the bar (the band on the part) is the cathode."""
    ax.add_patch(polygon([(x, y - 0.12), (x, y + 0.12), (x + 0.2, y)], closed=True, fc="black"))
    ax.plot([x + 0.2, x + 0.2], [y - 0.12, y + 0.12], color="black", linewidth=2)
    ax.plot([x - 0.15, x], [y, y], color="black", linewidth=1)
    ax.plot([x + 0.2, x + 0.35], [y, y], color="black", linewidth=1)
    ax.text(x - 0.15, y - 0.18, "A", ha="center", va="top", fontsize=7)
    ax.text(x + 0.35, y - 0.18, "K", ha="center", va="top", fontsize=7)
    ax.text(x + 0.1, y + 0.18, caption, ha="center", va="bottom", fontsize=6.5)


def bill_of_materials(kit):
    """bom.md: every part the kit's model needs, with a typical part number (host_tools.kit)."""
    from host_tools import kit as kits

    lines = ["# " + kit.title + " on " + kit.board.title + ": bill of materials", "",
             "| qty | part | typical part number | what it is for |", "| ---: | --- | --- | --- |"]
    lines += ["| " + str(item.qty) + " | " + item.part + " | " + item.number + " | " + item.use + " |"
              for item in kits.bill_of_materials(kit)]
    lines += ["", "Also: hook-up wire or Dupont jumpers, heat-shrink. Wiring: wiring.svg (or wiring.png). Device "
              "settings: config.json (`gullwing deploy` writes it)."]
    return "\n".join(lines) + "\n"


CARD_MM = (85, 55)  # a business card: it fits the box and a wallet


def card(card, stem):
    """A kit card (host_tools.kit.Card) drawn to print at its size: `stem`.svg and `stem`.png (300 dpi);
    returns their paths. The password stands out, in a typeface where every character is told apart."""
    import textwrap

    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(CARD_MM[0] / 25.4, CARD_MM[1] / 25.4))
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, CARD_MM[0])
    ax.set_ylim(0, CARD_MM[1])
    ax.axis("off")
    ax.add_patch(matplotlib.patches.Rectangle((0.3, 0.3), CARD_MM[0] - 0.6, CARD_MM[1] - 0.6, fill=False, lw=0.5))
    y = CARD_MM[1] - 4
    for line in textwrap.wrap(card.title, 52)[:2]:
        ax.text(4, y, line, fontsize=7, weight="bold", va="top")
        y -= 3.4
    y -= 1.5
    for label, value in card.lines():
        big = label in ("WiFi network", "Password") and bool(card.password)
        ax.text(4, y, label, fontsize=5.5, va="top", color="#444444")
        wrapped = [value] if big else textwrap.wrap(value, 44)
        for line in wrapped:
            ax.text(24, y + (0.6 if big else 0), line, fontsize=9.5 if big else 5.5, va="top",
                    family="monospace" if big else "sans-serif", weight="bold" if big else "normal")
            y -= 4.6 if big else 2.5
        y -= 0.9
    paths = [Path(str(stem) + ".svg"), Path(str(stem) + ".png")]
    with matplotlib.rc_context({"svg.fonttype": "none"}):  # text stays text in the SVG
        for path in paths:
            fig.savefig(path, dpi=300)
    return paths


def build(kit, out_dir):
    """config.json, bom.md, the wiring diagram and the kit card's template (card.md); returns the paths
    written."""
    from host_tools import kit as kits

    out_dir = Path(out_dir)
    pinout(kit.board)  # a board file without [layout] is refused before anything is written
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "config.json").write_bytes(kit.config_json())
        (out_dir / "bom.md").write_text(bill_of_materials(kit))
        (out_dir / "card.md").write_text(kits.card_md(kit))
        return [out_dir / "config.json", out_dir / "bom.md", *draw(kit, out_dir), out_dir / "card.md"]
    except OSError as exc:
        raise errors.GullwingError("cannot write the kit into " + str(out_dir) + ": " + (exc.strerror or str(exc)),
                                   hint="give -o a folder you may write to") from None
