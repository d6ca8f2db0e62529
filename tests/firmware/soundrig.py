"""Driving the sound from the engine as the app does: the engine ticks every `tick` ms, and after each tick
the audio task renders every block whose time has come (both interpreters)."""

from array import array

from gullwing.engine import Engine
from gullwing.sound import BLOCK, RATE, Sound


def drive(script, ms, tick=20, sound=None, engine=None, on_block=None):
    """Run `script(engine, t_ms)` before each tick for `ms`; returns (engine, sound, samples as an
    array('h'), rpm at each block). `on_block(engine, sound, buf)` is called after each block instead of
    collecting samples, when given."""
    e = engine or Engine()
    s = sound or Sound()
    buf = bytearray(2 * BLOCK)
    raw = bytearray()
    rpms = []
    done = 0  # samples rendered
    for t in range(0, ms, tick):
        script(e, t)
        e.tick(tick)
        while (done + BLOCK) * 1000 // RATE <= t + tick:
            s.render(e, buf)
            done += BLOCK
            rpms.append(e.rpm)
            if on_block is not None:
                on_block(e, s, buf)
            else:
                raw.extend(buf)
    return e, s, samples(raw), rpms


def samples(raw):
    """Little-endian 16-bit samples as an array('h')."""
    try:
        out = array("h")
        out.frombytes(raw)  # CPython
        return out
    except AttributeError:
        return array("h", raw)  # MicroPython copies a bytearray's bytes


def unpack(buf):
    out = []
    for i in range(0, len(buf), 2):
        v = buf[i] | buf[i + 1] << 8
        out.append(v - 65536 if v >= 32768 else v)
    return out


def rms(samples):
    return (sum(x * x for x in samples) / len(samples)) ** 0.5 if samples else 0.0


def hold(pct, at_ms=2000):
    """A script: start, then hold the throttle at pct from at_ms."""
    def script(e, t):
        if t == 0:
            e.start()
        elif t == at_ms:
            e.throttle(pct)
    return script


def session(e, t):
    """Start, idle, a blip, the limiter, a lift with blow-off, part throttle, stop (12 s)."""
    if t == 0:
        e.start()
    elif t == 2000:
        e.blip(300)
    elif t == 3000:
        e.throttle(100)
    elif t == 6000:
        e.throttle(0)
    elif t == 7000:
        e.throttle(40)
    elif t == 9000:
        e.stop()
    elif t == 9200:
        e.throttle(0)
