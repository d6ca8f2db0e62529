"""Event lines (`evt <name> {...}`, protocol v1): what happened, for every channel, while events are on.

Nothing is built while events are off (the tick stays allocation-free), and at most OUTBOX_LINES wait
between two sends: beyond that, lines are dropped and counted, never queued without bound.
"""

from time import ticks_add, ticks_diff

from gullwing import protocol
from gullwing.engine import EV_BLOWOFF, EV_LIMITER, EV_STATE, STATE_NAMES

OUTBOX_LINES = 16
LIMITER_EVENT_MS = 1000  # the limiter bounces 10-25 times a second: one event a second says it
COUNT_MASK = 0x3FFFFFFF  # counters wrap within the ESP32's small ints


class Events:
    def __init__(self, now_ms):
        self.on = False
        self.lines = []  # event lines waiting for the channels
        self.dropped = 0  # lines dropped because nobody collected them in time
        self._limiter_ms = ticks_add(now_ms, -LIMITER_EVENT_MS)
        self._left_seen = self._right_seen = 0
        self._told = False  # the boot's problems: said once, at the first `events on`

    def switch(self, on, problems):
        """`events on|off`; the first `on` says the boot's problems (`evt config`)."""
        self.on = on
        if not on:
            self.lines.clear()
            return
        if not self._told:
            self._told = True
            if problems:
                self.say("config", {"problems": problems})

    def say(self, name, payload):
        if not self.on:
            return
        if len(self.lines) >= OUTBOX_LINES:
            self.dropped = (self.dropped + 1) & COUNT_MASK
            return
        self.lines.append(protocol.event(name, payload))

    def watch(self, doors):
        """Door arrivals from now on are news (the counts already there are not)."""
        self._left_seen = 0 if doors is None else doors.left.arrived
        self._right_seen = 0 if doors is None else doors.right.arrived

    def doors(self, doors):
        # each door's arrival count apart: they wrap, so they are compared, never combined
        if doors.left.arrived != self._left_seen:
            self._left_seen = doors.left.arrived
            self._door(doors.left)
        if doors.right.arrived != self._right_seen:
            self._right_seen = doors.right.arrived
            self._door(doors.right)

    def _door(self, door):
        if self.on:
            status = door.status()
            self.say("door", {"side": door.name, "state": status["state"], "angle": status["angle"]})

    def engine(self, now_ms, engine, bits):
        """The engine's EV_* `bits`: state changes, blow-offs, and the limiter once a second."""
        if not self.on:
            return
        if bits & EV_STATE:
            self.say("engine", {"state": STATE_NAMES[engine.state], "rpm": engine.rpm})
        if bits & EV_BLOWOFF:
            self.say("bov", {"boost": engine.boost_kpa, "rpm": engine.rpm})
        if bits & EV_LIMITER and ticks_diff(now_ms, self._limiter_ms) >= LIMITER_EVENT_MS:
            self._limiter_ms = now_ms
            self.say("limiter", {"rpm": engine.rpm, "hits": engine.limiter_hits})

    def failsafe(self, holds):
        if self.on:
            self.say("failsafe", {"state": "failsafe" if holds else "control"})

    def fault(self, said):
        if self.on:
            self.say("fault", {"error": said})
