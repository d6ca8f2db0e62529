"""The board's flash filesystem and `os` module: a host folder mounted at `/`, as big as the partition.

After install() this module stands in for `os` on the virtual board (sys.modules["os"]): everything is
the interpreter's own, except that ilistdir() reports file sizes and statvfs() the partition, as on
LittleFS, writes past the partition size fail with OSError(ENOSPC) like a full board, and rename() goes
through a second, hidden mount of the host's filesystem, because this build's VfsPosix mangles both
paths of a rename when mounted with a root folder.
"""

import builtins
import errno
import io
import os as _os
import sys
from os import *  # noqa: F403  (this module is the board's os)

BLOCK = 4096
HOST_MOUNT = "/.hostfs"  # the host's filesystem, unlisted: only rename() uses it
_open = open
_limit = [0]
_folder = [""]


def install(folder, size_kb):
    _os.umount("/")
    _os.mount(_os.VfsPosix(folder), "/")
    _os.mount(_os.VfsPosix(), HOST_MOUNT)
    _os.chdir("/")
    _folder[0] = folder.rstrip("/")
    sys.path[:] = ["", ".frozen", "/lib"]  # the ESP32 port's module path
    _limit[0] = size_kb * 1024
    sys.modules["os"] = sys.modules[__name__]
    if size_kb:
        builtins.open = _open_with_quota


def _join(path, name):
    return ("" if path == "/" else path.rstrip("/")) + "/" + name


def _host_path(path):
    if not path.startswith("/"):
        path = _os.getcwd().rstrip("/") + "/" + path
    return HOST_MOUNT + _folder[0] + path


def rename(old, new):
    _os.stat(old)  # the board's own error for a missing file
    _os.rename(_host_path(old), _host_path(new))


def listdir(path="."):
    return [entry[0] for entry in ilistdir(path)]


def ilistdir(path="."):
    for entry in _os.ilistdir(path):
        name, kind = entry[0], entry[1]
        if _join(path, name) == HOST_MOUNT or (path in (".", "") and _os.getcwd() == "/" and name == HOST_MOUNT[1:]):
            continue
        size = 0 if kind == 0x4000 else _os.stat(_join(path, name))[6]
        yield (name, kind, 0, size)


def used_bytes(path="/"):
    total = 0
    for name, kind, _, size in ilistdir(path):
        # every file takes whole blocks; a directory takes one
        total += BLOCK + used_bytes(_join(path, name)) if kind == 0x4000 else -(-size // BLOCK) * BLOCK
    return total


def statvfs(path="/"):
    if not _limit[0]:
        return _os.statvfs(path)
    blocks = _limit[0] // BLOCK
    free = max(0, blocks - used_bytes() // BLOCK)
    return (BLOCK, BLOCK, blocks, free, free, 0, 0, 0, 0, 255)


class _QuotaFile(io.IOBase):
    """A file opened for writing that cannot grow the filesystem past its size. A stream (io.IOBase),
    so that C code such as json.dump() writes through it like through a real file."""

    def __init__(self, f, room):
        self._f = f
        self._room = room

    def write(self, data):
        if len(data) > self._room:
            raise OSError(errno.ENOSPC)
        self._room -= len(data)
        return self._f.write(data)

    def readinto(self, buf):
        return self._f.readinto(buf)

    def ioctl(self, request, arg):
        return 0

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()

    def close(self):
        self._f.close()


def _open_with_quota(name, mode="r", *args, **kwargs):
    f = _open(name, mode, *args, **kwargs)
    if "w" not in mode and "a" not in mode and "+" not in mode:
        return f
    return _QuotaFile(f, _limit[0] - used_bytes())
