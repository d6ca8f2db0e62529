"""`gullwing plot`: a trace from the simulated board becomes labelled steps with gaps, drawn to a PNG."""

import math
import struct

import machine
import pytest
from click.testing import CliRunner
from simboard import board as simulated

from host_tools import boards, plot
from host_tools.cli import cli

DEVKITC = boards.load()
LEFT, RIGHT, MOTOR = DEVKITC.pins["door_left"], DEVKITC.pins["door_right"], DEVKITC.pins["motor"]


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


@pytest.fixture
def trace_file(tmp_path):
    drive_doors_and_motor()
    path = tmp_path / "run.csv"
    with path.open("w") as out:
        simulated.trace.write_csv(out)
    return path


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
     "line 3: kind must be one of pwm, gpio, off, rpm, boost, not 'pwn'"),
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
    path.write_text("t_us,pin,freq_hz,duty_ns,kind,level\n0,4,0,0,gpio,1\n0,13,1000,500000,pwm,1\n")
    result = CliRunner().invoke(cli, ["plot", str(path)])
    assert result.exit_code == 2
    assert "no servo or motor output of board esp32-devkitc" in result.stderr
    assert "led (GPIO4), GPIO13" in result.stderr
