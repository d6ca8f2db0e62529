"""`make demo`: the AZ-1 showroom on a virtual board, no hardware needed.

A virtual ESP32-DevKitC starts, gullwing is deployed to it, and a show runs over the serial protocol:
the doors open and close together, staggered, and with a reversal mid-travel; the engine starts,
idles, takes two blips, pulls to the rev limiter, blows off on the lift and stops. Every request, its
whole reply and every event the board sends are printed as they happen, stamped with the time on the
trace's axis. The board's output trace, the engine's rpm and boost (read with `status` as the show
runs) and the show's phases are plotted to out/demo/showroom.png.

When the virtual board can record its I2S amplifier (VirtualBoard's AUDIO_KEYWORD, as `gullwing sim --audio`),
it writes out/demo/showroom.wav from power-on, and its spectrogram, with the rpm drawn over it, goes to
out/demo/showroom-spectrogram.png. A board that played nothing writes no WAV and the demo draws no spectrogram.
"""

import argparse
import csv
import inspect
import shutil
import time
from pathlib import Path

from rich.console import Console

from host_tools import ROOT, audio, deploy, plot
from host_tools.link import Link
from host_tools.virtual_board import VirtualBoard

OUT = ROOT / "out" / "demo"
POLL_S = 0.1
TELEMETRY_HEADER = plot.COLUMNS + ("label",)  # a phase's name goes in `label`
EVENT_PHASES = {"limiter": "limiter"}  # events whose first arrival marks a phase
AUDIO_KEYWORD = "audio_path"  # VirtualBoard's keyword for the WAV of what the amplifier plays, where it has one


class Show:
    """The show's steps; `clock()` gives seconds on the trace's time axis, `telemetry` a csv.writer."""

    def __init__(self, link, clock, telemetry, console):
        self.link = link
        self.clock = clock
        self.telemetry = telemetry
        self.console = console
        self._marked = set()

    def _print(self, text, style=None):
        # whole lines: no markup read into replies' brackets, no wrapping or cutting at the terminal's width
        self.console.print(f"{self.clock():7.2f}  " + text, style=style, markup=False, highlight=False,
                           soft_wrap=True)

    def heard(self, line):
        """A line the board sent unasked (an event, a boot line), printed as it arrives (Link's on_line)."""
        self._print(line, style="dim")
        name = line.split(" ", 2)[1] if line.startswith("evt ") and " " in line else ""
        if name in EVENT_PHASES and name not in self._marked:
            self._marked.add(name)
            self._mark(EVENT_PHASES[name])

    def phase(self, name, heading):
        """A new phase of the show: a heading here, a mark on the plot."""
        self._print(heading, style="bold")
        self._mark(name)

    def _mark(self, name):
        self.telemetry.writerow((int(self.clock() * 1_000_000), -1, 0, 0, plot.PHASE, 0, name))

    def do(self, line):
        self._print("> " + line)
        reply = self.link.request(line)
        self._print("< " + reply.line)
        if not reply.ok:
            raise SystemExit("the board refused `" + line + "`: " + reply.line)
        return reply

    def wait(self, seconds):
        """Let the show run, recording rpm and boost as the trace's telemetry; events print as they come."""
        end = self.clock() + seconds
        while self.clock() < end:
            engine = self.link.request("status").data["engine"]
            t_us = int(self.clock() * 1_000_000)
            self.telemetry.writerow((t_us, -1, 0, 0, "rpm", engine["rpm"], ""))
            self.telemetry.writerow((t_us, -1, 0, 0, "boost", engine["boost"], ""))
            self.link.listen(POLL_S)

    def doors(self):
        self.phase("doors open", "Doors together: open in 1.5 s, close in 2 s")
        self.do("door both open 1500")
        self.wait(1.8)
        self.phase("doors close", "Closing together")
        self.do("door both close 2000")
        self.wait(3.3)
        self.phase("staggered", "Doors staggered: left first, the right one 0.4 s behind")
        self.do("door left open 1500")
        self.wait(0.4)
        self.do("door right open 1500")
        self.wait(1.6)
        self.phase("reversal", "Closing, then opening again mid-travel: no jump in position or speed")
        self.do("door both close 2000")
        self.wait(0.8)
        self.do("door both open 1200")
        self.wait(1.6)
        self.phase("doors close", "Closing at the default speed")
        self.do("door both close")
        self.wait(3.5)

    def engine(self):
        self.phase("engine start", "Engine: start and idle")
        self.do("engine start")
        self.wait(2.5)
        self.phase("blips", "Two blips of the throttle")
        for _ in range(2):
            self.do("blip 250")
            self.wait(1.3)
        self.phase("full throttle", "Full throttle: up to the rev limiter")
        self.do("throttle 100")
        self.wait(2.5)
        self.phase("lift, blow-off", "Lift: the blow-off valve vents, back to idle")
        self.do("throttle 0")
        self.wait(1.5)
        self.phase("doors at idle", "The doors open and close with the engine idling")
        self.do("door both open 1500")
        self.wait(2.0)
        self.do("door both close 2000")
        self.wait(2.5)
        self.phase("engine stop", "Engine stop")
        self.do("engine stop")
        self.wait(1.5)


def run(out=OUT, console=None):
    console = console or Console()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    trace = out / "trace.csv"
    telemetry_path = out / "telemetry.csv"
    sound = out / "showroom.wav"
    with VirtualBoard(flash_dir=out / "flash", trace_path=trace, **recording(sound)) as board:
        console.print("virtual board on " + board.port)
        time.sleep(0.3)
        console.print(deploy.deploy(port=board.port, console=console).line(), soft_wrap=True)
        with open(telemetry_path, "w", newline="") as telemetry_file:
            telemetry = csv.writer(telemetry_file, lineterminator="\n")
            telemetry.writerow(TELEMETRY_HEADER)
            console.print("   time  > request  < reply  evt: an event   (time: seconds on the plot's axis)")
            with Link(board.port) as link:
                show = Show(link, lambda: time.monotonic() - board.started_at, telemetry, console)
                link.on_line = show.heard  # events print the moment they arrive
                show.do("events on")
                show.doors()
                show.engine()
    picture = plot.plot([trace, telemetry_path], out / "showroom.png")
    console.print(f"trace: {trace}\ntelemetry and phases: {telemetry_path}\nplot:  {picture}")
    if sound.exists() and len(audio.read_wav(sound).samples):
        spectrogram = plot.plot([sound, telemetry_path], out / "showroom-spectrogram.png")
        console.print(f"sound: {sound}\nspectrogram: {spectrogram}")
    return picture


def recording(sound):
    """VirtualBoard's keywords to record the amplifier to `sound`: none while the virtual board cannot."""
    return {AUDIO_KEYWORD: sound} if AUDIO_KEYWORD in inspect.signature(VirtualBoard).parameters else {}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m host_tools.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="folder for the trace and the plot")
    run(parser.parse_args(argv).out)


if __name__ == "__main__":
    main()
