"""`gullwing provision`: many boards of one kit at once, each flashed (when asked), deployed and
self-tested in its own thread, with a live table and a report per run.

Self-test, on the protocol: the firmware answers `version` with this version; each door opens and
closes and reports both arrivals; the motor spins up and down (engine start, throttle, engine stop).
A board that fails does not stop the others. Boards that passed with this kit and firmware version
(known by machine.unique_id) are skipped the next time, so a rerun provisions only what failed.
"""

import json
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from host_tools import __version__, deploy, errors, flash, ports
from host_tools.link import Link

REPORTS_DIR = Path("provision-reports")


@dataclass
class Result:
    port: str
    board_id: str = ""
    step: str = "waiting"
    passed: bool = False
    skipped: bool = False
    error: str = ""
    seconds: float = 0.0


def all_ports():
    """Every connected board: USB serial ports with a catalogued board's USB id, and the virtual boards
    running on this machine."""
    from serial.tools import list_ports

    from host_tools import boards
    from host_tools.virtual_board import running_ports

    known = boards.known_usb_ids()
    found = [info.device for info in list_ports.comports() if ports.usb_id(info) in known]
    return sorted(set(found) | set(running_ports()))


def self_test(link, kit, result):
    reply = link.request("version")
    if not reply.ok or reply.data.get("version") != __version__:
        raise errors.GullwingError(f"the board runs {reply.line}, not gullwing {__version__}")
    result.board_id = reply.data.get("id", "")
    result.step = "doors"
    assert_ok(link, "events on")
    for side in ("left", "right"):
        for action in ("open", "close"):
            assert_ok(link, f"door {side} {action} 600")
            event = link.wait_event("door", 3.0)
            if event is None or f'"side":"{side}"' not in event:
                raise errors.GullwingError(f"the {side} door did not report reaching {action}")
    result.step = "motor"
    assert_ok(link, "engine start")
    time.sleep(2.2)
    assert_ok(link, "throttle 100")
    time.sleep(0.8)
    spun = link.request("status").data["engine"]["rpm"]
    assert_ok(link, "throttle 0")
    assert_ok(link, "engine stop")
    deadline = time.monotonic() + 8
    state = ""
    while state != "off" and time.monotonic() < deadline:
        time.sleep(0.3)
        state = link.request("status").data["engine"]["state"]
    if spun < 6000 or state != "off":
        raise errors.GullwingError(f"the motor did not spin up and down (rpm {spun} at full throttle, then {state})")


def assert_ok(link, line):
    reply = link.request(line)
    if not reply.ok:
        raise errors.GullwingError(f"`{line}` answered {reply.line}")
    return reply


def provision_one(port, kit, firmware, result, passed_ids):
    started = time.monotonic()
    try:
        if firmware:
            result.step = "flash"
            flash.flash(port, firmware, kit.board)  # MicroPython, then the firmware; the kit's config next
        result.step = "deploy"
        deploy.deploy(port=port, kit=kit, progress=False)
        result.step = "version"
        with Link(port, timeout=5.0) as link:
            reply = link.request("version")
            if reply.ok and reply.data.get("id") in passed_ids:
                result.board_id, result.skipped, result.passed, result.step = reply.data["id"], True, True, "done"
                return
            self_test(link, kit, result)
        result.passed, result.step = True, "done"
    except errors.GullwingError as exc:
        result.error = str(exc)
    except Exception as exc:  # one board's trouble is reported, the others go on
        result.error = type(exc).__name__ + ": " + str(exc)
    finally:
        result.seconds = round(time.monotonic() - started, 2)


def provision(port_list, kit, firmware=None, reports=REPORTS_DIR, console=None, live=True):
    """Provision every port in parallel; returns (results, report path)."""
    passed_ids = _passed_before(reports, kit)
    results = [Result(port) for port in port_list]
    threads = [threading.Thread(target=provision_one, args=(r.port, kit, firmware, r, passed_ids), daemon=True)
               for r in results]
    for thread in threads:
        thread.start()
    _watch(threads, results, console, live)
    return results, _report(reports, kit, firmware, results)


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
    from rich.table import Table

    table = Table(title="gullwing provision")
    for column in ("port", "board id", "step", "result", "s"):
        table.add_column(column)
    for r in results:
        verdict = ("[green]skipped (passed before)[/]" if r.skipped else "[green]passed[/]" if r.passed
                   else "[red]failed: " + r.error[:60] + "[/]" if r.error else "...")
        table.add_row(r.port, r.board_id, r.step, verdict, f"{r.seconds:.1f}" if r.seconds else "")
    return table


def _report(folder, kit, firmware, results):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = folder / f"{kit.name}-{stamp}.json"
    data = {"kit": kit.name, "gullwing": __version__, "firmware": str(firmware or ""), "boards":
            [asdict(r) for r in results]}
    path.write_text(json.dumps(data, indent=1))
    lines = [f"{kit.title}: {sum(r.passed for r in results)} of {len(results)} passed (gullwing {__version__})"]
    for r in results:
        state = "skipped, passed before" if r.skipped else "passed" if r.passed else f"FAILED at {r.step}: {r.error}"
        lines.append(f"  {r.port}  {r.board_id or '?'}  {state}  ({r.seconds} s)")
    path.with_suffix(".txt").write_text("\n".join(lines) + "\n")
    return path


def _passed_before(folder, kit):
    """Board ids that passed this kit with this gullwing version in earlier runs."""
    ids = set()
    for path in sorted(Path(folder).glob(kit.name + "-*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if data.get("gullwing") == __version__:
            ids |= {b["board_id"] for b in data.get("boards", []) if b.get("passed") and b.get("board_id")}
    return ids
