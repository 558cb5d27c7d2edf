"""The demo program `make run` loads is a realistic pizza shop with a rule of every kind."""

import json
from pathlib import Path

from loyalty.domain.rules import KINDS, CatalogFacts, check_against_catalog, parse_rule

SEED = json.loads((Path(__file__).resolve().parents[2] / "db" / "seed" / "demo.json").read_text())


def test_the_catalog_has_sized_families_sides_desserts_and_drinks() -> None:
    products = SEED["products"]
    categories = {p["category"] for p in products}
    assert {"pizza", "sides", "desserts", "drinks", "dips"} <= categories
    sizes: dict[str, set[int]] = {}
    for p in products:
        if p.get("family"):
            sizes.setdefault(p["family"], set()).add(p["size_rank"])
    assert sum(ranks == {1, 2, 3, 4} for ranks in sizes.values()) >= 2  # S, M, L, XL
    assert len(sizes) >= 4


def test_there_is_a_valid_rule_of_every_kind() -> None:
    products = SEED["products"]
    facts = CatalogFacts(
        categories=frozenset(p["category"] for p in products),
        skus=frozenset(p["sku"] for p in products),
        family_sizes={
            f: frozenset(p["size_rank"] for p in products if p.get("family") == f)
            for f in {p.get("family") for p in products if p.get("family")}
        },
        category_sizes={
            c: frozenset(
                p["size_rank"] for p in products if p["category"] == c and p.get("size_rank")
            )
            for c in {p["category"] for p in products}
        },
        sku_categories={p["sku"]: p["category"] for p in products},
    )
    kinds = []
    for n, rule in enumerate(SEED["rules"], 1):
        parsed = parse_rule(
            rule_id=n,
            version=1,
            kind=rule["kind"],
            name=rule["name"],
            spec=rule["spec"],
            message=rule.get("message", ""),
        )
        check_against_catalog(parsed, facts)
        kinds.append(parsed.kind)
    assert sorted(kinds) == sorted(KINDS)
