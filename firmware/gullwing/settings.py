"""The user's settings: what `config set` and `calibrate` changed, as {dotted key: value}, kept in a
power-fail-safe store (store.Store) beside the door positions and laid over config.json at boot.
config.json itself stays what `gullwing deploy` wrote."""

import json
import os

from gullwing import config, store
from gullwing.store import Store


class Settings:
    def __init__(self, state_dir):
        self.state_dir = state_dir
        self.store = Store(state_dir + "/settings")
        self.values = {}  # the settings in effect: saved, or set since and not saved yet
        self.unsaved = False

    def over(self, cfg, problems):
        """`cfg` with the saved settings over it (the settings win); unreadable or bad ones reported."""
        try:
            payload = self.store.load()
        except OSError as exc:
            problems.append("settings: cannot read (" + str(exc) + ")")
            payload = None
        saved = {}
        if payload is not None:
            try:
                saved = store.loads(payload, 1)  # {dotted key: value}: flat
            except (ValueError, MemoryError):
                saved = None
            if not isinstance(saved, dict):
                # its CRC is right, so it was written so: kept for inspection, out of the way of the next save
                self.store.set_aside()
                problems.append("settings: not a settings record, set aside as " + self.store.paths[0] + ".bad;"
                                " config.json alone is used")
                saved = {}
        out = config.overlay(cfg, saved, problems)
        self.values = {}
        for key in saved:
            try:
                self.values[key] = config.setting(key, saved[key])
            except ValueError:
                pass  # overlay() has reported it
        return out

    def set(self, key, value):
        self.values[key] = value
        self.unsaved = True

    def save(self):
        """Power-fail-safe: a save cut short leaves the previous settings whole."""
        try:
            os.mkdir(self.state_dir)
        except OSError:
            pass  # there already
        self.store.save(json.dumps(self.values, separators=(",", ":")).encode())
        self.unsaved = False

    def reset(self):
        """Forget every setting (saved at once): config.json alone from the next start."""
        self.values = {}
        self.save()
