"""Compiling the firmware with mpy-cross: `.mpy` for the package, main.py and boot.py stay source. Modules with
machine code (@micropython.viper/native) are built for the board's architecture (an .mpy's machine code loads
only there: the deploy reads it from the board's sys.implementation._mpy); without one they go as source,
which the board compiles itself at a cost of heap it may not have. The check builds them for every chip's
architecture.

The web page (firmware/gullwing/panel.html, CSS and JS inline) goes to the board gzipped, as
gullwing/panel.html.gz: the server sends it as stored, with `Content-Encoding: gzip`.

`python -m host_tools.build --check` compiles every firmware file and names each one that fails, and checks
that the page fits its budget; `make test` runs it so that syntax MicroPython lacks never reaches a board.
"""

import argparse
import functools
import gzip
import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from host_tools import FIRMWARE_DIR, ROOT

SOURCE_ONLY = ("main.py", "boot.py")  # MicroPython runs these by name, as source
NATIVE = ("gullwing/synth.py",)  # machine code
ARCHS = ("xtensawin", "rv32imc")  # ESP32, S2 and S3; C3
# mpy-cross's -march names by the arch number in sys.implementation._mpy (py/persistentcode.h: MP_NATIVE_ARCH_*)
ARCH_NAMES = ("", "x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp", "armv7emdp", "xtensa",
              "xtensawin", "rv32imc", "rv64imc")


def arch_of(mpy):
    """The -march name for a board whose sys.implementation._mpy is `mpy`; None when it runs no machine code."""
    number = (mpy >> 10) & 0xF
    return ARCH_NAMES[number] or None if number < len(ARCH_NAMES) else None
CACHE_DIR = ROOT / "build" / "mpy-cache"
PAGE_BUDGET = 30 * 1024  # bytes of a page as stored (gzipped): flash, and the time a phone waits on the AP


class BuildError(Exception):
    pass


def firmware_sources(root=FIRMWARE_DIR):
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def web_pages(root=FIRMWARE_DIR):
    return sorted(root.rglob("*.html"))


def gzip_page(source):
    """The page as the board stores and serves it. No timestamp in the header: the same page makes the same
    bytes, so a redeploy does not send it again."""
    return gzip.compress(source.read_bytes(), compresslevel=9, mtime=0)


def page_error(source, root=FIRMWARE_DIR):
    size = len(gzip_page(source))
    if size > PAGE_BUDGET:
        return ("firmware/" + str(source.relative_to(root)) + " is " + str(size) + " bytes gzipped; the budget is "
                + str(PAGE_BUDGET))
    return None


def mpy_cross_binary():
    candidate = Path(sys.executable).with_name("mpy-cross")
    return str(candidate) if candidate.exists() else "mpy-cross"


def compile_file(source, target, root=FIRMWARE_DIR, arch=None):
    """Compile one file (with machine code for `arch`); the error names the file as the firmware tree knows it.

    Results are cached by content (source, its name on the board, mpy-cross version), so a redeploy
    of unchanged firmware does not run mpy-cross again."""
    target.parent.mkdir(parents=True, exist_ok=True)
    rel = source.relative_to(root)
    key = hashlib.sha256(source.read_bytes() + b"\0" + str(rel).encode() + b"\0" + str(arch).encode() + b"\0"
                         + _mpy_cross_version())
    cached = CACHE_DIR / (key.hexdigest() + ".mpy")
    if cached.exists():
        shutil.copyfile(cached, target)
        return
    march = [] if arch is None else ["-march=" + arch]
    proc = subprocess.run([mpy_cross_binary(), *march, "-s", str(rel), "-o", str(target), str(source)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError("mpy-cross cannot compile firmware/" + str(rel) + ("" if arch is None else " for " + arch)
                         + ":\n" + proc.stderr.strip())
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(target, cached)


@functools.cache
def _mpy_cross_version():
    return subprocess.run([mpy_cross_binary(), "--version"], capture_output=True, check=True).stdout


def build(out_dir, root=FIRMWARE_DIR, arch=None):
    """Compile the tree that lands on a board whose machine code is `arch` (None: unknown); returns {path on
    the board: local file}.

    Every file is compiled, so a syntax error anywhere stops the build; main.py and boot.py then go
    to the board as source all the same, and so does machine code for no known `arch`."""
    files = {}
    for source in firmware_sources(root):
        rel = source.relative_to(root)
        target = Path(out_dir) / rel.with_suffix(".mpy")
        native = str(rel) in NATIVE
        for each in (arch,) if native and arch else _archs(rel):
            compile_file(source, target, root, each)
        if str(rel) in SOURCE_ONLY or (native and not arch):
            files[str(rel)] = source
        else:
            files[str(rel.with_suffix(".mpy"))] = target
    for source in web_pages(root):
        rel = str(source.relative_to(root)) + ".gz"
        target = Path(out_dir) / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(gzip_page(source))
        files[rel] = target
    return files


def check(root=FIRMWARE_DIR):
    """Compile every firmware file and size each page; returns the list of errors (empty when all pass)."""
    errors = []
    with tempfile.TemporaryDirectory() as tmp:
        for source in firmware_sources(root):
            for arch in _archs(source.relative_to(root)):
                try:
                    compile_file(source, Path(tmp) / "out.mpy", root, arch)
                except BuildError as exc:
                    errors.append(str(exc))
    errors.extend(e for e in (page_error(page, root) for page in web_pages(root)) if e)
    return errors


def _archs(rel):
    return ARCHS if str(rel) in NATIVE else (None,)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m host_tools.build", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compile every firmware file, keep nothing")
    parser.add_argument("-o", "--out", type=Path, help="write the compiled tree here")
    args = parser.parse_args(argv)
    if args.check or not args.out:
        errors = check()
        for error in errors:
            print(error, file=sys.stderr)
        count = len(firmware_sources())
        print(f"mpy-cross: {count - sum('mpy-cross' in e for e in errors)} of {count} firmware files compile")
        for page in web_pages():
            print(f"page: firmware/{page.relative_to(FIRMWARE_DIR)} is {len(gzip_page(page))} bytes gzipped "
                  f"(budget {PAGE_BUDGET})")
        return 1 if errors else 0
    files = build(args.out)
    print(f"built {len(files)} files into {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
