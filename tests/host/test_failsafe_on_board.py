"""The RC failsafe on a virtual board, end to end: the receiver's signal cut while the stick holds the engine's
throttle open closes the throttle and says `evt failsafe` within 100 ms of the last pulse (bench/failsafe_bench.py
measures it over 50 cuts for `make bench`)."""

from bench import failsafe_bench


def test_the_throttle_closes_within_100_ms_of_the_last_pulse():
    closed, told = failsafe_bench.run(trials=6)
    assert max(closed) <= failsafe_bench.TARGET_MS, closed
    assert max(told) <= failsafe_bench.TARGET_MS, told
