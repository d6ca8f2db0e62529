"""`make demo`'s printing: whole replies, events the moment they arrive, in time order; phases for the plot."""

import csv
import io
import time

from rich.console import Console

from host_tools import demo, plot
from host_tools.link import Link, Reply

LONG_REPLY = ('ok {"left":{"angle":0,"target":90,"state":"opening"},'
              '"right":{"angle":0,"target":90,"state":"opening"}}')  # 106 characters
STATUS = Reply(True, "ok {...}", {"engine": {"rpm": 950, "boost": 3}})


class ScriptedBoard:
    """A Link stand-in on a clock of its own: replies at once, sends `events` ((seconds, line)) when due."""

    def __init__(self, replies, events):
        self.now = 0.0
        self.replies = replies
        self.events = list(events)
        self.on_line = None

    def _advance(self, seconds):
        until = self.now + seconds
        while self.events and self.events[0][0] <= until:
            self.now, line = self.events.pop(0)
            self.on_line(line)
        self.now = until

    def request(self, line):
        self._advance(0.002)
        return STATUS if line == "status" else self.replies[line]

    def listen(self, seconds):
        self._advance(seconds)


def show_on(link, width=40):
    out = io.StringIO()
    telemetry = io.StringIO()
    show = demo.Show(link, lambda: link.now, csv.writer(telemetry, lineterminator="\n"),
                     Console(file=out, width=width, color_system=None))
    link.on_line = show.heard
    return show, out, telemetry


def test_replies_print_whole_on_one_line_whatever_the_terminals_width():
    link = ScriptedBoard({"door both open 1500": Reply(True, LONG_REPLY)}, [])
    show, out, _ = show_on(link, width=40)
    show.do("door both open 1500")
    assert out.getvalue().splitlines() == ["   0.00  > door both open 1500", "   0.00  < " + LONG_REPLY]


def test_events_print_as_they_arrive_between_the_requests_in_time_order():
    link = ScriptedBoard({"door both open 1000": Reply(True, LONG_REPLY), "engine start": Reply(True, "ok")},
                         [(0.55, 'evt door {"side":"left","state":"open","angle":90}'),
                          (1.35, 'evt engine {"state":"running","rpm":950}'), (1.9, "gullwing 0.1.0")])
    show, out, _ = show_on(link)
    show.do("door both open 1000")
    show.wait(1.0)
    show.do("engine start")
    show.wait(1.0)
    lines = out.getvalue().splitlines()
    assert [line[9:] for line in lines] == [
        "> door both open 1000",
        "< " + LONG_REPLY,
        'evt door {"side":"left","state":"open","angle":90}',
        "> engine start",
        "< ok",
        'evt engine {"state":"running","rpm":950}',
        "gullwing 0.1.0",  # whatever else the board says, when it says it
    ]
    stamps = [float(line[:7]) for line in lines]
    assert stamps == sorted(stamps) and [stamps[i] for i in (2, 5, 6)] == [0.55, 1.35, 1.9]


def test_phases_and_the_first_limiter_hit_are_marked_for_the_plot(tmp_path):
    link = ScriptedBoard({"throttle 100": Reply(True, "ok")},
                         [(0.5, 'evt limiter {"rpm":8914,"hits":1}'), (0.7, 'evt limiter {"rpm":8946,"hits":15}'),
                          (0.9, 'evt bov {"boost":73,"rpm":8714}')])
    show, out, telemetry = show_on(link)
    show.phase("full throttle", "Full throttle: up to the rev limiter")
    show.do("throttle 100")
    show.wait(1.0)
    assert out.getvalue().splitlines()[0] == "   0.00  Full throttle: up to the rev limiter"
    path = tmp_path / "telemetry.csv"
    path.write_text(",".join(demo.TELEMETRY_HEADER) + "\n" + telemetry.getvalue())
    rows = plot.read_trace(path)
    marks = plot.phases(rows, plot.trace_window(rows))
    assert marks == [(0.0, "full throttle"), (0.5, "limiter")]  # the first hit only
    assert {r.kind for r in rows} == {"phase", "rpm", "boost"}
    assert [r.level for r in rows if r.kind == "rpm"][:2] == [950, 950]


def test_a_show_step_on_a_virtual_board_prints_its_door_event_after_the_reply(deployed):
    out = io.StringIO()
    telemetry = io.StringIO()
    started = time.monotonic()
    with Link(deployed.port) as link:
        show = demo.Show(link, lambda: time.monotonic() - started, csv.writer(telemetry), Console(file=out, width=40))
        link.on_line = show.heard
        show.do("events on")
        show.do("door both open 300")
        show.wait(1.0)
    lines = [line[9:] for line in out.getvalue().splitlines()]
    reply = next(i for i, line in enumerate(lines) if line.startswith('< ok {"left":'))
    assert lines[reply - 1] == "> door both open 300"
    assert lines[reply].endswith('"state":"opening"}}')  # whole, however narrow the terminal
    opened = [i for i, line in enumerate(lines) if line.startswith("evt door ") and '"state":"open"' in line]
    assert len(opened) == 2 and opened[0] > reply
    stamps = [float(line[:7]) for line in out.getvalue().splitlines()]
    assert stamps == sorted(stamps)
