"""The model's WiFi as a builder meets it: its own WPA2 network named after the model and the board, with a
key made at the first start and kept; a home network joined, or the model's own network 20 s later when it
cannot be; `off` leaves the radio alone; a board whose WiFi fails runs on without it, saying why."""

import fwtest
from gullwing import wifi as wifi_mod
from gullwing.schema import AP_KEY_CHARS, AP_KEY_LEN
from gullwing.wifi import JOIN_MS
from simboard import board
from test_app import PINS, _app, _err, _ok, _state_dir, _status

REAL_DRIVER = wifi_mod.driver


def setup_function():
    board.reset("ESP32")


def teardown_function():
    wifi_mod.driver = REAL_DRIVER
    fwtest.remove_temp()


def _suffix():
    return "".join("%02X" % b for b in board.wifi.ap_mac[-2:])


def _started(settings=None, state_dir=None):
    given = {"pins": PINS}
    if settings:
        given.update(settings)
    a = _app(given, state_dir)
    a.wifi.start()
    return a


def _join(a, ms):
    """The board's time runs `ms` while the station's join is followed, as the task does."""
    for _ in range(ms // 250):
        board.advance_ms(250)
        if a.wifi.poll(board.ticks_ms()):
            return True
    return False


def test_the_model_s_own_network_is_wpa2_named_after_the_model_and_the_board_with_a_key_kept_for_good():
    state = _state_dir()
    a = _started(state_dir=state)
    ssid = "AZ-1-" + _suffix()
    assert board.wifi.mode & 2 and board.wifi.ap_ssid == ssid
    assert board.wifi.ap_authmode == 3  # WPA2-PSK: never an open network
    key = board.wifi.ap_key
    assert len(key) == AP_KEY_LEN and all(c in AP_KEY_CHARS for c in key)
    assert _ok(a, "wifi") == {"mode": "ap", "ssid": ssid, "ip": "192.168.4.1", "clients": 0, "web": True}
    board.wifi.join_ap()
    assert _ok(a, "wifi")["clients"] == 1
    assert _ok(a, "wifi password") == {"ssid": ssid, "password": key}
    assert _ok(a, "config get wifi.ap_password") == {"wifi.ap_password": "***"}
    assert key not in str(_status(a)) and "problems" not in _status(a)
    # the next start uses the same key: the card stays right
    board.reset("ESP32")
    _started(state_dir=state)
    assert board.wifi.ap_key == key


def test_a_provisioned_key_and_name_are_used_as_they_are():
    _started({"wifi": {"name": "Gullwing", "ap_password": "my own key 42"}})
    assert board.wifi.ap_ssid == "Gullwing-" + _suffix() and board.wifi.ap_key == "my own key 42"


def test_two_boards_make_different_keys():
    _started()
    first = board.wifi.ap_key
    board.reset("ESP32")
    _started()
    assert board.wifi.ap_key != first


def test_off_touches_no_radio():
    a = _started({"wifi": {"mode": "off"}})
    assert not board.wifi.started
    assert _ok(a, "wifi") == {"mode": "off", "web": False}
    assert _err(a, "wifi password") == "not_ready"


def test_a_home_network_is_joined_and_its_address_shown():
    board.wifi.in_range("Home", "correct horse")
    a = _started({"wifi": {"mode": "sta", "ssid": "Home", "password": "correct horse"}})
    assert _ok(a, "wifi") == {"mode": "sta", "ssid": "Home", "ip": None, "web": False}
    assert _join(a, 5000)
    info = _ok(a, "wifi")
    assert info["mode"] == "sta" and info["web"] is True and info["ip"].count(".") == 3
    assert not board.wifi.mode & 2  # no access point beside it
    assert "problems" not in _status(a)


def test_a_home_network_that_cannot_be_joined_gives_the_model_s_own_network_after_20_s():
    board.wifi.in_range("Home", "correct horse")
    a = _started({"wifi": {"mode": "sta", "ssid": "Home", "password": "wrong horse"}})
    assert not _join(a, JOIN_MS - 500)  # it keeps trying for 20 s
    assert not board.wifi.mode & 2
    assert _join(a, 1000)
    ssid = "AZ-1-" + _suffix()
    assert board.wifi.mode & 2 and board.wifi.ap_ssid == ssid and board.wifi.ap_authmode == 3
    info = _ok(a, "wifi")
    assert info["mode"] == "ap" and info["fallback"] is True and info["ssid"] == ssid and info["web"] is True
    problems = _status(a)["problems"]
    assert problems == ["wifi: could not join Home within 20 s (wrong password); the model's own network "
                        + ssid + " is on instead"], problems


def test_station_mode_without_a_home_network_named_gives_the_model_s_own_network_at_once():
    a = _started({"wifi": {"mode": "sta"}})
    assert board.wifi.mode & 2 and _ok(a, "wifi")["fallback"] is True
    assert "wifi.ssid is not set" in _status(a)["problems"][0]


def test_a_board_without_wifi_runs_on_and_says_so():
    def no_network():
        raise ImportError("no module named 'network'")

    wifi_mod.driver = no_network
    a = _started()
    assert _status(a)["problems"] == ["wifi: this board has no WiFi (no network module)"]
    assert _ok(a, "wifi") == {"mode": "off", "web": False}
    assert _ok(a, "door both open")["left"]["state"] == "opening"


def test_a_driver_that_refuses_is_a_problem_and_the_firmware_runs_on():
    class Refusing:
        AP_IF = 1
        STA_IF = 0

        @staticmethod
        def WLAN(interface):  # noqa: N802  (network.WLAN)
            raise OSError(-1, "ESP_FAIL")

    wifi_mod.driver = lambda: Refusing
    a = _started()
    problems = _status(a)["problems"]
    assert len(problems) == 1 and problems[0].startswith("wifi: ") and problems[0].endswith("; no WiFi"), problems
    assert _ok(a, "wifi") == {"mode": "off", "web": False}
    assert _ok(a, "ping") is None


def test_safe_mode_has_no_wifi():
    from gullwing import app, config

    cfg = config.merge(config.DEFAULTS, {"pins": PINS}, "", [])
    a = app.App(cfg, 0, _state_dir(), [], safe_mode="3 crashes")
    assert a.wifi is None
    assert _err(a, "wifi") == "not_ready"
