"""`gullwing wifi`: the board's network over USB, its key only when asked."""

import pytest
from click.testing import CliRunner

from host_tools import link
from host_tools.cli import cli


class _Board:
    """A board's answers to the `wifi` verbs (docs/protocol.md)."""

    replies = {"wifi": 'ok {"mode":"ap","ssid":"AZ-1-3F2A","ip":"192.168.4.1","clients":1,"web":true}',
               "wifi password": 'ok {"ssid":"AZ-1-3F2A","password":"h7qk2mxw9rpe"}'}

    def __init__(self, port=None, timeout=3.0):
        self.asked = []

    def request(self, line):
        self.asked.append(line)
        return link._reply(self.replies[line], [], line)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


@pytest.fixture
def board(monkeypatch):
    monkeypatch.setattr(link, "Link", _Board)
    return _Board


def test_wifi_shows_the_network_and_the_page_but_the_key_only_when_asked(board):
    shown = CliRunner().invoke(cli, ["wifi", "--port", "/dev/x"])
    assert shown.exit_code == 0, shown.output
    assert shown.output.splitlines() == ["mode: ap (the model's own network)", "network: AZ-1-3F2A",
                                         "page: http://192.168.4.1/", "phones joined: 1"]
    with_key = CliRunner().invoke(cli, ["wifi", "--port", "/dev/x", "--password"])
    assert with_key.exit_code == 0 and "own network: AZ-1-3F2A, password: h7qk2mxw9rpe" in with_key.output


def test_wifi_on_a_home_network_it_could_not_join_says_so(board, monkeypatch):
    monkeypatch.setitem(board.replies, "wifi", 'ok {"mode":"ap","ssid":"AZ-1-3F2A","ip":"192.168.4.1","clients":0,'
                                               '"web":true,"fallback":true}')
    shown = CliRunner().invoke(cli, ["wifi", "--port", "/dev/x"])
    assert "mode: ap (the model's own network), the fallback: the home network was not joined" in shown.output


def test_wifi_answered_with_an_error_prints_it_and_exits_1(board, monkeypatch):
    monkeypatch.setitem(board.replies, "wifi password",
                        "err not_ready the model's own network is not set up: wifi.mode is off")
    result = CliRunner().invoke(cli, ["wifi", "--port", "/dev/x", "--password"])
    assert result.exit_code == 1 and "err not_ready" in result.output and "password:" not in result.output
