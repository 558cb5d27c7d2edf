"""Request counts and latency histograms per operation, in Prometheus' text format.

Operations are labelled by the schema field they call (`recordPurchase`, `me`), never by the
name a client gives its query, so a client cannot make the label set grow.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self) -> None:
        self.requests: defaultdict[tuple[str, str], int] = defaultdict(int)
        self.buckets: defaultdict[str, list[int]] = defaultdict(lambda: [0] * len(BUCKETS))
        self.sums: defaultdict[str, float] = defaultdict(float)
        self.counts: defaultdict[str, int] = defaultdict(int)

    def observe(self, operation: str, outcome: str, seconds: float) -> None:
        self.requests[(operation, outcome)] += 1
        index = bisect.bisect_left(BUCKETS, seconds)
        if index < len(BUCKETS):
            self.buckets[operation][index] += 1
        self.sums[operation] += seconds
        self.counts[operation] += 1

    def render(self, gauges: Iterable[tuple[str, str, dict[str, str], float]] = ()) -> str:
        """The exposition text; gauges are (name, help, labels, value) read at scrape time."""
        lines = [
            "# HELP loyalty_requests_total Requests by operation and outcome.",
            "# TYPE loyalty_requests_total counter",
        ]
        for (operation, outcome), count in sorted(self.requests.items()):
            labels = _labels({"operation": operation, "outcome": outcome})
            lines.append(f"loyalty_requests_total{labels} {count}")
        lines += [
            "# HELP loyalty_request_seconds Time from the first byte in to the last byte out.",
            "# TYPE loyalty_request_seconds histogram",
        ]
        for operation in sorted(self.counts):
            running = 0
            for bound, count in zip(BUCKETS, self.buckets[operation], strict=True):
                running += count
                labels = _labels({"operation": operation, "le": _number(bound)})
                lines.append(f"loyalty_request_seconds_bucket{labels} {running}")
            labels = _labels({"operation": operation, "le": "+Inf"})
            lines.append(f"loyalty_request_seconds_bucket{labels} {self.counts[operation]}")
            labels = _labels({"operation": operation})
            lines.append(f"loyalty_request_seconds_sum{labels} {self.sums[operation]:.6f}")
            lines.append(f"loyalty_request_seconds_count{labels} {self.counts[operation]}")
        seen: set[str] = set()
        for name, help_text, labels_of, value in gauges:
            if name not in seen:
                lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
                seen.add(name)
            lines.append(f"{name}{_labels(labels_of)} {_number(value)}")
        return "\n".join(lines) + "\n"


def _labels(labels: dict[str, str]) -> str:
    inner = ",".join(f'{key}="{_escape(value)}"' for key, value in labels.items())
    return "{" + inner + "}" if inner else ""


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    return repr(float(value)) if not float(value).is_integer() else str(int(value))
