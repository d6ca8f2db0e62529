"""The phone page in a real browser: headless Chromium at a phone's viewport opens the page a virtual board
serves, enters the PIN, opens the doors and revs the engine. The screenshot it takes is kept in
out/test-artifacts/ (the path is printed)."""

import shutil
import time
from pathlib import Path

import pytest

from host_tools import ROOT, deploy
from host_tools.link import Link
from tests.host.virtual import SimProcess, pwm_rows, set_pin

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
try:
    import selenium  # noqa: F401
except ImportError:
    selenium = None
HOW = ("no headless Chromium: `apt-get install chromium chromium-driver` and `pip install -e '.[dev]'` "
       "(selenium) run the browser tests; .ci/run installs them")
pytestmark = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER and selenium), reason=HOW)

PIN = "2468"
PHONE = (390, 844)  # CSS pixels of a common phone held upright
LEFT_DOOR, RIGHT_DOOR = 18, 19  # esp32-devkitc's door servos
ARTIFACTS = ROOT / "out" / "test-artifacts"


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM  # Debian's: nothing is downloaded
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--no-first-run", "--user-data-dir=" + str(tmp_path / "chromium")):
        options.add_argument(arg)
    options.add_experimental_option("mobileEmulation", {
        "deviceMetrics": {"width": PHONE[0], "height": PHONE[1], "pixelRatio": 2, "touch": True}})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


@pytest.fixture
def web_board(tmp_path):
    """A virtual board running gullwing with the PIN set over serial and restarted: its page's address."""
    sim = SimProcess(tmp_path / "flash", trace=tmp_path / "trace.csv")
    try:
        deploy.deploy(port=sim.port, progress=False)
        set_pin(sim.port, PIN)
        url = sim.wait_web_url(20)
        assert url, "the firmware did not listen on port 80"
        yield sim, url
    finally:
        sim.stop()


def test_a_phone_unlocks_the_page_opens_the_doors_and_revs_the_engine(browser, web_board, tmp_path):
    sim, url = web_board
    with Link(sim.port) as link:
        shot = drive(browser, url, lambda: link.request("status").data)
    print("screenshot:", shot)
    time.sleep(0.5)
    sim.stop()
    assert link_lost_banner_shows(browser)
    for pin in (LEFT_DOOR, RIGHT_DOOR):
        duties = [duty for _, duty in pwm_rows(sim.trace, pin)]
        assert len(set(duties)) > 10, (pin, duties[:5])  # the servo pulse moved, frame by frame
        assert abs(duties[-1] - duties[0]) > 500_000  # from one end to the other (about 1 ms of pulse)


def link_lost_banner_shows(driver, timeout=5.0):
    from selenium.webdriver.common.by import By

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        banner = driver.find_element(By.ID, "banner")
        if banner.is_displayed() and "lost" in banner.text:
            return True
        time.sleep(0.1)
    return False


def drive(driver, url, serial_status):
    """The user's session on the page at `url`; `serial_status()` is the board's status over serial.
    Returns the screenshot's path."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    def element(name):
        return driver.find_element(By.ID, name)

    def until(what, check, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            value = check()
            if value:
                return value
            assert time.monotonic() < deadline, "timed out waiting until " + what
            time.sleep(0.1)

    def page_rpm():
        return int(element("rpm").text)

    def throttle_to(percent):
        """Drag the throttle slider's thumb as a thumb would, to `percent`."""
        slider = element("throttle")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", slider)  # as a thumb scrolls
        width = slider.size["width"]
        at = int(element("throttle-out").text)
        thumb = 8  # half the thumb: the track's ends lie this far inside the element
        x = lambda p: int((p / 100 - 0.5) * (width - 2 * thumb))  # noqa: E731
        drag = ActionChains(driver).move_to_element_with_offset(slider, x(at), 0).click_and_hold()
        drag.move_by_offset(x(percent) - x(at), 0).release().perform()
        return int(element("throttle-out").text)

    driver.get(url)
    until("the PIN form shows", lambda: element("pin").is_displayed())
    element("pin").send_keys(PIN)
    element("login").click()
    until("the link is up", lambda: "up" in (driver.find_element(By.TAG_NAME, "body").get_attribute("class") or ""))
    assert not element("pin").is_displayed() and not element("banner").is_displayed()

    element("blip").click()  # the engine is off: the board's refusal is shown
    until("the refusal shows", lambda: "not_ready" in element("msg").text)

    element("open-both").click()
    until("the doors open", lambda: element("door-left").text == "opening" or element("door-left").text == "open")
    element("engine-start").click()
    until("the engine runs", lambda: serial_status()["engine"]["state"] == "running", timeout=8)
    idle = until("idle", lambda: page_rpm() if 600 < page_rpm() < 1400 else 0, timeout=8)

    set_to = throttle_to(45)
    assert 30 <= set_to <= 60, set_to
    until("the board takes the throttle", lambda: serial_status()["engine"]["throttle"] == set_to)
    until("the engine revs up", lambda: serial_status()["engine"]["rpm"] > idle + 2000, timeout=8)
    time.sleep(1.5)  # settled
    def shows(on_board):  # the rev counter follows status: within what the engine moves in a few polls
        return lambda: abs(page_rpm() - on_board) <= max(250, on_board // 10)

    for _ in range(5):
        on_board = serial_status()["engine"]["rpm"]
        until("the rev counter shows " + str(on_board), shows(on_board), timeout=2)
        time.sleep(0.3)
    assert element("boost").text.isdigit()
    assert until("the doors are open", lambda: element("door-right").text == "open", timeout=5)

    driver.execute_script("window.scrollTo(0, 0)")  # the gauges and the doors in the picture
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / f"panel-{PHONE[0]}x{PHONE[1]}.png"
    driver.save_screenshot(str(shot))
    assert shot.stat().st_size > 5000

    throttle_to(0)
    until("the board takes the throttle back", lambda: serial_status()["engine"]["throttle"] == 0)
    until("the rev counter falls back to idle", lambda: page_rpm() < 1500, timeout=10)
    assert "door" in element("log").text and "engine" in element("log").text  # events came in
    return Path(shot)

