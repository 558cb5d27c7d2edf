"""What the request guards cost: the query cost walk, the fragment-spread count and the rate
limiter, timed on the documents the load suite sends (`python bench/guards.py`)."""

from __future__ import annotations

import timeit

from graphql import parse

from loyalty.api.limits import expanded_size, query_cost
from loyalty.api.schema import build_schema
from loyalty.service.throttle import RateLimiter

ME = """{ me { balance pendingPoints availablePoints debt
  expiring(first: 3) { points expiresAt lastDay }
  tier { tier { name multiplierPercent } qualifyingPoints nextTier { name }
         pointsToNext by progress keptThrough } } }"""

RECORD = """mutation R($input: PurchaseInput!) { recordPurchase(input: $input) { __typename
  ... on PurchaseRecorded { pointsEarned balance replayed purchase { id subtotal }
      awards { ruleId ruleVersion kind points } reasons { ruleName code message }
      rebateCodesIssued { code amountOff expiresAt } tierChange { fromTier toTier } }
  ... on Error { code message } ... on InvalidInputError { field } } }"""


def micros(call: object, number: int) -> float:
    return timeit.timeit(call, number=number) / number * 1e6  # type: ignore[arg-type]


def main() -> None:
    schema = build_schema()._schema
    print("| guard | document | microseconds a request |")
    print("|---|---|---|")
    for name, text in (("me", ME), ("recordPurchase", RECORD)):
        document = parse(text)
        walk = micros(lambda d=document: query_cost(schema, d, None, {}), 20_000)
        spread = micros(lambda d=document: expanded_size(d), 20_000)
        print(f"| cost walk | {name} | {walk:.1f} |")
        print(f"| fragment spread count | {name} | {spread:.1f} |")
    limiter = RateLimiter(100, 200)
    print(f"| rate limiter | any | {micros(lambda: limiter.wait_for('key:1'), 200_000):.2f} |")


if __name__ == "__main__":
    main()
