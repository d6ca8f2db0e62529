"""Kits and provisioning: many virtual boards at once, a failure isolated, a rerun doing only the rest."""

import json
import signal
import threading
import time

import pytest

from host_tools import kit, provision
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
        outcome = {}
        run = threading.Thread(target=lambda: outcome.update(
            zip(("results", "report"), provision.provision([s.port for s in sims], az1, reports=tmp_path / "rep",
                                                           live=False), strict=True)))
        run.start()
        time.sleep(2.5)
        sims[1].stop(signal.SIGKILL)  # the cable of one board is pulled mid-run
        run.join(120)
        results = {r.port: r for r in outcome["results"]}
        assert results[sims[0].port].passed and results[sims[2].port].passed
        assert not results[sims[1].port].passed and results[sims[1].port].error
        report = json.loads(outcome["report"].read_text())
        assert [b["passed"] for b in report["boards"]] == [True, False, True]
        assert "FAILED" in outcome["report"].with_suffix(".txt").read_text()

        sims[1] = SimProcess(tmp_path / "board1")  # plugged back in
        results, _ = provision.provision([s.port for s in sims], az1, reports=tmp_path / "rep", live=False)
        outcome = [(r.passed, r.skipped) for r in results]
        assert outcome == [(True, True), (True, False), (True, True)], [r.error for r in results]
    finally:
        for sim in sims:
            sim.stop()


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


def test_with_an_image_every_board_is_flashed_before_its_deploy(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(provision.flash, "flash", lambda port, image, board: calls.append(("flash", port, image)))
    monkeypatch.setattr(provision.deploy, "deploy", lambda port, kit, progress: calls.append(("deploy", port)))

    class Refusing:  # the self-test's board: it answers nothing
        def __init__(self, port, timeout):
            raise provision.errors.BoardNotAnswering("no reply")

    monkeypatch.setattr(provision, "Link", Refusing)
    results, _ = provision.provision(["/dev/a", "/dev/b"], kit.load("az1-1to8"), firmware="mp.bin",
                                     reports=tmp_path, live=False)
    for port in ("/dev/a", "/dev/b"):
        assert calls.index(("flash", port, "mp.bin")) < calls.index(("deploy", port))
    assert all(r.step == "version" and "no reply" in r.error for r in results)
