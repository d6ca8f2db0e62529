# Sent to the board's raw REPL by `gullwing deploy` (this is MicroPython code, never imported by the host).
# Defines the _gw_* helpers the host then calls: one call reads the board's state, files arrive
# compressed and base64-encoded into a staging folder, and each staged file is checked by its hash.
import binascii
import hashlib
import json
import os
import sys

_GW_STAGE = "/.gullwing/stage"
_GW_MANIFEST = "/.gullwing/manifest.json"
_gw_file = None


def _gw_dirs(path):
    at = ""
    for part in path.split("/")[1:-1]:
        at += "/" + part
        try:
            os.mkdir(at)
        except OSError:
            pass


def _gw_sha(path):
    h = hashlib.sha256()
    buf = bytearray(512)
    with open(path, "rb") as f:
        while True:
            n = f.readinto(buf)
            if not n:
                break
            h.update(buf if n == 512 else buf[:n])
    return binascii.hexlify(h.digest()).decode()


def _gw_info(staged):
    try:
        with open(_GW_MANIFEST) as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        manifest = {}
    drift = []
    for path, sha in manifest.items():  # a file changed or lost on the board since it was deployed
        try:
            if _gw_sha(path) != sha:
                drift.append(path)
        except OSError:
            drift.append(path)
    ready = []
    for path, sha in staged.items():  # files a previous, interrupted deploy already staged
        try:
            if _gw_sha(_GW_STAGE + path) == sha:
                ready.append(path)
        except OSError:
            pass
    try:
        import deflate  # noqa: F401

        inflate = True
    except ImportError:
        inflate = False
    s = os.statvfs("/")
    print(json.dumps({"mpy": sys.implementation._mpy, "version": list(sys.implementation.version[:3]),
                      "manifest": manifest, "drift": drift, "staged": ready, "inflate": inflate, "free": s[0] * s[3]}))


def _gw_open(path):
    global _gw_file
    _gw_dirs(_GW_STAGE + path)
    _gw_file = open(_GW_STAGE + path + ".z", "wb")


def _gw_w(chunk):
    _gw_file.write(binascii.a2b_base64(chunk))


def _gw_close(path, sha, compressed):
    _gw_file.close()
    packed = _GW_STAGE + path + ".z"
    if compressed:
        import deflate

        buf = bytearray(512)
        with open(packed, "rb") as src, open(_GW_STAGE + path, "wb") as dst:
            stream = deflate.DeflateIO(src, deflate.RAW, 12)
            while True:
                n = stream.readinto(buf)
                if not n:
                    break
                dst.write(buf if n == 512 else buf[:n])
        os.remove(packed)
    else:
        os.rename(packed, _GW_STAGE + path)
    if _gw_sha(_GW_STAGE + path) != sha:
        raise ValueError("staged " + path + " does not match its hash")


def _gw_commit(plan):
    with open("/.gullwing/commit.json.new", "w") as f:
        f.write(plan)
    os.rename("/.gullwing/commit.json.new", "/.gullwing/commit.json")  # from here the deploy will finish
