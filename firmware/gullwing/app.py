"""The composition root: the configuration -> doors, engine, voice, outputs and receiver, and the control
tick that drives them every 20 ms (one servo frame).

What the verbs do is in handlers.py, the event lines in events.py, what happens when something fails in
faults.py, and the tasks and the firmware's start and stop in runner.py.
"""

import os
import time

from gullwing import halt, handlers, rcin
from gullwing.access import Access
from gullwing.doors import Door, DoorPair
from gullwing.engine import Engine
from gullwing.events import Events
from gullwing.faults import build, note, part_failed, reason
from gullwing.led import StatusLed, mode_for
from gullwing.motor import ODD, EngineOutputs, HBridgeMotor, MosfetMotor, Tone
from gullwing.restsave import RestSaver
from gullwing.servo import Calibration, Servo
from gullwing.settings import Settings
from gullwing.speaker import open_speaker
from gullwing.store import Store
from gullwing.throttle import Throttle
from gullwing.voice import SHAKER_MIN_HZ, Voice
from gullwing.wifi import Wifi


class App:
    def __init__(self, cfg, now_ms, state_dir="/state", problems=(), safe_mode=None):
        problems = self.problems = list(problems)
        self.settings = Settings(state_dir)  # config set / calibrate, saved apart from config.json
        cfg = self.cfg = self.settings.over(cfg, problems)
        self.safe_mode = safe_mode  # why nothing is driven this boot (repeated crashes), or None
        self.events = Events(now_ms)
        self.outbox = self.events.lines  # event lines waiting for the channels
        self.writers = []  # the channels' LineWriters (the runner sets them): their drops count too
        self.halted = False  # after estop: the motor stays silent until the engine is started again
        self.engine = _engine(cfg["engine"], problems)
        self.throttle = Throttle(self.engine)
        # in safe mode no door, motor, buzzer or receiver pin is touched
        pins = cfg["pins"] if safe_mode is None else {}
        # the doors, and their rest position kept in flash by a task beside the tick
        self.saver = None if safe_mode is not None else build(problems, "doors", _doors, cfg["doors"], pins, state_dir)
        self.doors = None if self.saver is None else self.saver.doors
        self.voice = _voice(cfg["voice"], self.engine, problems)
        self.speaker = open_speaker(problems, cfg, pins)  # an I2S amplifier: the engine's voice, no buzzer then
        self.outputs = None if safe_mode is not None else _engine_outputs(cfg, pins, problems, self.speaker)
        # the RC receiver, when the board wires a throttle channel
        self.rc = build(problems, "rc", _receiver, cfg["rc"], pins) if "rc_throttle" in pins else None
        self.led = None  # the status LED (led.py), in safe mode too: it says so
        if "led" in cfg["pins"]:
            self.led = build(problems, "led", StatusLed, cfg["pins"]["led"], cfg["led_active_low"])
        # the WiFi (the runner starts it) and who may work the model from its page; no radio in safe mode
        self.wifi = None if safe_mode is not None else Wifi(cfg["wifi"], self.settings, problems)
        self.access = Access(cfg["web"]["pin"], self.wifi)
        self.tick_bytes = 0  # the most a tick without an event allocated since `heap` (the runner measures)
        self.events.watch(self.doors)
        self._last_ms = now_ms
        self._up_s = self._up_ms = 0  # uptime, counted by the tick
        self._part = None  # the part the tick drives: a fault there is that part's
        self._ticks = self._ticking()
        next(self._ticks)

    def handle(self, line, now_ms, web=False):
        """The one reply line to one request line (handlers.py); `web`: from the page. Never raises."""
        return handlers.handle(self, line, now_ms, web)

    # -- the control tick --------------------------------------------------------------------------

    def tick(self, now_ms):
        """One servo frame. Allocates nothing unless an event is queued. An output the board refuses
        (a servo on an input-only pin) is a fault (faults.part_failed) and the board answers on; any
        other exception is raised here, for the control task."""
        exc = self._ticks.send(now_ms)
        if exc is not None:
            raise exc

    def _ticking(self):
        """The tick as a generator made once. A MicroPython frame over 11 words (locals, value stack,
        3 words per exception handler: a `try` alone takes 6) is allocated on the heap at every
        call; a generator's lives on the heap for good, so the `try` a fault needs costs nothing
        per tick, and the parts below are small functions whose frames stay on the C stack. (A
        BaseException, Ctrl-C or a reset, ends it: the app ends with it.)"""
        exc = None
        while True:
            now_ms = yield exc
            exc = None
            try:
                self._tick(now_ms)
            except Exception as error:
                exc = error
                try:
                    if self._part is not None:  # a part that failed is not driven again
                        part_failed(self, now_ms, self._part, error)
                        exc = None
                except Exception as again:
                    exc = again
            self._part = None

    def _tick(self, now_ms):
        dt = time.ticks_diff(now_ms, self._last_ms)
        self._last_ms = now_ms
        self._count_up(dt)
        if self.rc is not None:
            self._rc_tick(self.rc, now_ms)
        if self.doors is not None:
            self._part = "doors"
            self.doors.tick(now_ms)
        self._part = None
        self.engine.tick(dt)
        if self.outputs is not None and not self.halted:
            self.voice.update(self.engine, dt)
            self._part = "engine outputs"
            self.outputs.write(self.voice)
            self._part = None
        if self.engine.events:
            self.events.engine(now_ms, self.engine, self.engine.take_events())
        if self.doors is not None:
            self.events.doors(self.doors)
        if self.led is not None:
            self._show(self.led, now_ms)

    def _show(self, led, now_ms):
        failsafe = self.rc is not None and self.rc.state == rcin.FAILSAFE
        led.mode = mode_for(self.safe_mode, self.problems, failsafe)
        led.tick(now_ms)

    def _count_up(self, dt):
        # uptime as seconds and ms: one count of ms would pass 2**30 (a big int) after 12 days
        if dt > 0:
            ms = self._up_ms + dt
            if ms >= 1000:
                self._up_s += ms // 1000
                ms %= 1000
            self._up_ms = ms

    def _rc_tick(self, rc, now_ms):
        rc.poll(time.ticks_us())
        if rc.events:
            self._rc_events(now_ms, rc.take_events())
        self.throttle.follow(rc)

    def _rc_events(self, now_ms, events):
        """What the transmitter asked for, and the failsafe: throttle closed, doors held where they are."""
        if events & rcin.EV_FAILSAFE:
            self.engine.throttle(0)
            if self.doors is not None:
                self.doors.command(now_ms, "both", "stop", None, 20)
            self.events.failsafe(True)
        if events & rcin.EV_SIGNAL_BACK:
            self.events.failsafe(False)
        if events & rcin.EV_DOOR_TOGGLE and self.doors is not None:
            self.doors.command(now_ms, "both", "toggle")
        if events & rcin.EV_ENGINE_START:
            self.start_engine()
        if events & rcin.EV_ENGINE_STOP:
            self.engine.stop()

    # -- what the handlers and the runner ask ------------------------------------------------------

    def start_engine(self):
        self.halted = False
        self.engine.start()

    def safe_state(self, now_ms):
        """Motor off at once, doors held where they are (no twitch): estop, a fault. Where they stopped
        is saved at the saver's next look (restsave.py), not here: a fault comes in the tick."""
        self.halted = True
        self.engine.throttle(0)
        self.engine.stop()
        self.voice.reset()
        if self.outputs is not None:
            self.outputs.silence()
        if self.doors is not None:
            self.doors.command(now_ms, "both", "stop", None, 20)
        if self.saver is not None:
            self.saver.stopped()

    def stop(self, now_ms):
        """The planned stop (Ctrl-C, a deploy, a crash; the runner's through halt.end): the safe state,
        where the doors stopped saved, the LED lit steady; each step whatever the others raise. Returns
        what failed ("step: Type: words")."""
        return halt.run_steps(self, now_ms, halt.APP_STEPS)

    def up_ms(self):
        return self._up_s * 1000 + self._up_ms

    def dropped(self):
        """Event lines nobody collected in time, here and in the channels' writers."""
        return self.events.dropped + sum(writer.dropped for writer in self.writers)


# -- the parts, from the configuration ---------------------------------------------------------------

def _engine(cfg, problems):
    try:
        return Engine(**cfg)
    except (KeyError, ValueError, TypeError) as exc:  # the right type, out of range: the defaults
        note(problems, "engine: " + reason(exc))
        return Engine()


def _pin(pins, role):
    if role not in pins:
        raise ValueError("pins." + role + " is not set")
    return pins[role]


def _doors(cfg, pins, state_dir):
    """The door pair at the rest position last saved, and its RestSaver."""
    doors = []
    for side in ("left", "right"):
        servo = Servo(_pin(pins, "door_" + side), Calibration(**cfg[side]))
        doors.append(Door(side, servo, hold_ms=cfg["hold_ms"]))
    make_dir(state_dir)
    store = Store(state_dir + "/doors")
    pair = DoorPair(doors[0], doors[1], store=store, together=cfg["together"], stagger_ms=cfg["stagger_ms"])
    return RestSaver(pair, store)


def _voice(cfg, engine, problems):
    try:
        return Voice(idle_rpm=engine.idle_rpm, limit_rpm=engine.limit_rpm, **cfg)
    except (KeyError, ValueError, TypeError) as exc:
        note(problems, "voice: " + reason(exc))
        return Voice(idle_rpm=engine.idle_rpm, limit_rpm=engine.limit_rpm)


def _engine_outputs(cfg, pins, problems, speaker):
    """Every output the configuration names and the board accepts, or None when there is none. Each
    refusal is a problem under its output's name."""
    motor = build(problems, "motor", _motor, cfg, pins)
    buzzer = build(problems, "buzzer", Tone, pins["buzzer"]) if "buzzer" in pins and speaker is None else None
    shaker = build(problems, "shaker", Tone, pins["shaker"], SHAKER_MIN_HZ, ODD) if "shaker" in pins else None
    if motor is None and buzzer is None and shaker is None:
        return None
    return EngineOutputs(motor, buzzer, shaker)


def _receiver(cfg, pins):
    return rcin.Receiver(pins["rc_throttle"], pins.get("rc_door"), pins.get("rc_engine"), **cfg)


def _motor(cfg, pins):
    if cfg["motor"] == "hbridge":
        return HBridgeMotor(_pin(pins, "motor_in1"), _pin(pins, "motor_in2"))
    return MosfetMotor(_pin(pins, "motor"))


def make_dir(path):
    try:
        os.mkdir(path)
    except OSError:
        pass  # there already
