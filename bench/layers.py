"""Where a server process's CPU goes, by layer, from py-spy samples taken under load.

`bench/suite.py --profile` records each service run with `py-spy record --format raw` and
sums the samples here: each sample counts for the layer of its innermost frame that belongs
to one (the code running at that instant), so the shares add up to the busy time.

    .venv/bin/python bench/layers.py PROFILE.txt [...]
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# First match wins, tested on a frame's file path.
LAYERS = [
    ("rule engine and domain", re.compile(r"loyalty/domain/")),
    ("GraphQL resolvers", re.compile(r"loyalty/api/")),
    ("use cases and SQL", re.compile(r"loyalty/(service|store)/")),
    ("request guard, log, metrics", re.compile(r"loyalty/")),
    ("asyncpg (driver)", re.compile(r"asyncpg/")),
    ("strawberry and graphql-core", re.compile(r"(strawberry|graphql)/")),
    ("uvicorn and starlette (HTTP)", re.compile(r"(uvicorn|starlette|httptools|h11)/")),
    ("JSON", re.compile(r"(orjson|/json/)")),
    ("logging", re.compile(r"/logging/")),
    ("event loop", re.compile(r"(asyncio|uvloop)/")),
]
OTHER = "other"
FRAME = re.compile(r"\(([^():]+):\d+\)$")


def layer_of(stack: str) -> str:
    for frame in reversed(stack.split(";")):
        match = FRAME.search(frame.strip())
        if match is None:
            continue
        for name, pattern in LAYERS:
            if pattern.search(match.group(1)):
                return name
    return OTHER


def shares(profile: Path) -> tuple[Counter[str], int]:
    """Samples per layer, and the total."""
    counts: Counter[str] = Counter()
    for line in profile.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        if stack and samples.isdigit():
            counts[layer_of(stack)] += int(samples)
    return counts, sum(counts.values())


@contextmanager
def recording(pid: int, seconds: int, out: Path) -> Iterator[None]:
    """py-spy sampling the process while the block runs (at most seconds)."""
    spy = subprocess.Popen(
        [
            sys.executable.replace("python", "py-spy"),
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(seconds),
            "--rate",
            "200",
            "--format",
            "raw",
            "--output",
            str(out),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        spy.wait(timeout=seconds + 30)


def table(profiles: dict[str, Path]) -> str:
    """A Markdown table: one column per profile, one row per layer, shares of busy samples."""
    measured = {name: shares(path) for name, path in profiles.items() if path.exists()}
    order = [name for name, _ in LAYERS] + [OTHER]
    lines = [
        "| layer | " + " | ".join(measured) + " |",
        "|---|" + "---|" * len(measured),
    ]
    for layer in order:
        cells = [f"{100 * c[layer] / t:.0f}%" if t else "-" for c, t in measured.values()]
        lines.append(f"| {layer} | " + " | ".join(cells) + " |")
    lines.append("| samples | " + " | ".join(str(t) for _, t in measured.values()) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(table({Path(arg).stem: Path(arg) for arg in sys.argv[1:]}))
