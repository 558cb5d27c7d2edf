"""How long the rule engine takes to evaluate one cart against a full program of rules.

200 active rules of every kind (conditions that mostly pass, some caps and budgets), a 20-line
cart drawn from a 5,000-product catalog. Run: .venv/bin/python bench/rules_eval.py
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import pstats
import random
import statistics
import sys
import timeit
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from loyalty.domain.engine import (
    CustomerState,
    Evaluation,
    Item,
    Occasion,
    Usage,
    evaluate,
    period_start,
)
from loyalty.domain.nudges import Nudge, Product, Shelf, find_nudges
from loyalty.domain.ruleindex import RuleIndex
from loyalty.domain.rules import (
    ADD_ON,
    BASE_EARN,
    BUNDLE,
    KINDS,
    PARAMS_KEY,
    PRODUCT_BONUS,
    SPEND_THRESHOLD,
    UPSIZE,
    AddOn,
    Bundle,
    CatalogFacts,
    Rule,
    check_against_catalog,
    parse_rule,
)
from loyalty.errors import ValidationError

TARGET_US = 1000.0  # per evaluation
# A program as merchants run one: a few base rules, many product-level promotions.
PROGRAM_MIX = {
    BASE_EARN: 4,
    SPEND_THRESHOLD: 10,
    UPSIZE: 40,
    ADD_ON: 50,
    BUNDLE: 30,
    PRODUCT_BONUS: 66,
}
# A stress case: as many rules of each kind, so 33 base rules and 33 multipliers stack.
UNIFORM_MIX = dict.fromkeys(KINDS, 200 // len(KINDS)) | {PRODUCT_BONUS: 200 - 5 * (200 // 6)}
MIXES = {"program": PROGRAM_MIX, "uniform": UNIFORM_MIX}
LINES = 20
PRODUCTS = 5000
FAMILIES = 500  # four sizes each: 2,000 sized products, the rest stand alone
CATEGORIES = 50
STORE = "WAW-001"
WARSAW = ZoneInfo("Europe/Warsaw")
AT = datetime(2026, 3, 24, 11, 30, tzinfo=UTC)  # a Tuesday, 12:30 in Warsaw
SEED = 20260324


def build_catalog(rng: random.Random) -> list[Item]:
    products = []
    for index in range(PRODUCTS):
        category = f"category-{index % CATEGORIES:02d}"
        family, size = (
            (f"family-{index // 4:03d}", index % 4 + 1) if index < FAMILIES * 4 else (None, None)
        )
        price = rng.randrange(99, 3999)
        products.append(Item(f"SKU-{index:05d}", 1, price, category, family, size))
    return products


def build_cart(rng: random.Random, catalog: Sequence[Item]) -> list[Item]:
    lines = rng.sample(catalog, LINES)
    return [
        Item(p.sku, rng.randint(1, 3), p.unit_price, p.category, p.family, p.size_rank)
        for p in lines
    ]


def build_rules(
    rng: random.Random, catalog: Sequence[Item], cart: Sequence[Item], mix: dict[str, int]
) -> list[Rule]:
    """Rules of every kind in the given numbers, half of their targets taken from the cart."""
    facts = CatalogFacts(
        categories=frozenset(p.category for p in catalog if p.category),
        skus=frozenset(p.sku for p in catalog),
        family_sizes={
            family: frozenset(p.size_rank for p in catalog if p.family == family and p.size_rank)
            for family in {p.family for p in catalog if p.family}
        },
        category_sizes={
            category: frozenset(
                p.size_rank for p in catalog if p.category == category and p.size_rank
            )
            for category in {p.category for p in catalog if p.category}
        },
        sku_categories={p.sku: p.category for p in catalog if p.category},
        tiers=frozenset({"silver", "gold"}),
    )
    kinds = [kind for kind, count in mix.items() for _ in range(count)]
    rng.shuffle(kinds)
    rules = []
    for rule_id, kind in enumerate(kinds, start=1):
        while True:  # draw again what the service would refuse (e.g. overlapping bundle items)
            spec = {
                PARAMS_KEY[kind]: params(rng, kind, catalog, cart),
                "conditions": conditions(rng),
                "caps": caps(rng, rule_id),
            }
            try:
                rule = parse_rule(
                    rule_id=rule_id,
                    version=1,
                    kind=kind,
                    name=f"{kind.lower()} #{rule_id}",
                    spec=spec,
                    priority=rng.randint(-5, 5),
                    exclusive=rule_id % 4 == 0 and kind != BASE_EARN,
                )
                check_against_catalog(rule, facts)
            except ValidationError:
                continue
            rules.append(rule)
            break
    return rules


def params(
    rng: random.Random, kind: str, catalog: Sequence[Item], cart: Sequence[Item]
) -> dict[str, Any]:
    def product() -> Item:
        return rng.choice(cart if rng.random() < 0.5 else catalog)

    def match() -> dict[str, str]:
        chosen = product()
        if rng.random() < 0.5:
            return {"sku": chosen.sku}
        return {"category": chosen.category or ""}

    if kind == BASE_EARN:
        mode = rng.choice(["per_unit", "per_order"])
        return {"mode": mode, "points": 1 if mode == "per_unit" else 10, "minSubtotal": 500}
    if kind == UPSIZE:
        sized = [p for p in (product() for _ in range(10)) if p.family]
        family = sized[0].family if sized else "family-000"
        return {"family": family, "minSizeRank": rng.randint(2, 4), "points": 20}
    if kind == ADD_ON:
        return {"trigger": match(), "addOn": match(), "points": 15}
    if kind == SPEND_THRESHOLD:
        threshold = rng.randrange(2000, 20000)
        if rng.random() < 0.5:
            return {"threshold": threshold, "points": 50}
        return {"threshold": threshold, "multiplierPercent": 200}
    if kind == BUNDLE:
        items: list[dict[str, str]] = []
        while len(items) < 3:
            if (candidate := match()) not in items:
                items.append(candidate)
        return {"items": items, "points": 25}
    return {"target": match(), "points": 5, "multiplierPercent": 150}


def conditions(rng: random.Random) -> dict[str, Any]:
    """Every condition kind is present; about one rule in ten fails one of them."""
    stores = [STORE, "KRK-001"] if rng.random() < 0.95 else ["GDA-001"]
    return {
        "stores": stores,
        "channels": ["pos", "app"],
        "tiers": ["silver", "gold"],
        "excludedSegments": ["mostly_returns"],
        "validFrom": "2026-01-01T00:00:00+01:00",
        "validTo": "2027-01-01T00:00:00+01:00",
        "daysOfWeek": [1, 2, 3, 4, 5] if rng.random() < 0.95 else [6, 7],
        "timeFrom": "10:00",
        "timeTo": "22:00",
    }


def caps(rng: random.Random, rule_id: int) -> dict[str, Any]:
    if rule_id % 5 == 0:
        return {"period": rng.choice(["day", "week", "month"]), "maxAwards": 3, "maxPoints": 500}
    if rule_id % 7 == 0:
        return {"budget": 1_000_000}
    return {}


def scenario(
    mix: dict[str, int],
) -> tuple[list[Item], Occasion, CustomerState, list[Rule], dict[int, int]]:
    rng = random.Random(SEED)
    catalog = build_catalog(rng)
    cart = build_cart(rng, catalog)
    rules = build_rules(rng, catalog, cart, mix)
    day = AT.astimezone(WARSAW).date()
    usage = {
        (rule.id, period_start(rule.caps.period, day)): Usage(1, 40)
        for rule in rules
        if rule.caps.period is not None
    }
    customer = CustomerState(tier="gold", tier_multiplier_percent=125, usage=usage)
    budgets = {rule.id: 250_000 for rule in rules if rule.caps.budget is not None}
    return cart, Occasion(STORE, "pos", AT, WARSAW), customer, rules, budgets


class EveryRule(RuleIndex):
    """Evaluation without the index, as purchases and quotes asking for reasons do it."""

    def evaluate(
        self,
        items: Sequence[Item],
        occasion: Occasion,
        customer: CustomerState,
        budgets: Mapping[int, int] | None = None,
    ) -> Evaluation:
        return evaluate(items, occasion, customer, self.rules, budgets)


def indexed_scenario(
    mix: str, indexed: bool
) -> tuple[list[Item], Occasion, CustomerState, RuleIndex, dict[int, int]]:
    cart, occasion, customer, rules, budgets = scenario(MIXES[mix])
    return cart, occasion, customer, (RuleIndex if indexed else EveryRule)(rules), budgets


def build_shelf(cart: Sequence[Item], rules: Sequence[Rule]) -> Shelf:
    """What the service's shelf query offers the cart: the sizes of its families, and the
    products that rules name as add-ons or bundle items (ten of a named category)."""
    catalog = build_catalog(random.Random(SEED))  # the catalog scenario() draws first

    def product(p: Item) -> Product:
        return Product(p.sku, p.sku, p.category or "", p.unit_price, p.family, p.size_rank)

    named = [
        match
        for p in (rule.params for rule in rules)
        for match in (
            (p.add_on,) if isinstance(p, AddOn) else p.items if isinstance(p, Bundle) else ()
        )
    ]
    skus = {match.sku for match in named if match.sku}
    left = {match.category: 10 for match in named if match.category}
    extras = []
    for p in catalog:
        if p.sku in skus or left.get(p.category or "", 0) > 0:
            left[p.category or ""] = left.get(p.category or "", 0) - 1
            extras.append(product(p))
    families = {item.family for item in cart if item.family}
    sizes = {f: [product(p) for p in catalog if p.family == f] for f in families}
    return Shelf(sizes=sizes, extras=extras)


def timings(once: Callable[[], object], samples: int, warmup: int, batch: int) -> dict[str, Any]:
    timer = timeit.Timer(once)
    timer.timeit(number=warmup)
    per_call = [seconds * 1e6 for seconds in timer.repeat(repeat=samples, number=1)]
    batches = timer.repeat(repeat=5, number=batch)
    return {
        "samples": samples,
        "mean_us": round(statistics.fmean(per_call), 1),
        "p50_us": round(statistics.median(per_call), 1),
        "p99_us": round(statistics.quantiles(per_call, n=100)[98], 1),
        "best_batch_mean_us": round(min(batches) / batch * 1e6, 1),
    }


def measure(mix: str, samples: int, warmup: int, indexed: bool) -> dict[str, Any]:
    cart, occasion, customer, index, budgets = indexed_scenario(mix, indexed)

    def once() -> Evaluation:
        return index.evaluate(cart, occasion, customer, budgets)

    evaluation = once()
    return {
        "mix": mix,
        "rules": len(index.rules),
        "evaluated": len(index.candidates(cart)) if indexed else len(index.rules),
        "lines": len(cart),
        "products": PRODUCTS,
        "awards": len(evaluation.awards),
        "reasons": len(evaluation.reasons),
        "points": evaluation.points,
        **timings(once, samples, warmup, batch=200),
        "target_us": TARGET_US,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
    }


def nudging(mix: str, indexed: bool) -> Callable[[], list[Nudge]]:
    """find_nudges for the cart: it prices the cart and each change the rules suggest."""
    cart, occasion, customer, index, budgets = indexed_scenario(mix, indexed)
    shelf = build_shelf(cart, index.rules)
    return lambda: find_nudges(cart, occasion, customer, index, shelf, budgets=budgets)


def profile(mix: str, count: int, indexed: bool, nudges: bool) -> None:
    cart, occasion, customer, index, budgets = indexed_scenario(mix, indexed)
    find = nudging(mix, indexed)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(count):
        find() if nudges else index.evaluate(cart, occasion, customer, budgets)
    profiler.disable()
    pstats.Stats(profiler).sort_stats("cumulative" if nudges else "tottime").print_stats(15)


def compare(mix: str, samples: int, warmup: int) -> dict[str, Any]:
    """Every rule and the index timed in one run; both must pay and nudge the same."""
    every, indexed = (measure(mix, samples, warmup, flag) for flag in (False, True))
    assert (indexed["awards"], indexed["points"]) == (every["awards"], every["points"])
    finds = [nudging(mix, flag) for flag in (False, True)]
    assert finds[0]() == finds[1]()
    nudges = [timings(find, max(samples // 20, 20), 10, batch=20) for find in finds]
    print(
        f"{mix} mix: {every['rules']} rules, {every['lines']} lines, {every['products']} "
        f"products; {every['awards']} awards, {every['points']} points"
    )
    result: dict[str, Any] = {"mix": mix}
    for name, rows in (("evaluate", (every, indexed)), ("find_nudges", nudges)):
        labels = ("every rule", f"indexed, {indexed['evaluated']} rules")
        for label, row in zip(labels, rows, strict=True):
            print(f"  {name}, {label}: {summary(row)}")
        ratio = rows[1]["best_batch_mean_us"] / rows[0]["best_batch_mean_us"]
        print(f"  {name}: indexed takes {ratio:.2f} of the time ({1 / ratio:.1f}x as fast)")
        result[name] = {"every_rule": rows[0], "indexed": rows[1], "ratio": round(ratio, 3)}
    return result


def summary(row: dict[str, Any]) -> str:
    return (
        f"mean {row['mean_us']:.1f} us, p50 {row['p50_us']:.1f} us, p99 {row['p99_us']:.1f} us "
        f"(best batch mean {row['best_batch_mean_us']:.1f} us)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mix", choices=sorted(MIXES), default="program", help="rule kinds")
    parser.add_argument("--samples", type=int, default=5000, help="timed evaluations")
    parser.add_argument("--warmup", type=int, default=500, help="evaluations before timing")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the numbers here")
    parser.add_argument("--profile", action="store_true", help="print where the time goes")
    parser.add_argument("--nudges", action="store_true", help="profile find_nudges instead")
    parser.add_argument("--indexed", action="store_true", help="only rules that could pay")
    parser.add_argument("--compare", action="store_true", help="every rule and the index")
    args = parser.parse_args(argv)
    if args.profile:
        profile(args.mix, args.samples, args.indexed, args.nudges)
        return 0
    if args.compare:
        result = compare(args.mix, args.samples, args.warmup)
    else:
        result = measure(args.mix, args.samples, args.warmup, args.indexed)
        result["mean_under_target"] = result["mean_us"] < TARGET_US
        result["p99_under_target"] = result["p99_us"] < TARGET_US
        print(
            f"{args.mix} mix: {result['rules']} rules ({result['evaluated']} evaluated), "
            f"{result['lines']} lines, {result['products']} products; {result['awards']} "
            f"awards, {result['reasons']} reasons, {result['points']} points"
        )
        print(f"per evaluation: {summary(result)}")
        for name in ("mean", "p99"):
            verdict = "under" if result[f"{name}_under_target"] else "OVER"
            print(f"{name} is {verdict} the {TARGET_US:.0f} us target")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
