"""Custom scalars refuse what they cannot hold as the client's mistake, never as a masked bug."""

import httpx

from tests.support import gql

SET_TIERS = "mutation T($t: [TierInput!]!) { setTiers(tiers: $t) { __typename } }"


async def test_a_big_int_beyond_64_bits_is_refused_plainly(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    literal = (
        'mutation { setTiers(tiers: [{name: "Gold", qualifyingPoints: 9223372036854775808}])'
        " { __typename } }"
    )
    tier = {"name": "Gold", "qualifyingPoints": 2**63}
    for query, variables in ((literal, None), (SET_TIERS, {"t": [tier]})):
        body = await gql(client, query, variables, auth=admin_key)
        [error] = body["errors"]
        assert "BigInt must be a whole number within 64 bits" in error["message"], body
