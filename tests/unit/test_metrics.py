"""The metrics text: cumulative buckets, inclusive bounds, escaped labels."""

from loyalty.metrics import Metrics


def test_buckets_are_cumulative_and_a_bound_holds_its_own_value() -> None:
    metrics = Metrics()
    for seconds in (0.001, 0.004, 0.004, 0.3, 9.0):
        metrics.observe("me", "ok", seconds)
    metrics.observe("me", "error", 0.02)
    text = metrics.render()
    assert 'loyalty_requests_total{operation="me",outcome="ok"} 5' in text
    assert 'loyalty_requests_total{operation="me",outcome="error"} 1' in text
    assert 'loyalty_request_seconds_bucket{operation="me",le="0.001"} 1' in text
    assert 'loyalty_request_seconds_bucket{operation="me",le="0.005"} 3' in text
    assert 'loyalty_request_seconds_bucket{operation="me",le="0.025"} 4' in text
    assert 'loyalty_request_seconds_bucket{operation="me",le="0.5"} 5' in text
    assert 'loyalty_request_seconds_bucket{operation="me",le="5"} 5' in text
    assert 'loyalty_request_seconds_bucket{operation="me",le="+Inf"} 6' in text
    assert 'loyalty_request_seconds_count{operation="me"} 6' in text
    assert 'loyalty_request_seconds_sum{operation="me"} 9.329000' in text


def test_gauges_and_label_values_are_written_safely() -> None:
    text = Metrics().render([("g", "A gauge.", {"state": 'say "hi"\n'}, 2)])
    assert "# TYPE g gauge" in text
    assert 'g{state="say \\"hi\\"\\n"} 2' in text
