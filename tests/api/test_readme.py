"""The README's GraphQL examples run as printed, with the credential its section names."""

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import httpx
from graphql import parse, validate

from loyalty import service
from loyalty.api.schema import build_schema
from loyalty.store.database import Pool
from tests.support import customer_token, gql

README = Path(__file__).resolve().parents[2] / "README.md"
SEED = Path(__file__).resolve().parents[2] / "db" / "seed" / "demo.json"
EXAMPLE_DAY = "2026-11-25"
SCHEMA = build_schema()._schema


def examples() -> list[tuple[str, str]]:
    """(section heading, query) for every graphql block, in order."""
    found = []
    heading = ""
    for block in re.split(r"(?m)^(## .*)$", README.read_text()):
        if block.startswith("## "):
            heading = block
            continue
        found += [(heading, query) for query in re.findall(r"```graphql\n(.*?)```", block, re.S)]
    # The examples' purchase is dated; run them as if they were typed today.
    today = datetime.now(UTC).date().isoformat()
    return [(heading, query.replace(EXAMPLE_DAY, today)) for heading, query in found]


async def test_every_readme_example_succeeds(
    client: httpx.AsyncClient, pool: Pool, pos_key: str, admin_key: str
) -> None:
    assert await service.load_seed(pool, json.loads(SEED.read_text()))
    credentials = {
        "POS": pos_key,
        "app": customer_token("demo-customer-1"),
        "admin": admin_key,
    }
    pasted: dict[str, str] = {}  # what a reader copies from one answer into the next query
    answers = []
    for heading, query in examples():
        if query.lstrip().startswith("subscription"):
            # Subscriptions run over a websocket (tests/api/test_subscriptions.py); here the
            # document must at least be valid against the schema as printed.
            assert validate(SCHEMA, parse(query)) == [], (heading, query)
            continue
        marked = re.match(r"# as: (\w+)", query)
        who = (
            marked.group(1)
            if marked
            else next((name for name in ("app", "admin") if f"For an {name}" in heading), "POS")
        )
        for placeholder, value in pasted.items():
            query = query.replace(placeholder, value)
        body = await gql(client, query, auth=credentials[who])
        assert "errors" not in body, (heading, body)
        assert "Error" not in json.dumps(body), (heading, body)
        assert not re.search(r'"code": "[A-Z_]+"', json.dumps(body)), (heading, body)
        answers.append(body["data"])
        text = json.dumps(body["data"])
        if '"nudges": [' in text:
            pasted["NUDGE_ID"] = body["data"]["nudges"]["nudges"][0]["id"]
        if '"rebateCodesIssued": [{' in text:
            pasted["REBATE_CODE"] = body["data"]["recordPurchase"]["rebateCodesIssued"][0]["code"]
    purchases = [a["recordPurchase"] for a in answers if "recordPurchase" in a]
    assert purchases[0]["pointsEarned"] == 39  # as the README says: 19 base + 20 large pizza
    [nudge] = next(a["nudges"]["nudges"] for a in answers if "nudges" in a)
    assert nudge["message"] == "Make it a Pepperoni Large for +2.50 and earn 22 bonus points"
    taken = next(p for p in purchases if "acceptedNudgeIds" in p)
    assert taken["acceptedNudgeIds"] == [nudge["id"]]
    redeemed = next(p for p in purchases if "discount" in p)
    assert (redeemed["discount"], redeemed["amountDue"]) == (200, 1049)
    assert redeemed["rebateCode"] == {"state": "REDEEMED"}
    assert len(answers) >= 10
    standing = next(a["me"] for a in answers if "availablePoints" in a.get("me", {}))
    assert standing["balance"] == standing["availablePoints"] + standing["pendingPoints"]
    assert standing["tier"]["tier"]["name"] == "Member"
    assert standing["tier"]["progress"].endswith(f"points to Silver, by {standing['tier']['by']}")
