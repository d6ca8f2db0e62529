"""Every failure a user can cause, through the real `gullwing` command: one error line, one hint that
fits, a non-zero exit status, and never a traceback."""

import json
import os
import signal
import subprocess
import threading
import time
import tty

import pytest

from tests.host.virtual import BIN, Wire

README = os.path.join(os.path.dirname(__file__), "..", "..", "README.md")


def gullwing(*args, timeout=60, interrupt_after=None):
    """Run `gullwing ARGS` as a user would, with no board found by auto-detection."""
    env = {k: v for k, v in os.environ.items() if k != "GULLWING_PORT"}
    proc = subprocess.Popen([str(BIN / "gullwing"), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    if interrupt_after is not None:
        time.sleep(interrupt_after)
        proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError("gullwing " + " ".join(args) + " did not end:\n" + out + err) from None
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def assert_reported(result, *words):
    """One `error:` line (an error may list candidates on indented lines under it), one `hint:` line,
    exit status non-zero, no traceback; `words` appear in the error or the hint."""
    everything = result.stdout + result.stderr
    assert "Traceback" not in everything, everything
    assert result.returncode != 0, everything
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    hints = [line for line in lines if line.startswith("hint: ")]
    assert len(errors) == 1 and len(hints) == 1, everything
    assert all(line.startswith(("error: ", "hint: ", "  ")) for line in lines), everything
    for word in words:
        assert word in everything, everything
    return errors[0], hints[0]


def assert_usage_error(result, *words):
    """click's own report of a bad argument: `Error: ...` and the help to read, exit status 2."""
    everything = result.stdout + result.stderr
    assert "Traceback" not in everything, everything
    assert result.returncode == 2, everything
    assert "Error: " in result.stderr and "Try 'gullwing" in result.stderr, everything
    for word in words:
        assert word in everything, everything


class FakeDevice:
    """Something on a serial port that is not (or not quite) a board running gullwing: each line the
    host sends goes to `answer(line)`, whose bytes (if any) go back."""

    def __init__(self, answer=lambda line: None, greeting=b""):
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        self.answer = answer
        self.lines = []
        if greeting:
            os.write(self._master, greeting)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        pending = b""
        while True:
            try:
                data = os.read(self._master, 1024)
            except OSError:
                return
            pending += data.replace(b"\r", b"\n")  # either ends a line, as for the firmware
            while b"\n" in pending:
                line, _, pending = pending.partition(b"\n")
                if not line.strip():
                    continue  # an empty line gets no answer, as from the firmware
                self.lines.append(line)
                reply = self.answer(line)
                if reply:
                    os.write(self._master, reply)

    def babble(self, data, every_s):
        """Write `data` every `every_s` seconds, asked or not, until unplugged."""
        def loop():
            while True:
                time.sleep(every_s)
                try:
                    os.write(self._master, data)
                except OSError:
                    return

        threading.Thread(target=loop, daemon=True).start()

    def unplug(self):
        for fd in (self._master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass


@pytest.fixture
def device():
    made = []

    def make(*args, **kwargs):
        made.append(FakeDevice(*args, **kwargs))
        return made[-1]

    yield make
    for fake in made:
        fake.unplug()


def request_id(line):
    """`#7` of a request line `#7 status`."""
    return line.split(b" ", 1)[0]


# -- the port -----------------------------------------------------------------------------------------

def test_no_board_connected():
    assert_reported(gullwing("status"), "--port")


@pytest.mark.parametrize("port, words", [
    ("/dev/ttyUSB97", ["does not exist"]),
    ("/tmp", ["is a folder, not a serial port"]),
    ("/dev/null", ["not a serial port"]),
])
@pytest.mark.parametrize("command", ["status", "console"])
def test_a_port_that_is_not_a_board(command, port, words):
    assert_reported(gullwing(command, "--port", port), port, *words)


def test_a_silent_port_says_so_without_the_flashing_advice(device):
    error, hint = assert_reported(gullwing("status", "--port", device().port, "--timeout", "1"), "no reply")
    assert "BOOT" not in hint  # holding BOOT enters the ROM loader: for flashing, not for talking to gullwing


def test_a_port_that_prints_but_never_answers(device):
    chatty = device(answer=lambda line: b"Hello from another gadget\r\n")
    assert_reported(gullwing("send", "--port", chatty.port, "--timeout", "1", "ping"), "Hello from another gadget")


# -- the board goes away, restarts, garbles -----------------------------------------------------------

def test_the_board_unplugged_during_a_request(device):
    gone = device()
    gone.answer = lambda line: gone.unplug()
    assert_reported(gullwing("status", "--port", gone.port, "--timeout", "5"), "went away", "plug")


def test_a_garbled_reply(device):
    noisy = device(answer=lambda line: request_id(line) + b' ok {"doors": \xff\xfe{{\r\n')
    assert_reported(gullwing("status", "--port", noisy.port), "garbled", "cable")


def test_a_request_sent_while_the_board_reboots_is_sent_again_once_the_firmware_is_up(device):
    booting = device()

    def answer(line):
        if len(booting.lines) == 1:  # lost in the reset, as bytes sent to a chip in its ROM are
            return b"rst:0xc (SW_CPU_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\ngullwing 0.1.0\r\n"
        return request_id(line) + b' ok {"version":"0.1.0"}\r\n'

    booting.answer = answer
    result = gullwing("send", "--port", booting.port, "version")
    assert result.returncode == 0, result.stderr
    assert result.stdout == 'ok {"version":"0.1.0"}\n'


def test_a_board_in_a_boot_loop(device):
    looping = device()
    looping.babble(b"rst:0x7 (TG0WDT_SYS_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\ngullwing 0.1.0\r\n"
                   b"gullwing crashed:\r\n", every_s=0.3)
    started = time.monotonic()
    assert_reported(gullwing("status", "--port", looping.port, "--timeout", "1"), "no reply", "gullwing crashed")
    assert time.monotonic() - started < 15


def test_ctrl_c_while_waiting_for_the_board(device):
    result = gullwing("status", "--port", device().port, "--timeout", "20", interrupt_after=1.5)
    assert result.returncode == 130
    assert_reported(result, "interrupted")


# -- a board left at the MicroPython prompt -------------------------------------------------------------

def test_after_mpremote_the_firmware_is_restarted_and_answers(deployed):
    deployed.mpremote("exec", "print(1)")  # leaves the board at the friendly prompt, `>>> `
    result = gullwing("status", "--port", deployed.port)
    assert result.returncode == 0, result.stderr
    assert '"up_ms":' in result.stdout and "Traceback" not in result.stderr


def test_from_the_raw_repl_and_after_ctrl_c_the_firmware_is_restarted(deployed):
    wire = Wire(deployed.port)
    try:
        wire.send(b"\x03")  # the firmware stops (or, still starting, is interrupted): the REPL is the user's
        wire.expect(">>> ")
        wire.send(b"\x01")  # and on into the raw REPL, as a tool killed halfway leaves it
        wire.expect("raw REPL; CTRL-B to exit\r\n>")
    finally:
        wire.close()
    result = gullwing("send", "--port", deployed.port, "door", "left", "open")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith('ok {"left":')
    result = gullwing("status", "--port", deployed.port)
    assert '"left":{"state":"open' in result.stdout.replace(" ", "") or '"opening"' in result.stdout


def test_a_failed_flash_does_not_make_the_next_command_fail(deployed):
    # esptool's SYNC packets reach the running firmware as a line without an ending; the next request
    # must not be taken as the rest of that line
    esptool = subprocess.run([str(BIN / "esptool"), "--port", deployed.port, "--before", "no-reset",
                              "--connect-attempts", "1", "chip-id"], capture_output=True, text=True, timeout=60)
    assert esptool.returncode != 0
    result = gullwing("status", "--port", deployed.port)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("{")


def test_a_board_without_gullwing_is_restarted_once_and_the_user_told_to_deploy(board):
    board.mpremote("exec", "print(1)")
    error, hint = assert_reported(gullwing("status", "--port", board.port), "not on the board")
    assert hint == "hint: put gullwing on the board: gullwing deploy --port " + board.port


# -- files ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [["plot", "/nonexistent/run.csv"], ["flash", "--firmware", "/nonexistent.bin"]])
def test_a_missing_file(args):
    assert_usage_error(gullwing(*args), "does not exist")


@pytest.mark.parametrize("args", [["kit", "check", "/nonexistent/kit.toml"], ["boards", "check", "/nonexistent.toml"],
                                  ["sim", "--board", "/nonexistent.toml"]])
def test_a_missing_kit_or_board_file(args):
    assert_reported(gullwing(*args), "/nonexistent")


def test_flash_an_empty_file(tmp_path):
    (tmp_path / "firmware.bin").write_bytes(b"")
    assert_reported(gullwing("flash", "--firmware", str(tmp_path / "firmware.bin")), "is empty", "micropython.org")


@pytest.mark.parametrize("content", [b"just some text\n", b"\x89PNG\r\n\x1a\n\x00\xff\xfe binary", b""])
def test_plot_a_file_that_is_not_a_trace(tmp_path, content):
    trace = tmp_path / "run.csv"
    trace.write_bytes(content)
    assert_reported(gullwing("plot", str(trace)), "is not a trace")


@pytest.mark.parametrize("output, words", [("/nonexistent/x.png", ["no folder /nonexistent"]),
                                           ("plot.txt", [".png, .svg, .pdf"])])
def test_plot_to_an_output_that_cannot_be_written(tmp_path, output, words):
    trace = tmp_path / "run.csv"
    trace.write_text("t_us,pin,freq_hz,duty_ns,kind,level\n0,18,50,1500000,pwm,0\n")
    assert_reported(gullwing("plot", str(trace), "-o", output if output.startswith("/") else str(tmp_path / output)),
                    *words)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_plot_an_unreadable_file(tmp_path):
    trace = tmp_path / "run.csv"
    trace.write_text("t_us,pin,freq_hz,duty_ns,kind,level\n")
    trace.chmod(0)
    result = gullwing("plot", str(trace))
    assert "Traceback" not in result.stderr and result.returncode != 0


def test_kit_build_into_a_folder_that_cannot_be_made(tmp_path):
    blocker = tmp_path / "taken"
    blocker.write_text("a file where the folder would go")
    assert_reported(gullwing("kit", "build", "az1-1to8", "-o", str(blocker / "kit")), str(blocker))


def test_sim_with_a_flash_folder_that_cannot_be_made(tmp_path):
    blocker = tmp_path / "taken"
    blocker.write_text("a file where the folder would go")
    assert_reported(gullwing("sim", "--flash", str(blocker / "flash")), str(blocker))


def test_sim_with_a_trace_in_a_missing_folder(tmp_path):
    assert_reported(gullwing("sim", "--flash", str(tmp_path / "flash"), "--trace", "/nonexistent/run.csv",
                             timeout=20), "/nonexistent")


def test_kit_check_of_a_file_that_is_not_toml(tmp_path):
    kit = tmp_path / "broken.toml"
    kit.write_bytes(b"board = [\x00\xff")
    assert_reported(gullwing("kit", "check", str(kit)), "broken.toml")


# -- deploy and the console -------------------------------------------------------------------------------

def test_deploy_to_a_silent_port(device):
    result = gullwing("deploy", "--port", device().port, timeout=120)
    error, hint = assert_reported(result)
    assert "b''" not in result.stdout + result.stderr
    assert "BOOT" not in hint


def test_the_console_on_a_silent_port(device):
    assert_reported(gullwing("console", "--port", device().port), "no reply")


# -- numbers the board checks -----------------------------------------------------------------------------

@pytest.mark.parametrize("args, request_line", [
    (["door", "left", "to", "-5"], b"door left to -5"),
    (["door", "both", "open", "--ms", "-5"], b"door both open -5"),
    (["door", "right", "to", "-5", "--ms", "-20"], b"door right to -5 -20"),
    (["throttle", "-5"], b"throttle -5"),
])
def test_a_negative_number_reaches_the_board_which_answers_its_range(device, args, request_line):
    board = device(answer=lambda line: request_id(line) + b" err bad_arg must be in range\r\n")
    result = gullwing(*args, "--port", board.port)
    assert "Traceback" not in result.stderr and "No such option" not in result.stderr, result.stderr
    assert result.returncode == 1
    assert result.stdout == "err bad_arg must be in range\n"
    assert [line.split(b" ", 1)[1] for line in board.lines] == [request_line]


def test_status_prints_the_json_object_alone(device):
    board = device(answer=lambda line: request_id(line) + b' ok {"up_ms":5,"doors":null}\r\n')
    result = gullwing("status", "--port", board.port)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"up_ms": 5, "doors": None}
    assert result.stdout.count("\n") == 1
