"""Kits and provisioning: many virtual boards at once, a failure isolated, a rerun doing only the rest."""

import dataclasses
import inspect
import json
import re
import signal
from unittest import mock

import pytest

from host_tools import boards, flash, kit, provision
from tests.host.virtual import SimProcess


def test_the_catalogued_kit_loads_with_its_board_and_settings():
    az1 = kit.load("az1-1to8")
    assert az1.board.name == "esp32-devkitc"
    config = az1.config()
    assert config["pins"]["door_left"] == 18 and config["doors"]["left"]["open_deg"] == 85
    assert config["doors"]["right"]["reversed"] is True


def test_a_kit_file_with_mistakes_names_each_key(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\nboard = "esp32-devkitc"\npins = {}\n[doors]\nstager_ms = 40\n'
                   '[doors.left]\nmin_us = "500"\n[[bom]]\nqty = 1\n')
    with pytest.raises(kit.KitFileError) as caught:
        kit.load(bad)
    text = str(caught.value)
    for key in ("pins: comes from the board file", "doors.stager_ms: unknown key",
                "doors.left.min_us: expected int, got str", "bom: a list of tables"):
        assert key in text


def test_boards_are_provisioned_at_once_a_killed_one_fails_alone_and_a_rerun_does_only_it(tmp_path):
    sims = [SimProcess(tmp_path / f"board{i}") for i in range(3)]
    az1 = kit.load("az1-1to8")
    try:
        assert set(s.port for s in sims) <= set(provision.all_ports())  # --all finds virtual boards

        def pull_the_cable(result):  # of one board, once its self-test has begun
            if result.port == sims[1].port and result.step == "doors":
                sims[1].stop(signal.SIGKILL)

        results, report = provision.provision([s.port for s in sims], az1, reports=tmp_path / "rep", live=False,
                                              on_step=pull_the_cable)
        results = {r.port: r for r in results}
        assert results[sims[0].port].passed and results[sims[2].port].passed
        assert not results[sims[1].port].passed and results[sims[1].port].error
        report_data = json.loads(report.read_text())
        assert [b["passed"] for b in report_data["boards"]] == [True, False, True]
        assert [b["done"] for b in report_data["boards"]] == [["deployed", "tested"], ["deployed"],
                                                              ["deployed", "tested"]]
        assert "FAILED at doors" in report.with_suffix(".txt").read_text()

        sims[1] = SimProcess(tmp_path / "board1")  # plugged back in
        results, report = provision.provision([s.port for s in sims], az1, reports=tmp_path / "rep", live=False)
        outcome = [(r.passed, r.skipped, r.done) for r in results]
        assert outcome == [(True, True, []), (True, False, ["deployed", "tested"]), (True, True, [])], \
            [r.error for r in results]
        assert "skipped: passed kit az1-1to8" in report.with_suffix(".txt").read_text()
    finally:
        for sim in sims:
            sim.stop()


def _on_board_pins(az1, pins):
    return dataclasses.replace(az1, board=dataclasses.replace(az1.board, pins=pins))


def _without_amplifier(az1):
    """The kit on its board with the I2S amplifier's three lines deleted: the buzzer is the engine's voice."""
    return _on_board_pins(az1, {role: gpio for role, gpio in az1.board.pins.items() if role not in boards.I2S_ROLES})


def test_the_self_test_checks_the_outputs_and_fails_a_board_with_a_broken_one(tmp_path):
    az1 = kit.load("az1-1to8")
    # the motor on an input-only pin: what a board file the host did not check would put on a board
    broken = _on_board_pins(az1, {**az1.board.pins, "motor": 39})
    kits = {"good": az1, "piezo": _without_amplifier(az1), "broken": broken}
    sims = {name: SimProcess(tmp_path / name, trace=tmp_path / (name + ".csv")) for name in kits}
    try:
        (good,), (piezo,), (bad,) = (provision.provision([sim.port], kits[name], reports=tmp_path / "rep", live=False,
                                                         traces={sim.port: sim.trace})[0]
                                     for name, sim in sims.items())
    finally:
        for sim in sims.values():
            sim.stop()
    assert good.passed, good.error
    checks = "\n".join(good.checks)
    assert "motor output (GPIO25): duty" in checks and "door left: GPIO18 pulse" in checks
    assert "amplifier (I2S GPIO32/33/13): sounded, peak " in checks and "silent stopped" in checks
    assert "buzzer" not in checks  # the amplifier is the voice: the buzzer's pin is not driven
    assert piezo.passed, piezo.error
    checks = "\n".join(piezo.checks)
    assert "buzzer (GPIO23): sounded" in checks and "amplifier" not in checks
    assert not bad.passed and bad.done == ["deployed"]
    assert "problems" in bad.error and "motor" in bad.error and "39" in bad.error, bad.error


@pytest.mark.parametrize("amplifier, voice", [(True, "sound"), (False, "buzzer")])
def test_without_a_trace_the_output_checks_a_board_cannot_show_are_named(amplifier, voice):
    """A USB board whose firmware does not report its outputs: the motor's duty and the voice are not visible
    over the protocol; the report says so."""
    result = provision.Result("/dev/x")
    provision.self_test(_ScriptedLink(), _kit(amplifier), result)
    assert f"motor, {voice}: outputs not visible over the protocol, not checked" in result.checks
    assert "rc: no receiver signal, not checked" in result.checks


@pytest.mark.parametrize("wired, said", [(True, "rc: no receiver signal, not checked"),
                                         (False, "rc: no receiver on this board")])
def test_a_receiver_without_a_signal_is_told_from_none_by_the_board_file(wired, said):
    """`status` leaves `rc` out until a signal is seen: whether a receiver is wired is the board file's word."""
    az1 = kit.load("az1-1to8")
    on_board = az1 if wired else _on_board_pins(az1, {role: gpio for role, gpio in az1.board.pins.items()
                                                      if not role.startswith("rc_")})
    result = provision.Result("/dev/x")
    provision.self_test(_ScriptedLink(rc=None), on_board, result)
    assert said in result.checks


class _ScriptedLink:
    """A healthy board's answers to the self-test and the `wifi` verbs, without a board. Its network key as
    the firmware has it: a `config set` is in force only once saved and the firmware restarted."""

    def __init__(self, problems=(), outputs=None, rc="waiting", board_id="240ac4000001", ap_key="bymyself2345"):
        self.board_id = board_id
        self.in_force = self.saved = ap_key  # the key the network runs with; the one in the settings store
        self.pending = None
        self.lines = []  # every request, as the board received it
        self.serial = mock.Mock()  # what restart() writes (Ctrl-C) lands here
        self.events = []
        self.rc = rc  # `status`'s rc: None as a firmware that leaves it out while waiting
        self.problems = list(problems)
        self.state, self.throttle = "off", 0
        self.outputs = outputs  # (state, throttle) -> `status`'s outputs, as a firmware with them reports

    def request(self, line, timeout=None):
        from host_tools.link import Reply

        data = None
        self.lines.append(line)
        if line == "version":
            data = {"version": provision.__version__, "id": self.board_id}
        elif line.startswith("config set wifi.ap_password "):
            self.pending = line.split()[3]
            data = {"wifi.ap_password": "***", "restart": True}
        elif line == "config save":
            self.saved = self.pending or self.saved
            data = {"saved": 1}
        elif line == "wifi":
            data = {"mode": "ap", "ssid": "AZ-1-" + self.board_id[-4:].upper(), "ip": "192.168.4.1", "clients": 0,
                    "web": True}
        elif line == "wifi password":
            data = {"ssid": "AZ-1-" + self.board_id[-4:].upper(), "password": self.in_force}
        elif line == "status":
            rpm = {"off": 0, "running": 950 + 80 * self.throttle}[self.state]
            data = {"engine": {"state": self.state, "rpm": rpm}, **({"rc": self.rc} if self.rc else {})}
            if self.problems:
                data["problems"] = self.problems
            if self.outputs is not None:
                data["outputs"] = self.outputs(self.state, self.throttle)
        elif line.startswith("door both"):
            angle = 0 if "close" in line else provision.TEST_DEG
            self.events += ["evt door " + json.dumps({"side": side, "state": "x", "angle": angle})
                            for side in ("left", "right")]
        elif line.startswith("engine"):
            self.state = "running" if line.endswith("start") else "off"
            self.events.append("evt engine " + json.dumps({"state": self.state, "rpm": 0}))
        elif line.startswith("throttle"):
            self.throttle = int(line.split()[1])
        return Reply(True, "ok", data)

    def restart_firmware(self):
        assert self.serial.write.call_args.args == (b"\x03",)  # stopped first, as Ctrl-C stops the firmware
        self.lines.append("(restarted)")
        self.in_force = self.saved

    def wait_event(self, name, timeout):
        for i, event in enumerate(self.events):
            if event.startswith("evt " + name + " "):
                return self.events.pop(i)
        return None


def _kit(amplifier):
    az1 = kit.load("az1-1to8")
    return az1 if amplifier else _without_amplifier(az1)


def _motor(state, throttle):
    return 20 + 3 * throttle // 4 if state == "running" else 0


def _buzzer(state, throttle):
    return 180 + 4 * throttle if state == "running" else 0


def _sound(state, throttle):
    return 5 + throttle // 2 if state == "running" else 0


def _healthy_outputs(state, throttle):
    """A board with an amplifier: `sound` left out while silent, the buzzer not driven."""
    sound = _sound(state, throttle)
    return {"motor": _motor(state, throttle), "buzzer_hz": 0, **({"sound": sound} if sound else {})}


def _healthy_buzzer_outputs(state, throttle):
    return {"motor": _motor(state, throttle), "buzzer_hz": _buzzer(state, throttle)}


def test_without_a_trace_the_outputs_status_reports_are_checked():
    """A USB board whose firmware reports its outputs in `status`: the motor's duty and the amplifier's sound,
    or on a board without one the buzzer, are checked."""
    result = provision.Result("/dev/x")
    provision.self_test(_ScriptedLink(outputs=_healthy_outputs), _kit(True), result)
    checks = "\n".join(result.checks)
    assert "motor output (GPIO25): duty 20% idle, 95% full, 0% stopped" in checks
    assert "amplifier (I2S GPIO32/33/13): sounded, peak 5% idle, 55% full, silent stopped" in checks
    assert "buzzer" not in checks and "not checked" not in checks.split("rc:")[0]
    result = provision.Result("/dev/x")
    provision.self_test(_ScriptedLink(outputs=_healthy_buzzer_outputs), _kit(False), result)
    checks = "\n".join(result.checks)
    assert "buzzer (GPIO23): sounded (580 Hz)" in checks and "amplifier" not in checks


def test_a_kit_that_mutes_its_amplifier_does_not_fail_for_its_silence():
    az1 = kit.load("az1-1to8")
    muted = dataclasses.replace(az1, settings={**az1.settings, "sound": {"volume": 0}})
    result = provision.Result("/dev/x")
    provision.self_test(_ScriptedLink(outputs=lambda state, throttle: {"motor": _motor(state, throttle)}), muted,
                        result)
    assert "amplifier (I2S GPIO32/33/13): sound.volume is 0 in the kit, not checked" in result.checks


@pytest.mark.parametrize("amplifier, outputs, reason", [
    (True, lambda state, throttle: {**_healthy_outputs(state, throttle), "motor": 0},
     "motor output (GPIO25) does not follow the revs"),
    (True, lambda state, throttle: {**_healthy_outputs(state, throttle), "motor": 20},
     "duty 20% at idle, 20% at full throttle, 20% stopped"),
    (True, lambda state, throttle: {"motor": _motor(state, throttle), "buzzer_hz": _buzzer(state, throttle)},
     "amplifier (I2S GPIO32/33/13) did not sound while the engine ran"),
    (True, lambda state, throttle: {**_healthy_outputs(state, throttle), "sound": 30},
     "amplifier (I2S GPIO32/33/13) still sounds (30%) with the engine stopped"),
    (False, lambda state, throttle: {"motor": _motor(state, throttle), "buzzer_hz": 0},
     "buzzer (GPIO23) did not sound"),
])
def test_without_a_trace_a_motor_or_voice_that_status_shows_dead_fails_naming_it(amplifier, outputs, reason):
    with pytest.raises(provision.SelfTestFailed, match=re.escape(reason)):
        provision.self_test(_ScriptedLink(outputs=outputs), _kit(amplifier), provision.Result("/dev/x"))


def test_a_board_listing_problems_fails_its_self_test_naming_them():
    result = provision.Result("/dev/x")
    with pytest.raises(provision.SelfTestFailed, match="motor: ESP_ERR_INVALID_ARG"):
        provision.self_test(_ScriptedLink(["motor: ESP_ERR_INVALID_ARG"]), kit.load("az1-1to8"), result)


def test_the_command_checks_a_virtual_boards_outputs_from_its_trace_and_a_rerun_skips_it(tmp_path):
    from click.testing import CliRunner

    from host_tools.cli import cli

    sim = SimProcess(tmp_path / "board", trace=tmp_path / "trace.csv")
    command = ["provision", "--kit", "az1-1to8", "--ports", sim.port, "--trace", f"{sim.port}={sim.trace}",
               "--reports", str(tmp_path / "rep")]
    try:
        first = CliRunner().invoke(cli, command)
        again = CliRunner().invoke(cli, command)
    finally:
        sim.stop()
    assert first.exit_code == 0, first.output
    assert "passed (deployed, tested)" in first.output and "motor output (GPIO25): duty" in first.output
    assert again.exit_code == 0, again.output
    assert "skipped: passed kit az1-1to8" in again.output and "deployed" not in again.output.split("report:")[0]


def test_a_trace_that_is_not_port_and_file_is_refused(tmp_path):
    from click.testing import CliRunner

    from host_tools.cli import cli

    result = CliRunner().invoke(cli, ["provision", "--kit", "az1-1to8", "--ports", "/dev/x", "--trace", "t.csv"])
    assert result.exit_code == 2 and "is not PORT=FILE" in result.output


def test_kit_build_writes_config_bill_of_materials_and_wiring(tmp_path):
    from click.testing import CliRunner

    from host_tools import wiring
    from host_tools.cli import cli

    result = CliRunner().invoke(cli, ["kit", "build", "az1-1to8", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "config.json").read_text())["doors"]["left"]["open_deg"] == 85
    assert "| 2 | MG90S metal-gear micro servo |" in (tmp_path / "bom.md").read_text()
    assert (tmp_path / "wiring.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = (tmp_path / "wiring.svg").read_text()
    assert "GPIO18  door_left" in svg and "Left door servo" in svg  # text stays text: searchable, editable
    wired = [role for role, *_ in wiring.connections(kit.load("az1-1to8"))]
    assert "motor" in wired and "motor_in1" not in wired  # the kit's MOSFET, not the board's bridge pins


def _fake_flash(calls):
    """A stand-in for flash.flash with its very signature, doing what it does with its arguments first."""
    real = inspect.signature(flash.flash)

    def fake(*args, **kwargs):
        bound = real.bind(*args, **kwargs)  # a TypeError when called otherwise than flash.flash takes
        chosen = bound.arguments.get("kit")
        board = chosen.board if chosen is not None else boards.load(bound.arguments.get("board"))
        calls.append(("flash", bound.arguments["port"], bound.arguments["firmware"], board.name,
                      bound.arguments.get("deploy", True)))

    return mock.create_autospec(flash.flash, side_effect=fake)


def test_with_an_image_every_board_is_flashed_with_the_kit_and_deployed_once(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(provision.flash, "flash", _fake_flash(calls))
    monkeypatch.setattr(provision.deploy, "deploy", lambda port, kit, progress: calls.append(("deploy", port)))

    class Refusing:  # the self-test's board: it answers nothing
        def __init__(self, port, timeout):
            raise provision.errors.BoardNotAnswering("no reply")

    monkeypatch.setattr(provision, "Link", Refusing)
    results, _ = provision.provision(["/dev/a", "/dev/b"], kit.load("az1-1to8"), firmware=tmp_path / "mp.bin",
                                     reports=tmp_path, live=False)
    for port in ("/dev/a", "/dev/b"):  # flashed for the kit's board without a deploy of its own, then deployed once
        assert [call for call in calls if call[1] == port] == [("flash", port, str(tmp_path / "mp.bin"),
                                                                "esp32-devkitc", False), ("deploy", port)]
    assert all(r.step == "version" and "no reply" in r.error for r in results), [r.error for r in results]
    assert all(r.done == ["flashed", "deployed"] for r in results)


def test_a_board_that_passed_before_is_neither_flashed_nor_deployed_again(tmp_path, monkeypatch):
    az1 = kit.load("az1-1to8")
    earlier = provision.Result("/dev/a", board_id="240ac4000001", passed=True, done=["flashed", "deployed", "tested"])
    provision._report(tmp_path, az1, "mp.bin", [earlier])
    calls = []
    monkeypatch.setattr(provision.flash, "flash", _fake_flash(calls))
    monkeypatch.setattr(provision.deploy, "deploy", lambda port, kit, progress: calls.append(("deploy", port)))
    monkeypatch.setattr(provision, "Link", lambda port, timeout: _Open(_ScriptedLink()))
    (result,), report = provision.provision(["/dev/a"], az1, firmware=tmp_path / "mp.bin", reports=tmp_path,
                                            live=False)
    assert calls == [] and result.skipped and result.passed and result.done == []
    assert result.why.startswith("passed kit az1-1to8 with gullwing " + provision.__version__)
    assert json.loads(report.read_text())["boards"][0]["why"] == result.why


class _Open:
    def __init__(self, link):
        self.link = link

    def __enter__(self):
        return self.link

    def __exit__(self, *exc):
        pass


def test_provision_with_an_image_flashes_deploys_and_tests_virtual_boards_for_real(tmp_path):
    """Eight boards at once through real esptool and the virtual ROM loader (reset into it over RFC 2217),
    one of them an ESP32-S3 that the kit's ESP32 image must not reach; the rerun skips the seven that passed."""
    from tests.host.test_flash import micropython_image

    firmware = tmp_path / "micropython.bin"
    firmware.write_bytes(micropython_image("ESP32"))
    az1 = kit.load("az1-1to8")
    sims = [SimProcess(tmp_path / f"board{i}", trace=tmp_path / f"board{i}.csv") for i in range(7)]
    sims.append(SimProcess(tmp_path / "s3", "--board", "esp32-s3-devkitc-1"))
    ports = [sim.port for sim in sims]
    try:
        results, report = provision.provision(ports, az1, firmware=firmware, reports=tmp_path / "rep", live=False,
                                              traces={sim.port: sim.trace for sim in sims if sim.trace})
        for r in results[:7]:
            assert r.passed and r.done == ["flashed", "deployed", "tested"], r.error
            assert "motor output (GPIO25): duty" in "\n".join(r.checks)
        assert len({r.board_id for r in results[:7]}) == 7
        s3 = results[7]
        assert not s3.passed and s3.done == [] and "ESP32-S3" in s3.error, s3.error
        image = firmware.read_bytes()
        for sim in sims[:7]:  # written where the ESP32's ROM boots it from
            assert sim.flash.with_suffix(".img").read_bytes()[0x1000:0x1000 + len(image)] == image
        assert not (tmp_path / "s3.img").exists() or image not in (tmp_path / "s3.img").read_bytes()
        again, report = provision.provision(ports, az1, firmware=firmware, reports=tmp_path / "rep", live=False)
        assert [(r.passed, r.skipped, r.done) for r in again[:7]] == [(True, True, [])] * 7
        assert not again[7].passed and "ESP32-S3" in again[7].error
        assert "skipped: passed kit az1-1to8" in report.with_suffix(".txt").read_text()
    finally:
        for sim in sims:
            sim.stop()


# -- the model's own network: the key and the kit card -----------------------------------------------

def _provision_scripted(monkeypatch, tmp_path, boards_by_port, az1=None, **options):
    """provision.provision on scripted boards (port -> _ScriptedLink), the deploy a no-op."""
    monkeypatch.setattr(provision.deploy, "deploy", lambda port, kit, progress: None)
    monkeypatch.setattr(provision, "Link", lambda port, timeout: _Open(boards_by_port[port]))
    return provision.provision(list(boards_by_port), az1 or kit.load("az1-1to8"), reports=tmp_path / "rep",
                               live=False, **options)


def test_each_board_gets_its_own_key_in_force_for_the_self_test_and_a_card_that_alone_carries_it(tmp_path,
                                                                                                   monkeypatch):
    fakes = {"/dev/a": _ScriptedLink(board_id="240ac4000001"), "/dev/b": _ScriptedLink(board_id="240ac400000b")}
    results, report = _provision_scripted(monkeypatch, tmp_path, fakes)
    assert all(r.passed and r.ap_key == "made" for r in results), [r.error for r in results]
    keys = [fake.in_force for fake in fakes.values()]
    assert keys[0] != keys[1] and "bymyself2345" not in keys
    for key in keys:
        assert len(key) == 12 and set(key) <= set(kit.firmware_config().schema.AP_KEY_CHARS)
    for fake in fakes.values():  # set and saved, then the firmware restarted, before the self-test began
        assert fake.lines.index("(restarted)") < fake.lines.index("door both to 30 600")
    for result, fake in zip(results, fakes.values(), strict=True):
        card = (tmp_path / "rep" / "cards" / ("az1-1to8-" + fake.board_id + ".txt")).read_text()
        assert "AZ-1-" + fake.board_id[-4:].upper() in card and fake.in_force in card
        assert "http://192.168.4.1/" in card and "config set web.pin" in card
        assert result.card == str(tmp_path / "rep" / "cards" / ("az1-1to8-" + fake.board_id + ".png"))
        assert (tmp_path / "rep" / "cards" / ("az1-1to8-" + fake.board_id + ".svg")).stat().st_mode & 0o077 == 0
    summary = report.with_suffix(".txt").read_text()
    assert "card: " + results[0].card + " (AZ-1-0001)" in summary
    for shared in (summary, report.read_text()):  # the reports list the cards, never a key
        assert not any(key in shared for key in keys)


def test_a_board_keyed_by_an_earlier_run_keeps_its_key_and_gets_its_card_again(tmp_path, monkeypatch):
    """A card already in a box stays true: a board that failed after its key was set, or one provisioned again
    for a new gullwing version, is not given a new key."""
    earlier = provision.Result("/dev/a", board_id="240ac4000001", ap_key="made", error="a door stuck")
    az1 = kit.load("az1-1to8")
    provision._report(tmp_path / "rep", az1, "", [earlier])
    boxed, fresh = _ScriptedLink(board_id="240ac4000001", ap_key="onthecard234"), _ScriptedLink(board_id="240ac40000ff")
    (kept, made), report = _provision_scripted(monkeypatch, tmp_path, {"/dev/a": boxed, "/dev/b": fresh})
    assert kept.passed and kept.ap_key == "kept" and boxed.in_force == "onthecard234"
    assert not any(line.startswith("config set") for line in boxed.lines) and "(restarted)" not in boxed.lines
    assert "onthecard234" in (tmp_path / "rep" / "cards" / "az1-1to8-240ac4000001.txt").read_text()
    assert made.ap_key == "made" and fresh.in_force != "bymyself2345"  # a board never keyed by a run gets one
    assert "its key kept from an earlier run" in "\n".join(kept.checks)
    # --keep-keys: every board keeps what it has, for boards keyed with another reports folder
    other = _ScriptedLink(board_id="240ac40000cc", ap_key="elsewhere234")
    (result,), _ = _provision_scripted(monkeypatch, tmp_path, {"/dev/c": other}, keep_keys=True)
    assert result.passed and result.ap_key == "kept" and other.in_force == "elsewhere234"


def test_a_board_that_does_not_take_its_key_fails_without_the_key_in_the_report(tmp_path, monkeypatch):
    class Refusing(_ScriptedLink):
        def request(self, line, timeout=None):
            from host_tools.link import Reply

            if line.startswith("config set wifi"):
                return Reply(False, "err bad_arg unknown key wifi.ap_password", code="bad_arg")
            return super().request(line)

    fake = Refusing()
    (result,), report = _provision_scripted(monkeypatch, tmp_path, {"/dev/a": fake})
    assert not result.passed and result.step == "key" and not result.card
    assert "did not take its network key (`set` answered err bad_arg" in result.error
    assert "config set wifi.ap_password " not in report.read_text() + report.with_suffix(".txt").read_text()


def test_a_key_the_board_did_not_keep_fails_it(tmp_path, monkeypatch):
    class Forgetful(_ScriptedLink):
        def restart_firmware(self):
            super().restart_firmware()
            self.in_force = "bymyself2345"  # its settings store lost the key

    (result,), _ = _provision_scripted(monkeypatch, tmp_path, {"/dev/a": Forgetful()})
    assert not result.passed and result.step == "wifi" and "store did not keep it" in result.error
    assert not (tmp_path / "rep" / "cards").exists()


def test_a_kit_without_wifi_gets_no_key_and_no_card(tmp_path, monkeypatch):
    az1 = kit.load("az1-1to8")
    off = dataclasses.replace(az1, settings={**az1.settings, "wifi": {"mode": "off"}})
    fake = _ScriptedLink()
    (result,), _ = _provision_scripted(monkeypatch, tmp_path, {"/dev/a": fake}, az1=off)
    assert result.passed and not result.card and result.ap_key == "" and fake.in_force == "bymyself2345"
    assert "wifi: off in the kit, no network key and no card" in result.checks


def test_the_host_makes_keys_from_the_firmwares_alphabet():
    keys = {provision.new_ap_key() for _ in range(50)}
    assert len(keys) == 50 and all(len(key) == 12 and not set(key) & set("lI1oO0") for key in keys)
