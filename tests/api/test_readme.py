"""The README's GraphQL examples run as printed, with the credential its section names."""

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import httpx

from loyalty import service
from loyalty.store.database import Pool
from tests.support import customer_token, gql

README = Path(__file__).resolve().parents[2] / "README.md"
SEED = Path(__file__).resolve().parents[2] / "db" / "seed" / "demo.json"
EXAMPLE_DAY = "2026-11-25"


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
    ran = 0
    earned = 0
    for heading, query in examples():
        [who] = [name for name in credentials if f"For an {name}" in heading or name in heading]
        body = await gql(client, query, auth=credentials[who])
        assert "errors" not in body, (heading, body)
        text = json.dumps(body)
        assert "Error" not in text, (heading, body)
        if "recordPurchase" in body["data"]:
            earned = body["data"]["recordPurchase"]["pointsEarned"]
        ran += 1
    assert ran >= 4
    assert earned == 39  # as the README says: 19 base points and 20 for the large pizza
    me = await gql(client, "{ me { balance } }", auth=credentials["app"])
    assert me["data"]["me"]["balance"] == earned + 50  # the purchase, then the adjustment
