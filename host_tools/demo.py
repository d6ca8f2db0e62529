"""`make demo`: the AZ-1 showroom on a virtual board, no hardware needed.

A virtual ESP32-DevKitC starts, gullwing is deployed to it, and a show runs over the serial protocol:
the doors open and close together, staggered, and with a reversal mid-travel; the engine starts,
idles, takes two blips, pulls to the rev limiter, blows off on the lift and stops. The board's output
trace and the engine's rpm and boost (read with `status` as the show runs) are plotted to
out/demo/showroom.png.
"""

import argparse
import shutil
import time
from pathlib import Path

from rich.console import Console

from host_tools import ROOT, deploy, plot
from host_tools.link import Link
from host_tools.virtual_board import VirtualBoard

OUT = ROOT / "out" / "demo"
POLL_S = 0.1


class Show:
    def __init__(self, link, board, telemetry, console):
        self.link = link
        self.board = board
        self.telemetry = telemetry
        self.console = console

    def say(self, text):
        self.console.print("[bold]" + text + "[/]")

    def do(self, line):
        reply = self.link.request(line)
        self.console.print("  > " + line + "\n  < " + reply.line[:100])
        if not reply.ok:
            raise SystemExit("the board refused `" + line + "`: " + reply.line)
        return reply

    def wait(self, seconds):
        """Let the show run, recording rpm and boost as the trace's telemetry."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            reply = self.link.request("status")
            t_us = int((time.monotonic() - self.board.started_at) * 1_000_000)
            engine = reply.data["engine"]
            self.telemetry.write(f"{t_us},-1,0,0,rpm,{engine['rpm']}\n{t_us},-1,0,0,boost,{engine['boost']}\n")
            time.sleep(POLL_S)

    def doors(self):
        self.say("Doors together: open in 1.5 s, close in 2 s")
        self.do("door both open 1500")
        self.wait(1.8)
        self.do("door both close 2000")
        self.wait(3.3)
        self.say("Doors staggered: left first, the right one 0.4 s behind")
        self.do("door left open 1500")
        self.wait(0.4)
        self.do("door right open 1500")
        self.wait(1.6)
        self.say("Closing, then opening again mid-travel: no jump in position or speed")
        self.do("door both close 2000")
        self.wait(0.8)
        self.do("door both open 1200")
        self.wait(1.6)
        self.do("door both close")
        self.wait(3.5)

    def engine(self):
        self.say("Engine: start, idle, two blips, a pull to the limiter, lift with blow-off, stop")
        self.do("engine start")
        self.wait(2.5)
        for _ in range(2):
            self.do("blip 250")
            self.wait(1.3)
        self.do("throttle 100")
        self.wait(2.5)
        self.do("throttle 0")
        self.wait(1.5)
        self.do("door both open 1500")
        self.wait(2.0)
        self.do("door both close 2000")
        self.wait(2.5)
        self.do("engine stop")
        self.wait(1.5)


def run(out=OUT, console=None):
    console = console or Console()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    trace = out / "trace.csv"
    telemetry_path = out / "telemetry.csv"
    with VirtualBoard(flash_dir=out / "flash", trace_path=trace) as board:
        console.print("virtual board on " + board.port)
        time.sleep(0.3)
        console.print(deploy.deploy(port=board.port, console=console).line())
        with Link(board.port) as link, open(telemetry_path, "w") as telemetry:
            telemetry.write("t_us,pin,freq_hz,duty_ns,kind,level\n")
            show = Show(link, board, telemetry, console)
            show.do("events on")
            show.doors()
            show.engine()
            for line in link.events:
                console.print("  " + line, style="dim")
    picture = plot.plot([trace, telemetry_path], out / "showroom.png")
    console.print(f"trace: {trace}\nplot:  {picture}")
    return picture


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m host_tools.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="folder for the trace and the plot")
    run(parser.parse_args(argv).out)


if __name__ == "__main__":
    main()
