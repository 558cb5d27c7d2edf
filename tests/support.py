"""Helpers the API tests share."""

from __future__ import annotations

from typing import Any

import httpx

from loyalty.tokens import issue_customer_token

JWT_SECRET = "test-secret-that-is-long-enough-for-hs256-keys"


def customer_token(customer_id: str) -> str:
    return issue_customer_token(customer_id, JWT_SECRET, "HS256")


async def gql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    auth: str | None = None,
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {auth}"} if auth else {}
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
