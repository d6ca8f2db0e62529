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
_GW_DEPLOYED = "/.gullwing/deployed.json"
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
    # the first 16 hex digits of the SHA-256: plenty to tell two versions of a file apart
    h = hashlib.sha256()
    buf = bytearray(512)
    with open(path, "rb") as f:
        while True:
            n = f.readinto(buf)
            if not n:
                break
            h.update(buf if n == 512 else buf[:n])
    return binascii.hexlify(h.digest()[:8]).decode()


def _gw_has(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def _gw_manifest():
    try:
        with open(_GW_MANIFEST) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def _gw_whoami():
    # Which chip this MicroPython is built for (MICROPY_BANNER_MACHINE, "<board> with <MCU>"), which .mpy
    # it loads, and what the last deploy recorded: read before anything is written.
    try:
        machine = sys.implementation._machine
    except AttributeError:
        machine = os.uname().machine
    try:
        with open(_GW_DEPLOYED) as f:
            deployed = json.load(f)
    except (OSError, ValueError):
        deployed = None
    print(json.dumps({"machine": machine, "deployed": deployed, "mpy": sys.implementation._mpy,
                      "version": list(sys.implementation.version[:3])}))


def _gw_same(tree):
    # Is the firmware with this tree hash here, whole? One short answer when nothing changed.
    manifest = _gw_manifest()
    same = manifest.get("tree") == tree
    try:
        os.stat("/.gullwing/commit.json")
        same = False
    except OSError:
        pass
    for path, sha in manifest.get("files", {}).items():
        if not same:
            break
        try:
            same = _gw_sha(path) == sha
        except OSError:
            same = False
    print(json.dumps({"same": same}))


def _gw_info(wanted):
    # wanted: {path: hash} of the firmware to deploy. Replies with what differs, hashing on the board.
    manifest = _gw_manifest().get("files", {})
    changed = []
    staged = []
    for path, sha in wanted.items():
        try:
            same = manifest.get(path) == sha and _gw_sha(path) == sha
        except OSError:
            same = False
        if not same:
            changed.append(path)
            try:  # left staged and whole by an interrupted deploy?
                if _gw_sha(_GW_STAGE + path) == sha:
                    staged.append(path)
            except OSError:
                pass
    try:
        import deflate  # noqa: F401

        inflate = True
    except ImportError:
        inflate = False
    s = os.statvfs("/")
    print(json.dumps({"changed": changed, "extra": [p for p in manifest if p not in wanted], "staged": staged,
                      "inflate": inflate, "free": s[0] * s[3]}))


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
    for slot in ("/state/crashes.a", "/state/crashes.b"):  # new firmware: the crashes of the old are not its own
        if _gw_has(slot):
            os.remove(slot)
