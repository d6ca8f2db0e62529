"""Simulated WiFi as MicroPython 1.29's esp32 port has it (ports/esp32/network_wlan.c over ESP-IDF): one object
per interface, the access point's settings and what esp_wifi_set_config() refuses, the station joining the
networks in range on the board's clock, and the statuses a failed join shows."""

import time

import network
from fwtest import MICROPYTHON, raises
from simboard import board


def setup_function():
    board.reset("ESP32")


def test_one_object_per_interface_and_nothing_active_after_reset():
    ap = network.WLAN(network.AP_IF)
    assert ap is network.WLAN(network.AP_IF) and network.WLAN() is network.WLAN(network.STA_IF)
    assert not ap.active() and not network.WLAN().active()
    with raises(ValueError, "invalid WLAN interface identifier"):
        network.WLAN(2)


def test_the_access_point_mac_is_the_base_mac_plus_one_and_names_the_default_network():
    sta, ap = network.WLAN(network.STA_IF), network.WLAN(network.AP_IF)
    assert sta.config("mac") == board.uid
    assert ap.config("mac")[:5] == board.uid[:5] and ap.config("mac")[5] == board.uid[5] + 1
    assert ap.config("essid") == "ESP_" + "".join("%02X" % b for b in ap.config("mac")[3:])
    assert ap.config("authmode") == network.AUTH_OPEN and ap.config("channel") == 1


def test_a_wpa2_access_point_needs_a_key_of_8_characters():
    ap = network.WLAN(network.AP_IF)
    ap.active(True)
    with raises(OSError, "Wifi Invalid Password"):
        ap.config(essid="AZ-1-3F2A", authmode=network.AUTH_WPA2_PSK, password="1234567")
    assert ap.config("essid") != "AZ-1-3F2A"  # nothing of a refused config is kept
    ap.config(essid="AZ-1-3F2A", authmode=network.AUTH_WPA2_PSK, password="12345678")
    assert ap.config("essid") == "AZ-1-3F2A" and ap.config("authmode") == network.AUTH_WPA2_PSK
    with raises(OSError, "Wifi Invalid Password"):
        ap.config(password="")  # WPA2 stays: an empty key is too short
    with raises(RuntimeError, "Wifi Unknown Error 0x0102"):
        ap.config(authmode=network.AUTH_WEP)  # no WEP on a soft-AP
    with raises(RuntimeError, "Wifi Unknown Error 0x0102"):
        ap.config(channel=14)
    assert ap.ifconfig() == ("192.168.4.1", "255.255.255.0", "192.168.4.1", "0.0.0.0")


def test_config_errors_as_upstream():
    sta, ap = network.WLAN(network.STA_IF), network.WLAN(network.AP_IF)
    with raises(ValueError, "unknown config param"):
        ap.config("password")  # a key is never read back
    with raises(TypeError, "can query only one param"):
        ap.config()
    with raises(OSError, "AP required"):
        sta.config(essid="x")
    with raises(OSError, "STA required"):
        ap.config("hostname")
    with raises(ValueError, "unknown status param"):
        sta.status("nope")
    assert network.hostname() == "mpy-esp32"
    with raises(ValueError, ""):
        network.hostname("x" * 33)


def test_the_station_joins_a_network_in_range_on_the_board_clock():
    board.wifi.in_range("Home", "secret123")
    sta = network.WLAN(network.STA_IF)
    with raises(OSError, "Wifi Not Started"):
        sta.connect("Home", "secret123")
    sta.active(True)
    assert sta.status() == network.STAT_IDLE
    sta.connect("Home", "secret123")
    assert sta.status() == network.STAT_CONNECTING and not sta.isconnected()
    assert sta.ifconfig()[0] == "0.0.0.0"
    board.advance_ms(network.CONNECT_MS)
    assert sta.status() == network.STAT_GOT_IP and sta.isconnected()
    assert sta.ifconfig()[0].startswith("192.168.1.") and sta.config("essid") == "Home"
    sta.disconnect()
    assert sta.status() == network.STAT_IDLE and not sta.isconnected()


def test_a_wrong_key_and_an_unknown_network_show_their_status_and_keep_retrying():
    board.wifi.in_range("Home", "secret123")
    sta = network.WLAN(network.STA_IF)
    sta.active(True)
    sta.connect("Home", "wrong-key")
    board.advance_ms(network.AUTH_FAIL_MS)
    assert sta.status() == network.STAT_WRONG_PASSWORD
    with raises(OSError, "Wifi Internal Error"):  # it retries: "sta is connecting"
        sta.connect("Home", "secret123")
    sta.disconnect()
    sta.connect("Elsewhere", "secret123")
    board.advance_ms(network.SCAN_MS)
    assert sta.status() == network.STAT_NO_AP_FOUND and not sta.isconnected()
    board.wifi.in_range("Elsewhere", "secret123")  # it comes into range: a retry finds it
    board.advance_ms(network.SCAN_MS + network.CONNECT_MS)
    assert sta.status() == network.STAT_GOT_IP


def test_scan_needs_the_station_and_phones_join_the_access_point():
    board.wifi.in_range("Home", "secret123")
    sta, ap = network.WLAN(network.STA_IF), network.WLAN(network.AP_IF)
    with raises(OSError, "STA must be active"):
        sta.scan()
    sta.active(True)
    assert [net[0] for net in sta.scan()] == [b"Home"]
    ap.active(True)
    assert not ap.isconnected() and ap.status("stations") == [] and ap.status() is None
    board.wifi.join_ap()
    assert ap.isconnected() and ap.status("stations")[0][1] == "192.168.4.2"
    with raises(OSError, "AP required"):
        sta.status("stations")


def test_a_hidden_network_scans_without_its_name_and_still_takes_a_join():
    board.wifi.in_range("Attic", "secret123", hidden=True)
    sta = network.WLAN(network.STA_IF)
    sta.active(True)
    assert [(net[0], net[5]) for net in sta.scan()] == [(b"", False)]
    sta.connect("Attic", "secret123")
    board.advance_ms(network.CONNECT_MS)
    assert sta.isconnected()


def _free_port_server(sock_module, host):
    """A listening simulator socket on `host` and a free high port (the unix port's socket has no getsockname)."""
    import os

    for _ in range(20):
        port = 30000 + int.from_bytes(os.urandom(2), "little") % 20000
        server = sock_module.socket()
        try:
            server.bind(sock_module.getaddrinfo(host, port)[0][-1])
        except OSError:
            server.close()
            continue
        server.listen(1)
        return server, port
    raise AssertionError("no free port")


def test_the_board_s_sockets_stay_on_the_host_s_loopback():
    if not MICROPYTHON:
        return  # under CPython `socket` is CPython's own (host_tools/sim/socket.py says why)
    import socket

    loopback = socket.getaddrinfo("127.0.0.1", 8080)[0][-1]
    assert socket.getaddrinfo("0.0.0.0", 8080)[0][-1] == loopback
    with raises(OSError, "125"):  # an address no interface has: stricter, on the chip it binds and serves nobody
        socket.getaddrinfo("10.1.2.3", 8080)
    with raises(OSError, "125"):  # the access point's address while it is down
        socket.getaddrinfo("192.168.4.1", 8080)
    network.WLAN(network.AP_IF).active(True)
    assert socket.getaddrinfo("192.168.4.1", 8080)[0][-1] == loopback
    server, port = _free_port_server(socket, "192.168.4.1")  # on the host: 127.0.0.1
    server.setblocking(False)
    client = socket.socket()
    client.connect(socket.getaddrinfo("192.168.4.1", port)[0][-1])  # the board reaching its own address
    time.sleep_ms(20)
    conn, _address = server.accept()
    client.send(b"hello")
    time.sleep_ms(20)
    assert conn.recv(5) == b"hello"
    for sock in (conn, client, server):
        sock.close()
