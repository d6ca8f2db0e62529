"""Plotting an output trace: servo pulse widths, motor duty and the buzzer's tone over time, one labelled
line per pin.

A trace row is a change: the value holds until the pin's next row, and a released pin (`off`) drives
nothing, drawn as a gap. The trace does not say how long its last values lasted, so every line runs
on a little past the last row (TAIL), which keeps a change at the very end visible. A time window
(`Window`) draws part of a long trace: each line starts with the value it held at the window's start.

Each panel is a `Panel`: which pins it shows and what value a row gives. Telemetry rows (pseudo-pin
-1, as `make demo` records them beside the trace) add panels of the engine's rpm and boost, and a
`phase` row names a phase of a show (its name in the `label` column), marked on every panel.

A board's trace holds its outputs only. Without rpm readings, the buzzer panel carries an rpm scale:
the firmware's engine note is rpm / FIRING_DIVISOR * harmonic Hz (firmware/gullwing/voice.py), so its
tone gives the rpm. Boost leaves no trace in the outputs and is drawn only from readings.

A recording of the I2S amplifier (a WAV, `gullwing sim --audio`) is drawn as a spectrogram on the same time
axis (its sample 0 is the board's power-on); rpm readings given beside it are drawn over it as the engine's
firing frequency, rpm / FIRING_DIVISOR Hz, the beat its sound repeats at.
"""

import csv
import importlib.util
import math
from dataclasses import dataclass, field
from pathlib import Path

from host_tools import FIRMWARE_DIR, boards, errors

COLUMNS = ("t_us", "pin", "freq_hz", "duty_ns", "kind", "level")
KINDS = ("pwm", "gpio", "off")
PHASE = "phase"
TELEMETRY = ("rpm", "boost", PHASE)  # readings on pseudo-pin -1 (`make demo` writes them beside the trace)
GAP = math.nan  # a released output or a silent buzzer: no line drawn
TAIL = 0.05  # lines run on past the last row by this share of the trace's duration...
MIN_TAIL_S = 0.02  # ...and at least one servo frame
FIRING_DIVISOR = 40  # voice.py FIRING_DIVISOR: a four-stroke triple fires at rpm / 40 Hz
CHIRP = "a blow-off chirps 4 to 2 kHz"  # voice.py CHIRP_FROM_HZ, CHIRP_TO_HZ: not the engine's note
LOWEST_TONE_HZ = 100  # voice.py BUZZER_MIN_HZ: slower engines hold the tone there


IMAGE_TYPES = (".png", ".svg", ".pdf")
SOUND_TYPES = (".wav",)  # a recording of the amplifier (`gullwing sim --audio`): drawn as a spectrogram
LOWEST_SHOWN_HZ = 15  # below an idle's firing frequency (950 rpm / 40 = 23.75 Hz)
SPECTROGRAM_FLOOR_DB = -90  # quieter is drawn black: 16-bit samples reach about -96 dB
OUTPUT_HINT = "name an image (.png, .svg or .pdf) in a folder that exists and that you may write to: -o FILE.png"


class BadTraceFile(errors.GullwingError):
    hint = "give a trace CSV written by the simulated board (header t_us,pin,freq_hz,duty_ns,kind,level)"


class BadWindow(errors.GullwingError):
    hint = "give --from and --to in seconds on the plot's time axis, --from before --to"


@dataclass(frozen=True)
class TraceRow:
    t_us: int
    pin: int
    freq_hz: int
    duty_ns: int
    kind: str  # pwm, gpio or off; rpm, boost or phase on pseudo-pin -1
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
class Window:
    """The stretch of time drawn, in seconds on the trace's time axis."""

    start_s: float
    end_s: float


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


def tone_hz(row):
    """The buzzer sounds only while its PWM has a duty: a silent buzzer has no pitch."""
    return float(row.freq_hz) if row.kind == "pwm" and row.duty_ns > 0 else GAP


def reading(row):
    return float(row.level)


SERVOS = Panel("servos", "servo pulse width (µs)", ("door_left", "door_right"), pulse_width_us)
MOTOR = Panel("motor", "motor duty (%)", ("motor", "motor_in1", "motor_in2"), duty_percent, ylim=(-5, 105))
BUZZER = Panel("buzzer", "buzzer tone (Hz)", ("buzzer",), tone_hz)
RPM = Panel("engine rpm", "engine (rpm)", (), reading, kind="rpm")
BOOST = Panel("boost", "boost (kPa)", (), reading, kind="boost")
PANELS = [SERVOS, MOTOR, BUZZER, RPM, BOOST]


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


def trace_window(rows):
    """The whole trace: its first row to a little past its last."""
    start_s = min(r.t_us for r in rows) / 1e6
    last_s = max(r.t_us for r in rows) / 1e6
    return Window(start_s, last_s + max((last_s - start_s) * TAIL, MIN_TAIL_S))


def window(rows, start_s=None, end_s=None):
    """The part of the trace to draw: from `start_s` (default: its start) to `end_s` (default: its end),
    in seconds; an end past the trace's is cut to it. BadWindow says why a window cannot be drawn."""
    return within(trace_window(rows), start_s, end_s)


def within(whole, start_s=None, end_s=None, what="trace"):
    """The part of `whole` (the `what`'s Window) from `start_s` to `end_s`, as `window` takes it."""
    span = " (the " + what + " runs from " + _seconds(whole.start_s) + " to " + _seconds(whole.end_s) + ")"
    for option, value in (("--from", start_s), ("--to", end_s)):
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise BadWindow(option + " " + str(value).removesuffix(".0") + " is not a time: give seconds, 0 or more"
                            + span)
    if start_s is not None and end_s is not None and start_s >= end_s:
        raise BadWindow("--from " + _seconds(start_s) + " is not before --to " + _seconds(end_s))
    if start_s is not None and start_s >= whole.end_s:
        raise BadWindow("--from " + _seconds(start_s) + " is after the " + what + "'s end" + span)
    if end_s is not None and end_s <= whole.start_s:
        raise BadWindow("--to " + _seconds(end_s) + " is before the " + what + "'s start" + span)
    return Window(whole.start_s if start_s is None else start_s,
                  whole.end_s if end_s is None else min(end_s, whole.end_s))


def _seconds(value):
    return f"{value:.3f}".rstrip("0").rstrip(".") + " s"


def panel_series(rows, board, panel, drawn=None):
    """Series of every pin `panel` shows, by GPIO, within the window `drawn` (default: the whole trace):
    each starts with the value it held at the window's start and holds its last value to the window's end."""
    if not rows:
        return []
    drawn = drawn or trace_window(rows)
    by_pin = {}
    for row in rows:
        if panel.picks(board, row):
            by_pin.setdefault(row.pin, []).append(row)
    out = []
    for pin in sorted(by_pin):
        times, values = [], []
        for row in by_pin[pin]:
            t_s = row.t_us / 1e6
            if t_s > drawn.end_s:
                break
            if t_s < drawn.start_s:  # only the value holding when the window opens counts
                times, values = [drawn.start_s], [float(panel.value(row))]
            else:
                times.append(t_s)
                values.append(float(panel.value(row)))
        if times:
            times.append(drawn.end_s)  # the last value holds to the window's end
            values.append(values[-1])
            out.append(Series(pin, panel.label(board, pin), times, values))
    return out


def phases(rows, drawn):
    """(time, name) of every show phase within the window."""
    return [(r.t_us / 1e6, r.extra.get("label") or "") for r in rows
            if r.kind == PHASE and drawn.start_s <= r.t_us / 1e6 <= drawn.end_s]


def harmonic_setting():
    """voice.harmonic as the firmware declares it (firmware/gullwing/schema.py, import-free):
    (default, low, high, unit)."""
    spec = importlib.util.spec_from_file_location("gullwing_schema", FIRMWARE_DIR / "gullwing" / "schema.py")
    schema = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(schema)
    return schema.VOICE["harmonic"]


def check_harmonic(harmonic):
    """The harmonic to read rpm with: the firmware's default, or `harmonic` when within its range."""
    default, low, high, _ = harmonic_setting()
    if harmonic is None:
        return default
    if not low <= harmonic <= high:
        raise errors.GullwingError("--harmonic must be " + str(low) + ".." + str(high) + ", got " + str(harmonic),
                                   hint="give the board's `voice.harmonic` (`gullwing send config get voice.harmonic`)")
    return harmonic


def draw(rows, board, drawn, source, harmonic):
    """The figure of `rows` (read from the file `source`) within the window `drawn`, one panel per filled
    entry of PANELS."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    filled = [(p, s) for p in PANELS if (s := panel_series(rows, board, p, drawn))]
    if not filled:
        pins = sorted({r.pin for r in rows if r.kind in KINDS})
        raise BadTraceFile(str(source) + " has no servo, motor or buzzer output of board " + board.name +
                           " (pins in the trace: " + (", ".join(board.label(p) for p in pins) or "none") + ")",
                           hint="plot with the board the trace was made on: --board NAME")
    fig = Figure(figsize=(11, 2.6 + 2.4 * len(filled)), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(filled), 1, sharex=True, squeeze=False)[:, 0]
    has_rpm = any(panel is RPM for panel, _ in filled)
    notes = "steps: each value holds until the next change; gaps: output released, buzzer silent"
    for ax, (panel, series) in zip(axes, filled, strict=True):
        for line in series:
            ax.step(line.times_s, line.values, where="post", label=line.label, linewidth=1.6)
        ax.set_ylabel(panel.ylabel)
        if panel.ylim:
            ax.set_ylim(*panel.ylim)
        beside = 1.01  # legends right of the panels, clear of the lines
        if panel is BUZZER and not has_rpm:
            notes += "\n" + _rpm_scale(ax, harmonic)
            beside = 1.1  # and of the rpm scale
        ax.grid(True, alpha=0.3)
        ax.legend(loc="upper left", bbox_to_anchor=(beside, 1.0), fontsize="small", borderaxespad=0)
    axes[0].set_xlim(drawn.start_s, drawn.end_s)
    axes[-1].set_xlabel("time (s)")
    _mark_phases(axes, phases(rows, drawn))
    fig.suptitle("Output trace " + Path(source).name + ", board " + board.name + " (" + board.chip_name + "), "
                 + _seconds(drawn.start_s) + " to " + _seconds(drawn.end_s) + "\n" + notes, fontsize="medium")
    return fig


def _rpm_scale(ax, harmonic):
    """A right-hand axis giving the engine rpm that each engine note stands for; the words for the title."""
    def to_rpm(hz):
        return hz * FIRING_DIVISOR / harmonic

    def to_hz(rpm):
        return rpm * harmonic / FIRING_DIVISOR

    scale = ax.secondary_yaxis("right", functions=(to_rpm, to_hz))
    scale.set_ylabel("engine rpm ≈ Hz × " + str(FIRING_DIVISOR) + " / " + str(harmonic))
    return ("no rpm or boost readings in the trace: rpm read off the buzzer's engine note (harmonic " + str(harmonic)
            + "; it stays at " + str(LOWEST_TONE_HZ) + " Hz below " + str(round(to_rpm(LOWEST_TONE_HZ)))
            + " rpm;\n" + CHIRP + "), boost not shown")


def _mark_phases(axes, marks):
    """A dashed line across every panel at each phase, named along the top."""
    if not marks:
        return
    for ax in axes:
        for t_s, _ in marks:
            ax.axvline(t_s, color="0.45", linestyle="--", linewidth=0.8)
    top = axes[0].secondary_xaxis("top")
    top.set_xticks([t for t, _ in marks], labels=[name for _, name in marks], rotation=35, ha="left",
                   fontsize="small")


def plot(trace_path, out_path, board=None, start_s=None, end_s=None, harmonic=None):
    """Draw the trace at `trace_path` (one path, or several whose rows are merged, such as a trace and
    its telemetry) into an image at `out_path` (PNG, SVG, PDF by suffix), from `start_s` to `end_s`
    seconds (default: all of it). `harmonic`: the board's `voice.harmonic`, for the rpm scale.
    A WAV among the paths is drawn as a spectrogram instead (`plot_sound`), the other files giving its rpm."""
    check_output(out_path)
    paths = [trace_path] if isinstance(trace_path, (str, Path)) else list(trace_path)
    if any(_is_sound(path) for path in paths):
        return plot_sound(paths, out_path, start_s, end_s)
    harmonic = check_harmonic(harmonic)
    spec = boards.load(board)
    rows = _merged(paths)
    if not rows:
        raise BadTraceFile(str(paths[0]) + " has no rows: the board changed no output while it was recorded")
    return _save(draw(rows, spec, window(rows, start_s, end_s), paths[0], harmonic), out_path)


def _merged(paths):
    return sorted((row for path in paths for row in read_trace(path)), key=lambda row: row.t_us)


def _save(fig, out_path):
    try:
        fig.savefig(out_path, dpi=110)
    except OSError as exc:
        raise errors.GullwingError("cannot write the plot to " + str(out_path) + ": " + (exc.strerror or str(exc)),
                                   hint=OUTPUT_HINT) from None
    return Path(out_path)


def default_output(paths):
    """The image a plot writes when none is named: beside the first file, `NAME.png`, or `NAME-spectrogram.png`
    for a recording (clear of the trace's own plot of the same name)."""
    sound = next((Path(p) for p in paths if _is_sound(p)), None)
    return sound.with_name(sound.stem + "-spectrogram.png") if sound else Path(paths[0]).with_suffix(".png")


# -- a recording of the amplifier: its spectrogram ------------------------------------------------------------


def _is_sound(path):
    return Path(path).suffix.lower() in SOUND_TYPES


def plot_sound(paths, out_path, start_s=None, end_s=None):
    """Draw the spectrogram of the one WAV among `paths` into `out_path`, from `start_s` to `end_s` seconds on the
    trace's axis (sample 0 is the board's power-on, 0 s); rpm readings in the other files (trace CSVs with
    `rpm` rows) are drawn over it as the firing frequency, rpm / FIRING_DIVISOR Hz, with an rpm scale."""
    from host_tools import audio

    check_output(out_path)
    sounds = [p for p in paths if _is_sound(p)]
    if len(sounds) != 1:
        raise errors.GullwingError("give one recording to plot, not " + str(len(sounds)) + ": "
                                   + ", ".join(str(p) for p in sounds),
                                   hint="plot each WAV on its own: gullwing plot FILE.wav [telemetry.csv]")
    recording = audio.read_wav(sounds[0])
    if not len(recording.samples):
        raise audio.BadWavFile(str(sounds[0]) + " has no samples: the amplifier played nothing while it was recorded")
    rows = _merged([p for p in paths if not _is_sound(p)])
    drawn = within(Window(0.0, recording.duration_s), start_s, end_s, what="recording")
    return _save(draw_sound(recording, rows, drawn, sounds[0]), out_path)


def rpm_line(rows, drawn):
    """(times_s, firing Hz) of the rpm readings within the window `drawn`, starting with the reading that held
    when it opened; empty without readings."""
    readings = [(r.t_us / 1e6, r.level / FIRING_DIVISOR) for r in rows if r.kind == "rpm"]
    before = [hz for t, hz in readings if t < drawn.start_s]
    line = ([(drawn.start_s, before[-1])] if before else []) + [
        (t, hz) for t, hz in readings if drawn.start_s <= t <= drawn.end_s]
    return [t for t, _ in line], [hz for _, hz in line]


def draw_sound(recording, rows, drawn, source):
    """The spectrogram figure of `recording` within the window `drawn`, frequency on a log scale from
    LOWEST_SHOWN_HZ (so an idle's firing and a turbo's whistle both show), rpm readings in `rows` over it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from host_tools import audio

    stretch = recording.between(drawn.start_s, drawn.end_s)
    times, freqs, level = audio.spectrogram(stretch, recording.rate)
    fig = Figure(figsize=(11, 5.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    shown = freqs >= LOWEST_SHOWN_HZ
    if len(times):
        image = ax.pcolormesh(times + drawn.start_s, freqs[shown], level[shown], shading="nearest", cmap="magma",
                              vmin=SPECTROGRAM_FLOOR_DB, vmax=0, rasterized=True)
        fig.colorbar(image, ax=ax, label="level (dB full scale)", pad=0.1)
    ax.set_yscale("log")
    ax.set_ylim(LOWEST_SHOWN_HZ, recording.rate / 2)
    ax.set_xlim(drawn.start_s, drawn.end_s)
    ax.set_xlabel("time (s, from power-on)")
    ax.set_ylabel("frequency (Hz)")
    line_t, line_hz = rpm_line(rows, drawn)
    if line_t:
        ax.step(line_t + [drawn.end_s], line_hz + [line_hz[-1]], where="post", color="cyan", linewidth=1.4,
                label="firing frequency, rpm / " + str(FIRING_DIVISOR) + " Hz (rpm readings)")
        scale = ax.secondary_yaxis("right", functions=(lambda hz: hz * FIRING_DIVISOR,
                                                       lambda rpm: rpm / FIRING_DIVISOR))
        scale.set_ylabel("engine rpm on the firing line (Hz × " + str(FIRING_DIVISOR) + ")")
        ax.legend(loc="upper right", fontsize="small")
        notes = "the cyan line: the engine's firing frequency read from its rpm"
    else:
        notes = "no rpm readings given: add the telemetry CSV (`make demo` writes out/demo/telemetry.csv) for rpm"
    _mark_phases([ax], phases(rows, drawn))
    fig.suptitle("Sound " + Path(source).name + ", " + str(recording.rate) + " Hz, " + _seconds(drawn.start_s)
                 + " to " + _seconds(drawn.end_s) + "\n" + notes, fontsize="medium")
    return fig


def check_output(out_path):
    """Refuse an image path that cannot be written before any work is done."""
    out_path = Path(out_path)
    if out_path.suffix.lower() not in IMAGE_TYPES:
        raise errors.GullwingError("cannot write the plot to " + str(out_path) + ": the name must end in "
                                   + ", ".join(IMAGE_TYPES), hint=OUTPUT_HINT)
    if not out_path.parent.is_dir():
        raise errors.GullwingError("cannot write the plot to " + str(out_path) + ": there is no folder "
                                   + str(out_path.parent), hint=OUTPUT_HINT)
