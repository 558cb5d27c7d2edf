from loyalty.service.throttle import FREE_FAILURES, WINDOW_SECONDS, FailureThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_few_mistakes_are_free_then_each_one_doubles_the_wait() -> None:
    clock = Clock()
    throttle = FailureThrottle(clock)
    for _ in range(FREE_FAILURES):
        assert throttle.wait_for("key:1") == 0
        throttle.failed("key:1")
    assert throttle.wait_for("key:1") == 2.0
    assert throttle.wait_for("key:2") == 0  # others are not punished
    clock.now += 2.0
    throttle.failed("key:1")
    assert throttle.wait_for("key:1") == 4.0
    clock.now += WINDOW_SECONDS + 1
    assert throttle.wait_for("key:1") == 0  # old mistakes are forgotten


def test_over_limit_counts_only_the_mistakes_past_the_free_ones() -> None:
    throttle = FailureThrottle(Clock())
    for _ in range(FREE_FAILURES):
        throttle.failed("key:1")
    assert not throttle.over_limit("key:1")
    throttle.failed("key:1")
    assert throttle.over_limit("key:1")
