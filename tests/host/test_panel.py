"""The phone page as the build stores it: small, self-contained, with the ids the tests and the contract name;
and a page that is missing or damaged on the board costs the page, never the firmware."""

import gzip
import re

from host_tools import FIRMWARE_DIR, build, deploy
from tests.host.test_boot_failures import _status
from tests.host.virtual import SimProcess

PAGE = FIRMWARE_DIR / "gullwing" / "panel.html"
IDS = ("pin", "login", "open-both", "close-both", "open-left", "close-left", "open-right", "close-right", "angle",
       "engine-start", "engine-stop", "throttle", "blip", "rpm", "boost", "door-left", "door-right", "log",
       "banner")


def _built(tmp_path):
    files = build.build(tmp_path)
    return files["gullwing/panel.html.gz"].read_bytes()


def test_the_build_stores_the_page_gzipped_under_30_kb_and_it_unzips_to_the_source(tmp_path):
    stored = _built(tmp_path)
    assert len(stored) < 30 * 1024
    assert gzip.decompress(stored) == PAGE.read_bytes()
    assert _built(tmp_path / "again") == stored  # no timestamp inside: an unchanged page is not sent again
    assert build.check() == []


def test_a_page_over_budget_fails_the_build_check(tmp_path):
    fw = tmp_path / "fw"
    (fw / "gullwing").mkdir(parents=True)
    (fw / "gullwing" / "panel.html").write_bytes(__import__("os").urandom(31 * 1024))  # incompressible
    errors = build.check(fw)
    assert len(errors) == 1 and "firmware/gullwing/panel.html is " in errors[0] and "budget" in errors[0]


def test_the_page_fetches_nothing_from_elsewhere():
    text = PAGE.read_text()
    assert not re.search(r"(?i)\b(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text.replace("http://www.w3.org/2000/svg", ""))
    assert not re.search(r"(?i)<(script|link|img|iframe)[^>]*\b(src|href)=", text)
    assert not re.search(r"(?i)@import|url\(", text)


def test_every_element_the_contract_names_is_on_the_page_once():
    text = PAGE.read_text()
    for name in IDS:
        assert len(re.findall(r'\bid="' + re.escape(name) + '"', text)) == 1, name
    assert re.search(r'id="angle"[^>]*min="0" max="90"', text)
    assert re.search(r'id="throttle"[^>]*min="0" max="100"', text)


def test_the_deploy_sends_the_page_and_a_damaged_or_missing_one_leaves_the_firmware_running(tmp_path):
    sim = SimProcess(tmp_path / "flash", "--heap-kb", "110")
    try:
        deploy.deploy(port=sim.port, progress=False)
        stored = sim.flash / "gullwing" / "panel.html.gz"
        assert gzip.decompress(stored.read_bytes()) == PAGE.read_bytes()
        stored.write_bytes(b"garbage" * 100)
        status = _status(sim)
        assert "safe_mode" not in status and status["doors"] is not None
        stored.unlink()
        status = _status(sim)
        assert "safe_mode" not in status and status["doors"] is not None
        assert deploy.deploy(port=sim.port, progress=False).sent == 1  # the page comes back
        assert gzip.decompress(stored.read_bytes()) == PAGE.read_bytes()
    finally:
        sim.stop()
