"""`socket` of the simulated ESP32 under MicroPython: the interpreter's own, on the host's loopback only.

getaddrinfo() puts the board on the host's loopback: 0.0.0.0 and the addresses of the board's interfaces
(simboard.board.wifi) become 127.0.0.1, port 80 becomes the virtual board's web port (GULLWING_SIM_WEB_PORT,
chosen free by the host), 127.0.0.1 stays, and any other address is refused (OSError EADDRNOTAVAIL; stricter:
on the chip it binds and nobody ever connects). The sockets are the unix port's own, unwrapped: a Python
subclass of them would inherit their C stream protocol and hand select.poll an instance where the C code
expects the socket (py/objtype.c: the base's protocol is inherited; ports/unix/modsocket.c: socket_ioctl), and
asyncio polls every socket it serves. The virtual board sees the firmware listen on the web port (it reads the
host's /proc/net/tcp) and prints the page's address.

Divergences, from the unix port's sockets: getaddrinfo() gives its sockaddr bytes where lwIP gives an
('a.b.c.d', port) tuple, bind() and connect() take only those (use getaddrinfo, as the MicroPython docs' own
examples do), and the board is reachable even while no interface is up (the firmware listens after its WiFi is).

Under CPython this module is not the simulator's: importing it gives CPython's own socket module, untouched
(pytest and the host tools need it), as mpcompat leaves CPython's `time` its own.
"""

import sys

if sys.implementation.name != "micropython":
    import os

    _here = os.path.dirname(os.path.abspath(__file__))
    _saved = sys.path
    sys.path = [p for p in sys.path if os.path.abspath(p or ".") != _here]
    del sys.modules[__name__]
    try:
        import socket as _cpython_socket
    finally:
        sys.path = _saved
    sys.modules[__name__] = _cpython_socket
else:
    _path = sys.path
    sys.path = []  # import the interpreter's built-in socket, not this file
    try:
        import socket as _host
        from socket import *  # noqa: F403
    finally:
        sys.path = _path
        del _path

    from simboard import WEB_PORT, board

    _EADDRNOTAVAIL = 125  # py/mperrno.h: MP_EADDRNOTAVAIL

    def getaddrinfo(host, port, af=0, type=0, proto=0, flags=0):  # noqa: A002 (upstream's names)
        """[(AF_INET, type, proto, '', address)], one IPv4 entry as lwIP gives it, its address on the host's
        loopback (the unix port's sockaddr)."""
        ip = host or "0.0.0.0"
        if not (ip.count(".") == 3 and all(part.isdigit() for part in ip.split("."))):
            ip = _host.inet_ntop(_host.AF_INET, _host.getaddrinfo(host, port)[0][-1][4:8])  # a name: resolved
        if ip == "0.0.0.0" or ip in board.wifi.addresses():
            ip = "127.0.0.1"
        elif ip != "127.0.0.1":
            raise OSError(_EADDRNOTAVAIL)
        if port == 80 and WEB_PORT:
            port = WEB_PORT
        return [(_host.AF_INET, type, proto, "", _host.getaddrinfo(ip, port)[0][-1])]
