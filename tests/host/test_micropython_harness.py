"""The two-interpreter harness itself: a test that passes on CPython but fails on MicroPython must fail
the run, reported per test, with MicroPython's traceback naming the firmware file at fault."""

import os

from tests import micropython_harness

FIRMWARE_MODULE = '''
def wing(name):
    return name.removeprefix("gull")  # CPython 3.9+, absent from MicroPython


def double(x):
    return 2 * x
'''

TESTS = '''
import doors_cpython_only


def test_portable():
    assert doors_cpython_only.double(21) == 42


def test_uses_cpython_only_str_method():
    assert doors_cpython_only.wing("gullwing") == "wing"
'''


def _run(pytester, monkeypatch, files, *args):
    """Run pytest with the harness on `files` placed in a MicroPython test folder `fw`."""
    monkeypatch.setenv("PYTHONPATH", str(micropython_harness.ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    pytester.makeini("[pytest]\nmicropython_test_dirs = fw\npythonpath = fw\n")
    fw = pytester.mkdir("fw")
    for name, text in files.items():
        (fw / name).write_text(text)
    return pytester.runpytest_subprocess("-p", "tests.micropython_harness", "--rootdir", str(pytester.path), *args)


def test_a_cpython_only_construct_fails_the_suite_under_micropython(pytester, monkeypatch):
    result = _run(pytester, monkeypatch, {"doors_cpython_only.py": FIRMWARE_MODULE, "test_doors.py": TESTS}, "-v")
    result.assert_outcomes(passed=3, failed=1)
    assert result.ret != 0
    result.stdout.fnmatch_lines([
        "*test_doors.py::test_portable PASSED*",
        "*test_doors.py::test_uses_cpython_only_str_method PASSED*",
        "*test_doors.py::test_portable[[]micropython[]] PASSED*",
        "*test_doors.py::test_uses_cpython_only_str_method[[]micropython[]] FAILED*",
    ])
    # the failure names the firmware file and what MicroPython lacked
    result.stdout.fnmatch_lines(["*doors_cpython_only.py*line 3*", "*AttributeError*removeprefix*"])


def test_a_module_micropython_cannot_import_fails_every_test_in_it(pytester, monkeypatch):
    tests = "import dataclasses\n\n\ndef test_a():\n    pass\n\n\ndef test_b():\n    pass\n"
    result = _run(pytester, monkeypatch, {"test_import.py": tests})
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(["*MicroPython did not run this test*", "*dataclasses*"])
