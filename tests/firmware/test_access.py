"""Who may work the model from its page: the PIN asked once per session, wrong guesses slowed down over
all clients, at most 8 sessions, and no control at all on a home network until a PIN is set."""

from gullwing.access import MAX_SESSIONS, Access


class _Wifi:  # what wifi.Wifi says runs now
    def __init__(self, running):
        self.running = running


def _access(pin="2468", running="sta"):
    return Access(pin, _Wifi(running))


def test_the_right_pin_opens_a_session_its_cookie_keeps_and_nothing_else_does():
    access = _access()
    token, wait = access.login("2468", 0)
    assert wait == 0 and len(token) == 32 and int(token, 16) >= 0  # 16 random bytes as hex
    assert access.session(token, 10)
    assert access.allowed(token, 10)
    assert not access.session(token[:-1] + ("0" if token[-1] != "0" else "1"), 10)
    assert not access.session("", 10) and not access.allowed(None, 10)
    other, _ = access.login("2468", 20)
    assert other != token and access.session(token, 30) and access.session(other, 30)


def test_a_wrong_pin_opens_nothing_and_a_near_miss_is_no_better():
    access = _access()
    for pin in ("2469", "246", "24680", "", b"2468\x00", None):
        assert access.login(pin, 0) == (None, 0), pin
        access.wrong = 0  # only what each guess opens is looked at here
    assert access.login(b"2468", 0)[0] is not None  # the page's body may come as bytes


def test_after_five_wrong_pins_each_further_try_waits_longer_and_a_try_inside_the_wait_is_not_checked():
    access = _access()
    now = 0
    for _ in range(5):
        assert access.login("0000", now) == (None, 0)  # the first five wrong ones cost nothing
    waits = []
    for _ in range(7):
        wait = access.wait_s(now)
        waits.append(wait)
        assert access.login("0000", now + wait * 1000 - 1) == (None, 1)  # a millisecond early: not checked
        now += wait * 1000
        assert access.login("0000", now) == (None, 0)  # checked, and wrong
    assert waits == [1, 2, 4, 8, 16, 32, 60]
    assert access.wait_s(now) == 60
    # inside the wait even the right PIN is refused unchecked, with what is left of it
    assert access.login("2468", now + 59_000) == (None, 1)
    assert access.login("2468", now + 30_000) == (None, 30)
    assert access.wrong == 12  # the tries refused unchecked are not counted
    token, wait = access.login("2468", now + 60_000)
    assert token is not None and wait == 0
    assert access.login("0000", now + 60_000) == (None, 0)  # the owner's login starts the count again


def test_the_wait_holds_across_the_tick_counter_s_wrap():
    access = _access()
    near_wrap = (1 << 30) - 500
    for _ in range(5):
        access.login("1111", near_wrap)
    assert access.wait_s(near_wrap) == 1
    assert access.login("2468", (near_wrap + 400) & ((1 << 30) - 1)) == (None, 1)
    assert access.login("2468", (near_wrap + 1000) & ((1 << 30) - 1))[0] is not None


def test_at_most_eight_sessions_the_oldest_dropped():
    access = _access()
    tokens = [access.login("2468", i)[0] for i in range(MAX_SESSIONS + 1)]
    assert MAX_SESSIONS == 8
    assert not access.session(tokens[0], 100)
    assert all(access.session(token, 100) for token in tokens[1:])


def test_without_a_pin_the_page_works_only_on_the_model_s_own_network():
    own = _access("", "ap")
    assert own.open_without_pin() and not own.needs_pin() and own.refusal() is None
    assert own.allowed(None, 0)
    home = _access("", "sta")
    assert not home.open_without_pin()
    assert home.refusal() == "set a PIN over USB: config set web.pin 1234"
    assert home.login("", 0) == (None, 0) and home.login("1234", 0) == (None, 0)
    assert not home.allowed(None, 0)
    assert not Access("", None).allowed(None, 0)  # no WiFi: nothing is open
    with_pin = _access("2468", "ap")  # a PIN set counts on the model's own network too
    assert with_pin.needs_pin() and not with_pin.open_without_pin() and not with_pin.allowed(None, 0)
