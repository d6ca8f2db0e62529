"""The model's WiFi: its own network (an access point, WPA2, never open), or a home network joined as a
station with the access point as the fallback, or none (settings `wifi.*`, docs/wifi.md).

`start()` sets the interface up without blocking; `run()` (a task) waits for the station to join and
falls back to the access point after JOIN_MS. A board without WiFi, or a driver that refuses, is a
problem reported in `status`: the firmware runs on without WiFi.

MicroPython's esp32 port (ports/esp32/network_wlan.c): constructing a WLAN initialises the driver;
config() sets the AP's ssid/key/security by esp_wifi_set_config() and raises OSError from the driver;
connect() returns at once and status() says how the join goes; an active AP with no config set would be
an open network named after the chip, so the AP is configured before it is switched on.
"""

import asyncio
import binascii
import os
import time

from gullwing.faults import reason
from gullwing.schema import AP_KEY_CHARS, AP_KEY_LEN

JOIN_MS = 20_000  # a home network not joined by then: the model's own network instead
POLL_MS = 250
SEC_WPA2 = 3  # network.WLAN.SEC_WPA2 (WIFI_AUTH_WPA2_PSK)


def driver():
    """MicroPython's `network` module (ImportError on a board without WiFi)."""
    import network

    return network


def ap_key():
    """A new key for the model's own network: AP_KEY_LEN characters from os.urandom."""
    return "".join(AP_KEY_CHARS[b % len(AP_KEY_CHARS)] for b in os.urandom(AP_KEY_LEN))


class Wifi:
    def __init__(self, cfg, settings, problems):
        self.cfg = cfg  # the app's cfg["wifi"]: a key made here is kept in it and in the settings
        self.settings = settings
        self.problems = problems
        self.running = "off"  # what runs now: ap, sta or off
        self.fallback = False  # the AP because the station could not join
        self.ssid = ""  # the model's own network's name, once its interface is made
        self._wlan = {}  # the interfaces made: network.WLAN by "ap", "sta"
        self._since_ms = 0

    def _problem(self, words):
        self.problems.append("wifi: " + words)

    def start(self, now_ms=None):
        """The interface the settings ask for, switched on; nothing at all for `off`."""
        if self.cfg["mode"] == "off":
            return
        try:
            network = driver()
        except ImportError:
            self._problem("this board has no WiFi (no network module)")
            return
        try:
            ap = self._wlan["ap"] = network.WLAN(network.AP_IF)
            mac = ap.config("mac")
            self.ssid = self.cfg["name"] + "-" + binascii.hexlify(mac[-2:]).decode().upper()
            self._make_key()
            if self.cfg["mode"] == "sta" and self.cfg["ssid"]:
                sta = self._wlan["sta"] = network.WLAN(network.STA_IF)
                sta.active(True)
                sta.connect(self.cfg["ssid"], self.cfg["password"])
                self.running = "sta"
                self._since_ms = time.ticks_ms() if now_ms is None else now_ms
                return
            if self.cfg["mode"] == "sta":
                self._problem("wifi.mode is sta but wifi.ssid is not set; the model's own network instead")
                self.fallback = True
            self._open_ap()
        except (OSError, ValueError, TypeError) as exc:
            self._problem(reason(exc) + "; no WiFi")
            self.running = "off"

    def _make_key(self):
        """The first start (no key provisioned): a key made here and kept, for `wifi password` and the
        next start; in station mode too, so the fallback's key is known beforehand."""
        if self.cfg["ap_password"]:
            return
        self.cfg["ap_password"] = ap_key()
        self.settings.set("wifi.ap_password", self.cfg["ap_password"])
        try:
            self.settings.save()
        except OSError as exc:
            self._problem("the new network key was not saved (" + reason(exc) + "); it changes at the next start")

    def _open_ap(self):
        # configured before it is on: never an open network, not even for a moment
        ap = self._wlan["ap"]
        ap.config(ssid=self.ssid, key=self.cfg["ap_password"], security=SEC_WPA2)
        ap.active(True)
        self.running = "ap"

    def poll(self, now_ms):
        """The station's join followed: True once settled (joined, or the AP on instead after JOIN_MS)."""
        if self.running != "sta":
            return True
        sta = self._wlan["sta"]
        try:
            if sta.isconnected():
                return True
            if time.ticks_diff(now_ms, self._since_ms) < JOIN_MS:
                return False
            why = _status_words(sta.status())
            sta.active(False)
            self.fallback = True
            self._open_ap()
            self._problem("could not join " + self.cfg["ssid"] + " within " + str(JOIN_MS // 1000) + " s (" + why
                          + "); the model's own network " + self.ssid + " is on instead")
        except (OSError, ValueError, TypeError) as exc:
            self._problem(reason(exc) + "; no WiFi")
            self.running = "off"
        return True

    async def run(self):
        """The task: the station's join waited for without holding the other tasks."""
        while not self.poll(time.ticks_ms()):
            await asyncio.sleep_ms(POLL_MS)

    def serving(self):
        """Whether a phone can reach the board now: the AP on, or the station joined."""
        try:
            if self.running == "ap":
                return self._wlan["ap"].active()
            return self.running == "sta" and self._wlan["sta"].isconnected()
        except OSError:
            return False

    def info(self):
        """The `wifi` verb's reply: what runs now, never a key."""
        out: dict = {"mode": self.running}
        try:
            if self.running == "ap":
                ap = self._wlan["ap"]
                out["ssid"] = self.ssid
                out["ip"] = ap.ifconfig()[0]
                out["clients"] = len(ap.status("stations"))
            elif self.running == "sta":
                sta = self._wlan["sta"]
                out["ssid"] = self.cfg["ssid"]
                out["ip"] = sta.ifconfig()[0] if sta.isconnected() else None
        except OSError as exc:
            out["error"] = reason(exc)
        if self.fallback:
            out["fallback"] = True
        out["web"] = self.serving()
        return out

    def password(self):
        """The model's own network and its key (serial only), or None when it was never set up."""
        if not self.ssid:
            return None
        return {"ssid": self.ssid, "password": self.cfg["ap_password"]}


def _status_words(status):
    network = driver()
    for name, words in (("STAT_WRONG_PASSWORD", "wrong password"), ("STAT_NO_AP_FOUND", "network not found"),
                        ("STAT_CONNECTING", "still connecting"), ("STAT_HANDSHAKE_TIMEOUT", "no answer to the key")):
        if status == getattr(network, name, None):
            return words
    return "status " + str(status)
