"""`gullwing plot`: a trace from the simulated board becomes labelled steps with gaps, drawn to a PNG; a recording
of the amplifier, a spectrogram with the engine's firing frequency over it."""

import math
import struct

import machine
import numpy as np
import pytest
from click.testing import CliRunner
from simboard import board as simulated

from host_tools import boards, plot
from host_tools.cli import cli

DEVKITC = boards.load()
LEFT, RIGHT, MOTOR = DEVKITC.pins["door_left"], DEVKITC.pins["door_right"], DEVKITC.pins["motor"]
BUZZER = DEVKITC.pins["buzzer"]


def servo(pin, width_ns):
    """A servo output as the esp32 port takes one: a new PWM refuses duty_ns, so it starts from duty_u16."""
    return machine.PWM(machine.Pin(pin), freq=50, duty_u16=(width_ns * 65536 * 50 + 500_000_000) // 1_000_000_000)


def drive_doors_and_motor():
    """Doors sweep and the motor spins up; the left door is released for half a second, then re-attached."""
    simulated.reset("ESP32")
    left = servo(LEFT, 1_000_000)
    right = servo(RIGHT, 2_000_000)
    motor = machine.PWM(machine.Pin(MOTOR), freq=20_000, duty_u16=0)
    for step in range(1, 26):
        simulated.advance_ms(20)
        left.duty_ns(1_000_000 + step * 40_000)
        right.duty_ns(2_000_000 - step * 40_000)
        motor.duty_u16(step * 2621)
    simulated.advance_ms(500)
    left.deinit()  # t = 1.0 s
    simulated.advance_ms(500)
    servo(LEFT, 1_500_000)  # t = 1.5 s
    motor.duty_u16(32768)
    simulated.advance_ms(500)


def recorded(path):
    """The simulated board's trace so far, written to `path` as `gullwing sim --trace` writes it."""
    with path.open("w") as out:
        simulated.trace.write_csv(out)
    return path


@pytest.fixture
def trace_file(tmp_path):
    drive_doors_and_motor()
    return recorded(tmp_path / "run.csv")


def by_label(series):
    return {s.label: s for s in series}


def test_servo_lines_are_labelled_by_role_and_hold_each_width_until_the_next_change(trace_file):
    rows = plot.read_trace(trace_file)
    servos = by_label(plot.panel_series(rows, DEVKITC, plot.PANELS[0]))
    assert sorted(servos) == ["door_left (GPIO" + str(LEFT) + ")", "door_right (GPIO" + str(RIGHT) + ")"]
    right = servos["door_right (GPIO" + str(RIGHT) + ")"]
    recorded = simulated.trace.rows(RIGHT)
    assert right.times_s[:-1] == [r.t_us / 1e6 for r in recorded]
    assert right.values[:-1] == [r.duty_ns / 1000 for r in recorded]  # widths as the chip made them, in us
    assert right.values[0] == pytest.approx(2000, abs=0.5) and right.values[-2] == pytest.approx(1000, abs=0.5)
    # the last width holds past the last change of the whole trace
    assert right.times_s[-1] > max(r.t_us for r in rows) / 1e6
    assert right.values[-1] == right.values[-2]


def test_a_released_servo_is_a_gap_until_it_is_attached_again(trace_file):
    servos = by_label(plot.panel_series(plot.read_trace(trace_file), DEVKITC, plot.PANELS[0]))
    left = servos["door_left (GPIO" + str(LEFT) + ")"]
    released = left.times_s.index(1.0)
    assert math.isnan(left.values[released])
    assert left.values[released - 1] == pytest.approx(2000, abs=0.5)  # held right up to the release
    assert left.times_s[released + 1] == 1.5
    assert left.values[released + 1] == pytest.approx(1500, abs=0.5)
    assert sum(math.isnan(v) for v in left.values) == 1


def test_motor_duty_is_in_percent_of_the_period(trace_file):
    (motor,) = plot.panel_series(plot.read_trace(trace_file), DEVKITC, plot.PANELS[1])
    assert motor.label == "motor (GPIO" + str(MOTOR) + ")"
    assert motor.values[0] == 0
    assert max(motor.values) == pytest.approx(100, abs=0.1)  # 25 * 2621 is all but the full 16 bits
    assert motor.values[-1] == pytest.approx(50, abs=0.1)


def test_a_motor_switched_as_a_plain_output_is_0_or_100_percent(tmp_path):
    simulated.reset("ESP32")
    pin = machine.Pin(MOTOR, machine.Pin.OUT, value=0)
    simulated.advance_ms(100)
    pin.value(1)
    simulated.advance_ms(100)
    pin.value(0)
    path = tmp_path / "gpio.csv"
    with path.open("w") as out:
        simulated.trace.write_csv(out)
    (motor,) = plot.panel_series(plot.read_trace(path), DEVKITC, plot.PANELS[1])
    assert motor.times_s[:3] == [0.0, 0.1, 0.2]
    assert motor.values == [0.0, 100.0, 0.0, 0.0]


def png_size(path):
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


def test_the_plot_command_draws_a_png(trace_file, tmp_path):
    out = tmp_path / "run.png"
    result = CliRunner().invoke(cli, ["plot", str(trace_file), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "wrote " + str(out)
    width, height = png_size(out)
    assert 800 <= width <= 2000 and 500 <= height <= 1500
    assert out.stat().st_size > 20_000  # lines, labels and legends, not an empty canvas


def test_the_image_defaults_to_the_traces_name(trace_file):
    result = CliRunner().invoke(cli, ["plot", str(trace_file)])
    assert result.exit_code == 0
    png_size(trace_file.with_suffix(".png"))


def test_labels_follow_the_board_given(tmp_path):
    board_file = tmp_path / "tiny.toml"
    board_file.write_text('name = "tiny"\nchip = "ESP32-C3"\n[pins]\ndoor_left = 4\n')
    simulated.reset("ESP32-C3")
    servo(4, 1_200_000)
    simulated.advance_ms(40)
    trace = tmp_path / "c3.csv"
    with trace.open("w") as out:
        simulated.trace.write_csv(out)
    (door,) = plot.panel_series(plot.read_trace(trace), boards.load(board_file), plot.PANELS[0])
    assert door.label == "door_left (GPIO4)"
    assert door.values[0] == pytest.approx(1200, abs=2.5)  # 13-bit LEDC: 2.44 us steps
    plot.plot(trace, tmp_path / "c3.png", board=str(board_file))
    png_size(tmp_path / "c3.png")


def test_extra_columns_are_kept_for_later_panels(tmp_path):
    path = tmp_path / "extra.csv"
    path.write_text("t_us,pin,freq_hz,duty_ns,kind,level,rpm\n0,18,50,1500000,pwm,1,900\n")
    (row,) = plot.read_trace(path)
    assert row.extra == {"rpm": "900"}
    assert row.duty_ns == 1_500_000 and row.kind == "pwm"


@pytest.mark.parametrize("text, words", [
    ("time,pin,value\n0,18,1\n", "header lacks t_us, freq_hz, duty_ns, kind, level"),
    ("t_us,pin,freq_hz,duty_ns,kind,level\n0,18,50,1500000,pwm,1\n20000,18,50,1500000,pwn,1\n",
     "line 3: kind must be one of pwm, gpio, off, rpm, boost, phase, not 'pwn'"),
    ("t_us,pin,freq_hz,duty_ns,kind,level\n0,18,fifty,1500000,pwm,1\n", "line 2: invalid literal"),
])
def test_a_bad_trace_names_what_is_wrong(tmp_path, text, words):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    result = CliRunner().invoke(cli, ["plot", str(path)])
    assert result.exit_code == 2
    assert "error: " + str(path) in result.stderr and words in result.stderr
    assert "hint: " in result.stderr


def test_a_trace_without_servo_or_motor_pins_says_which_pins_it_has(tmp_path):
    path = tmp_path / "led.csv"
    path.write_text("t_us,pin,freq_hz,duty_ns,kind,level\n0,4,0,0,gpio,1\n0,21,1000,500000,pwm,1\n")
    result = CliRunner().invoke(cli, ["plot", str(path)])
    assert result.exit_code == 2
    assert "no servo, motor or buzzer output of board esp32-devkitc" in result.stderr
    assert "led (GPIO4), GPIO21" in result.stderr


# -- a session with the engine: the buzzer, rpm read off its tone, a time window, the show's phases --------

def drive_a_session():
    """A door opens, then the engine's note as the firmware plays it (harmonic 16: rpm * 16 / 40 Hz):
    silent until 1 s, 380 Hz (950 rpm) to 2 s, 3600 Hz (9000 rpm) to 3 s, silent again from 4 s."""
    simulated.reset("ESP32")
    door = servo(LEFT, 1_000_000)
    buzzer = machine.PWM(machine.Pin(BUZZER), freq=100, duty_u16=0)
    for step in range(1, 11):
        simulated.advance_ms(50)
        door.duty_ns(1_000_000 + step * 100_000)  # 0.05 .. 0.5 s: 1100 .. 2000 us
    simulated.advance_ms(500)
    buzzer.freq(380)  # t = 1 s
    buzzer.duty_u16(8192)
    simulated.advance_ms(1000)
    buzzer.freq(3600)  # t = 2 s
    simulated.advance_ms(1000)
    buzzer.freq(2400)  # t = 3 s
    simulated.advance_ms(1000)
    buzzer.duty_u16(0)  # t = 4 s
    simulated.advance_ms(1000)


@pytest.fixture
def session(tmp_path):
    drive_a_session()
    return recorded(tmp_path / "session.csv")


def telemetry(tmp_path, rows):
    """A telemetry file as `make demo` writes it: pseudo-pin -1, a phase's name in `label`."""
    path = tmp_path / "telemetry.csv"
    path.write_text("t_us,pin,freq_hz,duty_ns,kind,level,label\n"
                    + "".join(str(t) + ",-1,0,0," + kind + "," + str(level) + "," + label + "\n"
                              for t, kind, level, label in rows))
    return path


def figure(paths, start_s=None, end_s=None, harmonic=16):
    """The figure `gullwing plot` draws, and its main axes by y label."""
    rows = sorted((r for p in paths for r in plot.read_trace(p)), key=lambda r: r.t_us)
    fig = plot.draw(rows, DEVKITC, plot.window(rows, start_s, end_s), paths[0], harmonic)
    fig.canvas.draw()
    return fig, {ax.get_ylabel(): ax for ax in fig.axes}


def drawn_lines(ax):
    """(label, x data, y data) of the data lines on a panel (phase marks and the like left out)."""
    return {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in ax.get_lines()
            if not line.get_label().startswith("_")}


def test_the_buzzer_panel_shows_its_tone_over_time_and_a_gap_while_it_is_silent(session):
    (tone,) = plot.panel_series(plot.read_trace(session), DEVKITC, plot.BUZZER)
    assert tone.label == "buzzer (GPIO" + str(BUZZER) + ")"
    sounding = [(t, v) for t, v in zip(tone.times_s, tone.values, strict=True) if not math.isnan(v)]
    assert sounding == [(1.0, 380), (2.0, 3602), (3.0, 2404)]  # the tones the chip's divider makes
    assert all(math.isnan(v) for t, v in zip(tone.times_s, tone.values, strict=True) if t < 1.0 or t >= 4.0)


def test_without_rpm_readings_the_rpm_is_read_off_the_buzzer_tone_and_the_plot_says_so(session):
    fig, panels = figure([session])
    assert list(panels) == ["servo pulse width (µs)", "buzzer tone (Hz)"]
    buzzer = panels["buzzer tone (Hz)"]
    (scale,) = buzzer.child_axes
    assert scale.get_ylabel() == "engine rpm ≈ Hz × 40 / 16"
    low, high = buzzer.get_ylim()
    assert scale.get_ylim() == pytest.approx((low * 40 / 16, high * 40 / 16))  # 3600 Hz is 9000 rpm
    title = fig.get_suptitle()
    assert "rpm read off the buzzer's engine note (harmonic 16" in title and "boost not shown" in title


def test_the_rpm_scale_follows_the_harmonic_given(session):
    _, panels = figure([session], harmonic=8)
    buzzer = panels["buzzer tone (Hz)"]
    (scale,) = buzzer.child_axes
    assert scale.get_ylabel() == "engine rpm ≈ Hz × 40 / 8"
    assert scale.get_ylim()[1] == pytest.approx(buzzer.get_ylim()[1] * 5)


def test_rpm_and_boost_readings_get_panels_of_their_own(session, tmp_path):
    readings = telemetry(tmp_path, [(1_000_000, "rpm", 950, ""), (2_000_000, "rpm", 9000, ""),
                                    (1_000_000, "boost", 0, ""), (2_000_000, "boost", 70, "")])
    fig, panels = figure([session, readings])
    assert list(panels) == ["servo pulse width (µs)", "buzzer tone (Hz)", "engine (rpm)", "boost (kPa)"]
    assert drawn_lines(panels["engine (rpm)"])["engine rpm"][1][:2] == [950, 9000]
    assert drawn_lines(panels["boost (kPa)"])["boost"][1][:2] == [0, 70]
    assert panels["buzzer tone (Hz)"].child_axes == []  # the readings, not an estimate
    assert "read off" not in fig.get_suptitle()


def test_a_time_window_draws_only_its_stretch_with_the_values_that_held_when_it_opened(session):
    _, panels = figure([session], start_s=0.22, end_s=2.5)
    door_x, door_y = drawn_lines(panels["servo pulse width (µs)"])["door_left (GPIO" + str(LEFT) + ")"]
    assert door_x[0] == 0.22 and door_y[0] == pytest.approx(1400, abs=1)  # the width set at 0.2 s
    assert door_x[-1] == 2.5 and min(door_x) == 0.22
    tone_x, tone_y = drawn_lines(panels["buzzer tone (Hz)"])["buzzer (GPIO" + str(BUZZER) + ")"]
    assert tone_x == [0.22, 1.0, 1.0, 2.0, 2.5]  # at 1 s the tone is set, then sounded
    assert math.isnan(tone_y[0]) and tone_y[2:] == [380, 3602, 3602]  # 2404 Hz at 3 s is out of the window
    for ax in panels.values():
        assert ax.get_xlim() == (0.22, 2.5)


def test_a_window_past_the_trace_is_cut_to_it(session):
    rows = plot.read_trace(session)
    whole = plot.trace_window(rows)
    assert plot.window(rows, 3.5, 99) == plot.Window(3.5, whole.end_s)
    assert plot.window(rows) == whole


def test_the_show_phases_are_marked_on_every_panel_within_the_window(session, tmp_path):
    phases = telemetry(tmp_path, [(100_000, "phase", 0, "doors open"), (1_000_000, "phase", 0, "engine start"),
                                  (3_000_000, "phase", 0, "lift")])
    fig, panels = figure([session, phases], end_s=2.5)
    top = next(child for child in panels["servo pulse width (µs)"].child_axes)
    assert [label.get_text() for label in top.get_xticklabels()] == ["doors open", "engine start"]
    assert list(top.get_xticks()) == [0.1, 1.0]
    for ax in panels.values():
        marks = [line.get_xdata()[0] for line in ax.get_lines() if line.get_label().startswith("_")]
        assert marks == [0.1, 1.0]


@pytest.mark.parametrize("options", [["--from", "1", "--to", "3"], ["--from", "2.5"], ["--to", "1.5"],
                                     ["--harmonic", "8"], ["--board", "esp32-devkitc"]])
def test_the_plot_command_takes_each_option(session, tmp_path, options):
    out = tmp_path / "session.png"
    result = CliRunner().invoke(cli, ["plot", str(session), "-o", str(out), *options])
    assert result.exit_code == 0, result.output
    png_size(out)


@pytest.mark.parametrize("options, words", [
    (["--from", "-1"], "--from -1 is not a time: give seconds, 0 or more (the trace runs from 0 s to 4.2 s)"),
    (["--to", "nan"], "--to nan is not a time"),
    (["--from", "3", "--to", "2"], "--from 3 s is not before --to 2 s"),
    (["--from", "2", "--to", "2"], "--from 2 s is not before --to 2 s"),
    (["--from", "4.5"], "--from 4.5 s is after the trace's end (the trace runs from 0 s to 4.2 s)"),
    (["--harmonic", "0"], "--harmonic must be 1..64, got 0"),
])
def test_a_bad_window_or_harmonic_is_refused_and_no_image_is_written(session, tmp_path, options, words):
    out = tmp_path / "session.png"
    result = CliRunner().invoke(cli, ["plot", str(session), "-o", str(out), *options])
    assert result.exit_code == 2
    assert "error: " + words in result.stderr and "hint: " in result.stderr
    assert not out.exists()


def test_a_window_before_the_trace_starts_is_refused(tmp_path):
    path = tmp_path / "late.csv"
    path.write_text("t_us,pin,freq_hz,duty_ns,kind,level\n5000000,18,50,1500000,pwm,1\n")
    result = CliRunner().invoke(cli, ["plot", str(path), "--to", "4"])
    assert result.exit_code == 2
    assert "error: --to 4 s is before the trace's start (the trace runs from 5 s to 5.02 s)" in result.stderr
    assert not path.with_suffix(".png").exists()


# -- a recording of the amplifier: its spectrogram ---------------------------------------------------------------

SOUND_RATE = 16_000


def recording(tmp_path, name="showroom.wav"):
    """Two seconds of silence from power-on, then 1 s of firings at 23.75 Hz (950 rpm) and 1 s at 150 Hz (6000 rpm)
    under a 3 kHz whistle, then the WAV header's sizes left unwritten as a stopped recorder leaves them."""
    from host_tools import audio

    t = np.arange(SOUND_RATE) / SOUND_RATE
    idle = np.sin(2 * np.pi * 23.75 * t) ** 31  # one sharp pulse per firing
    pull = np.sin(2 * np.pi * 150 * t) ** 31 * 0.5 + 0.05 * np.sin(2 * np.pi * 3000 * t)
    path = audio.write_wav(tmp_path / name, np.concatenate([np.zeros(2 * SOUND_RATE), 0.5 * idle, pull]), SOUND_RATE)
    data = bytearray(path.read_bytes())
    data[4:8] = data[40:44] = b"\xff\xff\xff\xff"
    path.write_bytes(bytes(data))
    return path


def sound_figure(paths, start_s=None, end_s=None):
    """The spectrogram figure and its axes."""
    from host_tools import audio

    sound = next(p for p in paths if str(p).endswith(".wav"))
    take = audio.read_wav(sound)  # its header's sizes unwritten: read to the end
    rows = sorted((r for p in paths if not str(p).endswith(".wav") for r in plot.read_trace(p)), key=lambda r: r.t_us)
    fig = plot.draw_sound(take, rows, plot.within(plot.Window(0.0, take.duration_s), start_s, end_s), sound)
    fig.canvas.draw()
    return fig, fig.axes[0]


def loudest_hz_at(ax, t_s, low_hz, high_hz):
    """The frequency drawn brightest at `t_s` between two frequencies."""
    mesh = ax.collections[0]
    coords = mesh.get_coordinates()  # corners of each cell: (rows + 1, columns + 1, 2)
    level = mesh.get_array().reshape(coords.shape[0] - 1, coords.shape[1] - 1)
    column = int(np.argmin(np.abs(coords[0, :-1, 0] - t_s)))
    freqs = (coords[:-1, 0, 1] + coords[1:, 0, 1]) / 2
    band = (freqs >= low_hz) & (freqs <= high_hz)
    return freqs[band][np.argmax(level[band, column])]


def test_a_wav_is_drawn_as_a_spectrogram_from_power_on_with_its_sounds_where_they_are(tmp_path):
    fig, ax = sound_figure([recording(tmp_path)])
    assert ax.get_xlim() == (0.0, 4.0) and ax.get_yscale() == "log"
    assert ax.get_ylim() == (plot.LOWEST_SHOWN_HZ, 8000)
    assert loudest_hz_at(ax, 3.5, 2000, 8000) == pytest.approx(3000, rel=0.01)  # the whistle
    assert loudest_hz_at(ax, 3.5, 100, 200) == pytest.approx(150, rel=0.05)  # the firing frequency
    assert loudest_hz_at(ax, 2.5, 15, 40) == pytest.approx(23.75, abs=4)  # an idle's, within a bin
    assert "no rpm readings given" in fig.get_suptitle()
    assert not drawn_lines(ax)


def test_rpm_readings_are_drawn_over_the_spectrogram_as_the_firing_frequency_with_an_rpm_scale(tmp_path):
    readings = telemetry(tmp_path, [(2_000_000, "rpm", 950, ""), (3_000_000, "rpm", 6000, ""),
                                    (2_000_000, "phase", 0, "engine start")])
    fig, ax = sound_figure([recording(tmp_path), readings], start_s=2.5)
    (label, (times, hz)), = drawn_lines(ax).items()
    assert label.startswith("firing frequency, rpm / 40 Hz")
    assert times == [2.5, 3.0, 4.0] and hz == [23.75, 150, 150]  # the reading that held when the window opened
    rpm_scale = next(child for child in ax.child_axes if child.get_ylabel().startswith("engine rpm"))
    assert rpm_scale.get_ylim() == pytest.approx((plot.LOWEST_SHOWN_HZ * 40, 8000 * 40))
    assert ax.get_xlim() == (2.5, 4.0)
    assert "from power-on" in ax.get_xlabel()


def test_the_plot_command_draws_a_wavs_spectrogram_beside_it(tmp_path):
    sound = recording(tmp_path)
    readings = telemetry(tmp_path, [(2_000_000, "rpm", 950, "")])
    result = CliRunner().invoke(cli, ["plot", str(sound), str(readings), "--from", "1", "--to", "3.5"])
    assert result.exit_code == 0, result.output
    png_size(tmp_path / "showroom-spectrogram.png")  # clear of the trace's showroom.png


@pytest.mark.parametrize("options, words", [
    (["--from", "5"], "--from 5 s is after the recording's end (the recording runs from 0 s to 4 s)"),
    (["--from", "-2"], "--from -2 is not a time"),
])
def test_a_window_outside_the_recording_is_refused(tmp_path, options, words):
    result = CliRunner().invoke(cli, ["plot", str(recording(tmp_path)), *options])
    assert result.exit_code == 2 and "error: " + words in result.stderr
    assert not (tmp_path / "showroom-spectrogram.png").exists()


def test_a_file_that_is_no_wav_or_two_wavs_are_refused(tmp_path):
    fake = tmp_path / "fake.wav"
    fake.write_text("t_us,pin\n")
    result = CliRunner().invoke(cli, ["plot", str(fake)])
    assert result.exit_code == 2 and "is not a WAV file" in result.stderr
    assert "hint: give a 16-bit mono" in result.stderr
    result = CliRunner().invoke(cli, ["plot", str(recording(tmp_path)), str(recording(tmp_path, "b.wav"))])
    assert result.exit_code == 2 and "give one recording to plot, not 2" in result.stderr
