"""Who may work the model from the web page (pure: the time is given as ticks_ms).

The PIN (`web.pin`, 4-8 digits) is asked once per session; a session is a token of 16 random bytes in
hex, kept in a cookie; at most MAX_SESSIONS live at once, the oldest dropped for a new one. Wrong guesses
are slowed down over all clients together: the first FREE_TRIES cost nothing, then each wrong one makes
the next try wait 1, 2, 4 ... MAX_WAIT_S seconds, and a try inside the wait is refused unchecked.

Without a PIN the page works only on the model's own network, whose WPA2 key keeps strangers out; on a
home network anyone on the LAN could reach it, so there control is refused until a PIN is set (`refusal`).
"""

import binascii
import os
import time

MAX_SESSIONS = 8
FREE_TRIES = 5
MAX_WAIT_S = 60
NO_PIN = "set a PIN over USB: config set web.pin 1234"


def _same(given, secret):
    """`given` == `secret` (bytes) in a time that depends on the secret's length only."""
    diff = len(given) ^ len(secret)
    n = len(given)
    for i in range(len(secret)):
        diff |= (given[i % n] if n else 256) ^ secret[i]
    return diff == 0


def _bytes(text):
    if isinstance(text, str):
        return text.encode()
    return bytes(text) if isinstance(text, (bytes, bytearray, memoryview)) else b""


class Access:
    def __init__(self, pin, wifi=None):
        self._pin = _bytes(pin)
        self.wifi = wifi  # wifi.Wifi: whether what runs now is the model's own network
        self._tokens = []  # oldest first
        self.wrong = 0  # wrong PINs in a row, over all clients
        self._since_ms = 0  # the last wrong PIN's time
        self._wait_ms = 0  # how long after it the next try is checked

    def needs_pin(self):
        return bool(self._pin)

    def open_without_pin(self):
        """No PIN set and the model's own network is what runs (after a failed station start too)."""
        return not self._pin and self.wifi is not None and self.wifi.running == "ap"

    def refusal(self):
        """Why the page may not control the model at all (station mode without a PIN), or None."""
        return NO_PIN if not self._pin and not self.open_without_pin() else None

    def login(self, pin, now_ms):
        """(token, 0) for the right PIN; (None, 0) for a wrong one; (None, wait_s) for a try inside the wait
        after a wrong one, not checked: wait_s is what is left of the wait (`wait_s()` says it beforehand)."""
        if self.refusal() is not None:
            return None, 0
        left = self.wait_s(now_ms)
        if left > 0:
            return None, left  # not even checked
        if self._pin and not _same(_bytes(pin), self._pin):
            self.wrong += 1
            self._since_ms = now_ms
            over = self.wrong - FREE_TRIES
            self._wait_ms = 0 if over < 0 else 1000 * min(MAX_WAIT_S, 1 << min(over, 6))  # 1, 2, 4 ... 60 s
            return None, 0
        self.wrong = self._wait_ms = 0
        token = binascii.hexlify(os.urandom(16)).decode()
        if len(self._tokens) >= MAX_SESSIONS:
            self._tokens.pop(0)
        self._tokens.append(token)
        return token, 0

    def wait_s(self, now_ms):
        """Seconds before the next PIN is checked (0: now)."""
        left = self._wait_ms - time.ticks_diff(now_ms, self._since_ms) if self._wait_ms else 0
        return (left + 999) // 1000 if left > 0 else 0

    def session(self, token, now_ms):
        """Whether `token` (the cookie's) is a live session."""
        given = _bytes(token)
        found = False
        for live in self._tokens:
            found = _same(given, live.encode()) or found  # every one compared: no early answer
        return found

    def allowed(self, token, now_ms):
        """Whether a request with this cookie (or None) may control the model."""
        return self.open_without_pin() or (self.refusal() is None and self.session(token, now_ms))
