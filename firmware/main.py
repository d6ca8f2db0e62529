# Runs at every boot after boot.py: start the gullwing firmware, or, when it cannot be loaded, a minimal
# safe mode. Self-contained on purpose: it must work when every gullwing module is broken.
#
# Before anything is imported, each installed module (not the web page) is checked against the manifest the
# last deploy wrote (size, then hash): a truncated .mpy can hang the loader, a garbage one raises at import. A
# module that is damaged, or a start that fails in safe mode, ends here in a loop that still speaks the
# protocol: `ping`, `status` (with `safe_mode` saying why), `err not_ready` for every other verb; Ctrl-C
# reaches the REPL, so `gullwing deploy` can put the firmware right.
import sys

MANIFEST = "/.gullwing/manifest.json"
MAX_MANIFEST = 8192
MAX_LINE = 128


def damaged():
    """The first installed module that differs from the manifest, as a reason; None when all match (or no
    deploy left a manifest: then nothing can be checked)."""
    import os

    try:
        if os.stat(MANIFEST)[6] > MAX_MANIFEST:
            return MANIFEST + ": too large"
        with open(MANIFEST) as f:
            files = __import__("json").load(f)["files"]
    except OSError:
        return None
    except Exception:
        return MANIFEST + ": unreadable"
    import binascii
    import hashlib

    buf = bytearray(512)
    for path in sorted(files):
        if not path.startswith("/gullwing/") or not (path.endswith(".mpy") or path.endswith(".py")):
            continue  # main.py and boot.py run as source; config.json is read with limits; the web page
            # (panel.html.gz) is no module: a damaged one costs the page, never the firmware
        h = hashlib.sha256()
        try:
            with open(path, "rb") as f:
                while True:
                    n = f.readinto(buf)
                    if not n:
                        break
                    h.update(buf if n == 512 else buf[:n])
        except OSError:
            return path + ": missing"
        if binascii.hexlify(h.digest()[:8]).decode() != files[path]:
            return path + ": damaged (not as deployed)"
    return None


def version():
    try:
        with open("/.gullwing/deployed.json") as f:
            return str(__import__("json").load(f)["version"])[:16]
    except Exception:
        return "0.0"


def safe_mode(why):
    """Answer the protocol until Ctrl-C (KeyboardInterrupt goes on to the REPL) or the console closes."""
    import json

    why = why[:100]
    print("gullwing " + version() + " safe mode: " + why)
    stdin = sys.stdin.buffer
    line = b""
    while True:
        c = stdin.read(1)
        if not c:
            return
        if c not in b"\r\n":
            line += c if len(line) <= MAX_LINE else b""  # a flood costs no memory
            continue
        too_long = len(line) > MAX_LINE
        words = line.decode("ascii", "replace").split()
        line = b""
        tag = ""
        if words and words[0][:1] == "#":
            tag = words.pop(0) + " "
        if not words:
            continue
        if too_long:
            reply = "err too_long line longer than 128 bytes"
        elif words[0] == "ping":
            reply = "ok"
        elif words[0] == "status":
            reply = "ok " + json.dumps({"version": version(), "safe_mode": why, "doors": None})
        else:
            reply = "err not_ready safe mode, the firmware cannot start: " + why[:60]
        print(tag + reply)


why = damaged()
if why is None:
    try:
        from gullwing import runner

        runner.run()  # returns after Ctrl-C; resets the board after a crash, except in safe mode
    except Exception as exc:  # the firmware cannot be loaded, or cannot start in safe mode
        sys.print_exception(exc)
        why = "cannot start: " + type(exc).__name__ + ": " + str(exc)
if why is not None:
    safe_mode(why)
