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


_temp_paths = []  # made by temp_store_path() and temp_dir(); remove_temp() deletes what they hold


def _fresh_path(prefix):
    import binascii
    import os

    path = "/tmp/gw-" + prefix + "-" + binascii.hexlify(os.urandom(6)).decode()
    _temp_paths.append(path)
    return path


def temp_store_path(prefix):
    """A fresh path for a store.Store under /tmp (its slot files are path + ".a" and ".b")."""
    return _fresh_path(prefix)


def temp_dir(prefix):
    """A fresh, empty folder under /tmp (a state folder for the app)."""
    import os

    path = _fresh_path(prefix)
    os.mkdir(path)
    return path


def remove_temp():
    """Delete every store slot and folder made by this module (from a teardown_function)."""
    import os

    while _temp_paths:
        path = _temp_paths.pop()
        for suffix in (".a", ".b"):
            try:
                os.remove(path + suffix)
            except OSError:
                pass
        try:
            for name in os.listdir(path):
                os.remove(path + "/" + name)
            os.rmdir(path)
        except OSError:
            pass  # not a folder, or gone
