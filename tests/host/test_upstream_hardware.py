"""MicroPython's own hardware tests, unchanged, on a virtual board wired as upstream's esp32 target wiring says.

The tests come from a MicroPython source tree (`GW_MICROPYTHON_SRC`: a checkout or a bare git repository at
v1.29) and `unittest` from micropython-lib (`GW_MICROPYTHON_LIB_SRC`); neither ships with this project, so
without them the tests skip, saying what to set. They run as on a real board: `mpremote run` on a board
whose flash holds only `lib/unittest/` and upstream's `tests/target_wiring/esp32.py` as `target_wiring.py`,
with GPIO4 jumpered to GPIO5 and GPIO12 to GPIO13. tests/extmod/machine_i2s_rate.py (I2S drained at its sample
rate) needs no wiring and runs there too.
"""

import os
import subprocess
from pathlib import Path

import pytest

from tests.host.virtual import SimProcess

UART_TESTS = ("machine_uart_irq_rx", "machine_uart_irq_rxidle", "machine_uart_irq_break")


def _source(env, what):
    root = os.environ.get(env)
    if not root:
        pytest.skip(f"set {env} to a {what} source tree (a checkout or a bare git repository) to run these")
    return Path(root)


def _read(root, path):
    """A file of a source tree: from its work tree, else from HEAD of a (bare) git repository."""
    if (root / path).is_file():
        return (root / path).read_bytes()
    found = subprocess.run(["git", "--git-dir", str(root if (root / "HEAD").exists() else root / ".git"), "show",
                            f"HEAD:{path}"], capture_output=True)
    if found.returncode != 0:
        pytest.fail(f"{path} is not in {root}: {found.stderr.decode().strip()}")
    return found.stdout


@pytest.fixture(scope="module")
def wired_board(tmp_path_factory):
    upstream = _source("GW_MICROPYTHON_SRC", "MicroPython")
    lib = _source("GW_MICROPYTHON_LIB_SRC", "micropython-lib")
    files = tmp_path_factory.mktemp("upstream")
    for name in ("machine_pwm", *UART_TESTS):
        (files / f"{name}.py").write_bytes(_read(upstream, f"tests/extmod_hardware/{name}.py"))
    for name in UART_TESTS:
        (files / f"{name}.py.exp").write_bytes(_read(upstream, f"tests/extmod_hardware/{name}.py.exp"))
    for name in ("machine_i2s_rate.py", "machine_i2s_rate.py.exp"):
        (files / name).write_bytes(_read(upstream, "tests/extmod/" + name))
    (files / "target_wiring.py").write_bytes(_read(upstream, "tests/target_wiring/esp32.py"))
    (files / "unittest.py").write_bytes(_read(lib, "python-stdlib/unittest/unittest/__init__.py"))

    sim = SimProcess(tmp_path_factory.mktemp("flash"), "--jumper", "4:5", "--jumper", "12:13")
    try:
        sim.mpremote("mkdir", ":lib", "+", "mkdir", ":lib/unittest",
                     "+", "cp", str(files / "unittest.py"), ":lib/unittest/__init__.py",
                     "+", "cp", str(files / "target_wiring.py"), ":target_wiring.py")
        yield sim, files
    finally:
        sim.stop()


def test_machine_pwm_passes_on_the_virtual_board(wired_board):
    sim, files = wired_board
    result = sim.mpremote("run", str(files / "machine_pwm.py"), check=False, timeout=180)
    output = result.stdout.replace("\r\n", "\n")
    tests = (files / "machine_pwm.py").read_text().count("    def test_")
    assert f"Ran {tests} tests" in output and output.rstrip().endswith("OK"), output[-3000:] + result.stderr


@pytest.mark.parametrize("name", UART_TESTS)
def test_uart_irq_test_prints_its_expected_output(wired_board, name):
    sim, files = wired_board
    result = sim.mpremote("run", str(files / f"{name}.py"), check=False, timeout=120)
    assert result.stdout.replace("\r\n", "\n") == (files / f"{name}.py.exp").read_text(), result.stderr


def test_i2s_rate_test_prints_its_expected_output(wired_board):
    sim, files = wired_board
    result = sim.mpremote("run", str(files / "machine_i2s_rate.py"), check=False, timeout=120)
    assert result.stdout.replace("\r\n", "\n") == (files / "machine_i2s_rate.py.exp").read_text(), result.stderr
