"""Rules keyed by the item each needs in a cart, so that a cart skips rules that cannot pay.

An UPSIZE needs a line of its family (or category); an ADD_ON, a BUNDLE and a
PRODUCT_BONUS need a line matching each item they name. BASE_EARN and SPEND_THRESHOLD
can pay on any cart. Built once per rule set; used only when no reasons are wanted,
since a rule left out says nothing about why it did not pay.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from loyalty.domain.engine import CustomerState, Evaluation, Item, Occasion, evaluate
from loyalty.domain.rules import AddOn, Bundle, ItemMatch, Params, ProductBonus, Rule, Upsize

Key = tuple[str, str | None]  # ("sku" | "category" | "family", its name)


class RuleIndex:
    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules = tuple(rules)
        self._always: list[int] = []
        self._keyed: dict[Key, list[int]] = {}
        for position, rule in enumerate(self.rules):
            key = _needed(rule.params)
            if key is None:
                self._always.append(position)
            else:
                self._keyed.setdefault(key, []).append(position)

    def candidates(self, items: Sequence[Item]) -> list[Rule]:
        """The rules that could pay for a cart of these items, in the order given."""
        positions = set(self._always)
        for item in items:
            for key in (("sku", item.sku), ("category", item.category), ("family", item.family)):
                positions.update(self._keyed.get(key, ()))
        return [self.rules[position] for position in sorted(positions)]

    def evaluate(
        self,
        items: Sequence[Item],
        occasion: Occasion,
        customer: CustomerState,
        budgets: Mapping[int, int] | None = None,
    ) -> Evaluation:
        """The awards evaluate() finds over all the rules, without reasons."""
        # evaluate() sorts the candidates as it sorts all rules, so ties, exclusive
        # winners, caps and budgets come out the same.
        candidates = self.candidates(items)
        return evaluate(items, occasion, customer, candidates, budgets, reasons=False)


def _needed(p: Params) -> Key | None:
    """One item a cart must hold for the rule to pay; None for rules that pay on any cart."""
    if isinstance(p, Upsize):
        return ("family", p.family) if p.family else ("category", p.category or "")
    if isinstance(p, ProductBonus):
        return _key(p.target)
    if isinstance(p, AddOn | Bundle):
        matches = (p.trigger, p.add_on) if isinstance(p, AddOn) else p.items
        # Each item is needed, so any one will do: a sku is in fewer carts than a category.
        return min((_key(m) for m in matches), key=lambda key: key[0] != "sku")
    return None


def _key(match: ItemMatch) -> Key:
    return ("sku", match.sku) if match.sku is not None else ("category", match.category)
