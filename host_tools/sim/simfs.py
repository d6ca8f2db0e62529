"""The board's flash filesystem and `os` module: a host folder mounted at `/`, as big as the partition.

After install() this module stands in for `os` on the virtual board (sys.modules["os"]): the interpreter's
own functions, made to answer as the ESP32 port's LittleFS (extmod/vfs_lfsx.c) does: stat() and ilistdir()
give LittleFS's tuples, remove() and rmdir() both delete a file or an empty folder, statvfs() reports the
partition, writes past the partition size fail with OSError(ENOSPC) like a full board, and sync() is there.
What the ESP32's os lacks (getenv, system, errno, VfsPosix, ...) is gone. rename() goes through a second,
hidden mount of the host's filesystem, because this build's VfsPosix mangles both paths of a rename when
mounted with a root folder.
"""

import builtins
import io
import os as _os
import sys
from os import *  # noqa: F403  (this module is the board's os)

# extmod/modos.c as the ESP32 port configures it: no getenv/putenv/unsetenv, system or errno, and of the
# filesystem types only VfsFat and VfsLfs2
for _name in ("getenv", "putenv", "unsetenv", "system", "errno", "VfsPosix", "VfsLfs1"):
    globals().pop(_name, None)

_ENOSPC = 28  # lfs2's LFS_ERR_NOSPC, as OSError(28); MicroPython's errno module has no name for it

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


def stat(path):
    """MP_VFS_LFSx(stat): (mode, 0, 0, 0, 0, 0, size, mtime, mtime, mtime), the mode S_IFREG or S_IFDIR alone
    and the size 0 for a folder. The mtime is the host's (the epoch of the board's time.time())."""
    st = _os.stat(path)
    is_dir = st[0] & 0x4000
    mtime = int(st[8])
    return (0x4000 if is_dir else 0x8000, 0, 0, 0, 0, 0, 0 if is_dir else st[6], mtime, mtime, mtime)


def remove(path):
    """lfs2_remove() serves both os.remove() and os.rmdir(): a file, or a folder once empty (ENOTEMPTY)."""
    if _os.stat(path)[0] & 0x4000:
        _os.rmdir(path)
    else:
        _os.remove(path)


rmdir = unlink = remove


def sync():
    return None  # MICROPY_PY_OS_SYNC: LittleFS writes through, nothing is pending


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
            raise OSError(_ENOSPC)
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
