"""Reward rules as admins define them: kinds, conditions, caps and stacking.

A rule arrives as a spec (a JSON object shaped like the GraphQL RuleInput) and is parsed
into frozen dataclasses here; a bad spec raises ValidationError naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeGuard

from loyalty.domain.cart import CHANNELS
from loyalty.errors import ValidationError

BASE_EARN = "BASE_EARN"
UPSIZE = "UPSIZE"
ADD_ON = "ADD_ON"
SPEND_THRESHOLD = "SPEND_THRESHOLD"
BUNDLE = "BUNDLE"
PRODUCT_BONUS = "PRODUCT_BONUS"
KINDS = (BASE_EARN, UPSIZE, ADD_ON, SPEND_THRESHOLD, BUNDLE, PRODUCT_BONUS)
PARAMS_KEY = {
    BASE_EARN: "baseEarn",
    UPSIZE: "upsize",
    ADD_ON: "addOn",
    SPEND_THRESHOLD: "spendThreshold",
    BUNDLE: "bundle",
    PRODUCT_BONUS: "productBonus",
}
PER_UNIT = "per_unit"
PER_ORDER = "per_order"
PERIODS = ("day", "week", "month")
# Computed from each customer's history: who mostly returns what they buy, who only buys on
# discount.
SEGMENTS = ("mostly_returns", "discount_only")
MAX_POINTS = 1_000_000
MAX_MONEY = 1_000_000_000
MAX_BUDGET = 10**12
TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")


@dataclass(frozen=True)
class ItemMatch:
    """One sku, or any product of one category."""

    sku: str | None = None
    category: str | None = None

    def describe(self) -> str:
        return f"sku {self.sku}" if self.sku else f"category {self.category}"


@dataclass(frozen=True)
class Conditions:
    stores: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()
    tiers: frozenset[str] = frozenset()
    excluded_segments: frozenset[str] = frozenset()
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    days_of_week: frozenset[int] = frozenset()  # ISO: 1 is Monday
    start_minute: int | None = None  # minutes after local midnight, inclusive
    end_minute: int | None = None  # exclusive


@dataclass(frozen=True)
class Caps:
    period: str | None = None
    max_awards: int | None = None
    max_points: int | None = None
    budget: int | None = None


@dataclass(frozen=True)
class BaseEarn:
    mode: str
    points: int
    unit: int = 100
    min_subtotal: int = 0


@dataclass(frozen=True)
class Upsize:
    """Points per unit of a line at min_size_rank or larger, in a family or a category."""

    min_size_rank: int
    points: int
    family: str | None = None
    category: str | None = None


@dataclass(frozen=True)
class AddOn:
    """Points once per cart holding a trigger and an add-on."""

    trigger: ItemMatch
    add_on: ItemMatch
    points: int


@dataclass(frozen=True)
class SpendThreshold:
    """Bonus points, or a multiplier on base points, from a subtotal."""

    threshold: int
    points: int = 0
    multiplier_percent: int = 100


@dataclass(frozen=True)
class Bundle:
    """Points per complete set: one unit matching each item."""

    items: tuple[ItemMatch, ...]
    points: int


@dataclass(frozen=True)
class ProductBonus:
    """Points per matching unit, and/or a multiplier on the base points of matching lines."""

    target: ItemMatch
    points: int = 0
    multiplier_percent: int = 100


Params = BaseEarn | Upsize | AddOn | SpendThreshold | Bundle | ProductBonus


@dataclass(frozen=True)
class RebateSpec:
    """The thank-you code a nudging rule gives when its nudge is accepted."""

    amount_off: int | None
    percent_off: int | None
    min_spend: int = 0
    days_valid: int = 30


NUDGING_KINDS = (UPSIZE, ADD_ON, SPEND_THRESHOLD, BUNDLE)


@dataclass(frozen=True)
class Rule:
    id: int
    version: int
    kind: str
    name: str
    params: Params
    priority: int = 0
    exclusive: bool = False
    conditions: Conditions = field(default_factory=Conditions)
    caps: Caps = field(default_factory=Caps)
    message: str = ""
    rebate: RebateSpec | None = None


@dataclass(frozen=True)
class CatalogFacts:
    """What a rule may refer to: categories, skus, the sizes of families and categories, tiers."""

    categories: frozenset[str]
    skus: frozenset[str]
    family_sizes: Mapping[str, frozenset[int]]
    category_sizes: Mapping[str, frozenset[int]] = field(default_factory=dict)
    sku_categories: Mapping[str, str] = field(default_factory=dict)
    tiers: frozenset[str] = frozenset()


def parse_rule(
    *,
    rule_id: int,
    version: int,
    kind: str,
    name: str,
    spec: Mapping[str, Any],
    priority: int = 0,
    exclusive: bool = False,
    message: str = "",
) -> Rule:
    if kind not in KINDS:
        raise ValidationError("kind", f"kind must be one of {', '.join(KINDS)}")
    name = name.strip()
    if not 0 < len(name) <= 120:
        raise ValidationError("name", "a name of 1 to 120 characters is required")
    if not -1000 <= priority <= 1000:
        raise ValidationError("priority", "priority must be between -1000 and 1000")
    if len(message) > 300:
        raise ValidationError("message", "message is at most 300 characters")
    if exclusive and kind == BASE_EARN:
        # Multipliers of other rules apply to base points, so base points must always stack.
        raise ValidationError("exclusive", "BASE_EARN rules always stack")
    for other in set(PARAMS_KEY.values()) - {PARAMS_KEY[kind]}:
        if spec.get(other) is not None:
            raise ValidationError(other, f"{other} does not apply to a {kind} rule")
    return Rule(
        id=rule_id,
        version=version,
        kind=kind,
        name=name,
        params=_parse_params(kind, spec),
        priority=priority,
        exclusive=exclusive,
        conditions=_parse_conditions(_object(spec, "conditions")),
        caps=_parse_caps(_object(spec, "caps")),
        message=message,
        rebate=_parse_rebate(kind, spec.get("rebate")),
    )


def check_against_catalog(rule: Rule, facts: CatalogFacts) -> None:
    """Refuse a rule that names what the catalog does not have."""
    key = PARAMS_KEY[rule.kind]
    params = rule.params
    if unknown := sorted(rule.conditions.tiers - facts.tiers):
        raise ValidationError(
            "conditions.tiers",
            f"unknown tier {unknown[0]!r}: the program defines none by that name",
        )
    if isinstance(params, Upsize):
        _check_upsize(params, facts, key)
    elif isinstance(params, AddOn):
        _check_match(params.trigger, facts, f"{key}.trigger")
        _check_match(params.add_on, facts, f"{key}.addOn")
    elif isinstance(params, Bundle):
        for index, item in enumerate(params.items):
            _check_match(item, facts, f"{key}.items[{index}]")
        _check_bundle_overlap(params, facts, key)
    elif isinstance(params, ProductBonus):
        _check_match(params.target, facts, f"{key}.target")


def _check_upsize(params: Upsize, facts: CatalogFacts, key: str) -> None:
    if params.family is not None:
        sizes = facts.family_sizes.get(params.family, frozenset())
        if len(sizes) < 2:
            raise ValidationError(
                f"{key}.family",
                f"family {params.family!r} has {len(sizes)} size(s); an upsize needs 2+",
            )
        if not min(sizes) < params.min_size_rank <= max(sizes):
            raise ValidationError(
                f"{key}.minSizeRank",
                f"minSizeRank must be above the smallest size ({min(sizes)}) of "
                f"{params.family!r} and at most its largest ({max(sizes)})",
            )
    if params.category is not None:
        if params.category not in facts.categories:
            raise ValidationError(f"{key}.category", f"unknown category {params.category!r}")
        sizes = facts.category_sizes.get(params.category, frozenset())
        if not any(size < params.min_size_rank for size in sizes) or not any(
            size >= params.min_size_rank for size in sizes
        ):
            raise ValidationError(
                f"{key}.minSizeRank",
                f"category {params.category!r} has no sizes both below and at "
                f"{params.min_size_rank}: nothing could be upsized to it",
            )


def _check_bundle_overlap(params: Bundle, facts: CatalogFacts, key: str) -> None:
    """One unit may fill one slot of a bundle: a sku may not also be a category slot."""
    categories = {item.category for item in params.items if item.category}
    for index, item in enumerate(params.items):
        if item.sku is not None and facts.sku_categories.get(item.sku) in categories:
            raise ValidationError(
                f"{key}.items[{index}]",
                f"sku {item.sku} is in category {facts.sku_categories[item.sku]!r}, "
                "which is another item of this bundle",
            )


def _check_match(match: ItemMatch, facts: CatalogFacts, where: str) -> None:
    if match.category is not None and match.category not in facts.categories:
        raise ValidationError(f"{where}.category", f"unknown category {match.category!r}")
    if match.sku is not None and match.sku not in facts.skus:
        raise ValidationError(f"{where}.sku", f"unknown sku {match.sku!r}")


def _parse_params(kind: str, spec: Mapping[str, Any]) -> Params:
    key = PARAMS_KEY[kind]
    raw = spec.get(key)
    if not isinstance(raw, Mapping):
        raise ValidationError(key, f"a {kind} rule needs {key}")
    if kind == BASE_EARN:
        mode = raw.get("mode")
        if mode not in (PER_UNIT, PER_ORDER):
            raise ValidationError(f"{key}.mode", f"mode must be {PER_UNIT} or {PER_ORDER}")
        return BaseEarn(
            mode=mode,
            points=_int(raw, key, "points", 1, MAX_POINTS),
            unit=_int(raw, key, "unit", 1, MAX_MONEY, default=100),
            min_subtotal=_int(raw, key, "minSubtotal", 0, MAX_MONEY, default=0),
        )
    if kind == UPSIZE:
        family, category = _text(raw, key, "family"), _text(raw, key, "category")
        if (family is None) == (category is None):
            raise ValidationError(f"{key}.family", "give a family or a category, not both")
        return Upsize(
            min_size_rank=_int(raw, key, "minSizeRank", 1, 100),
            points=_int(raw, key, "points", 1, MAX_POINTS),
            family=family,
            category=category.lower() if category else None,
        )
    if kind == ADD_ON:
        return AddOn(
            trigger=_match(raw, key, "trigger"),
            add_on=_match(raw, key, "addOn"),
            points=_int(raw, key, "points", 1, MAX_POINTS),
        )
    if kind == SPEND_THRESHOLD:
        return _bonus_or_multiplier(
            raw,
            key,
            lambda points, percent: SpendThreshold(
                _int(raw, key, "threshold", 1, MAX_MONEY), points, percent
            ),
        )
    if kind == BUNDLE:
        items = raw.get("items")
        if not isinstance(items, list) or not 2 <= len(items) <= 10:
            raise ValidationError(f"{key}.items", "a bundle has 2 to 10 items")
        parsed = tuple(_match_value(item, f"{key}.items[{i}]") for i, item in enumerate(items))
        if len(set(parsed)) != len(parsed):
            raise ValidationError(f"{key}.items", "each bundle item may appear once")
        return Bundle(items=parsed, points=_int(raw, key, "points", 1, MAX_POINTS))
    target = _match(raw, key, "target")
    return _bonus_or_multiplier(
        raw, key, lambda points, percent: ProductBonus(target, points, percent)
    )


def _bonus_or_multiplier(raw: Mapping[str, Any], key: str, build: Any) -> Params:
    points = _int(raw, key, "points", 0, MAX_POINTS, default=0)
    percent = _int(raw, key, "multiplierPercent", 100, 1000, default=100)
    if points == 0 and percent == 100:
        raise ValidationError(f"{key}.points", "give bonus points or a multiplierPercent above 100")
    result: Params = build(points, percent)
    return result


def _parse_conditions(raw: Mapping[str, Any]) -> Conditions:
    key = "conditions"
    channels = _strings(raw, key, "channels")
    if not channels <= set(CHANNELS):
        raise ValidationError(f"{key}.channels", f"channels are {', '.join(CHANNELS)}")
    days = raw.get("daysOfWeek") or []
    if not isinstance(days, list) or not all(_is_int(d) and 1 <= d <= 7 for d in days):
        raise ValidationError(f"{key}.daysOfWeek", "days of week are 1 (Monday) to 7 (Sunday)")
    if unknown := sorted(_strings(raw, key, "excludedSegments") - set(SEGMENTS)):
        raise ValidationError(
            f"{key}.excludedSegments",
            f"unknown segment {unknown[0]!r}: segments are {', '.join(SEGMENTS)}",
        )
    valid_from = _instant(raw, key, "validFrom")
    valid_to = _instant(raw, key, "validTo")
    if valid_from and valid_to and valid_to <= valid_from:
        raise ValidationError(f"{key}.validTo", "validTo must be after validFrom")
    start = _minute(raw, key, "timeFrom")
    end = _minute(raw, key, "timeTo")
    if (start is None) != (end is None):
        raise ValidationError(f"{key}.timeTo", "give both timeFrom and timeTo, or neither")
    if start is not None and end is not None and end <= start:
        raise ValidationError(f"{key}.timeTo", "timeTo must be after timeFrom on the same day")
    return Conditions(
        stores=_strings(raw, key, "stores"),
        channels=channels,
        tiers=_strings(raw, key, "tiers"),
        excluded_segments=_strings(raw, key, "excludedSegments"),
        valid_from=valid_from,
        valid_to=valid_to,
        days_of_week=frozenset(days),
        start_minute=start,
        end_minute=end,
    )


def _parse_rebate(kind: str, raw: Any) -> RebateSpec | None:
    if raw is None:
        return None
    key = "rebate"
    if kind not in NUDGING_KINDS:
        raise ValidationError(key, f"only nudging rules ({', '.join(NUDGING_KINDS)}) give codes")
    if not isinstance(raw, Mapping):
        raise ValidationError(key, "rebate must be an object")
    amount = _int(raw, key, "amountOff", 1, MAX_MONEY, default=None)
    percent = _int(raw, key, "percentOff", 1, 100, default=None)
    if (amount is None) == (percent is None):
        raise ValidationError(f"{key}.amountOff", "give amountOff or percentOff, not both")
    return RebateSpec(
        amount_off=amount,
        percent_off=percent,
        min_spend=_int(raw, key, "minSpend", 0, MAX_MONEY, default=0),
        days_valid=_int(raw, key, "daysValid", 1, 366, default=30),
    )


def _parse_caps(raw: Mapping[str, Any]) -> Caps:
    key = "caps"
    period = raw.get("period")
    max_awards = _int(raw, key, "maxAwards", 1, 1000, default=None)
    max_points = _int(raw, key, "maxPoints", 1, MAX_BUDGET, default=None)
    if period is not None and period not in PERIODS:
        raise ValidationError(f"{key}.period", f"period must be one of {', '.join(PERIODS)}")
    if (max_awards or max_points) and period is None:
        raise ValidationError(f"{key}.period", "a per-customer cap needs a period")
    if period is not None and not (max_awards or max_points):
        raise ValidationError(f"{key}.maxAwards", "a period needs maxAwards or maxPoints")
    return Caps(
        period=period,
        max_awards=max_awards,
        max_points=max_points,
        budget=_int(raw, key, "budget", 1, MAX_BUDGET, default=None),
    )


def _object(spec: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = spec.get(key) or {}
    if not isinstance(value, Mapping):
        raise ValidationError(key, f"{key} must be an object")
    return value


def _int(
    raw: Mapping[str, Any], key: str, name: str, low: int, high: int, default: Any = ...
) -> Any:
    value = raw.get(name)
    if value is None and default is not ...:
        return default
    if not _is_int(value) or not low <= value <= high:
        raise ValidationError(
            f"{key}.{name}", f"{name} must be a whole number from {low} to {high}"
        )
    return value


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(raw: Mapping[str, Any], key: str, name: str) -> str | None:
    value = raw.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > 128:
        raise ValidationError(f"{key}.{name}", f"{name} must be text of 1 to 128 characters")
    return value.strip()


def _strings(raw: Mapping[str, Any], key: str, name: str) -> frozenset[str]:
    value = raw.get(name) or []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValidationError(f"{key}.{name}", f"{name} must be a list of names")
    return frozenset(v.strip() for v in value)


def _match(raw: Mapping[str, Any], key: str, name: str) -> ItemMatch:
    return _match_value(raw.get(name), f"{key}.{name}")


def _match_value(value: Any, where: str) -> ItemMatch:
    if not isinstance(value, Mapping):
        raise ValidationError(where, "give a sku or a category")
    sku, category = _text(value, where, "sku"), _text(value, where, "category")
    if (sku is None) == (category is None):
        raise ValidationError(where, "give a sku or a category, not both")
    return ItemMatch(sku=sku, category=category.lower() if category else None)


def _instant(raw: Mapping[str, Any], key: str, name: str) -> datetime | None:
    value = raw.get(name)
    if value is None:
        return None
    try:
        instant = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    except (TypeError, ValueError):
        instant = None
    if instant is None or instant.tzinfo is None:
        raise ValidationError(f"{key}.{name}", f"{name} must be a date-time with an offset")
    try:
        # Kept in UTC: comparing datetimes of one timezone is many times faster than across two.
        return instant.astimezone(UTC)
    except OverflowError as error:
        raise ValidationError(f"{key}.{name}", f"{name} is out of range") from error


def _minute(raw: Mapping[str, Any], key: str, name: str) -> int | None:
    value = raw.get(name)
    if value is None:
        return None
    match = TIME.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValidationError(f"{key}.{name}", f"{name} must read HH:MM, 00:00 to 24:00")
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)
