"""Which serial port the board is on, and opening it so that a busy port says so.

The port is `--port` when given, else the GULLWING_PORT environment variable, else the one connected
board: a serial port whose USB vendor:product id appears in a board file's `usb_ids`, or a virtual
board (`gullwing sim`) running on this machine. None or several such boards is an error that lists
the ports found, so the user can pick one.
"""

import os

import serial
from serial.tools import list_ports

from host_tools import boards, errors

ENV_VAR = "GULLWING_PORT"


def usb_id(info):
    """The USB id of a list_ports entry as board files write it (vendor:product in hex), None off USB."""
    if info.vid is None or info.pid is None:
        return None
    return format(info.vid, "04x") + ":" + format(info.pid, "04x")


def describe(info):
    """One line per port for error messages: device, description, USB id."""
    return info.device + "  " + (info.description or "n/a") + "  " + (usb_id(info) or "not USB")


def choose_port(port=None, environ=None, known_ids=None, virtual=None):
    """The device name of the board's serial port; raises NoPortFound or SeveralPorts.

    `known_ids` maps USB ids to board names (default: every board file's usb_ids); `virtual` lists the
    ports of the virtual boards running here (default: virtual_board.running_ports()), which count as
    connected boards."""
    if port:
        return port
    environ = os.environ if environ is None else environ
    if environ.get(ENV_VAR):
        return environ[ENV_VAR]
    known = boards.known_usb_ids() if known_ids is None else known_ids
    if virtual is None:
        from host_tools.virtual_board import running_ports

        virtual = running_ports()
    found = sorted(list_ports.comports(), key=lambda info: info.device)
    boards_found = [info for info in found if usb_id(info) in known]
    candidates = [info.device for info in boards_found] + [p for p in virtual if p not in
                                                          {info.device for info in boards_found}]
    if len(candidates) == 1:
        return candidates[0]
    if len(candidates) > 1:
        raise errors.SeveralPorts("several boards are connected:\n" + _listing(boards_found, known, virtual))
    if not found:
        raise errors.NoPortFound("no serial ports found")
    raise errors.NoPortFound(
        "no connected board found; serial ports seen:\n" + _listing(found, known),
        hint="if one of these is your board, name it with --port or GULLWING_PORT (and add its USB id to "
             "the board file's usb_ids); otherwise plug the board in with a data USB cable")


def _listing(infos, known, virtual=()):
    lines = []
    for info in infos:
        names = known.get(usb_id(info))
        lines.append("  " + describe(info) + ("  (" + ", ".join(names) + ")" if names else ""))
    lines += ["  " + port + "  virtual board (gullwing sim)" for port in virtual]
    return "\n".join(lines)


def open_port(device, baudrate=115200, timeout=1.0, **kwargs):
    """Open `device` for this program alone; a port in use raises PortBusy, a missing one PortMissing."""
    try:
        return serial.Serial(device, baudrate, timeout=timeout, exclusive=True, **kwargs)
    except serial.SerialException as exc:
        raise (errors.port_error(device, exc) or exc) from exc
