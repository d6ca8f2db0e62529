"""The voice: engine state -> motor duty, buzzer tone and loudness, shaker (pure, no pins)."""

from fwtest import raises
from gullwing.engine import OFF, RUNNING, Engine
from gullwing.voice import BUZZER_MAX_HZ, BUZZER_MIN_HZ, CHIRP_MS, SHAKER_MAX_HZ, SHAKER_MIN_HZ, Voice

TICKS = (10, 20, 40)


class _Snapshot:
    """What the voice reads from an engine, held still (rpm, state, firing, load, blowoffs)."""

    def __init__(self, rpm, state=RUNNING, firing=1, load=128, blowoffs=0):
        self.rpm = rpm
        self.state = state
        self.firing = firing
        self.load = load
        self.blowoffs = blowoffs


def _drive(tick, ms, voice):
    """Run an engine through start, idle, a full-throttle rev against the limiter and a lift; the
    engine and the voice after every tick, as (rpm, state, blowoffs, motor duty, buzzer hz and duty,
    shaker hz and duty)."""
    e = Engine()
    e.start()
    samples = []
    for t in range(0, ms, tick):
        if t == 3000:
            e.throttle(100)
        elif t == 6000:
            e.throttle(0)
        e.tick(tick)
        voice.update(e, tick)
        samples.append((e.rpm, e.state, e.blowoffs, voice.motor_duty, voice.buzzer_hz, voice.buzzer_duty,
                        voice.shaker_hz, voice.shaker_duty))
    return samples


def test_motor_duty_rises_monotonically_with_rpm_through_the_calibration():
    v = Voice(motor_min=20_000, motor_max=60_000)
    duties = [v.motor_target(rpm) for rpm in range(0, 12_001, 10)]
    assert all(duties[i] <= duties[i + 1] for i in range(len(duties) - 1))
    assert v.motor_target(0) == 0
    assert v.motor_target(950) == 20_000  # just turns the motor at idle
    assert v.motor_target(9000) == 60_000 == v.motor_target(11_000)  # the top, at and past the limiter
    assert 0 < v.motor_target(250) < 20_000  # cranking: slower than idle


def test_motor_duty_stays_within_the_calibration_and_follows_the_engine():
    for tick in TICKS:
        v = Voice()
        samples = _drive(tick, 9000, v)
        assert all(0 <= s[3] <= v.motor_max for s in samples), tick
        running = [s[3] for s in samples if s[1] == RUNNING and s[0] >= v.idle_rpm]
        assert min(running) >= v.motor_min - 200 and max(running) == v.motor_max, tick


def test_motor_duty_is_slew_limited():
    for tick in TICKS:
        v = Voice(motor_min=10_000, motor_max=60_000, motor_slew=100_000)
        v.update(_Snapshot(950), tick)
        duties = []
        for _ in range(1000 // tick):  # the engine jumps to the limiter: the duty ramps after it
            v.update(_Snapshot(9000), tick)
            duties.append(v.motor_duty)
        steps = [duties[i + 1] - duties[i] for i in range(len(duties) - 1)]
        assert max(steps) <= 100_000 * tick // 1000, tick
        assert duties[-1] == 60_000, tick
        assert duties[0] < 20_000, tick
        for _ in range(1000 // tick):
            v.update(_Snapshot(0, state=OFF, firing=0), tick)
        assert v.motor_duty == 0, tick


def test_buzzer_tone_follows_the_firing_frequency_times_the_harmonic():
    for harmonic in (8, 16):
        for tick in TICKS:
            checked = 0
            for rpm, _, blowoffs, _, hz, duty, _, _ in _drive(tick, 6000, Voice(harmonic=harmonic)):
                wanted = rpm * harmonic // 40
                if duty and BUZZER_MIN_HZ <= wanted <= BUZZER_MAX_HZ and blowoffs == 0:
                    assert abs(hz - wanted) <= wanted // 60 + 1, (tick, rpm, hz)
                    checked += 1
            assert checked > 4000 // tick, (harmonic, tick)
    v = Voice()
    v.update(_Snapshot(950), 20)
    assert v.buzzer_hz == 380  # 950 rpm / 40 = 23.75 Hz, times 16


def test_buzzer_is_silent_when_the_engine_is_off_and_quieter_without_fuel():
    v = Voice()
    v.update(_Snapshot(0, state=OFF, firing=0, load=0), 20)
    assert v.buzzer_duty == 0 and v.shaker_duty == 0
    v.update(_Snapshot(9000, firing=1, load=256), 20)
    burning = v.buzzer_duty
    v.update(_Snapshot(9000, firing=0, load=256), 20)  # the limiter's fuel cut
    assert 0 < v.buzzer_duty < burning // 2
    v.update(_Snapshot(2000, load=40), 20)
    light = v.buzzer_duty
    v.update(_Snapshot(2000, load=256), 20)
    assert v.buzzer_duty > light  # louder under load
    mute = Voice(volume=0)
    mute.update(_Snapshot(9000, load=256), 20)
    assert mute.buzzer_duty == 0 and mute.motor_duty > 0


def test_the_buzzer_chirps_on_a_blowoff():
    for tick in TICKS:
        v = Voice()
        v.update(_Snapshot(8000, load=20), tick)
        engine_hz = v.buzzer_hz
        tones = []
        for _ in range((CHIRP_MS + 100) // tick):
            v.update(_Snapshot(7800, load=20, blowoffs=1), tick)
            tones.append((v.buzzer_hz, v.buzzer_duty))
        assert tones[0][0] >= 3500 and tones[0][1] >= 30_000, (tick, tones[0])  # a loud high chirp ...
        chirp = tones[: CHIRP_MS // tick]
        falling = all(chirp[i][0] >= chirp[i + 1][0] and chirp[i][1] >= chirp[i + 1][1] for i in range(len(chirp) - 1))
        assert falling, tick
        assert abs(tones[-1][0] - engine_hz) <= engine_hz // 40, (tick, tones[-1])  # then the engine again


def test_shaker_shakes_at_the_rocking_couple_frequency():
    for tick in TICKS:
        for rpm, state, _, _, _, _, hz, duty in _drive(tick, 7000, Voice()):
            if state == OFF:
                assert duty == 0
            else:
                wanted = max(SHAKER_MIN_HZ, rpm // 60)
                assert duty > 0 and abs(hz - wanted) <= wanted // 60 + 1, (tick, rpm, hz)
    v = Voice()
    v.update(_Snapshot(950), 20)
    idle = v.shaker_duty
    v.update(_Snapshot(9000), 20)
    assert v.shaker_hz == 150 and v.shaker_duty > idle > 0  # stronger at speed
    still = Voice(shake=0)
    still.update(_Snapshot(9000), 20)
    assert still.shaker_duty == 0 and still.buzzer_duty > 0


def test_tones_hold_still_while_the_engine_idles():
    # every LEDC frequency change restarts the timer (a click): idle jitter must not cause one
    v = Voice()
    hz = []
    for rpm in (950, 948, 953, 951, 946, 955, 950):
        v.update(_Snapshot(rpm), 20)
        hz.append((v.buzzer_hz, v.shaker_hz))
    assert len(set(hz)) == 1


def test_reset_quietens_everything():
    v = Voice()
    for _ in range(20):
        v.update(_Snapshot(5000, blowoffs=1), 20)
    v.reset()
    assert v.motor_duty == v.buzzer_duty == v.shaker_duty == 0


def test_bad_calibration_is_refused_by_name():
    with raises(ValueError, "motor_min must be 0..65534 duty, got -5"):
        Voice(motor_min=-5)
    with raises(ValueError, "motor_max must be 30001..65535 duty (above motor_min 30000), got 20000"):
        Voice(motor_min=30_000, motor_max=20_000)
    with raises(ValueError, "motor_slew"):
        Voice(motor_slew=0)
    with raises(ValueError, "harmonic"):
        Voice(harmonic=0)
    with raises(ValueError, "volume must be 0..100 %, got 150"):
        Voice(volume=150)
    with raises(ValueError, "idle_rpm"):
        Voice(idle_rpm=9500)


def test_every_tone_stays_within_the_range_the_ledc_plan_sweeps():
    # test_motor.py checks the LEDC plan over these ranges: no voice may leave them
    for harmonic in (1, 16, 64):
        v = Voice(harmonic=harmonic, limit_rpm=12_000, idle_rpm=950)
        for rpm in list(range(0, 12_001, 37)) + [12_000, 20_000]:
            v.update(_Snapshot(rpm, blowoffs=rpm // 3000), 20)  # a blow-off chirp now and then
            assert BUZZER_MIN_HZ <= v.buzzer_hz <= BUZZER_MAX_HZ, (harmonic, rpm, v.buzzer_hz)
            assert SHAKER_MIN_HZ <= v.shaker_hz <= SHAKER_MAX_HZ, (harmonic, rpm, v.shaker_hz)
