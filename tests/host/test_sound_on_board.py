"""The engine's sound as a listener hears it from a virtual board's I2S amplifier (`gullwing sim --audio`).

One board, one scripted session over the serial protocol, as a user drives it: deploy, `events on`, the engine
started, idling, held at a steady ~3,000 and ~6,000 rpm and just below the limiter (each reached with a blip,
part throttle settles slowly), held on the limiter, a lift with boost (the blow-off valve), stopped. `status` is
polled all along; events and statuses are stamped on the board's clock, which is the WAV's (sample k plays at
k / rate s), from a reading of `time.ticks_us()` at the REPL after Ctrl-C at the end (the board's clock follows
the host's: one reading places every host moment). Then each test listens to its stretch of the recording.

A second board, the same DevKitC without the three i2s lines, shows the buzzer voice is unchanged.
"""

import json
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from host_tools import BOARDS_DIR, audio, deploy
from host_tools.link import Link
from tests.host.virtual import SimProcess, Wire, pwm_rows

sys.path[:0] = [str(Path(__file__).resolve().parents[2] / d) for d in ("firmware", "host_tools/sim")]
from gullwing.sound import BOV_MS, BOV_STEP, MAX_STEP  # noqa: E402

FIRMWARE_DIR = Path(__file__).resolve().parents[2] / "firmware"
POLL_S = 0.1
STRETCH_S = 1.0  # the last second of a step is measured
STEADY = 0.02  # rpm moving less than this share of its mean over a stretch is steady
NEAR = 0.03  # a repetition within 3 % of rpm / 40
LIMIT_RPM = 9000
# (name, requests, seconds held): a blip takes the revs near the part throttle's balance at once
SCRIPT = (
    ("before", (), 0.6),
    ("idle", ("engine start",), 3.0),
    ("3000", ("throttle 28", "blip 300"), 2.5),
    ("6000", ("throttle 58", "blip 330"), 2.5),
    ("below the limiter", ("throttle 85", "blip 350"), 2.5),
    ("limiter", ("throttle 100",), 2.5),
    ("lift", ("throttle 0",), 2.0),
    ("stop", ("engine stop",), 1.5),
)
STEADY_RPM = {"idle": 950, "3000": 3000, "6000": 6000, "below the limiter": 8800}
DEVKITC = BOARDS_DIR / "esp32-devkitc.toml"
BUZZER_GPIO = 23  # boards/esp32-devkitc.toml
HARMONIC = 16  # the buzzer's tone: this multiple of the firing frequency (voice.py's default)


@dataclass
class Session:
    wav: audio.Recording
    steps: dict = field(default_factory=dict)  # name -> (start, end) on the board's clock, s
    statuses: list = field(default_factory=list)  # (t, status)
    events: list = field(default_factory=list)  # (t, name, data)
    underruns: int = -1  # simboard.board.i2s_underruns at the end
    trace: Path | None = None

    def stretch(self, step, seconds=STRETCH_S):
        """(start, end) of the last `seconds` of a step."""
        end = self.steps[step][1]
        return end - seconds, end

    def sound(self, start, end=None):
        return self.wav.between(start, end)

    def engine(self, start, end):
        return [s["engine"] for t, s in self.statuses if start <= t < end]

    def event_times(self, name, start=0.0, end=float("inf")):
        return [(t, data) for t, n, data in self.events if n == name and start <= t < end]


def drive(folder, board_file=None, firmware_dir=FIRMWARE_DIR, script=SCRIPT):
    """Run `script` on a fresh virtual board (the DevKitC, or `board_file`) recording its amplifier."""
    folder.mkdir(parents=True, exist_ok=True)
    args = ("--board", str(board_file)) if board_file else ()
    sim = SimProcess(folder / "flash", *args, trace=folder / "trace.csv", audio=folder / "sound.wav")
    try:
        deploy.deploy(port=sim.port, board=board_file, firmware_dir=firmware_dir, progress=False)
        host = {"steps": {}, "statuses": [], "events": []}

        def heard(line):
            if line.startswith("evt "):
                _, name, data = line.split(" ", 2)
                host["events"].append((time.monotonic(), name, json.loads(data)))

        with Link(sim.port, on_line=heard) as link:
            link.request("events on")
            for name, requests, seconds in script:
                start = time.monotonic()
                for line in requests:
                    reply = link.request(line)
                    assert reply.ok, line + ": " + reply.line
                end = start + seconds
                while time.monotonic() < end:
                    at = time.monotonic()
                    host["statuses"].append(((at + time.monotonic()) / 2, link.request("status").data))
                    link.listen(min(POLL_S, max(0.0, end - time.monotonic())))
                host["steps"][name] = (start, time.monotonic())
        offset, underruns = _board_clock(sim.port)
    finally:
        sim.stop()
    return Session(
        wav=audio.read_wav(folder / "sound.wav"),
        steps={name: (a + offset, b + offset) for name, (a, b) in host["steps"].items()},
        statuses=[(t + offset, s) for t, s in host["statuses"]],
        events=[(t + offset, n, d) for t, n, d in host["events"]],
        underruns=underruns, trace=folder / "trace.csv")


def _board_clock(port):
    """(board's clock minus the host's, s; simboard.board.i2s_underruns), read at the REPL after Ctrl-C."""
    wire = Wire(port)
    try:
        wire.send(b"\x03")
        wire.expect(">>> ", 5)
        wire.send(b"import time, simboard\r")
        wire.expect(">>> ", 5)
        wire.serial.timeout = 0.002  # the reply read the moment it comes
        asked = time.monotonic()
        wire.send(b"print('clock', time.ticks_us(), simboard.board.i2s_underruns)\r")
        seen = wire.expect(">>> ", 5).decode()
        answered = time.monotonic()
    finally:
        wire.close()
    found = re.search(r"clock (\d+) (\d+)", seen)
    assert found, seen
    assert answered - asked < 0.02, "the clock's reading took " + str(answered - asked) + " s"
    return int(found[1]) / 1e6 - (asked + answered) / 2, int(found[2])


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    return drive(tmp_path_factory.mktemp("amplifier"))


def _steady_rpm(session, step):
    rpms = [e["rpm"] for e in session.engine(*session.stretch(step))]
    assert len(rpms) >= 5, rpms
    mean = float(np.mean(rpms))
    assert max(rpms) - min(rpms) <= STEADY * mean, (step, "not steady", rpms)
    return mean


@pytest.mark.parametrize("step", list(STEADY_RPM))
def test_the_sound_repeats_at_the_firing_frequency(session, step):
    rpm = _steady_rpm(session, step)
    target = STEADY_RPM[step]
    assert abs(rpm - target) <= 0.1 * target and rpm < LIMIT_RPM, (step, rpm)
    stretch = session.sound(*session.stretch(step))
    measured = audio.repetition_hz(stretch, session.wav.rate), audio.fundamental_hz(stretch, session.wav.rate)
    for hz in measured:
        assert abs(hz - rpm / 40) <= NEAR * rpm / 40, (step, rpm / 40, measured)


def test_held_on_the_limiter_the_sound_stutters_at_the_limiters_rate(session):
    start, end = session.steps["limiter"]
    told = session.event_times("limiter", start, end + 0.1)
    assert len(told) >= 3, told  # one line a second while it bounces
    (first_t, first), (last_t, last) = told[0], told[-1]
    cuts = last["hits"] - first["hits"]
    cut_hz = cuts / (last_t - first_t)
    assert 10 <= cut_hz <= 25, told  # the engine's fuel cuts (13-14 a second: docs/engine.md)
    stretch = session.sound(first_t, last_t)
    heard = audio.dips(stretch, session.wav.rate, 0.025)
    assert abs(len(heard) - cuts) <= 1, (len(heard), cuts)
    assert audio.dip_rate_hz(stretch, session.wav.rate, 0.025) == pytest.approx(cut_hz, rel=0.1)


def test_a_blow_off_raises_the_energy_above_2_khz_within_50_ms(session):
    vented = session.event_times("bov", *session.steps["lift"])
    assert len(vented) == 1, vented
    at, data = vented[0]
    assert data["boost"] > 50, data  # lifted with boost
    rate = session.wav.rate
    before = audio.energy_above(session.sound(at - 0.3, at - 0.05), rate, 2000)  # on the limiter, whistling
    full_load = audio.rms(session.sound(*session.stretch("limiter"))) ** 2
    # the first 5 ms whose hiss above 2 kHz is three times what the limiter and its whistle made there, and
    # within 10 dB of the whole sound at full load: heard over the engine
    onset = next((ms for ms in range(0, 200, 5)
                  if audio.energy_above(session.sound(at + ms / 1000, at + (ms + 5) / 1000), rate, 2000)
                  > max(3 * before, 0.1 * full_load)), None)
    # (the hiss starts within 50 ms: the event is heard on the host after the board said it, and the amplifier
    # is two DMA buffers of 16 ms behind the model; a machine busy with other boards adds its own delay)
    assert onset is not None and onset <= 50, (onset, before, full_load)


def test_the_whistle_rises_with_boost(session):
    # the steady 6,000 rpm, then the turbo spooling up at 85 % (its lag), then full boost below the limiter
    start, end = session.steps["below the limiter"]
    stretches = [session.stretch("6000", 0.5), (start + 0.3, start + 0.6), (start + 0.8, start + 1.1),
                 session.stretch("below the limiter", 0.5)]
    heard = []
    for a, b in stretches:
        boost = float(np.mean([e["boost"] for e in session.engine(a, b)]))
        heard.append((boost, audio.whistle_hz(session.sound(a, b), session.wav.rate, 1500, 6000)))
    boosts, pitches = [b for b, _ in heard], [p for _, p in heard]
    assert all(later > earlier + 3 for earlier, later in zip(boosts, boosts[1:], strict=False)), heard
    assert all(later > earlier + 100 for earlier, later in zip(pitches, pitches[1:], strict=False)), heard


def test_full_load_is_louder_than_idle(session):
    idle = audio.rms(session.sound(*session.stretch("idle")))
    full = audio.rms(session.sound(*session.stretch("limiter")))
    assert full > 2 * idle, (idle, full)  # 6 dB and more


def test_no_click_larger_than_the_synthesizers_bound(session):
    """No sample-to-sample jump past sound.py's MAX_STEP (16-bit counts) at each state change, nor anywhere; while
    the valve vents its noise may add BOV_STEP."""
    rate = session.wav.rate
    (vented, _), = session.event_times("bov")
    venting = (vented - 0.05, vented + BOV_MS / 1000 + 0.1)  # the hiss plays up to ~50 ms after the event
    for name, (start, _) in session.steps.items():
        bound = MAX_STEP + (BOV_STEP if name == "lift" else 0)
        jump = audio.largest_jump(session.sound(start - 0.02, start + 0.3), rate)
        assert jump.size * audio.FULL_SCALE <= bound, (name, jump, bound)
    samples = session.wav.samples
    steps = np.abs(np.diff(samples)) * audio.FULL_SCALE
    t = np.arange(1, len(samples)) / rate
    outside = (t < venting[0]) | (t > venting[1])
    assert steps[outside].max() <= MAX_STEP, steps[outside].max()
    assert steps.max() <= MAX_STEP + BOV_STEP, steps.max()


def _sounding(session):
    """(start, end) of the engine's sound: engine start to the engine being off."""
    (started, _), = [(t, d) for t, d in session.event_times("engine") if d["state"] == "cranking"]
    (off, _), = [(t, d) for t, d in session.event_times("engine") if d["state"] == "off"]
    return session.steps["idle"][0], started, off


def test_no_underrun_while_the_engine_sounds(session):
    requested, _, off = _sounding(session)
    first = requested + np.flatnonzero(session.sound(requested, off))[0] / session.wav.rate
    assert audio.silences(session.sound(first, off), session.wav.rate) == []  # no 10 ms of nothing
    assert session.underruns == 0


def test_silent_before_the_engine_starts_and_after_it_stops(session):
    requested, _, off = _sounding(session)
    rate = session.wav.rate
    assert audio.silent(session.sound(0, requested))
    first = np.flatnonzero(session.sound(requested, requested + 1.0))
    assert len(first) and first[0] / rate < 0.1, "the starter is heard within 100 ms of `engine start`"
    assert audio.silent(session.sound(off + 0.5))
    assert session.wav.duration_s > off + 1.0  # the recording runs on, silent, to the board's stop


def test_a_board_without_an_amplifier_keeps_its_buzzer(session, tmp_path):
    board_file = tmp_path / DEVKITC.name  # the same board, its amplifier left out
    board_file.write_text("".join(line for line in DEVKITC.read_text().splitlines(keepends=True)
                                  if not line.startswith("i2s_")))
    plain = drive(tmp_path / "buzzer", board_file, script=SCRIPT[:2])
    idle = plain.engine(*plain.stretch("idle"))
    amplified = session.engine(*session.stretch("idle"))
    assert idle and amplified
    assert {tuple(sorted(e)) for e in idle} == {tuple(sorted(e)) for e in amplified}  # the same engine fields
    assert all(e["state"] == "running" and abs(e["rpm"] - 950) <= 50 for e in idle), idle
    _, last = plain.statuses[-1]
    outputs = last["outputs"]
    assert "sound" not in outputs
    assert abs(outputs["buzzer_hz"] - HARMONIC * last["engine"]["rpm"] / 40) <= 0.05 * outputs["buzzer_hz"], last
    buzzer = [(t, duty) for t, duty in pwm_rows(plain.trace, BUZZER_GPIO) if duty]
    assert buzzer and buzzer[0][0] / 1e6 >= plain.steps["idle"][0], "the buzzer sounds once the engine starts"
    assert audio.silent(plain.wav.samples)  # no amplifier: nothing played
    assert not [row for row in pwm_rows(session.trace, BUZZER_GPIO) if row[1]], "with the amplifier, no buzzer"
