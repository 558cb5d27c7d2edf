"""The reliability suite: each test says what it tried and what it saw, and the run ends with
a table of them. `make test` runs it at a quick scale; `make reliability` at full scale."""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field

import pytest

FULL = os.environ.get("LOYALTY_RELIABILITY") == "full"


def scale(quick: int, full: int) -> int:
    """How many times to try something: `full` under `make reliability`, else `quick`."""
    return full if FULL else quick


@dataclass
class Trial:
    area: str = ""
    tried: str = ""
    seen: list[str] = field(default_factory=list)
    held: bool | None = None

    def describe(self, area: str, tried: str) -> None:
        self.area, self.tried = area, tried

    def saw(self, text: str) -> None:
        """A measured fact for the table: counts, times, outcomes."""
        self.seen.append(text)


_trials: dict[str, Trial] = {}


@pytest.fixture
def trial(request: pytest.FixtureRequest) -> Iterator[Trial]:
    """Call trial.describe(area, what was tried), then trial.saw(...) with what was measured."""
    found = Trial()
    _trials[request.node.nodeid] = found
    yield found


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    found = _trials.get(item.nodeid)
    if found is None:
        return report
    if report.failed:
        found.held = False
    elif report.when == "call" and report.passed and found.held is None:
        found.held = True
    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    rows = [t for t in _trials.values() if t.area]
    if not rows:
        return
    scale_name = "full" if FULL else "quick"
    terminalreporter.section(f"reliability ({scale_name} scale)")
    width = max(len(t.area) for t in rows)
    for t in sorted(rows, key=lambda t: t.area):
        verdict = {True: "held", False: "FAILED", None: "not run"}[t.held]
        terminalreporter.write_line(f"{t.area:<{width}}  {verdict:<7} {t.tried}")
        for text in t.seen:
            terminalreporter.write_line(f"{'':<{width}}  {'':<7}   {text}")
