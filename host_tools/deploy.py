"""`gullwing deploy`: put the firmware on a board, incrementally and atomically.

1. The firmware is compiled with mpy-cross (main.py and boot.py stay source), the web page is stored
   gzipped (gullwing/panel.html.gz, in the manifest like every file, but main.py does not check it: a
   damaged page costs the page, not the firmware), and the board's config.json is generated from its board file.
2. Over the raw REPL (mpremote's own serial transport), the host sends the content hashes of the new
   firmware; the board compares them with its manifest and with the files themselves (hashing on the
   board) and answers with what differs: nothing is read back file by file.
3. Changed files go, deflate-compressed and base64-encoded, into /.gullwing/stage and are checked by their
   hash there; files staged by an interrupted deploy are not sent again.
4. A commit record is written with one atomic rename, then applied by boot.py's finish_deploy(): the
   staged files are renamed into place, files no longer part of the firmware are removed, the manifest is
   rewritten. A board cut off at any point boots either the old firmware or, because boot.py finishes
   a committed deploy before anything else, the new one.
5. The board is soft-reset and must print `gullwing <version>`, then answer `status` out of safe mode.

Before anything is written, the board says which chip its MicroPython is built for; a board file (or kit)
for another chip is refused. What a deploy installs (board file, kit, version) is recorded on the board in
/.gullwing/deployed.json, committed with the rest, so a later deploy told neither keeps them.
"""

import binascii
import hashlib
import json
import re
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

from mpremote import transport_serial
from mpremote.transport import TransportError, TransportExecError
from mpremote.transport_serial import SerialTransport
from serial import SerialException

from host_tools import FIRMWARE_DIR, __version__, boards, build, errors, ports
from host_tools import kit as kits

AGENT = "\n".join(line for line in (Path(__file__).with_name("deploy_agent.py")).read_text().splitlines()
                  if line.strip() and not line.lstrip().startswith("#")).encode() + b"\n"  # comments stay home
STAGE = "/.gullwing/stage"
RECORD = "/.gullwing/deployed.json"  # what the last deploy installed
SPARE_MAIN = "/.gullwing/main.py"
KEPT = "kept from the last deploy"
CHUNK = 8192  # base64 characters per call: large enough that the per-call overhead is small
WBITS = 12  # deflate window: 4 KB of the board's RAM while inflating
BOOT_TIMEOUT_S = 20  # a started firmware answers at once; a machine busy with many boards may take seconds
CONNECT_TIMEOUT_S = 3
CONNECT_TRIES = 3
READ_TIMEOUT_S = 1.0

# mpremote's serial transport prints what it read (`b''`) when the raw REPL does not come; the deploy
# says what went wrong in its own error, so those prints go nowhere (only in that module)
transport_serial.print = lambda *args, **kwargs: None


@dataclass
class Target:
    """What a deploy installs: a board file and, optionally, a kit made for it. `source` says where they
    came from when the command line did not name them ("kept from the last deploy", "from gullwing.toml")."""

    board: boards.Board
    kit: kits.Kit | None = None
    source: str = ""

    def describe(self):
        return ", ".join(["board " + self.board.name] + self.why())

    def why(self):
        return (["kit " + self.kit.name] if self.kit else []) + ([self.source] if self.source else [])

    def record(self):
        """The board's deployed.json: each file by catalogue name, or by absolute path when it is not in
        the catalogue, so that the next deploy loads the same one."""
        board = _reload_name(self.board.name, self.board.path, boards.board_path)
        kit = self.kit and _reload_name(self.kit.name, self.kit.path, kits.kit_path)
        return json.dumps({"board": board, "chip": self.board.chip_name, "kit": kit, "version": __version__},
                          sort_keys=True).encode() + b"\n"


def _reload_name(name, path, path_of):
    if path is None or Path(path).resolve() == path_of(name).resolve():
        return name
    return str(Path(path).resolve())


def target(board=None, kit=None, source=""):
    """The Target for a board (Board, name or path) and a kit (Kit, name or path); with neither, the default
    board. A kit brings its board: a board named beside it must be the same."""
    where = " (" + source + ")" if source else ""
    try:
        if kit is not None and not isinstance(kit, kits.Kit):
            kit = kits.load(kit)
        if board is not None and not isinstance(board, boards.Board):
            board = boards.load(board)
    except errors.GullwingError as exc:  # say where a name that does not load came from
        first, *rest = str(exc).split("\n", 1)
        exc.args = ("\n".join([first + where] + rest),)
        raise
    if kit is not None and board is not None and board.name != kit.board.name:
        raise errors.GullwingError(f"kit {kit.name} is made for board {kit.board.name}, not {board.name}{where}",
                                   hint="give the kit alone (it brings its board), or the board alone")
    if kit is not None:
        return Target(kit.board, kit, source)
    return Target(board or boards.load(), None, source or ("" if board else "the default"))


def recorded_target(record):
    """The Target the board's deployed.json names, or the default board when there is none."""
    if not isinstance(record, dict) or not isinstance(record.get("board"), str):
        return target()
    try:
        return target(record["board"], record.get("kit") or None, KEPT)
    except errors.GullwingError as exc:
        what = "board " + record["board"] + (", kit " + str(record["kit"]) if record.get("kit") else "")
        raise errors.GullwingError("the board was last deployed with " + what + ", which cannot be loaded "
                                   "here:\n" + str(exc), hint="name them with --board or --kit") from None


def chip_of(machine):
    """The chip a MicroPython build says it runs on, or None when it names no ESP32 chip. The text is
    MICROPY_BANNER_MACHINE (py/mpconfig.h), "<board> with <MCU>", the MCU as the board definition names it
    (ports/esp32/boards/*/mpconfigboard.h: "ESP32", "ESP32-S3", "ESP32-S2FN4R2", "ESP32-PICO-D4", ...)."""
    for text in (machine.rsplit(" with ", 1)[-1], machine):
        found = re.search(r"ESP32(?:-?([SCHP]\d+))?", text.upper())
        if found:
            return "ESP32" + ("-" + found.group(1) if found.group(1) else "")
    return None


def _check_chip(machine, chosen, device):
    chip = chip_of(machine)
    if chip == chosen.board.chip_name:
        return
    why = chosen.why()
    what = "board file " + chosen.board.name + (" (" + ", ".join(why) + ")" if why else "")
    fitting = [b.name for b in boards.catalogue()[0] if b.chip_name == chip]
    hint = ("pick a board file for an " + chip + " with --board: " + ", ".join(fitting) if fitting else
            "pick the board file that matches the hardware with --board (see `gullwing boards list`)")
    raise errors.WrongChip(f"the board on {device} is {'an ' + chip if chip else 'not an ESP32'} (its "
                           f"MicroPython says {machine!r}), but {what} is for an {chosen.board.chip_name}; "
                           "nothing was written", hint=hint)


@dataclass
class Summary:
    port: str
    version: str
    sent: int
    skipped: int
    removed: int
    wire_bytes: int
    seconds: float
    target: Target | None = None

    def line(self):
        used = " (" + self.target.describe() + ")" if self.target else ""
        return (f"deployed gullwing {self.version} to {self.port}{used}: {self.sent} sent, {self.skipped} skipped, "
                f"{self.removed} removed, {self.wire_bytes / 1024:.1f} KB on the wire, {self.seconds:.1f} s")


class _Counted:
    """The serial port, counting the bytes that cross the wire both ways."""

    def __init__(self, port):
        self._port = port
        self.bytes = 0
        self.received = 0
        self.deadline = None  # reads past this raise: a device that chatters forever must not hang us

    def write(self, data):
        self.bytes += len(data)
        return self._port.write(data)

    def read(self, size=1):
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise TransportError("no MicroPython prompt in time")
        data = self._port.read(size)
        self.bytes += len(data)
        self.received += len(data)
        return data

    def __getattr__(self, name):
        return getattr(self._port, name)


def config_json(board, kit=None):
    """The device's config.json: the board's identity (boards.Board.identity), or the kit's configuration
    (its board's identity and its settings), exactly as `gullwing kit build` writes it."""
    return kits.config_json(kit.config() if kit else board.identity())


AGENT_PATH = "/.gullwing/agent-" + hashlib.sha256(AGENT).hexdigest()[:16] + ".py"


def firmware_files(board, firmware_dir=FIRMWARE_DIR, kit=None):
    """Everything that lands on the board: {absolute path on the board: content}. The deploy agent stays
    there too, so that the next deploy need not send it. With a kit, config.json carries its settings."""
    return _with_config(_compiled(firmware_dir), target(board, kit))


def _compiled(firmware_dir, arch=None):
    with tempfile.TemporaryDirectory() as tmp:
        built = build.build(Path(tmp), firmware_dir, arch)
        return {"/" + path: local.read_bytes() for path, local in built.items()}


def _with_config(compiled, chosen):
    files = dict(compiled)
    files["/config.json"] = config_json(chosen.board, chosen.kit)
    files[RECORD] = chosen.record()
    files[AGENT_PATH] = AGENT
    files[SPARE_MAIN] = files["/main.py"]  # boot.py puts main.py back from it when it goes missing
    return files


def content_hash(data):
    """What the manifest keeps per file: the first 16 hex digits of the SHA-256 (as the board computes it)."""
    return hashlib.sha256(data).hexdigest()[:16]


def mpy_loads(data, board_mpy):
    """Whether a board whose sys.implementation._mpy is `board_mpy` can import this .mpy: the version must
    match; the sub-version too when the file carries native code (an architecture in its header)."""
    if data[1] != board_mpy & 0xFF:
        return False
    return data[2] >> 2 == 0 or data[2] & 3 == (board_mpy >> 8) & 3


def pack(data, inflate):
    if not inflate:
        return data
    packer = zlib.compressobj(9, zlib.DEFLATED, -WBITS)
    return packer.compress(data) + packer.flush()


def deploy(port=None, board=None, firmware_dir=FIRMWARE_DIR, console=None, progress=True, kit=None, source=""):
    """Deploy and return a Summary; raises a GullwingError the user can act on. `board` (Board, name or
    path) and `kit` (host_tools.kit.Kit, name or path: it brings its board and settings) say what to
    install, `source` where they came from; with neither, what the board recorded at its last deploy,
    else the default board."""
    started = time.monotonic()
    firmware_dir = Path(firmware_dir)
    given = target(board, kit, source) if board is not None or kit is not None else None  # bad names: before the port
    device = ports.choose_port(port)
    compiled = _compiled(firmware_dir)
    link = None
    step = "connecting"  # what the deploy was doing, for the error when the board goes away
    try:
        link = _connect(device)
        step = "reading what it holds"
        _load_agent(link)
        info = json.loads(_call(link, "_gw_whoami()"))
        try:  # nothing is written until these pass; a refused board goes back to its firmware
            chosen = given or recorded_target(info["deployed"])
            _check_chip(info["machine"], chosen, device)
            arch = build.arch_of(info["mpy"])
            if arch:  # machine code for this board's architecture (cached: cheap)
                compiled = _compiled(firmware_dir, arch)
            files = _with_config(compiled, chosen)
            _check_mpy(info, files)
        except errors.GullwingError:
            _resume(link)
            raise
        hashes = {path: content_hash(data) for path, data in files.items()}
        manifest = {"tree": content_hash(json.dumps(hashes, sort_keys=True).encode()), "files": hashes}
        info.update(json.loads(_call(link, "_gw_same(" + repr(manifest["tree"]) + ")")))
        if not info["same"]:
            info.update(json.loads(_call(link, "_gw_info(" + repr(hashes) + ")")))
        changed = sorted(info.get("changed", ()))
        removed = sorted(info.get("extra", ()))
        to_send = [p for p in changed if p not in info.get("staged", ())]
        if to_send:
            need = sum(len(files[p]) for p in to_send)
            if need > info["free"]:
                raise errors.BoardDiskFull(f"the board has {info['free'] // 1024} KB free and this deploy needs "
                                           f"{need // 1024 + 1} KB; nothing was changed")
            payload = {p: pack(files[p], info["inflate"]) for p in to_send}
            step = "sending the firmware"
            _fresh_heap(link)
            _upload(link, payload, {p: hashes[p] for p in to_send}, info["inflate"], console, progress)
        if changed or removed:
            plan = {"moves": [[STAGE + p, p] for p in changed], "deletes": removed, "manifest": manifest}
            step = "committing"
            _call(link, "_gw_commit(" + repr(json.dumps(plan)) + ")")
            step = "installing"  # committed: from here boot.py finishes the deploy at the next start
            # the new boot.py is in place once the commit applies, and it applies it: run it as at boot
            _call(link, "exec(open('/.gullwing/stage/boot.py').read() if _gw_has('/.gullwing/stage/boot.py') "
                        "else open('/boot.py').read())")
        step = "starting the new firmware"
        _restart_and_check(link, device)
    except (OSError, SerialException, TypeError) as exc:  # TypeError: pyserial, its port closed under it
        if isinstance(exc, TypeError) and link is not None and link.serial.is_open:
            raise  # a bug, not a lost board
        raise _gone(device, step) from exc
    finally:
        if link is not None:
            try:
                link.close()
            except (OSError, SerialException):
                pass  # gone already: the error above says so
    return Summary(device, __version__, len(to_send), len(files) - len(to_send), len(removed),
                   link.serial.bytes, time.monotonic() - started, chosen)


def _gone(device, step):
    """The one error for a board that went away (unplugged, reset, powered off) in the middle of `step`."""
    if step in ("installing", "starting the new firmware"):
        state = "the deploy was committed: the board finishes it at its next start"
    elif step in ("committing",):
        state = "the board boots either its old firmware or, finishing the deploy, the new one"
    else:
        state = "nothing was changed on it"
    return errors.PortLost("the board on " + device + " went away while " + step + "; " + state,
                           hint="plug it in again (a data cable, firmly seated) and run the deploy again: it "
                                "resumes where it stopped")


def _resume(link):
    """Leave the raw REPL and soft-reset, so that a board a deploy refused runs its firmware again."""
    try:
        link.exit_raw_repl()
        link.serial.write(b"\x04")
    except (TransportError, OSError):
        pass  # the refusal is what the user needs to see


def _connect(device):
    ports.open_port(device).close()  # says busy, missing or denied (mpremote's transport only says "failed")
    try:
        link = SerialTransport(device, baudrate=115200)
    except TransportError as exc:
        raise errors.PortBusy("serial port " + device + " could not be opened") from exc
    # mpremote reads some replies without asking what is waiting (the first byte of each reply, the
    # raw-paste header and its flow control): a busy board may take a while, a dead one must not hang us
    link.serial.timeout = READ_TIMEOUT_S
    link.serial = _Counted(link.serial)
    try:
        for attempt in range(CONNECT_TRIES):
            link.serial.deadline = time.monotonic() + CONNECT_TIMEOUT_S
            try:
                link.enter_raw_repl(soft_reset=False, timeout_overall=CONNECT_TIMEOUT_S)  # Ctrl-C stops the app
                out, err = link.exec_raw("print('gw-ready')", timeout=CONNECT_TIMEOUT_S)
                if b"gw-ready" not in out or err:  # a prompt left over from a start that went on into main.py
                    raise TransportError("the raw REPL did not run code")
                break
            except TransportError:
                # A board still starting takes the Ctrl-C in boot.py and then runs main.py, whose app
                # reads the Ctrl-A as a request: another Ctrl-C stops the app too.
                if attempt == CONNECT_TRIES - 1:
                    raise
        link.serial.deadline = None
    except TransportError as exc:
        link.close()
        if not link.serial.received:
            raise errors.BoardNotAnswering("the board on " + device + " does not answer") from exc
        raise errors.NotMicroPython("the device on " + device + " does not offer a MicroPython raw REPL") from exc
    return link


def _call(link, code):
    try:
        return link.exec(code)
    except TransportExecError as exc:
        if "ENOSPC" in exc.error_output or "Errno 28" in exc.error_output or "OSError: 28" in exc.error_output:
            raise errors.BoardDiskFull("the board's filesystem is full; the deploy did not commit, the board "
                                       "keeps its firmware") from exc
        raise errors.GullwingError("the board failed during the deploy:\n" + exc.error_output.strip(),
                                   hint="run the deploy again; it resumes where it stopped") from exc
    except TransportError as exc:
        raise errors.BoardNotAnswering("the board stopped answering during the deploy: " + str(exc),
                                       hint="check the cable and deploy again; the board still boots "
                                            "and the next deploy completes this one") from exc


def _fresh_heap(link):
    """Soft-reset from the raw REPL before an upload: the app that Ctrl-C stopped still holds most of a
    small chip's heap (about 110 KB on an ESP32), where an upload chunk needs 8 KB in one piece. boot.py
    runs again (completing an interrupted commit), main.py does not, and the agent is loaded anew."""
    try:
        link.enter_raw_repl(soft_reset=True, timeout_overall=BOOT_TIMEOUT_S)
    except TransportError as exc:
        raise errors.BoardNotAnswering("the board did not come back from a soft reset during the deploy",
                                       hint="check the cable and deploy again; the board still boots") from exc
    _load_agent(link)


def _load_agent(link):
    """Run the agent: from the board's flash when an earlier deploy left this version there, else sent
    compressed (or plain, to a board without `deflate`)."""
    found = _call(link, "try:\n exec(open(" + repr(AGENT_PATH) + ").read())\n print(1)\nexcept OSError:\n print(0)")
    if found.strip() == b"1":
        return
    packed = binascii.b2a_base64(pack(AGENT, True), newline=False)
    try:
        _call(link, "import deflate,io,binascii\nexec(deflate.DeflateIO(io.BytesIO(binascii.a2b_base64("
              + repr(packed) + ")),deflate.RAW," + str(WBITS) + ").read())")
    except errors.GullwingError as exc:
        if "ImportError" not in str(exc):
            raise
        _call(link, AGENT)


def _check_mpy(info, files):
    for path, data in files.items():
        if path.endswith(".mpy") and not mpy_loads(data, info["mpy"]):
            version = ".".join(str(n) for n in info["version"])
            raise errors.MpyVersionMismatch(
                f"the board runs MicroPython {version}, which loads .mpy version {info['mpy'] & 0xFF}; "
                f"gullwing's mpy-cross makes version {data[1]} (MicroPython 1.23 and later)")


def _upload(link, payload, hashes, inflate, console, show):
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    console = console or Console(stderr=True)
    columns = (TextColumn("{task.description:<28}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=console, disable=not show or not console.is_terminal, transient=True) as bars:
        overall = bars.add_task("firmware", total=sum(len(p) for p in payload.values()) or 1)
        for path, packed in payload.items():
            task = bars.add_task(path, total=len(packed) or 1)
            _call(link, "_gw_open(" + repr(path) + ")")
            text = binascii.b2a_base64(packed, newline=False)
            for i in range(0, len(text), CHUNK):
                _call(link, "_gw_w(" + repr(text[i:i + CHUNK]) + ")")
                done = min(len(packed), (i + CHUNK) * 3 // 4)
                bars.update(task, completed=done)
                bars.update(overall, advance=min(CHUNK * 3 // 4, len(packed) - i * 3 // 4))
            _call(link, "_gw_close(" + repr(path) + ", " + repr(hashes[path]) + ", " + repr(inflate) + ")")
            bars.remove_task(task)


def _restart_and_check(link, device):
    """Soft-reset into the new firmware; it must announce itself as `gullwing <version>` and then answer a
    `status` out of safe mode (a firmware that prints its version and then crashes, or cannot load a
    module, has not started)."""
    link.exit_raw_repl()
    link.serial.write(b"\x04")
    want = ("gullwing " + __version__).encode()
    seen = _read_until(link, lambda seen: want in seen)
    if want in seen:
        link.serial.write(b"#deploy status\n")
        seen += _read_until(link, lambda seen: _status_reply(seen) is not None)
    reply = _status_reply(seen)
    if reply is not None and reply.startswith(b"#deploy ok ") and b'"safe_mode"' not in reply:
        return
    why = "did not come up"
    if reply is not None and b'"safe_mode"' in reply:
        safe = re.search(rb'"safe_mode": ?"((?:[^"\\]|\\.)*)"', reply)
        why = "started in safe mode (" + (safe.group(1).decode(errors="replace") if safe else "?") + ")"
    raise errors.FirmwareNotStarted("the new firmware " + why + " on " + device + ":\n"
                                    + seen.decode(errors="replace").strip()[-1500:])


def _status_reply(seen):
    found = re.search(rb"#deploy (?:ok|err)[^\n]*\n", seen)
    return found.group(0).strip() if found else None


def _read_until(link, done):
    """What the board prints until `done(seen)`, a traceback at the prompt, or BOOT_TIMEOUT_S."""
    seen = b""
    deadline = time.monotonic() + BOOT_TIMEOUT_S
    while not done(seen) and time.monotonic() < deadline:
        if b"Traceback" in seen and seen.rstrip().endswith(b">>>"):
            break
        seen += link.serial.read(link.serial.in_waiting or 1)
    return seen
