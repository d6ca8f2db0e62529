"""A virtual board's console UART over RFC 2217 on a local TCP port, with the DTR and RTS lines esptool resets
the board with (`rfc2217:` line of `gullwing sim`, virtual_board.reset_url())."""

import socket

import serial.rfc2217


class Rfc2217Server:
    """One client at a time; while one is connected it has the console (the board's output goes to it, not
    to the pseudo-terminal). `board` takes the client's bytes (from_host) and its lines (set_lines)."""

    def __init__(self, board):
        self._board = board
        self._server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(1)
        self._server.settimeout(0.2)
        self.port = self._server.getsockname()[1]
        self._client = None  # (socket, PortManager) of the connected client

    def send(self, data):
        """The board's output to the connected client; False when there is none."""
        client = self._client
        if client is None:
            return False
        try:
            client[0].sendall(b"".join(client[1].escape(data)))
        except OSError:
            pass
        return True

    def serve(self, stop):
        while not stop.is_set():
            try:
                connection, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            lines = ControlLines(self._board)
            manager = serial.rfc2217.PortManager(lines, _Connection(connection))
            self._client = (connection, manager)
            try:
                while not stop.is_set():
                    data = connection.recv(4096)
                    if not data:
                        break
                    incoming = b"".join(manager.filter(data))
                    if incoming:
                        self._board.from_host(incoming)
            except OSError:
                pass
            finally:
                self._client = None
                connection.close()
                self._board.set_lines(False, False)  # nothing drives the auto-reset transistors any more

    def close(self):
        self._server.close()
        if self._client is not None:
            self._client[0].close()


class _Connection:
    """The socket as PortManager writes its telnet answers to it."""

    def __init__(self, sock):
        self.write = sock.sendall


class ControlLines:
    """The serial port's side of the RFC 2217 server (what pyserial's PortManager drives): DTR and RTS
    go to the board's auto-reset circuit; the rest of a port's settings are kept and reported back."""

    def __init__(self, board):
        self._board = board
        self.baudrate = 115200
        self.bytesize = 8
        self.parity = "N"
        self.stopbits = 1
        self.xonxoff = False
        self.rtscts = False
        self.break_condition = False
        self.cts = self.dsr = self.ri = self.cd = False

    @property
    def dtr(self):
        return self._board.dtr

    @dtr.setter
    def dtr(self, value):
        self._board.set_lines(bool(value), self._board.rts)

    @property
    def rts(self):
        return self._board.rts

    @rts.setter
    def rts(self, value):
        self._board.set_lines(self._board.dtr, bool(value))

    def reset_input_buffer(self):
        pass

    def reset_output_buffer(self):
        pass
