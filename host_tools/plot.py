"""Plotting an output trace: servo pulse widths and motor duty over time, one labelled line per pin.

A trace row is a change: the value holds until the pin's next row, and a released pin (`off`) drives
nothing, drawn as a gap. The trace does not say how long its last values lasted, so every line runs
on a little past the last row (TAIL), which keeps a change at the very end visible.

Each panel is a `Panel`: which pins it shows and what value a row gives. A later panel (engine rpm,
boost) is one more entry in PANELS whose `picks` and `value` read its own pseudo-pin or extra column
(`TraceRow.extra` holds columns beyond the standard ones).
"""

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

from host_tools import boards, errors

COLUMNS = ("t_us", "pin", "freq_hz", "duty_ns", "kind", "level")
KINDS = ("pwm", "gpio", "off")
TELEMETRY = ("rpm", "boost")  # engine readings on pseudo-pin -1 (`make demo` writes them beside the trace)
GAP = math.nan  # a released output: no line drawn
TAIL = 0.05  # lines run on past the last row by this share of the trace's duration...
MIN_TAIL_S = 0.02  # ...and at least one servo frame


IMAGE_TYPES = (".png", ".svg", ".pdf")
OUTPUT_HINT = "name an image (.png, .svg or .pdf) in a folder that exists and that you may write to: -o FILE.png"


class BadTraceFile(errors.GullwingError):
    hint = "give a trace CSV written by the simulated board (header t_us,pin,freq_hz,duty_ns,kind,level)"


@dataclass(frozen=True)
class TraceRow:
    t_us: int
    pin: int
    freq_hz: int
    duty_ns: int
    kind: str  # pwm, gpio or off
    level: int
    extra: dict = field(default_factory=dict)  # columns beyond COLUMNS, by name


@dataclass
class Series:
    """One pin's line: step values that hold from each time to the next; GAP where nothing is driven."""

    pin: int
    label: str
    times_s: list[float]
    values: list[float]


@dataclass(frozen=True)
class Panel:
    name: str
    ylabel: str
    roles: tuple[str, ...]  # board roles shown here
    value: object  # TraceRow -> float (GAP when nothing is driven)
    ylim: tuple[float, float] | None = None
    kind: str = ""  # a telemetry panel: the rows of this kind, whatever their pin

    def picks(self, board, row):
        if self.kind:
            return row.kind == self.kind
        return row.kind in KINDS and board.role_of(row.pin) in self.roles

    def label(self, board, pin):
        return self.name if self.kind else board.label(pin)


def pulse_width_us(row):
    """A servo sees pulses only from PWM with a duty; duty 0 (a release), a plain level or a released
    pin give it none."""
    return row.duty_ns / 1000 if row.kind == "pwm" and row.duty_ns > 0 else GAP


def duty_percent(row):
    if row.kind == "pwm":
        return row.duty_ns * row.freq_hz / 10_000_000  # duty_ns / period_ns * 100
    if row.kind == "gpio":
        return 100.0 if row.level else 0.0
    return GAP


def reading(row):
    return float(row.level)


PANELS = [
    Panel("servos", "servo pulse width (µs)", ("door_left", "door_right"), pulse_width_us),
    Panel("motor", "motor duty (%)", ("motor", "motor_in1", "motor_in2"), duty_percent, ylim=(-5, 105)),
    Panel("engine rpm", "engine (rpm)", (), reading, kind="rpm"),
    Panel("boost", "boost (kPa)", (), reading, kind="boost"),
]


def read_trace(path):
    """The rows of a trace CSV, oldest first; BadTraceFile names the line at fault."""
    path = Path(path)
    rows = []
    with path.open(newline="") as stream:
        reader = csv.DictReader(stream)
        try:
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or ())]
            if missing:
                raise BadTraceFile(str(path) + " is not a trace: its header lacks " + ", ".join(missing))
            for record in reader:
                try:
                    rows.append(_row(record))
                except (TypeError, ValueError) as exc:
                    raise BadTraceFile(str(path) + " line " + str(reader.line_num) + ": " + str(exc)) from None
        except (UnicodeDecodeError, csv.Error):
            raise BadTraceFile(str(path) + " is not a trace: it is not CSV text") from None
    return rows


def _row(record):
    kind = record["kind"]
    if kind not in KINDS + TELEMETRY:
        raise ValueError("kind must be one of " + ", ".join(KINDS + TELEMETRY) + ", not " + repr(kind))
    extra = {k: v for k, v in record.items() if k not in COLUMNS}
    return TraceRow(int(record["t_us"]), int(record["pin"]), int(record["freq_hz"]), int(record["duty_ns"]), kind,
                    int(record["level"]), extra)


def panel_series(rows, board, panel):
    """Series of every pin `panel` shows, by GPIO; each holds its last value to the same end time."""
    if not rows:
        return []
    start_s = min(r.t_us for r in rows) / 1e6
    last_s = max(r.t_us for r in rows) / 1e6
    end_s = last_s + max((last_s - start_s) * TAIL, MIN_TAIL_S)
    by_pin = {}
    for row in rows:
        if panel.picks(board, row):
            by_pin.setdefault(row.pin, []).append(row)
    out = []
    for pin in sorted(by_pin):
        pin_rows = by_pin[pin]
        times = [r.t_us / 1e6 for r in pin_rows]
        values = [float(panel.value(r)) for r in pin_rows]
        times.append(end_s)  # the last value holds past the end of the trace
        values.append(values[-1])
        out.append(Series(pin, panel.label(board, pin), times, values))
    return out


def plot(trace_path, out_path, board=None):
    """Draw the trace at `trace_path` (one path, or several whose rows are merged, such as a trace and
    its telemetry) into an image at `out_path` (PNG, SVG, PDF by suffix)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    check_output(out_path)
    spec = boards.load(board)
    paths = [trace_path] if isinstance(trace_path, (str, Path)) else list(trace_path)
    rows = sorted((row for path in paths for row in read_trace(path)), key=lambda row: row.t_us)
    trace_path = paths[0]
    filled = [(p, s) for p in PANELS if (s := panel_series(rows, spec, p))]
    if not filled:
        pins = sorted({r.pin for r in rows})
        raise BadTraceFile(str(trace_path) + " has no servo or motor output of board " + spec.name +
                           " (pins in the trace: " + (", ".join(spec.label(p) for p in pins) or "none") + ")",
                           hint="plot with the board the trace was made on: --board NAME")
    fig = Figure(figsize=(10, 2.6 + 2.4 * len(filled)), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(filled), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (panel, series) in zip(axes, filled, strict=True):
        for line in series:
            ax.step(line.times_s, line.values, where="post", label=line.label, linewidth=1.6)
        ax.set_ylabel(panel.ylabel)
        if panel.ylim:
            ax.set_ylim(*panel.ylim)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", borderaxespad=0)
    axes[-1].set_xlabel("time (s)")
    fig.suptitle("Output trace " + Path(trace_path).name + ", board " + spec.name + " (" + spec.chip_name +
                 ")\nsteps: each value holds until the next change; gaps: output released", fontsize="medium")
    try:
        fig.savefig(out_path, dpi=110)
    except OSError as exc:
        raise errors.GullwingError("cannot write the plot to " + str(out_path) + ": " + (exc.strerror or str(exc)),
                                   hint=OUTPUT_HINT) from None
    return Path(out_path)


def check_output(out_path):
    """Refuse an image path that cannot be written before any work is done."""
    out_path = Path(out_path)
    if out_path.suffix.lower() not in IMAGE_TYPES:
        raise errors.GullwingError("cannot write the plot to " + str(out_path) + ": the name must end in "
                                   + ", ".join(IMAGE_TYPES), hint=OUTPUT_HINT)
    if not out_path.parent.is_dir():
        raise errors.GullwingError("cannot write the plot to " + str(out_path) + ": there is no folder "
                                   + str(out_path.parent), hint=OUTPUT_HINT)
