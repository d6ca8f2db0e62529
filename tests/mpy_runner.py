"""Runs one firmware test module inside the MicroPython unix port and reports each test on its own.

Invoked by the pytest plugin in micropython_harness.py as `micropython mpy_runner.py MODULE`, with the
firmware, the simulator and the test folder on MICROPYPATH. Speaks a line protocol on stdout:
`@@gw PASS name`, `@@gw FAIL name` followed by the traceback, `@@gw ERROR` (the module did not import).
"""

import sys

MARK = "@@gw "


def _run(module):
    setup = getattr(module, "setup_function", None)
    teardown = getattr(module, "teardown_function", None)
    names = [name for name in dir(module) if name.startswith("test_") and callable(getattr(module, name))]
    names.sort()
    for name in names:
        try:
            if setup:
                setup()
            try:
                getattr(module, name)()
            finally:
                if teardown:
                    teardown()
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # SystemExit too: a board reset escaping a test is a failure
            print(MARK + "FAIL " + name)
            sys.print_exception(exc)
            continue
        print(MARK + "PASS " + name)


def main():
    name = sys.argv[1]
    try:
        module = __import__(name)
    except BaseException as exc:
        print(MARK + "ERROR " + name)
        sys.print_exception(exc)
        return
    _run(module)
    print(MARK + "END")


main()
