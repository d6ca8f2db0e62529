"""Errors a user can act on: each says what went wrong and, in `hint`, what to do next.

The command line prints them as `error: ...` and `hint: ...` and exits with status 2; so it does for an
OS-level failure (a file it cannot read or write, a serial port that fails: see from_exception) and for
Ctrl-C. Anything else that escapes is a bug in gullwing and keeps its traceback.
"""

import errno


class GullwingError(Exception):
    """Base of every error the user can fix; `hint` says how."""

    hint = ""

    def __init__(self, message, hint=None):
        super().__init__(message)
        if hint is not None:
            self.hint = hint


# -- board files ---------------------------------------------------------------------------------

class BoardFileError(GullwingError):
    """A board file is missing or wrong; `problems` lists every error found in it."""

    hint = "fix the board file (the key and the allowed values are named above), or pick another with --board"

    def __init__(self, message, problems=(), hint=None):
        super().__init__(message, hint)
        self.problems = list(problems)


# -- serial ports --------------------------------------------------------------------------------

class NoPortFound(GullwingError):
    hint = ("plug the board in with a data USB cable (some cables only charge), or name the port with "
            "--port or the GULLWING_PORT environment variable")


class SeveralPorts(GullwingError):
    hint = "choose one with --port PORT or the GULLWING_PORT environment variable"


class PortMissing(GullwingError):
    hint = "check the port name (gullwing lists candidates when --port is left out) and that the board is plugged in"


class PortBusy(GullwingError):
    hint = ("another program holds the port (a serial monitor, mpremote, an IDE, another gullwing): "
            "close it and try again")


class PortDenied(GullwingError):
    hint = ("your user may not open serial ports: on Linux add it to the `dialout` group "
            "(sudo usermod -aG dialout $USER) and log in again")


class NotASerialPort(GullwingError):
    hint = ("name the board's serial port (/dev/ttyUSB0, /dev/ttyACM0, /dev/cu.usbserial-..., COM3); "
            "leave --port out to have gullwing list the ports it sees")


class PortLost(GullwingError):
    hint = "the board was unplugged or reset its USB: plug it in (a data cable, firmly seated) and try again"


# -- talking to the board ------------------------------------------------------------------------

class BoardNotAnswering(GullwingError):
    hint = ("check the USB cable and that the port is the board's; press EN (reset) on the board and try again; "
            "`gullwing flash` puts MicroPython on a board that has none")


class BootloaderNotAnswering(BoardNotAnswering):
    """The chip's ROM bootloader (flashing), not MicroPython, does not answer."""

    hint = ("check the USB cable and the port; if the board still does not answer, hold its BOOT button, "
            "press and release EN (reset), then release BOOT and try again")


class NotDeployed(GullwingError):
    hint = "put gullwing on the board: gullwing deploy"


class GarbledReply(GullwingError):
    hint = ("the line was damaged on the way (a loose cable, a noisy USB hub, or another program writing to "
            "the port): try again; if it persists, try another cable or USB port")


class WrongChip(GullwingError):
    hint = "pick the board file that matches the hardware with --board (see `gullwing boards list`)"


class BadFirmwareImage(GullwingError):
    hint = ("download the firmware .bin for your board's chip from https://micropython.org/download/ "
            "(the full image, not an OTA update or a .uf2/.hex file)")


class NotMicroPython(GullwingError):
    hint = "put MicroPython on the board first: gullwing flash --firmware FILE.bin"


class BoardDiskFull(GullwingError):
    hint = "free space on the board (remove old files with `mpremote fs rm`), or erase it and flash again with --erase"


class FirmwareNotStarted(GullwingError):
    hint = ("the output above shows why; fix it and deploy again (`gullwing status` shows the safe mode's "
            "reason and the problems)")


class MpyVersionMismatch(GullwingError):
    hint = "flash the MicroPython version gullwing compiles for (gullwing flash --firmware FILE.bin)"


# -- translation of OS errors --------------------------------------------------------------------

_BUSY_WORDS = ("could not exclusively lock", "resource busy", "device or resource busy", "access is denied",
               "port is already open")


def port_error(device, exc):
    """The GullwingError for a failure to open `device`, or None when `exc` is about something else.

    Works on pyserial's SerialException (which carries the OS errno) and on the text of esptool's
    FatalError, which wraps it."""
    code = getattr(exc, "errno", None)
    text = str(exc).lower()
    if code == errno.EBUSY or any(word in text for word in _BUSY_WORDS):
        return PortBusy("serial port " + device + " is in use by another program")
    if code == errno.ENOENT or "no such file" in text or "errno 2]" in text or "filenotfounderror" in text:
        return PortMissing("serial port " + device + " does not exist")
    if code == errno.EACCES or "permission denied" in text:
        return PortDenied("no permission to open serial port " + device)
    if code == errno.EISDIR or "is a directory" in text:
        return NotASerialPort(device + " is a folder, not a serial port")
    if code == errno.ENOTTY or "inappropriate ioctl" in text:
        return NotASerialPort(device + " is not a serial port (it is not a terminal device)")
    return None


def from_exception(exc):
    """The GullwingError for an OS-level failure that escaped a command (a file that cannot be read or
    written, a serial port that failed), or None for anything else (a bug in gullwing)."""
    if isinstance(exc, GullwingError):
        return exc
    if isinstance(exc, UnicodeDecodeError):
        return GullwingError("a file is not text: " + str(exc), hint="check that you named the right file")
    if not isinstance(exc, OSError):
        return None
    if type(exc).__name__ == "SerialException":  # pyserial's, raised once a port is open
        return PortLost("the serial link failed: " + str(exc))
    name = exc.filename if exc.filename is not None else ""
    reason = exc.strerror or str(exc)
    where = (str(name) + ": ") if name != "" else ""
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return GullwingError(where + reason.lower(),
                             hint="choose a file or folder you may read or write, or fix its permissions")
    if exc.errno == errno.ENOENT:
        return GullwingError(where + "no such file or folder",
                             hint="check the path: the file, or for an output the folder it goes in, must exist")
    if exc.errno == errno.ENOSPC:
        return GullwingError(where + "the disk is full", hint="free some space and try again")
    if exc.errno == errno.ENOTDIR:
        return GullwingError(where + "part of this path is a file, not a folder",
                             hint="choose a path whose folders are folders (or make the folder first)")
    if exc.errno == errno.EISDIR:
        return GullwingError(where + "this is a folder, not a file", hint="name a file, not a folder")
    return GullwingError(where + reason, hint="check the path and the device, then try again")
