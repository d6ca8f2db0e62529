"""The engine's sound (gullwing/sound.py, synth.py): what a listener would notice, on both interpreters.
The spectral checks (repetition frequency, limiter envelope, whistle pitch) are in tests/host/test_sound_spectrum.py."""

import fwtest
import soundrig
from gullwing.sound import BOV_MS, BOV_STEP, MAX_STEP, RATE, Sound
from soundrig import drive, hold, rms, session

EV_BLOWOFF = 2


def _hf(samples):
    # energy of the first difference: weighted to the highs (x4 at 8 kHz, x0.6 at 2 kHz, x0.04 at 500 Hz)
    return sum((samples[i + 1] - samples[i]) ** 2 for i in range(len(samples) - 1))


def test_silent_before_start_and_after_the_engine_stops():
    _, _, samples, _ = drive(lambda e, t: None, 500)
    assert samples and all(x == 0 for x in samples)
    def start_stop(e, t):
        if t == 0:
            e.start()
        elif t == 2500:
            e.stop()
    e, _, samples, _ = drive(start_stop, 4500)
    assert e.state == 0  # off
    assert max(abs(x) for x in samples[RATE:2 * RATE]) > 500  # it ran ...
    assert all(x == 0 for x in samples[-RATE // 2:])  # ... and is silent, exactly, once off


def test_full_load_is_louder_than_idle_and_overrun_is_quiet():
    _, _, idle, _ = drive(hold(0), 3000)
    _, _, full, _ = drive(hold(100, 1000), 3000)
    def overrun(e, t):
        if t == 0:
            e.start()
        elif t == 1000:
            e.throttle(100)
        elif t == 2500:
            e.throttle(0)
    e, _, lift, rpms = drive(overrun, 2800)
    idle_rms, full_rms, overrun_rms = rms(idle[-RATE:]), rms(full[-RATE:]), rms(lift[-RATE // 8:])
    assert full_rms > 4 * idle_rms, (idle_rms, full_rms)
    assert rpms[-1] > 4000 and overrun_rms < full_rms / 4, (rpms[-1], overrun_rms, full_rms)


def test_no_clicks_through_a_whole_session():
    vented = []
    def script(e, t):
        session(e, t)
        if e.take_events() & EV_BLOWOFF:
            vented.append(t)
    worst = [0, 0]  # outside the valve's venting, and during it
    last = [0]
    blocks = [0]
    def check(e, s, buf):
        t = blocks[0] * len(buf) * 500 // RATE
        blocks[0] += 1
        venting = 1 if vented and vented[0] - 50 <= t <= vented[0] + BOV_MS + 100 else 0
        prev = last[0]
        for x in soundrig.samples(buf):
            if abs(x - prev) > worst[venting]:
                worst[venting] = abs(x - prev)
            prev = x
        last[0] = prev
    e, _, _, _ = drive(script, 12_000, on_block=check)
    assert len(vented) == 1 and e.limiter_hits >= 10  # every phase was visited
    assert 0 < worst[0] <= MAX_STEP and worst[1] <= MAX_STEP + BOV_STEP, worst


def test_the_click_bound_follows_from_the_tables():
    from gullwing import sound, synth

    tab = [v - 32768 for v in sound.tables()]
    steepest = 0
    for c in range(3):
        pulse = tab[synth.PULSE + c * synth.PULSE_LEN:synth.PULSE + (c + 1) * synth.PULSE_LEN] + [0]
        steps = [abs(pulse[k + 1] - pulse[k]) for k in range(synth.PULSE_LEN)]
        # its own rise, and the two pulses before it 71 samples apart (the limiter) still ringing
        steepest = max(steepest, max(steps[:70]) + max(steps[70:]) + max(steps[140:]))
    assert steepest <= sound.PULSE_STEEPEST
    sine = tab[:256]
    assert max(abs(sine[(k + 87) & 255] - sine[k]) for k in range(256)) <= sound.SINE_STEEPEST  # 5,400 Hz
    nz, low, prev, worst, peak = 0xACE1, 0, 0, 0, 0
    for i in range(65_535 + 64):  # the generator's whole period, past the filter's settling
        nz = (nz >> 1) ^ 0xB400 if nz & 1 else nz >> 1
        low += (nz - 32768 - low) >> 2
        high = nz - 32768 - low
        if i >= 64:
            worst, peak = max(worst, abs(high - prev)), max(peak, abs(high))
        prev = high
    assert worst <= sound.NOISE_STEEPEST and peak <= sound.NOISE_PEAK


def test_a_blow_off_raises_the_highs_within_50_ms():
    vented = []
    def script(e, t):
        if t == 0:
            e.start()
        elif t == 1000:
            e.throttle(100)
        elif t == 4000:
            e.throttle(0)
        if e.take_events() & EV_BLOWOFF:
            vented.append(t)
    _, _, samples, _ = drive(script, 4300)
    assert vented, "no blow-off"
    at = (vented[0] + 20) * RATE // 1000  # the event is reported at the end of the tick it happened in
    before = _hf(samples[at - 1600:at - 800])  # 50 ms on the limiter, full load: bright
    after = _hf(samples[at:at + 800])  # the 50 ms after the event
    assert after > 1.5 * before, (before, after)


def test_cpython_and_micropython_write_the_same_samples():
    if fwtest.MICROPYTHON:
        return  # the CPython run starts the MicroPython one
    import os
    import subprocess
    from pathlib import Path

    from tests import micropython_harness

    here = Path(__file__).resolve().parent
    env = dict(os.environ, MICROPYPATH=os.pathsep.join([str(here)] + [str(p) for p in micropython_harness.MODULE_PATH]))
    code = "import test_sound\nprint(test_sound.digest())"
    proc = subprocess.run([micropython_harness.micropython_binary(), "-c", code], capture_output=True, text=True,
                          env=env, timeout=300, cwd=str(here))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(digest())


def digest():
    """A hash of every sample of a whole session, at 20 and 40 ms ticks."""
    h = 0
    for tick in (20, 40):
        def mix(e, s, buf):
            nonlocal h
            for b in buf:
                h = (h * 31 + b) & 0x3FFFFFF
        drive(session, 12_000, tick, on_block=mix)
    return h


def test_nothing_allocated_per_block_in_any_phase():
    if not fwtest.MICROPYTHON:
        return  # heap allocation is measured under MicroPython
    import allocprobe
    import micropython

    allocated = [0]  # every byte the blocks allocated, kept or freed again (a frame over 11 words comes
    # from the heap and is freed on return: it fills the heap all the same)
    def measured(e, s, buf):
        before = micropython.mem_total()
        s.render(e, buf)
        allocated[0] += micropython.mem_total() - before
    e, s, _, _ = drive(session, 12_000, on_block=measured)
    assert allocated[0] == 0, allocated[0]
    assert e.blowoffs >= 1 and e.limiter_hits >= 10
    buf = bytearray(512)
    assert allocprobe.bytes_per_call(lambda: s.render(e, buf)) == 0


def test_volume_is_checked():
    with fwtest.raises(ValueError, "volume"):
        Sound(volume=101)
    assert soundrig.unpack(bytearray(b"\xff\xff\x01\x00")) == [-1, 1]
