"""/metrics counts requests per schema field, whatever clients call their queries."""

import httpx

from tests.support import customer_token, gql


async def test_requests_are_counted_by_the_field_they_call(
    client: httpx.AsyncClient, pos_key: str
) -> None:
    await gql(client, "{ me { balance } }", auth=customer_token("alice"))
    await gql(client, "query Chosen123 { products { sku } }", auth=pos_key)
    await gql(client, "query Other456 { products { sku } }", auth=pos_key)
    await gql(client, "{ nothingHere }", auth=pos_key)
    await gql(client, "{ me { balance } products { sku } }", auth=customer_token("alice"))
    await client.post(
        "/graphql", content=b"{not json", headers={"content-type": "application/json"}
    )
    await client.get("/no/such/path")
    text = (await client.get("/metrics")).text
    assert 'loyalty_requests_total{operation="me",outcome="ok"} 1' in text
    assert 'loyalty_requests_total{operation="products",outcome="ok"} 2' in text
    assert 'loyalty_requests_total{operation="unknown",outcome="error"} 1' in text
    assert 'loyalty_requests_total{operation="multiple",outcome="ok"} 1' in text
    assert 'loyalty_requests_total{operation="/graphql",outcome="error"} 1' in text
    assert 'loyalty_requests_total{operation="other",outcome="error"} 1' in text
    assert "Chosen123" not in text and "Other456" not in text and "/no/such" not in text
    assert 'loyalty_request_seconds_count{operation="products"} 2' in text
    assert 'loyalty_db_pool_connections{state="idle"}' in text
