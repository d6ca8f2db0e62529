"""Test helpers that work under both CPython and MicroPython (pytest's own do not run on MicroPython)."""

import sys

MICROPYTHON = sys.implementation.name == "micropython"


class raises:  # noqa: N801  (used like pytest.raises)
    """`with raises(ValueError, "flash"):` passes only if the block raises that type, with the text."""

    def __init__(self, exc_type, match=None):
        self.exc_type = exc_type
        self.match = match
        self.value = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            raise AssertionError("did not raise " + self.exc_type.__name__)
        if not issubclass(exc_type, self.exc_type):
            return False
        self.value = exc
        if self.match is not None and self.match not in str(exc):
            raise AssertionError(repr(self.match) + " not in " + repr(str(exc)))
        return True
