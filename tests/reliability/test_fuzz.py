"""Fuzz: schemathesis sends generated queries and mutations for every root field to the service
over real HTTP, with production error masking on. No request may fail the server, come back
with a masked bug, or write anything when it was refused."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import graphql
import httpx
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.core.result import Ok
from schemathesis.graphql import nodes
from schemathesis.schemas import APIOperation
from schemathesis.specs.graphql.schemas import GraphQLOperationDefinition

from loyalty import service
from loyalty.domain.access import Role
from loyalty.store.database import Pool
from tests.reliability.conftest import Trial, scale
from tests.support import customer_token

N = TypeVar("N", bound=graphql.Node)

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "db" / "seed" / "demo.json"
# The exported SDL clients build against (a test keeps it in step with the code): production
# answers no introspection, so the schema is read from here, not asked of the server.
SDL = ROOT / "schema" / "schema.graphql"

# What ErrorPolicy puts in place of an unexpected exception: each one is a bug.
MASKED = "Internal server error."
# graphql-core's own words for a resolver that broke the schema; never masked, still a bug.
BROKE_SCHEMA = "Cannot return null for non-nullable field"

TABLES = """
SELECT table_name FROM information_schema.tables
WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name
"""

# Queries read; nudges(cart) records the nudges it shows, by design.
WRITING_QUERIES = frozenset({"nudges"})
# Refusals kept under their idempotency key, so a retry gets the same answer: that is their
# one write.
REMEMBERED = frozenset({"INSUFFICIENT_POINTS"})


async def fingerprint_sql(pool: Pool) -> str:
    """One statement hashing the whole content of every table the migrations made."""
    tables = [row[0] for row in await pool.fetch(TABLES)]
    assert "purchases" in tables and "ledger_entries" in tables
    return " UNION ALL ".join(
        f"SELECT '{table}', md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
        f" FROM {table} t"
        for table in tables
    )


async def fingerprint(pool: Pool, sql: str) -> dict[str, str]:
    """Each table's content, hashed: cheap at this size, and blind to no column."""
    return {row[0]: row[1] for row in await pool.fetch(sql)}


async def settled(pool: Pool, sql: str) -> dict[str, str]:
    """The fingerprint once the expiry job has run, as the schedule would have: a debit writes
    off points past their last day first, and that write is the job's, not the request's."""
    await service.expire_points(pool, service.RuleBook(pool, None))
    return await fingerprint(pool, sql)


@dataclass
class Known:
    """Values the fuzzer mixes into its arguments, so requests reach real rows."""

    customers: list[str]
    stores: list[str]
    skus: list[str]
    transactions: list[str]
    codes: list[str]
    nudges: list[str]
    ids: list[str]
    keys: list[str]


def fuzz_config(known: Known) -> schemathesis.Config:
    lines = ["*.*.cart.lines[*]", "*.*.input.lines[*]", "*.*.purchases[*].lines[*]"]
    bindings: dict[str, tuple[list[Any], list[str]]] = {
        "customers": (
            known.customers,
            [
                "*.*.customerId",
                "*.*.input.customerId",
                "*.*.cart.customerId",
                "*.*.purchases[*].customerId",
                "Query.customer.id",
            ],
        ),
        "stores": (
            known.stores,
            ["*.*.storeId", "*.*.input.storeId", "*.*.cart.storeId", "*.*.purchases[*].storeId"],
        ),
        "skus": (
            known.skus,
            [f"{line}.sku" for line in lines] + ["*.*.products[*].sku"],
        ),
        "transactions": (
            known.transactions,
            ["*.*.input.transactionId", "*.*.purchases[*].transactionId", "*.*.input.returnId"],
        ),
        "codes": (known.codes, ["*.*.code", "*.*.input.rebateCode", "*.*.purchases[*].rebateCode"]),
        "nudges": (
            known.nudges,
            ["*.*.input.acceptedNudgeIds[*]", "*.*.purchases[*].acceptedNudgeIds[*]"],
        ),
        "ids": (known.ids, ["*.*.id", "*.*.rewardId"]),
        "keys": (known.keys, ["*.*.idempotencyKey", "*.*.input.idempotencyKey"]),
        "quantities": ([1, 2, 3], [f"{line}.quantity" for line in lines]),
        "prices": ([0, 249, 899, 1499], [f"{line}.unitPrice" for line in lines]),
    }
    dictionaries = {name: {"values": values} for name, (values, _) in bindings.items()}
    # Strings PostgreSQL, a terminal or a length check might choke on, in any other argument.
    dictionaries["tricky"] = {"values": ["", " ", "\x00", "a\x00b", "\u202e", "x" * 5000, "%s"]}
    return schemathesis.Config.from_dict(
        {
            "dictionaries": dictionaries,
            "parameters": {
                path: {"dictionary": name, "probability": 0.75}
                for name, (_, paths) in bindings.items()
                for path in paths
            },
            "generation": {
                "dictionaries": {"string": {"dictionary": "tricky", "probability": 0.1}}
            },
        }
    )


def register_scalars() -> None:
    """Timestamps near now (where purchases are accepted) and at the ends of the calendar."""
    now = datetime.now(UTC).replace(tzinfo=None)
    zones = st.sampled_from([UTC, timezone(timedelta(hours=14)), timezone(-timedelta(hours=12))])
    recent = st.datetimes(now - timedelta(days=40), now + timedelta(hours=1), timezones=zones)
    anywhere = st.datetimes(timezones=st.none() | zones)
    near = recent.map(datetime.isoformat)
    odd = st.sampled_from(["", "now", "2026-02-30T12:00:00Z", "2026-01-01T25:00:00+00:00"])
    other = st.one_of(anywhere.map(datetime.isoformat), odd, st.text())
    # Three in four near now: one_of would fold repeats of one strategy into one choice.
    stamps = st.sampled_from([near, near, near, other]).flatmap(lambda chosen: chosen)
    schemathesis.graphql.scalar("DateTime", stamps.map(nodes.String))
    # Mostly within 64 bits; beyond them the scalar itself must refuse, as the client's mistake.
    big = st.one_of(st.integers(-(2**63), 2**63 - 1), st.integers(-1000, 100_000), st.integers())
    schemathesis.graphql.scalar("BigInt", big.map(nodes.Int))


def rebuilt(node: N, **changes: Any) -> N:
    """A copy of a (frozen) AST node with some of its fields changed."""
    fields = {key: getattr(node, key) for key in node.keys if key != "loc"}
    return type(node)(**{**fields, **changes})


OUTCOME = graphql.parse(
    "{ x { __typename ... on Error { code message } ... on PurchasesRecorded { recorded } } }"
)


def with_outcome_fields(query: str, root: str, union: bool) -> tuple[str, list[str]]:
    """The query, also asking for the root field's __typename and, for a union, its error code
    (and what a batch recorded): the generated selection may ask for neither.
    """
    [holder] = OUTCOME.definitions[0].selection_set.selections  # type: ignore[attr-defined]
    typename, error, batch = holder.selection_set.selections
    added: tuple[graphql.SelectionNode, ...] = (typename,)
    if union:
        added = (typename, error, batch) if root == "recordPurchases" else (typename, error)
    keys: list[str] = []

    def ask(selection: graphql.SelectionNode) -> graphql.SelectionNode:
        if not isinstance(selection, graphql.FieldNode) or selection.name.value != root:
            return selection
        keys.append((selection.alias or selection.name).value)
        if selection.selection_set is None:
            return selection
        asked = (*selection.selection_set.selections, *added)
        return rebuilt(selection, selection_set=rebuilt(selection.selection_set, selections=asked))

    document = graphql.parse(query)
    definitions = [
        rebuilt(
            definition,
            selection_set=rebuilt(
                definition.selection_set,
                selections=tuple(ask(s) for s in definition.selection_set.selections),
            ),
        )
        if isinstance(definition, graphql.OperationDefinitionNode)
        else definition
        for definition in document.definitions
    ]
    return graphql.print_ast(rebuilt(document, definitions=tuple(definitions))), keys


def refusal(payload: dict[str, Any], keys: list[str]) -> str | None:
    """Why the request was turned away (before or during execution, or as an error type)."""
    if errors := payload.get("errors"):
        first = errors[0]
        if "path" not in first:
            return "invalid request"
        return str((first.get("extensions") or {}).get("code", "uncoded error"))
    data = payload.get("data") or {}
    for key in keys:
        value = data.get(key)
        if not isinstance(value, dict):
            continue
        if value.get("__typename", "").endswith("Error"):
            return str(value.get("code", value["__typename"]))
        if value.get("recorded") == 0:
            return "nothing recorded"
    return None


@dataclass
class Tally:
    cases: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    refusals: Counter[str] = field(default_factory=Counter)
    changed_tables: Counter[str] = field(default_factory=Counter)


def judge(
    status: int,
    payload: dict[str, Any],
    keys: list[str],
    changed: list[str],
    reads: bool,
    tally: Tally,
) -> str | None:
    """What is wrong with one answer, if anything."""
    if status >= 500:
        return "a server error"
    for error in payload.get("errors") or []:
        message = error.get("message", "")
        if message == MASKED or BROKE_SCHEMA in message:
            return "a bug behind the answer"
    reason = refusal(payload, keys)
    tally.outcomes["served" if reason is None else "refused"] += 1
    if reason is not None:
        tally.refusals[reason] += 1
    kept = {"idempotency_keys"} if reason in REMEMBERED else set()
    if reason is not None and set(changed) - kept:
        return f"refused, yet {changed} changed"
    if reads and changed:
        return f"a query changed {changed}"
    return None


def fuzz_operations(
    url: str,
    known: Known,
    credentials: list[str | None],
    per_operation: int,
    snapshot: Callable[[bool], dict[str, str]],
) -> Tally:
    """Blocking: schemathesis generates cases from the SDL and sends each one to the server."""
    register_scalars()
    schema = schemathesis.graphql.from_path(SDL, config=fuzz_config(known))
    tally = Tally()
    with requests.Session() as session:
        for result in schema.get_all_operations():
            assert isinstance(result, Ok), result
            fuzz_operation(result.ok(), url, session, credentials, per_operation, snapshot, tally)
    return tally


def fuzz_operation(
    operation: APIOperation[Any, Any, Any, Any],
    url: str,
    session: requests.Session,
    credentials: list[str | None],
    per_operation: int,
    snapshot: Callable[[bool], dict[str, str]],
    tally: Tally,
) -> None:
    definition = operation.definition
    assert isinstance(definition, GraphQLOperationDefinition)
    root = definition.field_name
    reads = definition.is_query and root not in WRITING_QUERIES
    union = isinstance(graphql.get_named_type(definition.raw.type), graphql.GraphQLUnionType)
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @settings(max_examples=per_operation, deadline=None, suppress_health_check=list(HealthCheck))
    @given(case=cases, credential=st.sampled_from(credentials))
    def send(case: Case[Any], credential: str | None) -> None:
        assert isinstance(case.body, str)
        case.body, keys = with_outcome_fields(case.body, root, union)
        headers = {"Authorization": f"Bearer {credential}"} if credential else {}
        before = snapshot(True)
        response = case.call(f"{url}/graphql", session=session, headers=headers, timeout=30)
        after = snapshot(False)
        changed = sorted(table for table in before if before[table] != after[table])
        tally.cases[root] += 1
        tally.changed_tables.update(changed)
        problem = judge(response.status_code, response.json(), keys, changed, reads, tally)
        assert problem is None, (
            f"{problem}\n{case.as_curl_command(headers)}\n-> {response.status_code} {response.text}"
        )

    send()


RECORD = """mutation R($p: PurchaseInput!) { recordPurchase(input: $p) { __typename } }"""
ADJUST = """mutation A($i: AdjustPointsInput!) { adjustPoints(input: $i) { __typename } }"""
REDEEM = """mutation V($k: String!, $c: String!) {
  redeemReward(rewardId: "1", idempotencyKey: $k, customerId: $c) {
    __typename ... on RewardRedeemed { voucher { code } } } }"""
ISSUE = """mutation I($i: IssueRebateCodeInput!) {
  issueRebateCode(input: $i) { __typename ... on RebateCodeIssued { rebateCode { code } } } }"""
NUDGES = """query N($c: CartInput!) {
  nudges(cart: $c, limit: 3) { __typename ... on NudgeList { nudges { id } } } }"""


async def seed_program(url: str, pool: Pool, admin: str, pos: str) -> Known:
    """The demo program, a few purchases, points, a voucher, a rebate code and a shown nudge."""
    seed = json.loads(SEED.read_text())
    assert await service.load_seed(pool, seed)
    customers = ["alice", "bob", seed["customer"]]
    skus = [product["sku"] for product in seed["products"]]
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    codes: list[str] = []
    nudges: list[str] = []

    async with httpx.AsyncClient(base_url=url, timeout=30) as client:

        async def gql(query: str, variables: dict[str, Any], key: str) -> dict[str, Any]:
            response = await client.post(
                "/graphql",
                json={"query": query, "variables": variables},
                headers={"Authorization": f"Bearer {key}"},
            )
            body: dict[str, Any] = response.json()
            assert "errors" not in body, body
            data: dict[str, Any] = body["data"]
            return data

        for n, customer in enumerate(customers, start=1):
            purchase = {
                "customerId": customer,
                "storeId": "S1",
                "transactionId": f"T{n}",
                "occurredAt": an_hour_ago,
                "lines": [
                    {"sku": "PEPP-L", "quantity": 2, "unitPrice": 1499},
                    {"sku": skus[n], "quantity": 1, "unitPrice": 899},
                ],
            }
            done = await gql(RECORD, {"p": purchase}, pos)
            assert done["recordPurchase"]["__typename"] == "PurchaseRecorded", done
        adjust = {"customerId": "alice", "points": 500, "reason": "welcome", "idempotencyKey": "K1"}
        await gql(ADJUST, {"i": adjust}, admin)
        voucher = await gql(REDEEM, {"k": "K2", "c": "alice"}, admin)
        codes.append(voucher["redeemReward"]["voucher"]["code"])
        issue = {"customerId": "alice", "idempotencyKey": "K3", "amountOff": 300}
        issued = await gql(ISSUE, {"i": issue}, admin)
        codes.append(issued["issueRebateCode"]["rebateCode"]["code"])
        line = {"sku": "PEPP-M", "quantity": 1, "unitPrice": 1249}
        cart = {"storeId": "S1", "customerId": "alice", "lines": [line]}
        shown = await gql(NUDGES, {"c": cart}, pos)
        nudges += [nudge["id"] for nudge in shown["nudges"]["nudges"]]
    return Known(
        customers=[*customers, " alice", "a\x00"],
        stores=["S1", "S2"],
        skus=skus,
        transactions=["T1", "T2", "T3", "R1", *(f"F{n}" for n in range(30))],
        codes=[*codes, "THX-0000-0000-0000-0"],
        nudges=[*nudges, "00000000-0000-0000-0000-000000000000"],
        ids=["1", "2", "3", "6", "7"],
        keys=["K1", "K2", "K3", "K4"],
    )


async def test_generated_requests_never_fail_mask_a_bug_or_write_when_refused(
    trial: Trial, live_url: str, pool: Pool
) -> None:
    per_operation = scale(8, 80)
    trial.describe(
        "fuzz",
        f"schemathesis: up to {per_operation} generated cases per query and mutation over HTTP,"
        " as admin, POS, customer and nobody",
    )
    admin = await service.create_api_key(pool, Role.ADMIN, None, "fuzz admin")
    pos = await service.create_api_key(pool, Role.POS, None, "fuzz pos")
    store_pos = await service.create_api_key(pool, Role.POS, "S1", "fuzz pos S1")
    known = await seed_program(live_url, pool, admin, pos)
    credentials: list[str | None] = [admin, admin, admin, admin, admin, pos, store_pos]
    credentials += [customer_token("alice"), None, "lk_not_a_key"]
    loop = asyncio.get_running_loop()
    sql = await fingerprint_sql(pool)

    def snapshot(settle: bool) -> dict[str, str]:
        taken = settled(pool, sql) if settle else fingerprint(pool, sql)
        return asyncio.run_coroutine_threadsafe(taken, loop).result(timeout=30)

    started = time.monotonic()
    tally = await asyncio.to_thread(
        fuzz_operations, live_url, known, credentials, per_operation, snapshot
    )
    elapsed = time.monotonic() - started

    total = sum(tally.cases.values())
    trial.saw(
        f"{total} cases over {len(tally.cases)} operations in {elapsed:.0f} s"
        f" ({min(tally.cases.values())}-{max(tally.cases.values())} each):"
        f" {tally.outcomes['served']} served, {tally.outcomes['refused']} refused"
    )
    trial.saw("refused: " + ", ".join(f"{n} {why}" for why, n in tally.refusals.most_common(6)))
    trial.saw("no 5xx, no masked error, no write from a refused request or a read")
    written = ", ".join(f"{t} {n}" for t, n in tally.changed_tables.most_common(5))
    trial.saw(f"cases that wrote, by table: {written}")
    schema = graphql.build_schema(SDL.read_text())
    roots = {*schema.query_type.fields, *schema.mutation_type.fields}  # type: ignore[union-attr]
    assert set(tally.cases) == roots
    assert total >= scale(200, 2000)
    assert tally.outcomes["served"] > 0 and tally.outcomes["refused"] > 0
    assert sum(tally.changed_tables.values()) > 0  # some generated mutations were carried out
    assert await service.verify_ledger(pool) == []
