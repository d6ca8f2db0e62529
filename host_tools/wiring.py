"""The wiring diagram of a kit, drawn from its board's pin map: the board on the left with the GPIO of
each role, every part on the right with the wire to its signal pin, and the power wiring a beginner
gets wrong (the servos' own supply, the common ground, the pull-downs) written on the parts.
"""

from pathlib import Path

# role -> (part it belongs to, what the wire carries, colour of the wire)
PARTS = (
    ("door_left", "Left door servo", "signal (orange/yellow lead)", "tab:orange"),
    ("door_right", "Right door servo", "signal (orange/yellow lead)", "tab:orange"),
    ("motor", "Motor MOSFET", "gate, through 100 Ohm", "tab:red"),
    ("motor_in1", "H-bridge IN1", "PWM", "tab:red"),
    ("motor_in2", "H-bridge IN2", "held low", "tab:red"),
    ("buzzer", "Buzzer driver", "base/gate of the driver", "tab:purple"),
    ("shaker", "Shaker driver", "base/gate of the driver", "tab:purple"),
    ("led", "Status LED", "through 330 Ohm", "tab:green"),
    ("rc_throttle", "RC receiver CH2 (throttle)", "signal", "tab:blue"),
    ("rc_door", "RC receiver CH3 (switch)", "signal", "tab:blue"),
    ("rc_engine", "RC receiver CH4 (switch)", "signal", "tab:blue"),
    ("uart_tx", "Bluetooth module RX", "data", "tab:cyan"),
    ("uart_rx", "Bluetooth module TX", "data", "tab:cyan"),
)

NOTES = {
    "door_left": "red: servo supply 5-6 V, never the board's 3V3/5V pin\nbrown: GND; 10 kOhm signal to GND",
    "door_right": "red: servo supply 5-6 V, never the board's 3V3/5V pin\nbrown: GND; 10 kOhm signal to GND",
    "motor": "drain to motor -, motor + to the supply, diode across it\n10 kOhm gate to GND",
    "motor_in1": "bridge VM: motor supply, VCC: 3V3\nmotor on OUT1/OUT2",
    "buzzer": "transistor switches the buzzer from 5 V",
    "rc_throttle": "receiver +: 5 V from a BEC or the servo supply\nreceiver -: GND",
    "uart_tx": "module VCC: 3V3 or 5 V as its label says",
}
_UNUSED_DRIVER = {"mosfet": ("motor_in1", "motor_in2"), "hbridge": ("motor",)}


def connections(kit):
    """(role, gpio, part, wire, colour) for every role the kit wires, in PARTS order: the board's pins,
    less the motor driver the kit does not use."""
    unused = _UNUSED_DRIVER.get(kit.settings.get("motor", "mosfet"), ())
    pins = kit.board.pins
    return [(role, pins[role], part, wire, colour) for role, part, wire, colour in PARTS
            if role in pins and role not in unused]


def draw(kit, out_dir):
    """wiring.svg and wiring.png in `out_dir`; returns their paths."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyBboxPatch

    rows = connections(kit)
    height = 2.4 + 1.0 * len(rows)
    fig = Figure(figsize=(13, height))
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 13)
    ax.set_ylim(0, height)
    ax.axis("off")
    top = height - 1.6
    ax.text(6.5, height - 0.4, f"{kit.title}: wiring", ha="center", va="center", fontsize=14, weight="bold")
    ax.text(2.0, top + 0.25, f"{kit.board.title}\n({kit.board.chip_name})", ha="center", va="bottom", fontsize=10,
            weight="bold")
    ax.add_patch(FancyBboxPatch((0.4, 1.0), 3.2, top - 0.8, boxstyle="round,pad=0.05", fc="#dfe8f5", ec="black"))
    ax.text(6.5, 0.45, "Power: USB (or 5 V on the board's 5V pin) for the board; a separate 5-6 V, 3 A supply for "
            "the servos and the motor. Join every GND: board, supply, servos, driver, receiver.",
            ha="center", va="center", fontsize=9, weight="bold")
    for i, (role, gpio, part, wire, colour) in enumerate(rows):
        y = top - 0.5 - i * 1.0
        ax.text(3.45, y, f"GPIO{gpio}  {role}", ha="right", va="center", fontsize=10, family="monospace")
        ax.plot([3.6, 7.4], [y, y], color=colour, linewidth=2.5)
        ax.text(5.5, y + 0.12, wire, ha="center", va="bottom", fontsize=8, color=colour)
        ax.add_patch(FancyBboxPatch((7.4, y - 0.4), 5.3, 0.8, boxstyle="round,pad=0.03", fc="white", ec=colour))
        ax.text(7.55, y + 0.2, part, ha="left", va="center", fontsize=10, weight="bold")
        note = NOTES.get(role, "")
        if note:
            ax.text(7.55, y - 0.15, note, ha="left", va="center", fontsize=7.5, linespacing=1.2)
    out_dir = Path(out_dir)
    paths = [out_dir / "wiring.svg", out_dir / "wiring.png"]
    import matplotlib

    with matplotlib.rc_context({"svg.fonttype": "none"}):  # text stays text in the SVG
        for path in paths:
            fig.savefig(path, dpi=110)
    return paths


def bill_of_materials(kit):
    lines = [f"# {kit.title}: bill of materials", "", "| qty | part |", "| ---: | --- |"]
    lines += [f"| {item.get('qty', 1)} | {item['part']} |" for item in kit.bom]
    lines += ["", "Wiring: wiring.png (or wiring.svg). Device settings: config.json (`gullwing deploy` writes it)."]
    return "\n".join(lines) + "\n"


def build(kit, out_dir):
    """config.json, bom.md and the wiring diagram of a kit; returns the paths written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "config.json").write_bytes(kit.config_json())
    (out_dir / "bom.md").write_text(bill_of_materials(kit))
    return [out_dir / "config.json", out_dir / "bom.md", *draw(kit, out_dir)]
