"""`python -m loyalty run` as `make run` starts it: embedded database, demo, keys, GraphQL."""

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest

AN_HOUR_AGO = (datetime.now(UTC) - timedelta(hours=1)).isoformat()

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def state_dir() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="loyalty-run-"))
    root.chmod(0o755)  # the embedded server may run as an unprivileged user
    yield root / "state"
    subprocess.run(["rm", "-rf", str(root)], check=False)


def environment(state_dir: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "LOYALTY_ENV": "development", "LOYALTY_STATE_DIR": str(state_dir)}
    env.pop("LOYALTY_DATABASE_URL", None)
    env.pop("LOYALTY_JWT_SECRET", None)
    return {**env, **extra}


class Running:
    def __init__(self, state_dir: Path, host: str = "127.0.0.1") -> None:
        self.port = free_port()
        env = environment(state_dir, LOYALTY_PORT=str(self.port), LOYALTY_HOST=host)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "loyalty", "run"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.output = ""
        self.url = f"http://{host}:{self.port}"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None:
                out, _ = self.process.communicate()
                raise AssertionError(f"the service exited at start:\n{out}")
            time.sleep(0.2)
        else:
            self.stop()
            raise AssertionError(f"the service did not become ready:\n{self.output}")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        out, _ = self.process.communicate(timeout=60)
        self.output += out
        return self.process.returncode

    def printed(self, pattern: str) -> str:
        match = re.search(pattern, self.output)
        assert match, f"{pattern!r} not in:\n{self.output}"
        return match.group(1)


def post(url: str, query: str, credential: str, variables: dict[str, object]) -> dict[str, object]:
    response = httpx.post(
        f"{url}/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {credential}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def setting(dsn: str) -> str:
    conn = await asyncpg.connect(dsn)
    try:
        value: str = await conn.fetchval("SHOW listen_addresses")
        return value
    finally:
        await conn.close()


PURCHASE = """
mutation($input: PurchaseInput!) { recordPurchase(input: $input) {
  __typename ... on PurchaseRecorded { pointsEarned balance } } }
"""


def test_run_serves_the_demo_and_keeps_its_data_across_restarts(state_dir: Path) -> None:
    first = Running(state_dir)
    try:
        assert httpx.get(f"{first.url}/graphql", headers={"Accept": "text/html"}).status_code == 200
        pgdata = state_dir / "pgdata"
        assert (pgdata / "postmaster.pid").exists()
        # a unix socket in the state folder and no TCP port: two clones run side by side
        socket_dir = state_dir / "run"
        assert (socket_dir / ".s.PGSQL.5432").exists()
        listen = asyncio.run(setting(f"postgresql://loyalty@/loyalty?host={socket_dir}"))
        assert listen == ""
    finally:
        assert first.stop() == 0, first.output
    pos = first.printed(r"POS key \(store S1\): Bearer (\S+)")
    admin = first.printed(r"admin key:\s+Bearer (\S+)")
    token = first.printed(r"customer token \(demo-customer-1\):\s+Bearer (\S+)")
    assert not (state_dir / "pgdata" / "postmaster.pid").exists(), "the database was left running"

    second = Running(state_dir, host="127.0.0.2")  # LOYALTY_HOST is honoured
    try:
        # A command run beside the server uses the same embedded database without a URL.
        made = subprocess.run(
            [sys.executable, "-m", "loyalty", "apikey", "create", "--role", "admin"],
            cwd=ROOT,
            env=environment(state_dir),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert made.returncode == 0, made.stderr
        fresh_admin = made.stdout.strip()
        assert fresh_admin != admin
        products = post(second.url, "{ products(first: 100) { sku } }", fresh_admin, {})
        assert len(products["data"]["products"]) >= 10  # type: ignore[index]
        sale = {
            "customerId": "demo-customer-1",
            "storeId": "S1",
            "transactionId": "till-1-0001",
            "occurredAt": AN_HOUR_AGO,
            "lines": [{"sku": "PEPP-L", "quantity": 1, "unitPrice": 1499}],
        }
        result = post(second.url, PURCHASE, pos, {"input": sale})
        assert result["data"]["recordPurchase"]["pointsEarned"] == 34  # type: ignore[index]
        me = post(second.url, "{ me { id balance } }", token, {})
        assert me["data"]["me"] == {"id": "demo-customer-1", "balance": 34}  # type: ignore[index]
    finally:
        assert second.stop() == 0, second.output
    assert second.printed(r"POS key \(store S1\): Bearer (\S+)") == pos  # the same demo keys

    third = Running(state_dir)
    try:
        me = post(third.url, "{ me { balance } }", token, {})
        assert me["data"]["me"]["balance"] == 34  # type: ignore[index]
    finally:
        third.stop()
