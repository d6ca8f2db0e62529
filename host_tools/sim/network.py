"""`network` of the simulated ESP32: MicroPython 1.29's esp32 port (ports/esp32/network_wlan.c, network_common.c,
modnetwork_globals.h, extmod/modnetwork.c) over ESP-IDF's WiFi, with the radio's state in simboard.board.wifi.

The station joins the networks the board has in range (`board.wifi.in_range(ssid, key)`, `gullwing sim --wifi`)
on the board's clock: a right key gives an address after CONNECT_MS, a wrong one STAT_WRONG_PASSWORD after
AUTH_FAIL_MS, an SSID nobody has STAT_NO_AP_FOUND after a scan of every channel; then it retries, as upstream's
event handler does. Phones join the access point with `board.wifi.join_ap()`.
"""

from simboard import board

STA_IF = 0  # WIFI_IF_STA
AP_IF = 1  # WIFI_IF_AP
_MODE_STA = 1  # WIFI_MODE_STA
_MODE_AP = 2  # WIFI_MODE_AP

MODE_11B = 1
MODE_11G = 2
MODE_11N = 4
MODE_LR = 8

# ESP-IDF esp_wifi_types_generic.h (v5.5): wifi_auth_mode_t
AUTH_OPEN = 0
AUTH_WEP = 1
AUTH_WPA_PSK = 2
AUTH_WPA2_PSK = 3
AUTH_WPA_WPA2_PSK = 4
AUTH_WPA2_ENTERPRISE = 5
AUTH_WPA3_PSK = 6
AUTH_WPA2_WPA3_PSK = 7
AUTH_WAPI_PSK = 8
AUTH_OWE = 9
AUTH_WPA3_ENT_192 = 10
AUTH_WPA3_EXT_PSK = 11
AUTH_WPA3_EXT_PSK_MIXED_MODE = 12
AUTH_MAX = 17

# ports/esp32/modnetwork.h, and the WIFI_REASON_* ESP-IDF reports
STAT_IDLE = 1000
STAT_CONNECTING = 1001
STAT_GOT_IP = 1010
STAT_BEACON_TIMEOUT = 200
STAT_NO_AP_FOUND = 201
STAT_WRONG_PASSWORD = 202
STAT_ASSOC_FAIL = 203
STAT_CONNECT_FAIL = 203
STAT_HANDSHAKE_TIMEOUT = 204
STAT_NO_AP_FOUND_W_COMPATIBLE_SECURITY = 210
STAT_NO_AP_FOUND_IN_AUTHMODE_THRESHOLD = 211
STAT_NO_AP_FOUND_IN_RSSI_THRESHOLD = 212
_REASON_ASSOC_LEAVE = 8

# how long the station takes on the board's clock (a WPA2 join with DHCP takes one to three seconds on the chip)
CONNECT_MS = 1500  # associated, 4-way handshake, DHCP lease: GOT_IP
AUTH_FAIL_MS = 1000  # the handshake fails with a wrong key
SCAN_MS = 2000  # every channel scanned without finding the SSID
# esp_wifi_set_config() of a soft-AP accepts these modes (no WEP, no enterprise; SAE is on in the stock build)
_AP_AUTHMODES = (AUTH_OPEN, AUTH_WPA_PSK, AUTH_WPA2_PSK, AUTH_WPA_WPA2_PSK, AUTH_WPA3_PSK, AUTH_WPA2_WPA3_PSK)
_HOSTNAME_MAX = 32  # MICROPY_PY_NETWORK_HOSTNAME_MAX_LEN
_NO_IP = ("0.0.0.0", "0.0.0.0", "0.0.0.0", "0.0.0.0")


def _esp_error(code):
    """network_common.c: esp_exceptions_helper(): what an esp_err_t becomes."""
    words = {0x3001: "Wifi Not Initialized", 0x3002: "Wifi Not Started", 0x3005: "Wifi Invalid Mode",
             0x3007: "Wifi Internal Error", 0x300A: "Wifi SSID Invalid", 0x300B: "Wifi Invalid Password",
             0x300F: "Wifi Not Connected", 0x3009: "Wifi Invalid MAC Address"}.get(code)
    if words:
        return OSError(words)
    return RuntimeError("Wifi Unknown Error 0x%04x" % code)


_ESP_ERR_INVALID_ARG = 0x102
_NOT_STARTED = 0x3002
_BAD_MODE = 0x3005
_CONN = 0x3007


def _mask(bits):
    value = (0xFFFFFFFF << (32 - bits)) & 0xFFFFFFFF
    return ".".join(str((value >> shift) & 255) for shift in (24, 16, 8, 0))


def _check_ip(text):
    # shared/netutils/netutils.c: netutils_parse_ipv4_addr()
    parts = text.split(".") if isinstance(text, str) else ()
    if len(parts) != 4 or not all(p.isdigit() and int(p) < 256 for p in parts):
        raise ValueError("invalid arguments")
    return text


def _poll(w):
    """Bring the station up to the board's clock: attempts that ended since, each deciding from the networks in
    range when it ends (network_wlan.c: network_wlan_wifi_event_handler reconnects after each failure)."""
    now = board.now()
    if w.connected and w.sta_ssid not in w.networks:  # the network went out of range
        w.connected = False
        w.sta_ip = None
        w.reason = STAT_BEACON_TIMEOUT
        w.attempt_us = now if w.connect_requested else -1
    while w.attempt_us >= 0 and not w.connected:
        net = w.networks.get(w.sta_ssid)
        if net is None:
            ends, outcome = SCAN_MS, STAT_NO_AP_FOUND
        elif net[1] != AUTH_OPEN and net[0] != w.sta_key:
            ends, outcome = AUTH_FAIL_MS, STAT_WRONG_PASSWORD
        else:
            ends, outcome = CONNECT_MS, 0
        end_us = w.attempt_us + ends * 1000
        if end_us > now:
            return
        w.attempts += 1
        if outcome == 0:
            w.connected = True
            w.reason = 0  # IP_EVENT_STA_GOT_IP clears it
            w.attempt_us = -1
            w.sta_ip = w.sta_static or ("192.168.1." + str(100 + w.sta_mac[5] % 100), "255.255.255.0",
                                        "192.168.1.1", "192.168.1.1")
            return
        w.reason = outcome
        if w.reconnects and w.attempts >= w.reconnects:
            w.attempt_us = -1  # gave up: config(reconnects=n) allows n tries after the first
        else:
            w.attempt_us = end_us


class WLAN:
    """network.WLAN(interface_id): one object per interface, as upstream (network_wlan.c: network_wlan_make_new)."""

    IF_STA = STA_IF
    IF_AP = AP_IF
    SEC_OPEN = AUTH_OPEN
    SEC_WEP = AUTH_WEP
    SEC_WPA = AUTH_WPA_PSK
    SEC_WPA2 = AUTH_WPA2_PSK
    SEC_WPA_WPA2 = AUTH_WPA_WPA2_PSK
    SEC_WPA2_ENT = AUTH_WPA2_ENTERPRISE
    SEC_WPA3 = AUTH_WPA3_PSK
    SEC_WPA2_WPA3 = AUTH_WPA2_WPA3_PSK
    SEC_WAPI = AUTH_WAPI_PSK
    SEC_OWE = AUTH_OWE
    PM_NONE = 0
    PM_PERFORMANCE = 1
    PM_POWERSAVE = 2
    PROTOCOL_DEFAULT = MODE_11B | MODE_11G | MODE_11N
    PROTOCOL_LR = MODE_LR

    def __new__(cls, interface_id=STA_IF):
        if interface_id not in (STA_IF, AP_IF):
            raise ValueError("invalid WLAN interface identifier")
        w = board.wifi
        obj = w.ifaces[interface_id]
        if obj is None:
            obj = w.ifaces[interface_id] = object.__new__(cls)
            obj._if = interface_id
        return obj

    def __init__(self, interface_id=STA_IF):
        pass

    def _require(self, if_id):
        # network_wlan.c: require_if()
        if self._if != if_id:
            raise OSError("STA required" if if_id == STA_IF else "AP required")

    def _bit(self):
        return _MODE_STA if self._if == STA_IF else _MODE_AP

    def active(self, *state):
        """network_wlan.c: network_wlan_active(): the radio starts with the first interface, stops with the last."""
        w = board.wifi
        _poll(w)
        if state:
            on = bool(state[0])
            w.mode = (w.mode | self._bit()) if on else (w.mode & ~self._bit())
            w.started = w.mode != 0
            if not on and self._if == STA_IF and (w.connected or w.attempt_us >= 0):
                w.connected = False  # STA_DISCONNECTED: the handler does not reconnect without STA mode
                w.sta_ip = None
                w.attempt_us = -1
                w.reason = _REASON_ASSOC_LEAVE
            if not on and self._if == AP_IF:
                w.stations = []
        return bool(w.started and w.mode & self._bit())

    def connect(self, ssid=None, key=None, *, bssid=None):
        """network_wlan.c: network_wlan_connect(): set the station's config, then esp_wifi_connect()."""
        w = board.wifi  # (no interface check upstream: on the AP object it connects the station too)
        _poll(w)
        if bssid is not None and len(bssid) != 6:
            raise ValueError()
        if ssid is not None or key is not None:  # a fresh wifi_config_t: what is not given is cleared
            w.sta_ssid = ssid.encode()[:32].decode() if ssid is not None else ""
            w.sta_key = key.encode()[:64].decode() if key is not None else ""
        if not w.started:
            raise _esp_error(_NOT_STARTED)
        if not w.mode & _MODE_STA:
            raise _esp_error(_BAD_MODE)
        if not w.sta_ssid:
            raise _esp_error(0x300A)
        if w.attempt_us >= 0:
            raise _esp_error(_CONN)  # "wifi:sta is connecting, return error": an attempt is under way
        w.connected = False
        w.sta_ip = None
        w.attempts = 0
        w.attempt_us = board.now()
        w.connect_requested = True

    def disconnect(self):
        w = board.wifi
        _poll(w)
        w.connect_requested = False
        if not w.started:
            raise _esp_error(_NOT_STARTED)
        if not w.mode & _MODE_STA:
            raise _esp_error(_BAD_MODE)
        if w.connected or w.attempt_us >= 0:
            w.reason = _REASON_ASSOC_LEAVE
        w.connected = False
        w.sta_ip = None
        w.attempt_us = -1

    def isconnected(self):
        w = board.wifi
        _poll(w)
        if self._if == STA_IF:
            return w.connected
        return len(w.stations) != 0

    def status(self, *param):
        """network_wlan.c: network_wlan_status(): the order of its tests decides what a failed join shows."""
        w = board.wifi
        _poll(w)
        if not param:
            if self._if != STA_IF:
                return None
            if w.connected:
                return STAT_GOT_IP
            if w.reason in (STAT_NO_AP_FOUND, STAT_NO_AP_FOUND_IN_RSSI_THRESHOLD, STAT_WRONG_PASSWORD,
                            STAT_NO_AP_FOUND_IN_AUTHMODE_THRESHOLD, STAT_NO_AP_FOUND_W_COMPATIBLE_SECURITY):
                return w.reason
            if w.reason == _REASON_ASSOC_LEAVE:
                return STAT_IDLE
            if w.connect_requested and (w.reconnects == 0 or w.attempts < w.reconnects):
                return STAT_CONNECTING
            return STAT_IDLE if w.reason == 0 else w.reason
        if param[0] == "stations":
            self._require(AP_IF)
            return [(mac, ip) for mac, ip in w.stations]
        if param[0] == "rssi":
            self._require(STA_IF)
            if not w.connected:
                raise _esp_error(0x300F)
            return w.networks[w.sta_ssid][3]
        raise ValueError("unknown status param")

    def scan(self):
        """network_wlan.c: network_wlan_scan(): blocks while every channel is scanned; hidden networks with no SSID."""
        w = board.wifi
        if not (w.started and w.mode & _MODE_STA):
            raise OSError("STA must be active")
        board.sleep_ms(SCAN_MS)
        _poll(w)
        # (ssid, bssid, channel, rssi, authmode, hidden): upstream always says False, a hidden one has no SSID
        return [(b"" if net[5] else ssid.encode(), net[4], net[2], net[3], net[1], False)
                for ssid, net in w.networks.items()]

    def config(self, *args, **kwargs):
        """network_wlan.c: network_wlan_config(): get one param, or set several with esp_wifi_set_config()."""
        if args and kwargs:
            raise TypeError("either pos or kw args are allowed")
        w = board.wifi
        if kwargs:
            return self._set(w, kwargs)
        if len(args) != 1:
            raise TypeError("can query only one param")
        return self._get(w, args[0])

    def _get(self, w, name):
        ap = self._if == AP_IF
        if name == "mac":
            return w.ap_mac if ap else w.sta_mac
        if name in ("ssid", "essid"):
            return w.ap_ssid if ap else w.sta_ssid
        if name == "channel":
            _poll(w)
            return w.networks[w.sta_ssid][2] if w.connected else w.ap_channel
        if name == "ifname":
            return ("ap" if ap else "st") + "1"
        if name == "txpower":
            return w.txpower
        if name == "pm":
            return w.pm
        if name == "protocol":
            return w.protocol[self._if]
        if name == "max_clients":
            return w.ap_max if ap else 0  # the station's config read as the AP's: a byte of its unset BSSID
        value = None
        want = None
        if name == "hidden":
            want, value = AP_IF, w.ap_hidden
        elif name in ("security", "authmode"):
            want, value = AP_IF, w.ap_authmode
        elif name in ("hostname", "dhcp_hostname"):
            want, value = STA_IF, w.hostname
        elif name == "reconnects":
            want, value = STA_IF, w.reconnects - 1
        else:
            raise ValueError("unknown config param")
        self._require(want)
        return value

    def _set(self, w, kwargs):
        ap = {"ssid": w.ap_ssid, "key": w.ap_key, "authmode": w.ap_authmode, "channel": w.ap_channel,
              "hidden": w.ap_hidden, "max": w.ap_max}
        for name, value in kwargs.items():
            want = -1
            if name == "mac":
                if len(value) != 6:
                    raise ValueError("invalid buffer length")
                if value[0] & 1:
                    raise _esp_error(0x3009)  # a multicast address
                if self._if == AP_IF:
                    w.ap_mac = bytes(value)
                else:
                    w.sta_mac = bytes(value)
            elif name in ("ssid", "essid"):
                want = AP_IF
                ap["ssid"] = value.encode()[:32].decode()
            elif name == "hidden":
                want = AP_IF
                ap["hidden"] = bool(value)
            elif name in ("security", "authmode"):
                want = AP_IF
                ap["authmode"] = int(value)
            elif name in ("key", "password"):
                want = AP_IF
                ap["key"] = value.encode()[:63].decode()  # password[64] with its terminator
            elif name == "channel":
                if self._if == AP_IF:
                    ap["channel"] = int(value) & 255
                elif not 1 <= int(value) & 255 <= 13:
                    raise _esp_error(_ESP_ERR_INVALID_ARG)  # esp_wifi_set_channel()
            elif name in ("hostname", "dhcp_hostname"):
                hostname(value)
            elif name == "max_clients":
                want = AP_IF
                ap["max"] = int(value) & 255
            elif name == "reconnects":
                want = STA_IF
                w.reconnects = 0 if value == -1 else value + 1
            elif name == "txpower":
                w.txpower = int(value * 4) / 4
            elif name == "pm":
                w.pm = int(value)
            elif name == "protocol":
                w.protocol[self._if] = int(value)
            elif name != "bandwidth":
                raise ValueError("unknown config param")
            if want >= 0:
                self._require(want)
        if self._if == AP_IF:
            _ap_config_check(ap)
            w.ap_ssid, w.ap_key, w.ap_authmode = ap["ssid"], ap["key"], ap["authmode"]
            w.ap_channel, w.ap_hidden, w.ap_max = ap["channel"], ap["hidden"], ap["max"]

    def ifconfig(self, *config):
        """network_common.c: esp_ifconfig(): (ip, mask, gateway, dns), or set them; 'dhcp' on the station."""
        w = board.wifi
        _poll(w)
        if not config:
            if self._if == AP_IF:
                return tuple(w.ap_ip)
            return tuple(w.sta_ip) if w.sta_ip else _NO_IP
        value = config[0]
        if isinstance(value, (tuple, list)):
            if len(value) != 4:
                raise ValueError("requested length 4 but object has length " + str(len(value)))
            mask = _mask(value[1]) if isinstance(value[1], int) else _check_ip(value[1])
            new = (_check_ip(value[0]), mask, _check_ip(value[2]), _check_ip(value[3]))
            if self._if == AP_IF:
                w.ap_ip = list(new)
            else:
                w.sta_static = new
                w.sta_ip = new  # esp_netif_set_ip_info() with DHCP stopped
            return None
        if self._if != STA_IF or value != "dhcp":
            raise ValueError("invalid arguments")
        w.sta_static = None
        return None

    def ipconfig(self, *name, **kwargs):
        """network_common.c: esp_ipconfig(): 'dhcp4', 'addr4', 'gw4'."""
        w = board.wifi
        _poll(w)
        current = self.ifconfig()
        if not kwargs:
            if len(name) != 1:
                raise TypeError("must query one param")
            key = name[0]
            if key == "dhcp4" and self._if == STA_IF:
                return w.sta_static is None
            if key == "addr4":
                return (current[0], current[1])
            if key == "gw4":
                return current[2]
            raise ValueError("unexpected key")
        if name:
            raise TypeError("can't specify pos and kw args")
        ip, mask, gw, dns = current
        touched = False
        for key, value in kwargs.items():
            if key == "dhcp4" and self._if == STA_IF:
                if value:
                    w.sta_static = None
                elif w.sta_static is None:
                    w.sta_static = current
            elif key == "addr4":
                if isinstance(value, str):
                    text, _, bits = value.partition("/")
                    ip = _check_ip(text)
                    if bits:
                        mask = _mask(int(bits))
                elif value is not None:
                    ip, mask = _check_ip(value[0]), _check_ip(value[1])
                touched = True
            elif key == "gw4":
                gw = _check_ip(value)
                touched = True
            else:
                raise ValueError("unexpected key")
        if self._if == AP_IF:
            w.ap_ip = [ip, mask, gw, dns]
        elif touched:
            w.sta_static = (ip, mask, gw, dns)
            w.sta_ip = w.sta_static
        return None


def _ap_config_check(ap):
    """What esp_wifi_set_config() refuses for a soft-AP: WEP and enterprise modes, channels outside 1-13, more
    stations than ESP_WIFI_MAX_CONN_NUM (ESP_ERR_INVALID_ARG), a WPA key under 8 characters (ESP_ERR_WIFI_PASSWORD)."""
    limit = 10 if board.chip.name == "ESP32-C3" else 15
    if ap["authmode"] not in _AP_AUTHMODES or not 1 <= ap["channel"] <= 13 or ap["max"] > limit:
        raise _esp_error(_ESP_ERR_INVALID_ARG)
    if ap["authmode"] != AUTH_OPEN and len(ap["key"]) < 8:
        raise _esp_error(0x300B)


def hostname(*name):
    """extmod/modnetwork.c: mod_network_hostname(): at most 32 characters."""
    if not name:
        return board.wifi.hostname
    if len(name[0].encode()) > _HOSTNAME_MAX:
        raise ValueError()
    board.wifi.hostname = name[0]
    return None


def country(*code):
    """extmod/modnetwork.c: network_country(): two characters, stored and not applied (as upstream on esp32)."""
    if not code:
        return board.wifi.country
    if len(code[0]) != 2:
        raise ValueError()
    board.wifi.country = code[0]
    return None


def phy_mode(*mode):
    """network_common.c: esp_phy_mode(): a stub upstream, None."""
    return None


def ipconfig(*name, **kwargs):
    """network_common.c: esp_network_ipconfig(): the DNS server."""
    if not kwargs:
        if len(name) != 1:
            raise TypeError("must query one param")
        if name[0] != "dns":
            raise ValueError("unexpected key")
        return board.wifi.dns
    if name:
        raise TypeError("can't specify pos and kw args")
    for key, value in kwargs.items():
        if key != "dns":
            raise ValueError("unexpected key")
        try:
            _check_ip(value)
        except ValueError:
            raise ValueError("invalid arguments as dns server") from None
        board.wifi.dns = value
    return None
