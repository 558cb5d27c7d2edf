"""What every load test here shares: ports, the progress bar, wrk, and the server it loads."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-secret-that-is-long-enough-for-hs256-signing"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def progress(step: int, steps: int, what: str) -> None:
    filled = "#" * (20 * step // steps)
    print(f"\r[{filled:<20}] {step}/{steps} {what:<40}", end="", file=sys.stderr, flush=True)


def wrk(url: str, script: Path, connections: int, seconds: int) -> dict[str, Any]:
    done = subprocess.run(
        [
            "wrk",
            f"-t{min(2, connections)}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    match = re.search(r"^RESULT (.*)$", done.stdout, re.M)
    assert match, done.stdout + done.stderr
    result: dict[str, Any] = json.loads(match.group(1))
    result["rps"] = round(result["requests"] / result["seconds"], 1)
    result["connections"] = connections
    return result


def start_server(dsn: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, **server_env(dsn, port), "LOYALTY_WORKERS": str(workers)}
    server = subprocess.Popen(
        [sys.executable, "-m", "loyalty", "serve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.kill()
    raise RuntimeError("the server did not become ready")


def server_env(dsn: str, port: int) -> dict[str, str]:
    return {
        "LOYALTY_DATABASE_URL": dsn,
        "LOYALTY_JWT_SECRET": SECRET,
        "LOYALTY_PORT": str(port),
        "LOYALTY_STATS_SECONDS": "0",
        "LOYALTY_LIFECYCLE_SECONDS": "0",
        "LOYALTY_RATE_LIMIT": "0",  # one key drives the whole load
        "LOYALTY_LOG_LEVEL": "WARNING",
        "LOYALTY_ENV": "production",
    }
