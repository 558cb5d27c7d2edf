"""Splitting whole points (or minor units) in proportion, without losing or inventing one."""

from __future__ import annotations

from collections.abc import Sequence


def allocate_largest_remainder(total: int, weights: Sequence[int]) -> tuple[int, ...]:
    """Split total across weights in proportion; the parts are whole and add up to total.

    Each part gets the floor of its exact share; the units left over go to the largest
    remainders, ties to the earliest position, so the split is deterministic.
    """
    if total < 0 or any(w < 0 for w in weights):
        raise ValueError("total and weights must not be negative")
    weight_sum = sum(weights)
    if weight_sum == 0:
        if total and not weights:
            raise ValueError("cannot split a non-zero total across nothing")
        return tuple([total] + [0] * (len(weights) - 1)) if weights else ()
    shares = [divmod(total * w, weight_sum) for w in weights]
    parts = [quotient for quotient, _ in shares]
    left = total - sum(parts)
    order = sorted(range(len(weights)), key=lambda i: (-shares[i][1], i))
    for index in order[:left]:
        parts[index] += 1
    return tuple(parts)
