"""How fast the admin page opens on a slow phone: headless Chromium at 390x844, its CPU slowed
4x and its network set to a slow 4G link, against `python -m loyalty run` with the demo.

Each page is opened from a fresh tab `--loads` times; the time counted runs from the start of
the navigation to the page's content on screen (the page's own element visible). It prints a
table and writes bench/results/admin_page.md.

    .venv/bin/python bench/admin_page.py [--loads 5] [--cpu 4]
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from common import ROOT, free_port, progress
from playwright.sync_api import sync_playwright

RESULTS = ROOT / "bench" / "results"
PHONE = {"width": 390, "height": 844}
# A slow 4G link: 150 ms of latency each way, 1.6 Mbit/s down, 750 kbit/s up.
NETWORK = {
    "offline": False,
    "latency": 150,
    "downloadThroughput": 1_600_000 / 8,
    "uploadThroughput": 750_000 / 8,
}
PAGES = {
    "rules": "#rules-table",
    "rules/new": "#simulator",
    "catalog": "#products-table",
    "customers/demo-customer-1": "#adjust-form",
    "analytics": "[data-chart=funnel]",
}
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def serve(state: Path, port: int) -> tuple[subprocess.Popen[str], str]:
    """The demo service, and its admin key once it is ready."""
    env = {
        **os.environ,
        "LOYALTY_ENV": "development",
        "LOYALTY_STATE_DIR": str(state),
        "LOYALTY_PORT": str(port),
    }
    env.pop("LOYALTY_DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "loyalty", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    assert process.stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(process.stdout or []), daemon=True)
    reader.start()
    for _ in range(600):
        key = re.search(r"admin key:\s+Bearer (\S+)", "".join(lines))
        try:
            ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            ready = False
        if key and ready:
            return process, key.group(1)
        if process.poll() is not None:
            raise RuntimeError("the service stopped:\n" + "".join(lines))
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("the service did not become ready")


def measure(url: str, key: str, loads: int, cpu: float) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {page: [] for page in PAGES}
    executable = shutil.which("chromium") or "/usr/bin/chromium"
    steps = loads * len(PAGES)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=FLAGS)
        for n in range(loads):
            for i, (page_name, ready) in enumerate(PAGES.items()):
                progress(n * len(PAGES) + i + 1, steps, page_name)
                context = browser.new_context(viewport=PHONE)  # type: ignore[arg-type]
                # The key as a signed-in tab holds it.
                context.add_init_script(f"sessionStorage.setItem('loyalty.adminKey', '{key}')")
                page = context.new_page()
                cdp = context.new_cdp_session(page)
                cdp.send("Emulation.setCPUThrottlingRate", {"rate": cpu})
                cdp.send("Network.enable")
                cdp.send("Network.emulateNetworkConditions", NETWORK)
                started = time.perf_counter()
                page.goto(f"{url}/admin#/{page_name}")
                page.locator(ready).wait_for(state="visible", timeout=60_000)
                timings[page_name].append((time.perf_counter() - started) * 1000)
                context.close()
        browser.close()
    print(file=sys.stderr)
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--cpu", type=float, default=4.0, help="CPU slowdown factor")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="loyalty-page-"))
    root.chmod(0o755)  # the embedded database may run as an unprivileged user
    port = free_port()
    process, key = serve(root / "state", port)
    try:
        timings = measure(f"http://127.0.0.1:{port}", key, args.loads, args.cpu)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        shutil.rmtree(root, ignore_errors=True)
    files = list((ROOT / "loyalty" / "web" / "static").iterdir())
    weight = sum(f.stat().st_size for f in files)
    packed = sum(len(gzip.compress(f.read_bytes(), compresslevel=9)) for f in files)
    lines = [
        f"The admin page on a phone: 390x844, CPU slowed {args.cpu:g}x, 150 ms latency and "
        f"1.6 Mbit/s down; {args.loads} fresh loads a page; the page's {len(files)} files weigh "
        f"{weight / 1024:.0f} KB, {packed / 1024:.0f} KB as sent (gzip).",
        "",
        "| page | median ms | slowest ms |",
        "|---|---|---|",
        *(
            f"| {name} | {statistics.median(ms):.0f} | {max(ms):.0f} |"
            for name, ms in timings.items()
        ),
    ]
    text = "\n".join(lines) + "\n"
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "admin_page.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
