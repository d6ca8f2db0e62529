"""Virtual boards for end-to-end tests: `gullwing sim` started as a user would, driven by real tools."""

import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

BIN = Path(sys.executable).parent


class SimProcess:
    """A running `gullwing sim`; `port` is its serial port; `trace` and `audio` (`--audio`: what the I2S
    amplifier plays, a WAV) are files it writes."""

    def __init__(self, flash_dir, *args, trace=None, audio=None, wifi=()):
        self.flash = Path(flash_dir)
        self.trace = Path(trace) if trace else None
        self.audio = Path(audio) if audio else None
        cmd = [str(BIN / "gullwing"), "sim", "--flash", str(flash_dir), *args]
        if trace:
            cmd += ["--trace", str(trace)]
        if audio:
            cmd += ["--audio", str(audio)]
        for ssid, password in wifi:  # home networks in range: [(ssid, password)]
            cmd += ["--wifi", ssid + ":" + password]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.first_line = self.proc.stdout.readline().strip()
        if not self.first_line.startswith("port: "):
            self.proc.kill()
            raise RuntimeError("gullwing sim did not start: " + self.first_line + self.proc.stderr.read())
        self.port = self.first_line[len("port: "):]
        self.wired = {}  # after read_wired(): {"uart1": port, "rc": port, "rfc2217": url}
        self._rc = None

    def read_wired(self):
        """The lines after `port:` (`uartID:`, `rc:`), up to `rfc2217:`, as {name: value}."""
        while "rfc2217" not in self.wired:
            name, _, value = self.proc.stdout.readline().strip().partition(": ")
            if not value:
                raise RuntimeError("gullwing sim ended before its rfc2217: line: " + self.proc.stderr.read())
            self.wired[name] = value
        return self.wired

    @property
    def web_url(self):
        """The page's address once the firmware listens on port 80 (the `web:` line; waits up to 20 s), or None."""
        return self.wait_web_url(20)

    def wait_web_url(self, timeout):
        """The `web:` line's address, waiting up to `timeout` seconds for it; None if the firmware does not listen."""
        if "web" in self.wired:
            return self.wired["web"]
        self.read_wired()

        def read_lines():
            for line in self.proc.stdout:
                name, _, value = line.strip().partition(": ")
                self.wired[name] = value
                if name == "web":
                    return

        reader = threading.Thread(target=read_lines, daemon=True)  # (a text pipe's buffer defeats select)
        reader.start()
        reader.join(timeout)
        return self.wired.get("web")

    def set_receiver(self, gpio, us):
        """Move the receiver channel on `gpio` to `us` microseconds, or None: no pulses (through `rc:`)."""
        if self._rc is None:
            self._rc = Wire(self.read_wired()["rc"])
        self._rc.send((str(gpio) + " " + ("off" if us is None else str(us)) + "\n").encode())
        reply = self._rc.expect("\n", timeout=3).strip()
        if reply != b"ok":
            raise AssertionError("rc " + str(gpio) + " " + str(us) + ": " + reply.decode())

    def mpremote(self, *args, check=True, timeout=60):
        result = subprocess.run([str(BIN / "mpremote"), "connect", self.port, *args], capture_output=True,
                                text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError("mpremote " + " ".join(args) + " failed:\n" + result.stdout + result.stderr)
        return result

    def stop(self, sig=signal.SIGTERM):
        if self._rc is not None:
            self._rc.close()
            self._rc = None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def pwm_rows(trace, pin):
    """[(t_us, duty_ns)] of every PWM change on `pin` in a trace CSV file (gullwing sim --trace)."""
    rows = []
    for line in trace.read_text().splitlines()[1:]:
        t_us, gpio, _freq, duty, kind, _level = line.split(",")
        if int(gpio) == pin and kind == "pwm":
            rows.append((int(t_us), int(duty)))
    return rows


class Wire:
    """The serial port opened directly, for what mpremote does not do (typing, Ctrl-C, Ctrl-D)."""

    def __init__(self, port):
        import serial

        self.serial = serial.Serial(port, 115200, timeout=0.1)
        self.seen = b""

    def send(self, data):
        self.serial.write(data)

    def expect(self, text, timeout=10.0):
        """Wait for `text`; returns everything read up to and including it."""
        want = text.encode() if isinstance(text, str) else text
        deadline = time.monotonic() + timeout
        while want not in self.seen:
            if time.monotonic() > deadline:
                raise AssertionError("did not see " + repr(want) + "; got " + repr(self.seen[-400:]))
            self.seen += self.serial.read(4096)
        head, _, tail = self.seen.partition(want)
        self.seen = tail
        return head + want

    def close(self):
        self.serial.close()


def run_in_pty(cmd, keystrokes, expect, timeout=20):
    """Run an interactive command on a terminal, type, and wait for `expect` in what it prints."""
    master, slave = os.openpty()
    proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + timeout
    pending = list(keystrokes)
    try:
        while expect.encode() not in seen:
            if time.monotonic() > deadline:
                raise AssertionError("did not see " + repr(expect) + "; got " + repr(seen[-400:]))
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    seen += os.read(master, 4096)
                except OSError:
                    break
            elif pending:
                os.write(master, pending.pop(0))
        return seen
    finally:
        proc.kill()
        proc.wait()
        os.close(master)


def set_pin(port, pin):
    """The page's PIN (`web.pin`) set and saved over serial, then the firmware restarted to take it in (the web
    settings are read at a start)."""
    from host_tools.link import Link

    with Link(port, timeout=10) as link:
        reply = link.request("config set web.pin " + pin)
        assert reply.ok and reply.data.get("restart") is True, reply.line
        assert link.request("config save").ok
    wire = Wire(port)
    try:
        wire.send(b"\x03")
        wire.expect(">>> ", timeout=20)
        wire.send(b"\x04")
        wire.expect("gullwing ", timeout=30)
    finally:
        wire.close()
