"""`gullwing deploy`: put the firmware on a board, incrementally and atomically.

1. The firmware is compiled with mpy-cross (main.py and boot.py stay source) and the board's
   config.json is generated from its board file.
2. Over the raw REPL (mpremote's own serial transport), the host sends the content hashes of the new
   firmware; the board compares them with its manifest and with the files themselves (hashing on the
   board) and answers with what differs: nothing is read back file by file.
3. Changed files go, deflate-compressed and base64-encoded, into /.gullwing/stage and are checked by their
   hash there; files staged by an interrupted deploy are not sent again.
4. A commit record is written with one atomic rename, then applied by boot.py's finish_deploy(): the
   staged files are renamed into place, files no longer part of the firmware are removed, the manifest is
   rewritten. A board cut off at any point boots either the old firmware or, because boot.py finishes
   a committed deploy before anything else, the new one.
5. The board is soft-reset and must print `gullwing <version>`.
"""

import binascii
import hashlib
import json
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

from mpremote.transport import TransportError, TransportExecError
from mpremote.transport_serial import SerialTransport

from host_tools import FIRMWARE_DIR, __version__, boards, build, errors, ports

AGENT = "\n".join(line for line in (Path(__file__).with_name("deploy_agent.py")).read_text().splitlines()
                  if line.strip() and not line.lstrip().startswith("#")).encode() + b"\n"  # comments stay home
STAGE = "/.gullwing/stage"
CHUNK = 8192  # base64 characters per call: large enough that the per-call overhead is small
WBITS = 12  # deflate window: 4 KB of the board's RAM while inflating
BOOT_TIMEOUT_S = 10
CONNECT_TIMEOUT_S = 3
CONNECT_TRIES = 3
READ_TIMEOUT_S = 1.0


@dataclass
class Summary:
    port: str
    version: str
    sent: int
    skipped: int
    removed: int
    wire_bytes: int
    seconds: float

    def line(self):
        return (f"deployed gullwing {self.version} to {self.port}: {self.sent} sent, {self.skipped} skipped, "
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


def config_json(board):
    """The device's config.json: which board it is and the GPIO of each role."""
    return json.dumps({"board": board.name, "chip": board.chip_name, "pins": board.pins}, indent=1,
                      sort_keys=True).encode() + b"\n"


AGENT_PATH = "/.gullwing/agent-" + hashlib.sha256(AGENT).hexdigest()[:16] + ".py"


def firmware_files(board, firmware_dir=FIRMWARE_DIR, kit=None):
    """Everything that lands on the board: {absolute path on the board: content}. The deploy agent stays
    there too, so that the next deploy need not send it. With a kit, config.json carries its settings."""
    with tempfile.TemporaryDirectory() as tmp:
        built = build.build(Path(tmp), firmware_dir)
        files = {"/" + path: local.read_bytes() for path, local in built.items()}
    files["/config.json"] = kit.config_json() if kit is not None else config_json(board)
    files[AGENT_PATH] = AGENT
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


def deploy(port=None, board=None, firmware_dir=FIRMWARE_DIR, console=None, progress=True, kit=None):
    """Deploy and return a Summary; raises a GullwingError the user can act on. A kit (host_tools.kit.Kit)
    brings its board and settings."""
    started = time.monotonic()
    firmware_dir = Path(firmware_dir)
    if kit is not None:
        board = kit.board
    board = board if isinstance(board, boards.Board) else boards.load(board)
    device = ports.choose_port(port)
    files = firmware_files(board, firmware_dir, kit)
    hashes = {path: content_hash(data) for path, data in files.items()}
    manifest = {"tree": content_hash(json.dumps(hashes, sort_keys=True).encode()), "files": hashes}
    link = _connect(device)
    try:
        _load_agent(link)
        info = json.loads(_call(link, "_gw_same(" + repr(manifest["tree"]) + ")"))
        _check_mpy(info, files)
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
            _fresh_heap(link)
            _upload(link, payload, {p: hashes[p] for p in to_send}, info["inflate"], console, progress)
        if changed or removed:
            plan = {"moves": [[STAGE + p, p] for p in changed], "deletes": removed, "manifest": manifest}
            _call(link, "_gw_commit(" + repr(json.dumps(plan)) + ")")
            # the new boot.py is in place once the commit applies, and it applies it: run it as at boot
            _call(link, "exec(open('/.gullwing/stage/boot.py').read() if _gw_has('/.gullwing/stage/boot.py') "
                        "else open('/boot.py').read())")
        _restart_and_check(link, device)
    finally:
        link.close()
    return Summary(device, __version__, len(to_send), len(files) - len(to_send), len(removed),
                   link.serial.bytes, time.monotonic() - started)


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
    """Soft-reset into the new firmware; it must announce itself as `gullwing <version>`."""
    link.exit_raw_repl()
    link.serial.write(b"\x04")
    want = ("gullwing " + __version__).encode()
    seen = b""
    deadline = time.monotonic() + BOOT_TIMEOUT_S
    while want not in seen:
        if b"Traceback" in seen and seen.rstrip().endswith(b">>>"):
            break
        if time.monotonic() > deadline:
            break
        seen += link.serial.read(link.serial.in_waiting or 1)
    if want not in seen:
        raise errors.GullwingError("the new firmware did not come up on " + device + ":\n"
                                   + seen.decode(errors="replace").strip()[-1500:],
                                   hint="the output above shows why; fix it and deploy again")
