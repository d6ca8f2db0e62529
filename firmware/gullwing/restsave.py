"""The doors' rest position kept in flash, written off the control tick.

A flash write (a dict, JSON, a file closed on LittleFS) allocates and takes milliseconds, so the
control tick never does one. `RestSaver` owns the store: its asyncio task looks every `poll_ms` and
saves the pulse each servo holds only when both doors rest, what they hold differs from the last
record, and the last write is at least `interval_ms` old; `save_now()`, called before a planned stop,
saves at once whatever the servos hold. A showroom loop thus writes at most once a minute (and a
door cycle shorter than that once per cycle), and a power cut restores the last record (DoorPair
reads it at construction). A failing flash (OSError) is kept in `store_error`, never raised.
"""

import asyncio
from time import ticks_diff, ticks_ms

INTERVAL_MS = 60_000  # at most one write a minute
POLL_MS = 1_000  # how often the task looks: a rest is saved within a second once the interval allows


class RestSaver:
    """Saves `doors` (a doors.DoorPair) into `store` (a store.Store). Build it after the pair, which
    restored the last record: only a change from what the servos hold then is written."""

    def __init__(self, doors, store, interval_ms=INTERVAL_MS, poll_ms=POLL_MS):
        self.doors = doors
        self.store = store
        self.interval_ms = interval_ms
        self.poll_ms = poll_ms
        self.store_error = None  # the last write's OSError, None once one succeeds
        self.writes = 0  # records written
        self._left = doors.left.pulse  # the pulses of the last record (or restored at boot)
        self._right = doors.right.pulse
        self._last = None  # ticks_ms of the last write while the interval runs, else None
        self._stopped = False  # estop or a fault stopped the doors: the next rest is saved at once

    @property
    def changed(self):
        """Whether the servos hold other pulses than the last record."""
        return self.doors.left.pulse != self._left or self.doors.right.pulse != self._right

    def poll(self, now):
        """One look at ticks_ms `now`: write if the doors rest elsewhere than last saved and the
        interval since the last write is over. Returns whether a record was written."""
        if self._last is not None and ticks_diff(now, self._last) >= self.interval_ms:
            self._last = None  # forgotten once over: no ticks_diff across the clock's wrap
        if self.doors.moving:
            return False
        if not self.changed:
            self._stopped = False  # they stopped where the record says
            return False
        if self._last is not None and not self._stopped:
            return False
        return self._save(now)

    def stopped(self):
        """Estop or a fault stopped the doors (from the tick, which never writes flash): the next look
        saves where they rest even within the interval, so that a power cut after a stop finds them.
        One write per stop at most: a stop is a person's or a fault's, not a showroom loop's."""
        self._stopped = True

    def save_now(self):
        """Before a planned stop (Ctrl-C, a deploy, a crash), after the doors were told to stop: saves
        the pulse each servo holds now, moving or not, if it changed. A door stopped mid-move holds
        that pulse from then on (nothing ticks it on), so that is where a power-up finds it."""
        if not self.changed:
            return False
        return self._save(ticks_ms())

    async def run(self):
        """The background task: `asyncio.create_task(saver.run())`."""
        while True:
            await asyncio.sleep_ms(self.poll_ms)
            self.poll(ticks_ms())

    def _save(self, now):
        self._stopped = False
        self._last = now  # a failed write waits out the interval too before the next try
        doors = self.doors
        try:
            self.store.save_dict(doors.rest())
        except OSError as exc:  # a full or failing flash must not stop the doors
            self.store_error = exc
            return False
        self.store_error = None
        self._left = doors.left.pulse
        self._right = doors.right.pulse
        self.writes += 1
        return True
