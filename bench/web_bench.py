"""The live channel under a steady load on a virtual board (110 KB heap, PIN set): one phone sends 20 requests a
second for 60 s (status, throttle, blips, each with an id), two more phones and the serial console listen.
Judged: every request gets its reply, in order; no request is refused as busy; the three phones and serial see
the same events; the control tick allocates nothing meanwhile (`heap` -> `tick_bytes`).

The board's second UART and amplifier are unplugged for the run: the firmware measures the tick with gc.mem_alloc,
and on the virtual board the simulated UART's and I2S's own events land inside the tick (the chip's are C)."""

import statistics
import tempfile
import threading
import time
from pathlib import Path

from host_tools.link import Link
from tests.host import webclient as wc
from tests.host.test_web_on_board import session, start_board

RATE = 20  # requests a second
SECONDS = 60
# no door moves: a move's start attaches its servos (PWM objects made, by design), never a steady tick's work
MIX = ("status", "throttle {t}", "rc", "status", "throttle 0", "heap", "version", "status", "blip", "ping")


def _line(i):
    return "#" + str(i + 1) + " " + MIX[i % len(MIX)].format(t=(i * 7) % 60)


def _read_replies(ws, replies, stop):
    """Every reply line with its arrival time, until `stop` (events go to ws.events)."""
    while not stop.is_set():
        try:
            replies.append((ws.reply_line(timeout=0.5), time.monotonic()))
        except TimeoutError:
            continue
        except (wc.Closed, OSError) as exc:
            replies.append(("closed: " + str(exc), time.monotonic()))
            return


def _listen(ws, seconds):
    """A phone that only watches: its events for `seconds`, pinging every 10 s as the page keeps its channel
    alive (the board closes a live channel that says nothing for 60 s)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        ws.listen(min(10.0, max(0.0, end - time.monotonic())))
        ws.ping()


def run(seconds=SECONDS):
    """{"sent": [(line, sent at)], "replies": [(line, arrived at)], "events": [phone 1, 2, 3, serial], "tick_bytes",
    "dropped"} of one run."""
    with tempfile.TemporaryDirectory() as tmp:
        sim, url = start_board(Path(tmp) / "flash", unplug=True)
        try:
            with Link(sim.port, timeout=10) as link:
                return _load(url, link, seconds)
        finally:
            sim.stop()


def _load(url, link, seconds):
    phones = [wc.WebSocket(url, session(url), timeout=10) for _ in range(3)]
    try:
        for ws in phones:
            ws.request("events on")
        assert link.request("events on").ok and link.request("engine start").ok
        link.listen(4.0)  # cranks, catches
        for ws in phones:
            ws.listen(0.3)  # what came meanwhile, read before the count starts
        for channel in (*phones, link):
            channel.events.clear()
        link.request("heap")  # tick_bytes from here on
        replies, stop = [], threading.Event()
        readers = [threading.Thread(target=_read_replies, args=(phones[0], replies, stop))]
        listeners = [threading.Thread(target=_listen, args=(ws, seconds * 1.5 + 10)) for ws in phones[1:]]
        for reader in readers + listeners:
            reader.start()
        sent = []
        next_at = time.monotonic()
        for i in range(seconds * RATE):
            time.sleep(max(0.0, next_at - time.monotonic()))
            line = _line(i)
            sent.append((line, time.monotonic()))
            phones[0].send(line)
            next_at = max(next_at + 1.0 / RATE, time.monotonic())  # steady: no burst to catch up after a stall
        link.listen(5.0)  # the last replies and events arrive
        for listener in listeners:  # (they listen on past the load: nothing comes while the model idles)
            listener.join()
        stop.set()
        for reader in readers:
            reader.join()
        heap = link.request("heap").data
        status = link.request("status").data
        link.request("engine stop")
        link.request("events off")
        return {"sent": sent, "replies": replies, "events": [ws.events for ws in phones] + [link.events],
                "tick_bytes": heap["tick_bytes"], "dropped": status.get("dropped", 0)}
    finally:
        for ws in phones:
            ws.close()


def summary(result):
    """[(text, ok)] verdicts of a run."""
    sent, replies = result["sent"], result["replies"]
    ids = [line.split(" ", 1)[0] for line, _ in replies]
    want = [line.split(" ", 1)[0] for line, _ in sent]
    busy = sum(1 for line, _ in replies if " err busy" in line)
    arrived = {line.split(" ", 1)[0]: at for line, at in replies}
    trips = sorted((arrived[i] - at) * 1000 for (line, at), i in zip(sent, want, strict=True) if i in arrived)
    p50 = statistics.median(trips) if trips else float("nan")
    p99 = trips[min(len(trips) - 1, int(0.99 * len(trips)))] if trips else float("nan")
    seconds = len(sent) / RATE
    events = [[e for e in channel if not e.startswith("evt config ")] for channel in result["events"]]
    return [
        (f"{len(sent)} requests at {RATE}/s for {seconds:.0f} s over the live channel: {len(replies)} replies, "
         f"every one in order (round trip p50 {p50:.0f} ms, p99 {p99:.0f} ms)", ids == want),
        (f"no request refused as busy ({busy})", busy == 0),
        (f"3 phones and serial saw the same {len(events[3])} events (phones: "
         + ", ".join(str(len(e)) for e in events[:3]) + f"; dropped {result['dropped']})",
         bool(events[3]) and all(e == events[3] for e in events[:3]) and not result["dropped"]),
        (f"the control tick allocated at most {result['tick_bytes']} bytes under the web load (target 0)",
         result["tick_bytes"] == 0),
    ]
