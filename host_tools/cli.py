"""The `gullwing` command line: a thin layer over the host_tools modules."""

import sys

import click

from host_tools import __version__
from host_tools.errors import GullwingError

BOARD_HELP = ("Board file: a name from `gullwing boards list` or a path to a .toml file. Default: $GULLWING_BOARD, "
              "else the project's gullwing.toml, else esp32-devkitc.")
PROJECT_FILE = "gullwing.toml"
PROJECT_HINT = ('gullwing.toml holds at most board = "NAME" and kit = "NAME" (names from `gullwing boards list` '
                "and kits/, or paths to .toml files)")
PORT_HELP = ("Serial port of the board. Default: $GULLWING_PORT, else the one connected board: found by its USB "
             "id, or a running `gullwing sim` (several or none is an error that lists the ports).")


def report(exc):
    """How every command shows an error the user can fix: what went wrong, then what to do."""
    click.echo("error: " + str(exc), err=True)
    if exc.hint:
        click.echo("hint: " + exc.hint, err=True)


def project_defaults():
    """The project's board and kit, for a command line that names neither: GULLWING_BOARD / GULLWING_KIT,
    else gullwing.toml in the working folder. Returns (board, kit, where they came from); None for what
    is not set. The first of these that names either decides both."""
    import os
    import tomllib
    from pathlib import Path

    from_env = {key: os.environ.get("GULLWING_" + key.upper()) or None for key in ("board", "kit")}
    if any(from_env.values()):
        where = " and ".join("GULLWING_" + key.upper() for key, value in from_env.items() if value)
        return from_env["board"], from_env["kit"], "from " + where
    path = Path(PROJECT_FILE)
    if not path.exists():
        return None, None, ""
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise GullwingError(PROJECT_FILE + ": not valid TOML: " + str(exc), hint=PROJECT_HINT) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise GullwingError(PROJECT_FILE + ": cannot be read: " + str(getattr(exc, "strerror", None) or exc),
                            hint="make it a readable text file, or remove it") from None
    for key, value in data.items():
        if key not in ("board", "kit"):
            raise GullwingError(PROJECT_FILE + ": " + key + ": unknown key", hint=PROJECT_HINT)
        if not isinstance(value, str) or not value:
            raise GullwingError(PROJECT_FILE + ": " + key + ": must be a name in quotes", hint=PROJECT_HINT)
    return data.get("board"), data.get("kit"), "from " + PROJECT_FILE


def project_board(board_name):
    """The board for a command that takes --board: the option, else the project's board (or its kit's
    board; the two must agree), else None (the default board)."""
    if board_name:
        return board_name
    board, kit_name, where = project_defaults()
    if not board and not kit_name:
        return None
    from host_tools import deploy

    return str(deploy.target(board, kit_name, where).board.path)


# What a Ctrl-C leaves behind, by command; the rest leave nothing half done.
INTERRUPTED_HINTS = {
    "deploy": "the board still boots (its old firmware, or the new one if the deploy had committed); "
              "`gullwing deploy` again completes it",
    "flash": "the board may now have no working MicroPython: run `gullwing flash` again to write it whole",
}
INTERRUPTED_HINT = "nothing was left half done; run the command again when you are ready"


class _ReportingGroup(click.Group):
    """Runs the commands. What a user can cause is reported as one `error:` line and one `hint:` line:
    a GullwingError, an OS-level failure (a file or folder that cannot be read or written, a serial port
    that fails: errors.from_exception) exit with status 2, Ctrl-C with 130. Anything else is a bug and
    keeps its traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            hint = INTERRUPTED_HINTS.get(ctx.invoked_subcommand or "", INTERRUPTED_HINT)
            report(GullwingError("interrupted (Ctrl-C)", hint=hint))
            ctx.exit(130)
        except Exception as exc:
            from host_tools.errors import from_exception

            error = from_exception(exc)
            if error is None:
                raise
            report(error)
            ctx.exit(2)


@click.group(cls=_ReportingGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gullwing")
def cli():
    """Flash, deploy, control and simulate gullwing boards (animated Autozam AZ-1 models)."""


@cli.command()
@click.option("--board", "board_name", default=None, metavar="NAME", help=BOARD_HELP)
@click.option("--flash", "flash_dir", type=click.Path(file_okay=False), default=None,
              help="Folder that plays the board's flash; kept across runs. Default: a fresh temporary one.")
@click.option("--trace", "trace_path", type=click.Path(dir_okay=False), default=None,
              help="Write every output change to this CSV (t_us,pin,freq_hz,duty_ns,kind,level), kept current "
                   "while the board runs (tail or plot it meanwhile).")
@click.option("--heap-kb", type=click.IntRange(16, 8192), default=None,
              help="Heap the firmware gets, in KB of the 32-bit chip. Default: the chip's internal RAM heap "
                   "(ESP32 112, S2, S3 and C3 128); give PSRAM boards more.")
@click.option("--baud", type=click.IntRange(300, 3_000_000), default=None,
              help="Pace the wire like a USB-UART bridge at this rate (115200: about 11.5 KB/s).")
@click.option("--flash-kb", type=click.IntRange(64, 16384), default=2048, show_default=True,
              help="Size of the board's filesystem; writes past it fail as on a full board.")
@click.option("--jumper", "jumpers", multiple=True, metavar="A:B",
              help="Wire GPIO A to GPIO B at every boot: what one drives, the other reads. Repeatable.")
@click.option("--start-ms", type=click.IntRange(0, (1 << 40)), default=0, show_default=True,
              help="The board's clock at power-up, in ms (2^30 - 5000 sees time.ticks_ms() wrap 5 s in).")
@click.option("--uart", "uarts", multiple=True, metavar="ID",
              help="Wire UART ID to a pseudo-terminal of its own, printed as `uartID: /dev/pts/M` after the port "
                   "line: what is written there arrives on the UART, what the firmware sends comes out. Repeatable.")
@click.option("--receiver", "receivers", multiple=True, metavar="GPIO[:US]",
              help="An RC receiver channel on GPIO: a pulse of US microseconds (800-2200, default 1500; `off`: "
                   "none) every 20 ms. Repeatable. The `rc: /dev/pts/N` line names a terminal where `GPIO US` or "
                   "`GPIO off` changes a channel's pulses while the board runs.")
@click.option("--download", is_flag=True,
              help="Power up with BOOT held: the ROM loader answers esptool on the port (`--before no-reset`).")
@click.option("--audio", "audio_path", type=click.Path(dir_okay=False), default=None, metavar="FILE.wav",
              help="Record what an I2S amplifier on the board plays: a 16-bit mono WAV from power-on, on the "
                   "trace's clock, at the rate of the first I2S to play (16000 if none does), valid while it grows.")
@click.option("--wifi", "wifi", multiple=True, metavar="SSID:PASSWORD",
              help="A home network in range of the board's station (WPA2; `SSID:` for an open one). Repeatable. "
                   "When the firmware listens on port 80, `web: http://127.0.0.1:PORT/` is printed: its page.")
def sim(board_name, flash_dir, trace_path, heap_kb, baud, flash_kb, jumpers, start_ms, uarts, receivers, download,
        audio_path, wifi):
    """Run a virtual board: MicroPython behind a serial port that every tool can use.

    The first line printed is `port: /dev/pts/N`. It boots like an ESP32 (boot.py, then main.py), answers
    Ctrl-C, the raw REPL and raw-paste mode, soft-resets on Ctrl-D, and keeps its files in the flash
    folder across resets. Stop it with Ctrl-C or SIGTERM.

    The board's serial port is also served over RFC 2217 (the `rfc2217:` line), where DTR and RTS reach the
    board's auto-reset circuit as on a DevKitC: esptool resets it into its ROM loader and back.
    """
    import signal
    import threading

    from host_tools import boards
    from host_tools.virtual_board import VirtualBoard, parse_wifi
    from host_tools.wired import parse_jumpers, parse_receivers, parse_uarts

    board = boards.load(project_board(board_name))
    try:
        wires = parse_jumpers(board.chip_name, jumpers)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--jumper") from None
    try:
        uart_ids = parse_uarts(board.chip_name, uarts)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--uart") from None
    try:
        channels = parse_receivers(board.chip_name, receivers)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--receiver") from None
    try:
        networks = parse_wifi(wifi)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--wifi") from None
    usb_console = bool(board.usb_ids) and board.usb_ids[0].startswith("303a:")  # Espressif's own USB
    vb = VirtualBoard(chip=board.chip_name, flash_dir=flash_dir, trace_path=trace_path, heap_kb=heap_kb,
                      baud=baud, flash_kb=flash_kb, name=board.name, jumpers=wires, start_ms=start_ms,
                      usb_console=usb_console, receivers=channels, uarts=uart_ids, download=download,
                      audio_path=audio_path, wifi=networks, on_web=lambda url: announce_web(url))
    header_done = threading.Event()

    def announce_web(url):
        header_done.wait()  # after the port: and wired lines, however fast the firmware listens
        click.echo("web: " + url)
        sys.stdout.flush()

    port = vb.start()
    click.echo("port: " + port)
    for uart_id, wired in vb.uart_ports.items():
        click.echo("uart" + str(uart_id) + ": " + wired.port)
    if vb.receiver_port is not None:
        click.echo("rc: " + vb.receiver_port.port)
    click.echo("rfc2217: rfc2217://127.0.0.1:" + str(vb.rfc2217_port))
    click.echo("board: " + board.name + " (" + board.chip_name + "), flash: " + str(vb.flash_dir)
               + ("" if not trace_path else ", trace: " + str(vb.trace_path))
               + ("" if not audio_path else ", audio: " + str(vb.audio_path)), err=True)
    sys.stdout.flush()
    header_done.set()
    signal.signal(signal.SIGTERM, lambda *_: vb.stop())
    try:
        vb.wait()
    except KeyboardInterrupt:
        pass
    finally:
        vb.stop()


@cli.command("flash", short_help="Put MicroPython on a board, then deploy gullwing.")
@click.option("--port", "-p", metavar="PORT", default=None, help=PORT_HELP)
@click.option("--firmware", "-f", "firmware", required=True, metavar="FILE.bin",
              type=click.Path(exists=True, dir_okay=False),
              help="MicroPython image for the board's chip, as downloaded from https://micropython.org/download/.")
@click.option("--board", "board_name", default=None, metavar="NAME", help=BOARD_HELP)
@click.option("--erase", is_flag=True, help="Erase the whole flash first (removes every file on the board).")
@click.option("--verbose", "-v", is_flag=True, help="Show esptool's own messages.")
def flash_command(port, firmware, board_name, erase, verbose):
    """Put MicroPython on a board over USB, then deploy the gullwing firmware.

    The image is checked before the board is touched: it must be a whole MicroPython image (bootloader,
    partition table, application) for the chip in the board file. It is written at that chip's offset
    (0x1000 on ESP32 and ESP32-S2, 0x0 on later chips) at 460800 baud, again at 115200 if the fast
    link fails.

    If the board does not answer, hold its BOOT button, tap EN (reset), release BOOT and run again.
    """
    from host_tools import deploy, flash

    board, kit_name, where = (board_name, None, "") if board_name else project_defaults()
    chosen = deploy.target(board, kit_name, where) if board or kit_name else None
    flash.flash(port, firmware, chosen and str(chosen.board.path), erase=erase, verbose=verbose,
                kit=chosen and chosen.kit)  # a project kit is deployed with its settings


@cli.command("plot", short_help="Plot servo pulses, motor duty and buzzer tone of a trace; a WAV's spectrogram.")
@click.argument("trace", type=click.Path(exists=True, dir_okay=False), nargs=-1, required=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None, metavar="FILE.png",
              help="Image to write (.png, .svg or .pdf). Default: the trace's name with .png "
                   "(NAME-spectrogram.png for NAME.wav).")
@click.option("--board", "board_name", default=None, metavar="NAME", help=BOARD_HELP)
@click.option("--from", "start_s", type=float, default=None, metavar="SECONDS",
              help="Start of the time window drawn, in seconds on the trace's time axis. Default: its start.")
@click.option("--to", "end_s", type=float, default=None, metavar="SECONDS",
              help="End of the time window drawn. Default: the trace's end.")
@click.option("--harmonic", type=int, default=None, metavar="N",
              help="The board's `voice.harmonic`, for the rpm read off the buzzer tone. Default: the firmware's.")
def plot_command(trace, output, board_name, start_s, end_s, harmonic):
    """Plot an output trace: door servo pulse widths (us), motor duty (%) and buzzer tone (Hz) over time.

    TRACE is a CSV written by `gullwing sim --trace` (t_us,pin,freq_hz,duty_ns,kind,level). Each line is
    named by its role in the board file, e.g. `door_left (GPIO18)`; each value holds until the next
    change, and a released output or a silent buzzer shows as a gap. The buzzer's engine note follows
    the rpm, so its panel has an rpm scale. Further files of the same form are merged in: rows of kind
    `rpm` and `boost` (as `make demo` records them) add engine panels, rows of kind `phase` mark the
    show's phases. `--from 60 --to 90` draws that half minute of a long session.

    A WAV (`gullwing sim --audio FILE.wav`) is drawn as a spectrogram, time from power-on; rpm readings
    in the files given with it (out/demo/telemetry.csv) are drawn over it as the firing frequency, rpm / 40 Hz.
    """
    from host_tools import plot

    written = plot.plot(trace, output or plot.default_output(trace), project_board(board_name),
                        start_s=start_s, end_s=end_s, harmonic=harmonic)
    click.echo("wrote " + str(written))


@cli.group("boards")
def boards_group():
    """The board files gullwing knows (boards/*.toml)."""


@boards_group.command("list")
def boards_list():
    """List every board file: name (for --board), chip and title."""
    from host_tools import boards

    found, broken = boards.catalogue()
    width = max([len(b.name) for b in found] + [4])
    click.echo("name".ljust(width) + "  chip      title")
    for board in found:
        click.echo(board.name.ljust(width) + "  " + board.chip_name.ljust(8) + "  " + board.title)
    for exc in broken:
        report(exc)
    if broken:
        raise click.exceptions.Exit(2)


@boards_group.command("check")
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
def boards_check(files):
    """Check board files (paths, or names from `gullwing boards list`) against their chip's pin rules.

    Prints every error and warning once, each naming the file, the key and the fix, then a summary line
    per file. Exits 1 when a file has errors, 0 when it has only warnings or none; docs/boards.md lists
    the rules.
    """
    from host_tools import boards

    failed = False
    for name in files:
        problems = boards.problems_of(name)
        for problem in problems:
            click.echo(problem.severity + ": " + str(problem))
        click.echo(boards.summary(name, problems))
        failed = failed or any(p.severity == boards.ERROR for p in problems)
    if failed:
        raise click.exceptions.Exit(1)


@cli.command()
@click.option("--port", default=None, help=PORT_HELP)
@click.option("--board", "board_name", default=None, metavar="NAME",
              help="Board file: a name from `gullwing boards list` or a path to a .toml file.")
@click.option("--kit", "kit_name", default=None, metavar="NAME",
              help="Kit file (name in kits/ or a path): its board and its settings in config.json.")
def deploy(port, board_name, kit_name):
    """Compile the firmware and put it on the board: only what changed is sent, old files are removed.

    Board file and kit: --board / --kit, else $GULLWING_BOARD / $GULLWING_KIT, else gullwing.toml in
    the working folder, else the ones the board's last deploy installed, else esp32-devkitc. A board
    whose chip is not the board file's is refused before anything is written.

    A deploy interrupted at any point (cable pulled, power cut) leaves a board that boots; the next
    deploy completes it. The board is reset at the end and must come up with the new firmware.
    """
    from host_tools import deploy as deployer

    source = ""
    if board_name is None and kit_name is None:
        board_name, kit_name, source = project_defaults()
    click.echo(deployer.deploy(port=port, board=board_name, kit=kit_name, source=source).line())


# -- talking to the firmware ------------------------------------------------------------------------

def _ask(port, line, timeout, data_only=False):
    """Send one request and print its reply (with `data_only`, the JSON object of an `ok` reply alone, for jq);
    `err` replies exit with status 1."""
    from host_tools import link

    reply = link.send(line, port=port, timeout=timeout)
    if not reply.ok:
        click.echo(reply.line)
        sys.exit(1)
    click.echo(reply.line[3:] if data_only and reply.data is not None else reply.line)


# Number arguments are plain integers: a negative one is read as a number, not as an option, and the board
# answers a value out of range with its own error (one source for every range: the firmware).
NUMBERS = {"ignore_unknown_options": True}


def _request_options(command):
    command = click.option("--timeout", type=click.FloatRange(0.1, 60), default=3.0, show_default=True,
                           help="Seconds to wait for the reply.")(command)
    return click.option("--port", default=None, help=PORT_HELP)(command)


@cli.command(context_settings={"ignore_unknown_options": True})
@click.argument("words", nargs=-1, required=True, type=click.UNPROCESSED)
@_request_options
def send(words, port, timeout):
    """Send one protocol request (e.g. `gullwing send door both open 1500`) and print the reply.

    Exits 0 on `ok`, 1 on `err`, 2 when the board cannot be reached. docs/protocol.md lists the verbs.
    """
    _ask(port, " ".join(words), timeout)


@cli.command(context_settings=NUMBERS)
@click.argument("side", type=click.Choice(["left", "right", "both"]))
@click.argument("action", type=click.Choice(["open", "close", "toggle", "stop", "to"]))
@click.argument("degrees", type=int, required=False)
@click.option("--ms", type=int, default=None, help="Duration of the move in ms.")
@_request_options
def door(side, action, degrees, ms, port, timeout):
    """Move a door: open, close, toggle, stop, or `to DEGREES` (0 = closed)."""
    if (action == "to") != (degrees is not None):
        raise click.UsageError("give DEGREES with `to`, and only with `to`")
    words = ["door", side, action] + [str(n) for n in (degrees, ms) if n is not None]
    _ask(port, " ".join(words), timeout)


@cli.command()
@click.option("--port", default=None, help=PORT_HELP)
def console(port):
    """An interactive session: requests with history and completion, events as they come, a live status
    line (doors, rpm, boost) and, on F2, calibration mode driven by the arrow keys."""
    from host_tools import console as session

    session.run(port)


@cli.command()
@_request_options
def status(port, timeout):
    """Print the board's status: doors, engine, problems, as one line of JSON (docs/protocol.md)."""
    _ask(port, "status", timeout, data_only=True)


@cli.command()
@click.argument("action", type=click.Choice(["start", "stop"]))
@_request_options
def engine(action, port, timeout):
    """Start the engine (it cranks, catches and settles to idle) or stop it (it spins down)."""
    _ask(port, "engine " + action, timeout)


@cli.command(context_settings=NUMBERS)
@click.argument("percent", type=int)
@_request_options
def throttle(percent, port, timeout):
    """Set the throttle, 0 (closed, idle) to 100 (wide open)."""
    _ask(port, "throttle " + str(percent), timeout)


@cli.group("kit")
def kit_group():
    """Kit files: a model's board and settings (kits/*.toml)."""


@kit_group.command("check")
@click.argument("kit_file")
def kit_check(kit_file):
    """Check a kit file against its board file and the firmware's settings schema."""
    from host_tools import kit

    loaded = kit.load(kit_file)
    click.echo(f"{loaded.name}: ok ({loaded.title}; board {loaded.board.name}, {loaded.board.chip_name})")


@kit_group.command("build")
@click.argument("kit_file")
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False), required=True,
              help="Folder for config.json, bom.md, the wiring diagram (wiring.svg, wiring.png) and the kit card's "
                   "template (card.md).")
@click.option("--board", "board_name", default=None, metavar="NAME",
              help="Build the kit on this board instead of its own (a name from `gullwing boards list` or a path).")
def kit_build(kit_file, out_dir, board_name):
    """Write a kit's device config, bill of materials and wiring diagram.

    KIT_FILE is a name from `gullwing kit list` or a path. With --board the kit's settings go onto that
    board: its pins, its bill of materials and its wiring diagram (docs/kits.md).
    """
    from host_tools import boards, kit, wiring

    loaded = kit.load(kit_file)
    if board_name:
        loaded = loaded.on_board(boards.load(board_name))
    for path in wiring.build(loaded, out_dir):
        click.echo("wrote " + str(path))


@kit_group.command("list")
def kit_list():
    """List the catalogued kits (kits/*.toml): name, board and title."""
    from host_tools import kit

    for name in kit.names():
        loaded = kit.load(name)
        click.echo(name.ljust(12) + "  " + loaded.board.name.ljust(20) + "  " + loaded.title)


@cli.command()
@click.option("--kit", "kit_file", required=True, help="Kit file (name in kits/ or a path).")
@click.option("--ports", "port_list", multiple=True, metavar="PORT", help="A board's port; repeat for more.")
@click.option("--all", "all_boards", is_flag=True, help="Every connected board and running virtual board.")
@click.option("--firmware", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Flash this MicroPython image first.")
@click.option("--reports", type=click.Path(file_okay=False), default="provision-reports", show_default=True,
              help="Folder for the run's report (JSON and a readable summary).")
@click.option("--trace", "trace_specs", multiple=True, metavar="PORT=FILE",
              help="The live trace of the virtual board on PORT (`gullwing sim --trace FILE`): its output pins are "
                   "checked too (servo pulses, motor duty, buzzer). Repeatable.")
@click.option("--keep-keys", is_flag=True,
              help="Every board keeps the WiFi key it has (boards keyed by a run whose reports are not in --reports).")
def provision(kit_file, port_list, all_boards, firmware, reports, trace_specs, keep_keys):
    """Flash (when asked), deploy and self-test many boards at once, with a live table and a report.

    Each board runs on its own: one that fails does not stop the others. Boards that passed with this
    kit and version before are skipped without being written to, so a rerun provisions only what
    failed. Exits 1 if any failed.
    """
    from host_tools import kit
    from host_tools import provision as provisioning

    loaded = kit.load(kit_file)
    if all_boards == bool(port_list):
        raise click.UsageError("give --ports PORT... or --all")
    targets = provisioning.all_ports() if all_boards else list(port_list)
    if not targets:
        raise click.UsageError("no boards found")
    traces = {}
    for spec in trace_specs:
        port, _, path = spec.partition("=")
        if not port or not path:
            raise click.BadParameter(repr(spec) + " is not PORT=FILE", param_hint="--trace")
        traces[port] = path
    results, report = provisioning.provision(targets, loaded, firmware, reports, traces=traces, keep_keys=keep_keys)
    click.echo(report.with_suffix(".txt").read_text() + "report: " + str(report))
    sys.exit(0 if all(r.passed for r in results) else 1)


@cli.command("wifi")
@click.option("--password", "show_password", is_flag=True,
              help="Also show the key of the model's own network (as on the kit card); over USB only.")
@_request_options
def wifi_command(show_password, port, timeout):
    """Show the board's WiFi: what runs (its own network, a home network, off), the network's name, the
    page's address and, with --password, the key of the model's own network (docs/wifi.md)."""
    from host_tools import link

    with link.Link(port, timeout) as board:
        replies = [board.request("wifi")] + ([board.request("wifi password")] if show_password else [])
    for reply in replies:
        if not reply.ok:
            click.echo(reply.line)
            sys.exit(1)
    info = replies[0].data or {}
    mode = info.get("mode", "?")
    click.echo("mode: " + {"ap": "ap (the model's own network)", "sta": "sta (a home network)"}.get(mode, mode)
               + (", the fallback: the home network was not joined" if info.get("fallback") else ""))
    if info.get("ssid"):
        click.echo("network: " + info["ssid"])
    if mode != "off":
        click.echo("page: " + ("http://" + info["ip"] + "/" if info.get("ip") else "not reachable yet (no address)"))
    if "clients" in info:
        click.echo("phones joined: " + str(info["clients"]))
    if show_password:
        secret = replies[1].data or {}
        click.echo("own network: " + str(secret.get("ssid")) + ", password: " + str(secret.get("password")))


def main():
    cli()
