"""The load suite: every hot operation through the API, each against pgbench running its SQL.

`make bench` runs it. It starts its own PostgreSQL and server, generates a program (5,000
products, 200 rules of every kind, customers with history), loads each scenario from a
separate process (wrk) on 127.0.0.1 at 16 and 64 clients, and runs the scenario's baseline:
pgbench executing the very statements the service ran for one such request (captured from
the service, see sqlcapture.py), on the same database with the same number of clients.
Results go to bench/results/suite.md and suite.json (suite-large.*, suite-both.* by --scale).

    .venv/bin/python bench/suite.py [--scale small|large] [--seconds 10] [--clients 16 64]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from common import ROOT, SECRET, free_port, progress, server_env, start_server, wrk
from generate import SCALES, Scale, generate
from layers import recording
from layers import table as layers_table
from nudges import ten_line_cart
from sqlcapture import Script, capture, recording_app

from loyalty.config import load_settings
from loyalty.embedded import EmbeddedPostgres
from loyalty.tokens import issue_customer_token

RESULTS = ROOT / "bench" / "results"
TOKENS = 2_000
CAPTURED_CUSTOMER = "bench-7"
WARMUP_CUSTOMER = "bench-8"
TX_MARK = "txmark"

PURCHASE = """
mutation P($input: PurchaseInput!) {
  recordPurchase(input: $input) {
    __typename ... on PurchaseRecorded { pointsEarned balance tierChange { toTier } }
    ... on Error { code message }
  }
}
"""
ME = """
{ me { balance availablePoints pendingPoints
       tier { tier { name multiplierPercent } progress }
       expiring(first: 3) { points lastDay } } }
"""
NUDGES = """
query N($cart: CartInput!) {
  nudges(cart: $cart) {
    ... on NudgeList { nudges { id kind message extraCost points } }
    ... on InvalidInputError { field message }
  }
}
"""
QUOTE = """
query Q($cart: CartInput!) {
  quote(cart: $cart) {
    ... on Quote { pointsEarned awards { ruleName points } }
    ... on InvalidInputError { field message }
  }
}
"""
REDEEM = """
mutation R($reward: ID!, $key: String!, $customer: String) {
  redeemReward(rewardId: $reward, idempotencyKey: $key, customerId: $customer) {
    __typename ... on RewardRedeemed { balance } ... on Error { code message }
  }
}
"""

# A request per call: the body is a template whose {c} (a customer number) and {t} (a
# number unique in this run) wrk fills in, so every purchase and redemption is a new one.
LUA = """
local template = io.open("{template}"):read("*a")
local tokens = {{}}
for line in io.lines("{tokens}") do tokens[#tokens + 1] = line end
local counter = 0
-- thread_id is a global each thread gets from setup(): a local of that name would hide it,
-- and two threads would then send the same "unique" ids (replays, not new requests).
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end
function init(args)
  math.randomseed(os.time() + thread_id * 7919)
end
function request()
  counter = counter + 1
  local c = math.random(0, {customers} - 1)
  local unique = string.format("%d-%d-%d", thread_id, counter, math.random(1, 1000000000))
  local body = template:gsub("@C@", tostring(c)):gsub("@T@", unique)
  local headers = {{["Content-Type"] = "application/json"}}
  if #tokens > 0 then
    headers["Authorization"] = "Bearer " .. tokens[(c % #tokens) + 1]
  else
    headers["Authorization"] = "Bearer {key}"
  end
  return wrk.format("POST", "/graphql", headers, body)
end
function done(summary, latency, requests)
  io.write(string.format(
    "RESULT {{\\"requests\\": %d, \\"errors\\": %d, \\"seconds\\": %.3f, "
    .. "\\"p50_ms\\": %.3f, \\"p95_ms\\": %.3f, \\"p99_ms\\": %.3f}}\\n",
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout,
    summary.duration / 1e6,
    latency:percentile(50) / 1e3, latency:percentile(95) / 1e3, latency:percentile(99) / 1e3))
end
"""


@dataclass(frozen=True)
class Scenario:
    name: str
    query: str
    variables: Callable[[str, str], dict[str, Any]]  # (customer, unique) -> variables
    as_customer: bool = False  # the customer's own token, or the POS key


def purchase_variables(customer: str, unique: str) -> dict[str, Any]:
    at = (datetime.now(UTC) - timedelta(minutes=5)).replace(microsecond=0).isoformat()
    return {
        "input": {
            "customerId": customer,
            "storeId": "S1",
            "transactionId": f"t{unique}",
            "occurredAt": at,
            "lines": [
                {"sku": "PIZZA-042-L", "quantity": 1, "unitPrice": 1599},
                {"sku": "SKU-00002", "quantity": 1, "unitPrice": 499},
                {"sku": "SKU-00001", "quantity": 2, "unitPrice": 249},
            ],
        }
    }


def nudge_cart(customer: str, unique: str) -> dict[str, Any]:
    return {"cart": ten_line_cart(customer)}


def quote_cart(customer: str, unique: str) -> dict[str, Any]:
    lines = purchase_variables(customer, unique)["input"]["lines"]
    return {"cart": {"customerId": customer, "storeId": "S1", "lines": lines}}


def redeem_variables(customer: str, unique: str) -> dict[str, Any]:
    return {"reward": "1", "key": f"k{unique}", "customer": customer}


SCENARIOS = [
    Scenario("recordPurchase", PURCHASE, purchase_variables),
    Scenario("me", ME, lambda c, u: {}, as_customer=True),
    Scenario("nudges", NUDGES, nudge_cart),
    Scenario("quote", QUOTE, quote_cart),
    Scenario("redeemReward", REDEEM, redeem_variables),
]


def body(scenario: Scenario, customer: str, unique: str) -> dict[str, Any]:
    return {"query": scenario.query, "variables": scenario.variables(customer, unique)}


def template(scenario: Scenario) -> str:
    """The request body with markers wrk replaces: @C@ the customer number, @T@ a unique id."""
    return json.dumps(body(scenario, "bench-@C@", "@T@"))


async def baseline_script(dsn: str, scenario: Scenario, key: str, customers: int) -> str:
    """pgbench's script for the scenario: the statements one request ran, as it ran them."""
    settings = bench_settings(dsn, 0)
    token = issue_customer_token(CAPTURED_CUSTOMER, SECRET, "HS256")
    credential = token if scenario.as_customer else key
    warm_token = issue_customer_token(WARMUP_CUSTOMER, SECRET, "HS256")
    async with recording_app(dsn, settings) as client:
        # Another customer warms the caches, so the captured request is a customer's first
        # of the run, as almost every request under load is.
        warm = body(scenario, WARMUP_CUSTOMER, "warmup")
        auth = warm_token if scenario.as_customer else key
        await client.post("/graphql", json=warm, headers={"Authorization": f"Bearer {auth}"})
        steps = await capture(client, body(scenario, CAPTURED_CUSTOMER, TX_MARK), credential)
    script = Script(
        markers={TX_MARK: "(:t)::text"},
        fresh={r"(RWD|THX)[0-9A-Z]{13}": r"('\1' || lpad((:t)::text, 13, '0'))"},
    )
    setup = [f"\\set c random(0, {customers - 1})", "\\set t random(1, 999999999999)"]
    # The customer's id is a whole literal: each becomes the variable customer.
    return script.render(steps, setup).replace(f"'{CAPTURED_CUSTOMER}'", "('bench-' || (:c)::text)")


WRITES = {"recordPurchase": "purchases", "redeemReward": "vouchers"}


async def written(dsn: str, scenario: Scenario) -> int | None:
    """Rows the scenario's writes have made so far; None for a read."""
    table = WRITES.get(scenario.name)
    if table is None:
        return None
    conn = await asyncpg.connect(dsn)
    try:
        count: int = await conn.fetchval(f"SELECT count(*) FROM {table}")
        return count
    finally:
        await conn.close()


def bench_settings(dsn: str, port: int) -> Any:
    return load_settings(server_env(dsn, port))


def pgbench(dsn: str, script: Path, clients: int, seconds: int, logs: Path) -> dict[str, Any]:
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir(parents=True)
    binary = shutil.which("pgbench") or _postgres_binary("pgbench")
    done = subprocess.run(
        [
            binary,
            "-n",
            "-M",
            "prepared",
            f"-c{clients}",
            f"-j{min(2, clients)}",
            f"-T{seconds}",
            "-f",
            str(script),
            "-l",
            "--log-prefix",
            str(logs / "tx"),
            dsn,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"pgbench failed:\n{done.stdout}\n{done.stderr}")
    latencies = []
    failed = 0
    for log in logs.glob("tx*"):
        for line in log.read_text().splitlines():
            fields = line.split()
            if len(fields) > 2 and fields[2].isdigit():
                latencies.append(int(fields[2]) / 1000)
            else:
                failed += 1
    latencies.sort()
    match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", done.stdout)
    assert match, done.stdout
    return {
        "connections": clients,
        "rps": round(float(match.group(1)), 1),
        "p50_ms": _percentile(latencies, 50),
        "p95_ms": _percentile(latencies, 95),
        "p99_ms": _percentile(latencies, 99),
        "errors": failed,
        "requests": len(latencies),
    }


def _percentile(values: list[float], pct: int) -> float:
    if not values:
        return 0.0
    return round(values[min(len(values) - 1, len(values) * pct // 100)], 3)


def _postgres_binary(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if not found:
        raise RuntimeError(f"{name} is not installed")
    return str(found[-1])


def machine() -> dict[str, Any]:
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        found = re.search(r"^model name\s*:\s*(.*)$", cpuinfo.read_text(), re.M)
        model = found.group(1) if found else ""
    return {
        "cpus": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "system": platform.platform(),
    }


def run_scale(
    scale: Scale,
    seconds: int,
    clients: list[int],
    root: Path,
    workers: int,
    profiles: dict[str, Path] | None = None,
) -> list[dict[str, Any]]:
    """Every scenario at every client count; with profiles, each service run is sampled
    with py-spy into a file named there after its scale, scenario and clients."""
    database = EmbeddedPostgres(root / f"pgdata-{scale.name}", database="bench")
    server = None
    rows: list[dict[str, Any]] = []
    steps = 2 + len(SCENARIOS) * len(clients) * 2
    step = 0

    def tick(what: str) -> None:
        nonlocal step
        step += 1
        progress(step, steps, f"{scale.name}: {what}")

    try:
        tick("starting PostgreSQL")
        dsn = database.start()
        key = asyncio.run(
            generate(dsn, scale, lambda what: progress(step, steps, f"{scale.name}: {what}"))
        )
        tick("starting the server")
        port = free_port()
        server = start_server(dsn, port, workers)
        url = f"http://127.0.0.1:{port}/graphql"
        tokens = root / "tokens.txt"
        # The first customers sign in as the app: the baseline draws from the same ones.
        sample = list(range(min(TOKENS, scale.customers)))
        for scenario in SCENARIOS:
            folder = root / scenario.name
            folder.mkdir(exist_ok=True)
            (folder / "body.json").write_text(template(scenario))
            if scenario.as_customer:
                tokens.write_text(
                    "\n".join(issue_customer_token(f"bench-{n}", SECRET, "HS256") for n in sample)
                )
                customers = len(sample)
                # The token picks the customer: @C@ indexes the token list.
            else:
                tokens.write_text("")
                customers = scale.customers
            lua = folder / "load.lua"
            lua.write_text(
                LUA.format(
                    template=folder / "body.json",
                    tokens=tokens if scenario.as_customer else folder / "none.txt",
                    customers=customers,
                    key=key,
                )
            )
            (folder / "none.txt").write_text("")
            sql = asyncio.run(baseline_script(dsn, scenario, key, customers))
            (folder / "baseline.sql").write_text(sql)
            (RESULTS / "sql").mkdir(parents=True, exist_ok=True)
            (RESULTS / "sql" / f"{scenario.name}.sql").write_text(sql)
            for count in clients:
                tick(f"{scenario.name}, {count} clients, service")
                before = asyncio.run(written(dsn, scenario))
                sampled = None
                if profiles is not None:
                    sampled = profiles[f"{scale.name} {scenario.name} {count}"] = (
                        root / f"profile-{len(profiles)}.txt"
                    )
                with (
                    recording(server.pid, seconds, sampled)
                    if sampled is not None
                    else contextlib.nullcontext()
                ):
                    served = wrk(url.removesuffix("/graphql"), lua, count, seconds)
                if before is not None:
                    # Every write request must be a new one, not a replay of another.
                    made = asyncio.run(written(dsn, scenario)) - before  # type: ignore[operator]
                    if made < served["requests"] * 0.98:
                        raise RuntimeError(
                            f"{scenario.name}: {served['requests']} requests wrote {made} rows"
                        )
                    served["written"] = made
                tick(f"{scenario.name}, {count} clients, pgbench")
                base = pgbench(dsn, folder / "baseline.sql", count, seconds, folder / "logs")
                rows.append(
                    {
                        "scale": scale.name,
                        "scenario": scenario.name,
                        "clients": count,
                        "service": served,
                        "baseline": base,
                        "ratio": round(served["rps"] / base["rps"], 3) if base["rps"] else None,
                        "statements": sum(
                            1 for line in sql.splitlines() if line and not line.startswith("\\")
                        ),
                    }
                )
        print(file=sys.stderr)
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
        database.stop()
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| scale | scenario | clients | service req/s | p50 ms | p95 ms | p99 ms | errors "
        "| pgbench tx/s | p50 ms | p99 ms | service/pgbench |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        s, b = row["service"], row["baseline"]
        lines.append(
            f"| {row['scale']} | {row['scenario']} | {row['clients']} | {s['rps']} "
            f"| {s['p50_ms']:.1f} | {s['p95_ms']:.1f} | {s['p99_ms']:.1f} | {s['errors']} "
            f"| {b['rps']} | {b['p50_ms']:.1f} | {b['p99_ms']:.1f} | {row['ratio']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=[*SCALES, "both"], default="small")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--clients", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument("--only", nargs="+", choices=[s.name for s in SCENARIOS], default=None)
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample the server with py-spy during each run; CPU by layer to profile.md",
    )
    args = parser.parse_args()
    if args.profile and args.workers != 1:
        parser.error("--profile samples one server process: use --workers 1")
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2
    scales = list(SCALES) if args.scale == "both" else [args.scale]
    if args.only:
        SCENARIOS[:] = [s for s in SCENARIOS if s.name in args.only]
    root = Path(tempfile.mkdtemp(prefix="loyalty-bench-"))
    root.chmod(0o755)
    rows: list[dict[str, Any]] = []
    profiles: dict[str, Path] | None = {} if args.profile else None
    try:
        for name in scales:
            rows += run_scale(
                SCALES[name], args.seconds, args.clients, root, args.workers, profiles
            )
        if profiles:
            RESULTS.mkdir(parents=True, exist_ok=True)
            (RESULTS / "profile.md").write_text(
                f"Share of the server's busy CPU samples by layer (py-spy, 200 Hz), measured "
                f"{datetime.now(UTC).isoformat(timespec='seconds')} on {machine()['cpus']} "
                f"CPUs, one server process, {args.seconds} s per run.\n\n" + layers_table(profiles)
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if args.profile:
        print(file=sys.stderr)
        print((RESULTS / "profile.md").read_text())
        return 0  # a sampled run is slower: its numbers are not the suite's results
    RESULTS.mkdir(parents=True, exist_ok=True)
    results = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "seconds": args.seconds,
        "workers": args.workers,
        "rows": rows,
    }
    suffix = "" if args.scale == "small" else f"-{args.scale}"
    (RESULTS / f"suite{suffix}.json").write_text(json.dumps(results, indent=2) + "\n")
    header = (
        f"Measured {results['when']} on {results['machine']['cpus']} CPUs "
        f"({results['machine']['cpu']}), {args.workers} server process(es), "
        f"{args.seconds} s per run.\n\n"
    )
    (RESULTS / f"suite{suffix}.md").write_text(header + table(rows))
    print(header + table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
