"""Compiling the firmware with mpy-cross: `.mpy` for the package, main.py and boot.py stay source.

`python -m host_tools.build --check` compiles every firmware file and names each one that fails;
`make test` runs it so that syntax MicroPython lacks never reaches a board.
"""

import argparse
import functools
import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from host_tools import FIRMWARE_DIR, ROOT

SOURCE_ONLY = ("main.py", "boot.py")  # MicroPython runs these by name, as source
CACHE_DIR = ROOT / "build" / "mpy-cache"


class BuildError(Exception):
    pass


def firmware_sources(root=FIRMWARE_DIR):
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def mpy_cross_binary():
    candidate = Path(sys.executable).with_name("mpy-cross")
    return str(candidate) if candidate.exists() else "mpy-cross"


def compile_file(source, target, root=FIRMWARE_DIR):
    """Compile one file; the error names the file as the firmware tree knows it.

    Results are cached by content (source, its name on the board, mpy-cross version), so a redeploy
    of unchanged firmware does not run mpy-cross again."""
    target.parent.mkdir(parents=True, exist_ok=True)
    rel = source.relative_to(root)
    key = hashlib.sha256(source.read_bytes() + b"\0" + str(rel).encode() + b"\0" + _mpy_cross_version())
    cached = CACHE_DIR / (key.hexdigest() + ".mpy")
    if cached.exists():
        shutil.copyfile(cached, target)
        return
    proc = subprocess.run([mpy_cross_binary(), "-s", str(rel), "-o", str(target), str(source)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError("mpy-cross cannot compile firmware/" + str(rel) + ":\n" + proc.stderr.strip())
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(target, cached)


@functools.cache
def _mpy_cross_version():
    return subprocess.run([mpy_cross_binary(), "--version"], capture_output=True, check=True).stdout


def build(out_dir, root=FIRMWARE_DIR):
    """Compile the tree that lands on the board; returns {path on the board: local file}.

    Every file is compiled, so a syntax error anywhere stops the build; main.py and boot.py then go
    to the board as source all the same."""
    files = {}
    for source in firmware_sources(root):
        rel = source.relative_to(root)
        target = Path(out_dir) / rel.with_suffix(".mpy")
        compile_file(source, target, root)
        if str(rel) in SOURCE_ONLY:
            files[str(rel)] = source
        else:
            files[str(rel.with_suffix(".mpy"))] = target
    return files


def check(root=FIRMWARE_DIR):
    """Compile every firmware file; returns the list of errors (empty when all compile)."""
    errors = []
    with tempfile.TemporaryDirectory() as tmp:
        for source in firmware_sources(root):
            try:
                compile_file(source, Path(tmp) / "out.mpy", root)
            except BuildError as exc:
                errors.append(str(exc))
    return errors


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
        print(f"mpy-cross: {count - len(errors)} of {count} firmware files compile")
        return 1 if errors else 0
    files = build(args.out)
    print(f"built {len(files)} files into {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
