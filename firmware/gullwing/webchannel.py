"""The events hub: event lines from the control tick fanned out to every open live channel.

The hub is one more entry in app.writers. The tick calls it with each event line and calls `pump()`
once per tick; neither waits or allocates: a line is stored by reference in each channel's own
bounded ring (a line past a full ring is dropped and counted in `dropped`), and `pump()` only wakes
the channels' senders, which write the lines out in their own tasks. With no channel open, a tick
costs one loop over an empty list.
"""

import asyncio

LINES = 16  # event lines waiting per channel, as a serial channel's (lines.OUT_LINES)


class Outbox:
    """One channel's waiting event lines, and the flag that wakes its sender."""

    def __init__(self, lines=LINES):
        self._ring = [""] * lines
        self._first = 0
        self.count = 0
        self.wake = asyncio.Event()

    def put(self, line):
        if self.count >= len(self._ring):
            return False
        self._ring[(self._first + self.count) % len(self._ring)] = line
        self.count += 1
        return True

    def take(self):
        line = self._ring[self._first]
        self._ring[self._first] = ""
        self._first = (self._first + 1) % len(self._ring)
        self.count -= 1
        return line


class Hub:
    def __init__(self):
        self._outboxes = []
        self.dropped = 0

    def __call__(self, line):
        """Queue an event line for every open channel; a full channel drops it (counted)."""
        for outbox in self._outboxes:
            if not outbox.put(line):
                self.dropped = (self.dropped + 1) & 0x3FFFFFFF

    def pump(self):
        """Wake the senders of the channels that have lines waiting (from the control tick)."""
        for outbox in self._outboxes:
            if outbox.count:
                outbox.wake.set()

    def join(self, lines=LINES):
        outbox = Outbox(lines)
        self._outboxes.append(outbox)
        return outbox

    def leave(self, outbox):
        if outbox in self._outboxes:
            self._outboxes.remove(outbox)

    def channels(self):
        return len(self._outboxes)
