"""Crashes counted across boots, so that a fault that strikes at every start ends in a safe mode
instead of a reset loop that keeps twitching the doors.

A crash is the firmware ending with an unexpected exception, or a watchdog reset seen at the next
boot. Each one is saved power-fail-safe (store.Store) before the board resets. Three in a row, each
within a minute of its boot, start the next boot in safe mode; a boot that runs a minute without one
clears the count, so the boot after it is a normal one again.
"""

from gullwing.store import Store

LIMIT = 3  # crashes in a row that start the safe mode
CLEAN_MS = 60_000  # a boot that runs this long is a clean one
MAX_REASON = 80


class Crashes:
    def __init__(self, path):
        self._store = Store(path)
        record = self._store.load_dict() or {}
        count = record.get("count", 0)
        self.count = count if isinstance(count, int) and count > 0 else 0
        last = record.get("last", "")
        self.last = last if isinstance(last, str) else ""

    def boot(self, watchdog_reset):
        """At the start: counts a watchdog reset as a crash; the safe mode's reason, or None."""
        if watchdog_reset:
            self.crashed("watchdog reset")
        return self.safe_mode()

    def safe_mode(self):
        if self.count < LIMIT:
            return None
        return str(self.count) + " crashes within " + str(CLEAN_MS // 1000) + " s of boot: " + self.last

    def crashed(self, reason):
        self.count += 1
        self.last = reason[:MAX_REASON]
        self._store.save_dict({"count": self.count, "last": self.last})

    def clean(self):
        """The boot ran a minute without crashing: the next one starts normally."""
        if self.count:
            self.count = 0
            self._store.save_dict({"count": 0, "last": self.last})
