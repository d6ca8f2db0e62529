"""`gullwing provision`: many boards of one kit at once, each flashed (when asked), deployed and
self-tested in its own thread, with a live table and a report per run.

The self-test checks what a buyer would notice, over the protocol (docs/protocol.md): the firmware
answers `version` with this version and lists no `problems`; each door goes to a test angle and back
and reports both arrivals; the engine starts, revs up at full throttle and stops; an RC receiver's
channels read when one is wired. The outputs are checked too: the motor's duty rises with rpm and falls
to 0; the engine's voice sounds: the I2S amplifier where the board file wires one (and falls silent when
the engine stops), else the buzzer. On a virtual board started with `--trace` the pins are read
themselves (each servo's pulse following its door as well); on any other board, and for the amplifier
always (I2S does not show in a trace), from `status`'s `outputs` (the motor's duty, the buzzer's
frequency, the sound's peak, as the firmware drives them), where the firmware reports them; without
either the report says they were not checked.

The model's own WiFi network gets its WPA2 key here (docs/kits.md, "The network key"): made on the host
(`secrets`), set as the setting `wifi.ap_password` and saved, the firmware restarted so that the self-test
runs with it in force, then read back with the `wifi` verb and written on the board's kit card. A board
whose key an earlier run gave it (the reports say so) keeps it: a card already in a box stays true.
The key is written on the card alone: never in the reports, the live table or an error message.

A board that fails does not stop the others. A board that passed this kit with this gullwing version
(known by machine.unique_id, from the earlier reports) is skipped before anything is written to it,
so a rerun provisions only what failed.
"""

import io
import json
import os
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from host_tools import __version__, boards, deploy, errors, flash, ports, wiring
from host_tools import kit as kits
from host_tools.link import Link

REPORTS_DIR = Path("provision-reports")
TEST_DEG = 30  # the doors' test angle: clear of both stops on every kit (open_deg is at least 30 there)
DOOR_MS = 600  # the test moves' time
IDENTIFY_S = 2.0  # a board running gullwing answers `version` well within this
START_S = 20.0  # a restarted firmware answers within this, on a machine busy with many boards too
MIN_REV_RPM = 2000  # full throttle must lift the revs this far above idle
SIDES = ("left", "right")
CARDS = "cards"  # the kit cards, in the reports folder


@dataclass
class Result:
    port: str
    board_id: str = ""
    step: str = "waiting"
    passed: bool = False
    skipped: bool = False
    done: list = field(default_factory=list)  # what was done to the board: flashed, deployed, tested
    why: str = ""  # why the board was skipped
    checks: list = field(default_factory=list)  # what the self-test saw, and what it could not check
    error: str = ""
    seconds: float = 0.0
    network: str = ""  # the model's own network's name (SSID), as the board reports it
    ap_key: str = ""  # what provisioning did to the network's key: "made", "kept" (never the key itself)
    card: str = ""  # the kit card written for the board (it alone carries the key)


class SelfTestFailed(errors.GullwingError):
    hint = "check the wiring of the part named, then provision the board again"


def all_ports():
    """Every connected board: USB serial ports with a catalogued board's USB id, and the virtual boards
    running on this machine."""
    from serial.tools import list_ports

    from host_tools.virtual_board import running_ports

    known = boards.known_usb_ids()
    found = [info.device for info in list_ports.comports() if ports.usb_id(info) in known]
    return sorted(set(found) | set(running_ports()))


# -- the output pins of a virtual board ------------------------------------------------------------

class TracedPins:
    """The latest state of each output pin, read from a virtual board's live trace (`gullwing sim
    --trace`, host_tools/sim/simtrace.py: t_us,pin,freq_hz,duty_ns,kind,level), kept current by the board."""

    def __init__(self, path):
        self.path = Path(path)
        self._offset = 0
        self._partial = ""
        self.latest = {}  # GPIO -> (kind, freq_hz, duty_ns, level)
        self.seen = {}  # GPIO -> every (kind, freq_hz, duty_ns, level) since the last mark()

    def read(self):
        try:
            with self.path.open() as file:
                file.seek(self._offset)
                text = file.read()
                self._offset = file.tell()
        except OSError:
            return self
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()  # a row the board is still writing
        for line in lines:
            cells = line.split(",")
            if len(cells) != 6 or not cells[0].isdigit():
                continue  # the header
            state = (cells[4], int(cells[2]), int(cells[3]), int(cells[5]))
            self.latest[int(cells[1])] = state
            self.seen.setdefault(int(cells[1]), []).append(state)
        return self

    def mark(self):
        self.read()
        self.seen = {}

    def duty(self, gpio):
        """The pin's PWM duty now, 0.0-1.0 (0 when it is not driving PWM)."""
        kind, freq, duty_ns, _level = self.read().latest.get(gpio, ("off", 0, 0, 0))
        return duty_ns * freq / 1e9 if kind == "pwm" else 0.0

    def pulse_us(self, gpio):
        """A servo pin's pulse width now, in us; 0 when it sends none."""
        kind, _freq, duty_ns, _level = self.read().latest.get(gpio, ("off", 0, 0, 0))
        return duty_ns // 1000 if kind == "pwm" else 0

    def sounded(self, gpio):
        """Whether the pin sent a tone (PWM with a frequency and some duty) since the last mark()."""
        self.read()
        return any(kind == "pwm" and freq > 0 and duty > 0 for kind, freq, duty, _ in self.seen.get(gpio, ()))


# -- the self-test ---------------------------------------------------------------------------------

def self_test(link, kit, result, pins=None, step=None):
    """Raises SelfTestFailed naming what a buyer would notice; `pins`: a TracedPins of a virtual board."""
    step = step or (lambda name: setattr(result, "step", name))
    reply = link.request("version")
    if not reply.ok or reply.data.get("version") != __version__:
        raise SelfTestFailed(f"the board runs {reply.line}, not gullwing {__version__}")
    result.board_id = reply.data.get("id", "")
    _no_problems(link, "after its start")
    assert_ok(link, "events on")
    step("doors")
    _test_doors(link, kit, result, pins)
    step("motor")
    status = link.request("status").data
    rc = status.get("rc")
    if rc == "failsafe":
        raise SelfTestFailed("the RC receiver's signal was lost (failsafe): check its wiring and the transmitter")
    _test_engine(link, kit, result, pins, revs=rc != "control")
    # `status` leaves out `rc` until a receiver's signal is seen: the board file says whether one is wired
    wired = rc or "rc_throttle" in kit.board.pins
    result.checks.append("rc: the receiver's channels read (in control)" if rc == "control" else
                         "rc: no receiver signal, not checked" if wired else "rc: no receiver on this board")
    _no_problems(link, "after the self-test")
    assert_ok(link, "events off")  # the board is left as a buyer gets it: doors closed, engine off, quiet


def _no_problems(link, when):
    problems = link.request("status").data.get("problems")
    if problems:
        raise SelfTestFailed("the board reports problems " + when + ": " + "; ".join(problems))


def _test_doors(link, kit, result, pins):
    moved = _move_doors(link, kit, pins, f"to {TEST_DEG}", TEST_DEG)
    closed = _move_doors(link, kit, pins, "close", 0)
    result.checks.append(f"doors: both went to {TEST_DEG} deg and back, arrivals reported")
    if pins is None:
        return
    for side in SIDES:
        gpio = kit.board.pins["door_" + side]
        if not moved[side] or not closed[side] or moved[side] == closed[side]:
            raise SelfTestFailed(f"the {side} door's servo output (GPIO{gpio}) did not follow the door: "
                                 f"pulse {moved[side]} us at {TEST_DEG} deg, {closed[side]} us closed")
        result.checks.append(f"door {side}: GPIO{gpio} pulse {closed[side]} us closed, {moved[side]} us at "
                             f"{TEST_DEG} deg")


def _move_doors(link, kit, pins, action, angle):
    """Both doors moved; each must report arriving at `angle`. Returns side -> servo pulse (us) on arrival,
    read from the trace (0 without one)."""
    link.events.clear()
    assert_ok(link, f"door both {action} {DOOR_MS}")
    arrived = {}
    deadline = time.monotonic() + DOOR_MS / 1000 + 2.0
    while len(arrived) < len(SIDES):
        event = link.wait_event("door", max(0.0, deadline - time.monotonic()))
        if event is None:
            missing = " and ".join(side for side in SIDES if side not in arrived)
            raise SelfTestFailed(f"the {missing} door did not report arriving (`door both {action}`)")
        data = json.loads(event.split(" ", 2)[2])
        if data["angle"] != angle:
            raise SelfTestFailed(f"the {data['side']} door arrived at {data['angle']} deg, not {angle} deg")
        arrived[data["side"]] = pins.pulse_us(kit.board.pins["door_" + data["side"]]) if pins is not None else 0
    return arrived


def _motor_pins(kit):
    roles = ("motor_in1", "motor_in2") if kit.config().get("motor") == "hbridge" else ("motor",)
    return [kit.board.pins[role] for role in roles if role in kit.board.pins]


def _test_engine(link, kit, result, pins, revs):
    """The engine starts, revs and stops; its outputs follow. The motor's duty is read from a virtual board's
    trace, else from `status`'s `outputs` (in percent). The voice: where the board wires an I2S amplifier,
    `outputs.sound` (the last block's peak in percent: the I2S does not show in a trace); else the buzzer,
    from the trace or `outputs.buzzer_hz`."""
    motor = _motor_pins(kit)
    amplifier = kit.board.amplifier  # then the buzzer's pin is not driven (the kit has no piezo)
    buzzer = None if amplifier else kit.board.pins.get("buzzer")
    heard = []  # the voice in `status`'s outputs: the amplifier's %, else the buzzer's Hz

    def sample():
        """(rpm, motor duty 0.0-1.0 or None when not visible, the voice in `status`) now."""
        status = link.request("status").data
        outputs = status.get("outputs")
        voice = outputs.get("sound" if amplifier else "buzzer_hz", 0) if isinstance(outputs, dict) else 0
        if pins is not None:
            duty = max(pins.duty(gpio) for gpio in motor) if motor else 0.0
        elif isinstance(outputs, dict):
            duty = outputs.get("motor", 0) / 100
        else:  # left out while nothing is driven, by a firmware that reported it before; else not visible
            duty = 0.0 if heard else None
        if isinstance(outputs, dict):
            heard.append(voice)
        return status["engine"]["rpm"], duty, voice

    if pins is not None:
        pins.mark()
    assert_ok(link, "engine start")
    if not _engine_reaches(link, "running", 5.0):
        raise SelfTestFailed("the engine did not start (no `running` within 5 s)")
    time.sleep(0.5)  # settled at idle
    idle, idle_duty, idle_voice = sample()
    full, full_duty, full_voice = idle, idle_duty, idle_voice
    if revs:
        assert_ok(link, "throttle 100")
        time.sleep(0.8)
        full, full_duty, full_voice = sample()
        assert_ok(link, "throttle 0")
    sounded = pins.sounded(buzzer) if pins is not None and buzzer is not None else any(heard)
    assert_ok(link, "engine stop")
    if not _engine_reaches(link, "off", 8.0):
        raise SelfTestFailed("the engine did not stop (no `off` within 8 s of `engine stop`)")
    if revs and full < idle + MIN_REV_RPM:
        raise SelfTestFailed(f"the engine did not rev: {idle} rpm at idle, {full} rpm at full throttle")
    result.checks.append(f"engine: {idle} rpm idle" + (f", {full} rpm full throttle" if revs else
                                                        " (the RC receiver holds the throttle)"))
    if idle_duty is None:
        result.checks.append(f"motor, {'sound' if amplifier else 'buzzer'}: outputs not visible over the protocol, "
                             "not checked")
        return
    _rpm, off_duty, off_voice = sample()
    deadline = time.monotonic() + 1.0
    while (off_duty or (amplifier and off_voice)) and time.monotonic() < deadline:  # still ramping down, fading
        time.sleep(0.05)
        _rpm, off_duty, off_voice = sample()
    named = "motor output (GPIO" + "/".join(str(gpio) for gpio in motor) + ")"
    if not motor:
        raise SelfTestFailed("the board file wires no motor output")
    if not 0 < idle_duty <= full_duty or (revs and full_duty <= idle_duty) or off_duty != 0:
        raise SelfTestFailed(f"the {named} does not follow the revs: duty {idle_duty:.0%} at idle, "
                             f"{full_duty:.0%} at full throttle, {off_duty:.0%} stopped")
    result.checks.append(f"{named}: duty {idle_duty:.0%} idle, " + (f"{full_duty:.0%} full, " if revs else "")
                         + "0% stopped")
    if amplifier:
        _check_sound(kit, result, sounded, idle_voice, full_voice if revs else None, off_voice)
    elif buzzer is not None:
        if not sounded:
            raise SelfTestFailed(f"the buzzer (GPIO{buzzer}) did not sound while the engine ran")
        result.checks.append(f"buzzer (GPIO{buzzer}): sounded" + (f" ({max(heard)} Hz)" if heard else ""))


def _check_sound(kit, result, sounded, idle, full, stopped):
    """The amplifier's sound as `status` shows it (peaks in %; `full` None when not revved): it sounded while
    the engine ran and went silent when it stopped. What the firmware plays, not whether a speaker hears it."""
    named = "amplifier (I2S GPIO" + "/".join(str(kit.board.pins[role]) for role in boards.I2S_ROLES) + ")"
    volume = kit.config().get("sound", {}).get("volume")
    if volume == 0:
        result.checks.append(f"{named}: sound.volume is 0 in the kit, not checked")
        return
    if not sounded:
        raise SelfTestFailed(f"the {named} did not sound while the engine ran")
    if stopped:
        raise SelfTestFailed(f"the {named} still sounds ({stopped}%) with the engine stopped")
    result.checks.append(f"{named}: sounded, peak {idle}% idle, " + (f"{full}% full, " if full is not None else "")
                         + "silent stopped")


def _engine_reaches(link, state, timeout):
    deadline = time.monotonic() + timeout
    while True:
        event = link.wait_event("engine", max(0.0, deadline - time.monotonic()))
        if event is None:
            return link.request("status").data["engine"]["state"] == state
        if json.loads(event.split(" ", 2)[2]).get("state") == state:
            return True


def assert_ok(link, line):
    reply = link.request(line)
    if not reply.ok:
        raise SelfTestFailed(f"`{line}` answered {reply.line}")
    return reply


# -- the model's own network: its key and the kit card --------------------------------------------

def new_ap_key():
    """A WPA2 key for one board: AP_KEY_LEN characters from the host's cryptographic generator (a chip's
    own generator may run before its radio gives it entropy, at the first start)."""
    schema = kits.firmware_config().schema  # the firmware's own alphabet (gullwing/schema.py)
    return "".join(secrets.choice(schema.AP_KEY_CHARS) for _ in range(schema.AP_KEY_LEN))


def wifi_off(kit):
    return kit.config().get("wifi", {}).get("mode") == "off"


def give_key(link, kit, result, keep):
    """The network's key for the board: with `keep` (an earlier run gave it one) the board's own is kept;
    else a new one is set and saved, and the firmware restarted to bring it in force. Returns the key set,
    None when kept (read back after the self-test) or when the kit has no WiFi."""
    if wifi_off(kit):
        return None
    if keep:
        result.ap_key = "kept"
        return None
    key = new_ap_key()
    for line in ("config set wifi.ap_password " + key, "config save"):
        reply = link.request(line)
        if not reply.ok:  # the line holds the key: the reply alone is named
            raise SelfTestFailed("the board did not take its network key (`" + line.split()[1] + "` answered "
                                 + reply.line + ")")
    result.ap_key = "made"  # saved: a rerun keeps it
    restart(link)
    return key


def restart(link):
    """The firmware started again, the settings saved in force: Ctrl-C stops it (runner: back to the REPL),
    and a soft reset starts it (Link.restart_firmware), as a deploy does."""
    link.serial.write(b"\x03")
    link.restart_firmware()
    link.request("ping", timeout=START_S)  # the announcement comes first; the parts start before it answers


def read_network(link, kit, result, key):
    """The model's own network as the board runs it after the self-test: (ssid, key, page address). The key
    must be the one set (`key`), else it is the board's own (kept). None when the kit has no WiFi."""
    if wifi_off(kit):
        result.checks.append("wifi: off in the kit, no network key and no card")
        return None
    info = link.request("wifi")
    if not info.ok or not info.data or info.data.get("mode") != "ap" or not info.data.get("ssid"):
        raise SelfTestFailed("the model's own network is not on (`wifi` answered " + info.line + ")")
    secret = link.request("wifi password")
    got = secret.data.get("password") if secret.ok and secret.data else None
    if not got:
        raise SelfTestFailed("the board does not tell its network key (`wifi password` answered "
                             + (secret.code or "no key") + ")")
    if key is not None and got != key:
        raise SelfTestFailed("the board's network key is not the one provisioning set and saved: its settings "
                             "store did not keep it")
    result.network = info.data["ssid"]
    result.checks.append("wifi: " + result.network + " on (WPA2), its key " +
                         ("made by this run" if key is not None else "kept from an earlier run") + ", on the card")
    return result.network, got, "http://" + (info.data.get("ip") or kits.AP_ADDRESS) + "/"


def card_stem(folder, kit_name, board_id):
    return Path(folder) / CARDS / (kit_name + "-" + board_id)


def write_card(folder, kit, board_id, network):
    """The board's kit card, <reports>/cards/<kit>-<board id>.txt, .svg and .png (readable by this user
    alone: it carries the key); returns the PNG's path, the one to print."""
    ssid, key, address = network
    card = kits.Card(kit.title, board_id, ssid, key, address)
    stem = card_stem(folder, kit.name, board_id)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".txt")]
    paths[0].write_text(card.text())
    paths += wiring.card(card, stem)
    for path in paths:
        os.chmod(path, 0o600)
    return paths[-1]


# -- one board, many boards ------------------------------------------------------------------------

def identify(port):
    """(unique id, gullwing version) of a board running gullwing; None when it does not answer as one."""
    try:
        with Link(port, timeout=IDENTIFY_S) as link:
            reply = link.request("version")
    except Exception:  # a blank board, one at the REPL, a port that fails: it gets the whole treatment
        return None
    if not reply.ok or not reply.data:
        return None
    return reply.data.get("id", ""), reply.data.get("version", "")


def provision_one(port, kit, firmware, result, passed_before, trace=None, on_step=None, keyed_before=(),
                  reports=REPORTS_DIR):
    """One board: identified, flashed (with `firmware`), deployed, keyed, self-tested and its card written;
    `keyed_before`: the board ids whose network key an earlier run gave (they keep it)."""
    started = time.monotonic()

    def step(name):
        result.step = name
        if on_step is not None:
            on_step(result)

    try:
        step("identify")
        known = identify(port)
        if known and known[0] in passed_before and known[1] == __version__:
            result.board_id, result.why = known[0], "passed " + passed_before[known[0]]
            result.skipped, result.passed = True, True
            earlier = card_stem(reports, kit.name, known[0]).with_suffix(".png")
            result.card = str(earlier) if earlier.exists() else ""
            step("done")
            return
        if firmware:
            step("flash")  # MicroPython for the kit's board; the one deploy, with the kit's settings, next
            flash.flash(port, str(firmware), kit=kit, console=_quiet(), deploy=False)
            result.done.append("flashed")
        step("deploy")
        deploy.deploy(port=port, kit=kit, progress=False)
        result.done.append("deployed")
        step("version")
        pins = TracedPins(trace) if trace else None
        with Link(port, timeout=5.0) as link:
            board_id = assert_ok(link, "version").data.get("id", "")
            step("key")
            key = give_key(link, kit, result, board_id in keyed_before)
            step("self-test")
            self_test(link, kit, result, pins, step)
            step("wifi")
            network = read_network(link, kit, result, key)
        result.done.append("tested")
        if network is not None:
            step("card")
            result.card = str(write_card(reports, kit, result.board_id, network))
        result.passed = True
        step("done")
    except errors.GullwingError as exc:
        result.error = str(exc)
    except Exception as exc:  # one board's trouble is reported, the others go on
        result.error = type(exc).__name__ + ": " + str(exc)
    finally:
        result.seconds = round(time.monotonic() - started, 2)


def _quiet():
    from rich.console import Console

    return Console(file=io.StringIO())  # many boards at once: the live table speaks for them


def provision(port_list, kit, firmware=None, reports=REPORTS_DIR, console=None, live=True, traces=None,
              on_step=None, keep_keys=False):
    """Provision every port in parallel; returns (results, report path). `traces`: port -> the live trace
    of a virtual board, for the output checks; `on_step(result)` is called as each board moves on;
    `keep_keys`: every board keeps the network key it has (keyed by a run whose reports are elsewhere)."""
    passed_before = _passed_before(reports, kit)
    keyed_before = _AnyBoard() if keep_keys else _keyed_before(reports)
    traces = traces or {}
    results = [Result(port) for port in port_list]
    threads = [threading.Thread(target=provision_one, daemon=True,
                                args=(r.port, kit, firmware, r, passed_before, traces.get(r.port), on_step,
                                      keyed_before, reports))
               for r in results]
    for thread in threads:
        thread.start()
    try:
        _watch(threads, results, console, live)
    finally:  # a Ctrl-C too: the boards that passed so far are recorded, and a rerun skips them
        report = _report(reports, kit, firmware, results)
    return results, report


def _watch(threads, results, console, live):
    from rich.console import Console
    from rich.live import Live

    console = console or Console()
    with Live(_table(results), console=console, refresh_per_second=4, transient=False,
              auto_refresh=live and console.is_terminal) as view:
        while any(t.is_alive() for t in threads):
            time.sleep(0.25)
            view.update(_table(results))
        view.update(_table(results))


def _table(results):
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="gullwing provision")
    for column in ("port", "board id", "network", "step", "done", "result", "s"):
        table.add_column(column)
    for r in results:
        verdict = ("[green]skipped: " + escape(r.why) + "[/]" if r.skipped else "[green]passed[/]" if r.passed
                   else "[red]failed: " + escape(r.error[:70]) + "[/]" if r.error else "...")
        table.add_row(r.port, r.board_id, r.network, r.step, ", ".join(r.done), verdict,
                      f"{r.seconds:.1f}" if r.seconds else "")
    return table


def _report(folder, kit, firmware, results):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = folder / f"{kit.name}-{stamp}.json"
    data = {"kit": kit.name, "gullwing": __version__, "firmware": str(firmware or ""), "time": stamp,
            "boards": [asdict(r) for r in results]}
    path.write_text(json.dumps(data, indent=1))
    lines = [f"{kit.title}: {sum(r.passed for r in results)} of {len(results)} passed, "
             f"{sum(r.skipped for r in results)} of them skipped (gullwing {__version__})"]
    for r in results:
        done = ", ".join(r.done) or "nothing written"
        state = ("skipped: " + r.why if r.skipped else "passed (" + done + ")" if r.passed
                 else f"FAILED at {r.step} ({done}): {r.error}")
        lines.append(f"  {r.port}  {r.board_id or '?'}  {state}  ({r.seconds} s)")
        lines += ["      " + check for check in r.checks]
        if r.card:
            lines.append("      card: " + r.card + (" (" + r.network + ")" if r.network else ""))
    path.with_suffix(".txt").write_text("\n".join(lines) + "\n")
    return path


class _AnyBoard:
    """`--keep-keys`: every board counts as keyed before."""

    def __contains__(self, board_id):
        return True


def _keyed_before(folder):
    """The board ids whose network key an earlier run made or kept, in any report in `folder` (any kit, any
    gullwing version: the key belongs to the board, and its card may be in a box)."""
    found = set()
    for path in Path(folder).glob("*.json"):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        for board in data.get("boards", []) if isinstance(data, dict) else []:
            if isinstance(board, dict) and board.get("ap_key") in ("made", "kept") and board.get("board_id"):
                found.add(board["board_id"])
    return found


def _passed_before(folder, kit):
    """Board id -> when it passed this kit with this gullwing version, from the earlier runs' reports."""
    found = {}
    for path in sorted(Path(folder).glob(kit.name + "-*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if data.get("kit") != kit.name or data.get("gullwing") != __version__:
            continue
        for board in data.get("boards", []):
            if board.get("passed") and board.get("board_id"):
                found.setdefault(board["board_id"], f"kit {kit.name} with gullwing {__version__} ({path.name})")
    return found
